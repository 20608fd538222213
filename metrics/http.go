package metrics

import (
	"context"
	"net/http"
	"time"
)

// Source is what the endpoints report on.
type Source interface {
	// Gather writes the source's families to w. It fails when the source
	// cannot answer before ctx ends.
	Gather(ctx context.Context, w *Writer) error
	// Healthy returns nil when the source works, or why it does not.
	Healthy(ctx context.Context) error
}

// ContentType is the media type of the text exposition format.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// Handler serves, for src:
//
//	/metrics  the Prometheus text format: src's families, then the process's
//	/healthz  200 "ok", or 503 with the reason on one line
//
// A source that does not answer within timeout makes both answer 503.
func Handler(src Source, timeout time.Duration) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", func(rw http.ResponseWriter, req *http.Request) {
		ctx, cancel := context.WithTimeout(req.Context(), timeout)
		defer cancel()
		var w Writer
		if err := src.Gather(ctx, &w); err != nil {
			http.Error(rw, err.Error(), http.StatusServiceUnavailable)
			return
		}
		Process(&w)
		rw.Header().Set("Content-Type", ContentType)
		rw.Write(w.Bytes())
	})
	mux.HandleFunc("GET /healthz", func(rw http.ResponseWriter, req *http.Request) {
		ctx, cancel := context.WithTimeout(req.Context(), timeout)
		defer cancel()
		rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
		rw.Header().Set("Cache-Control", "no-store")
		if err := src.Healthy(ctx); err != nil {
			rw.WriteHeader(http.StatusServiceUnavailable)
			rw.Write([]byte(err.Error() + "\n"))
			return
		}
		rw.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /{$}", func(rw http.ResponseWriter, _ *http.Request) {
		rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
		rw.Write([]byte("iogate\n/metrics  Prometheus metrics\n/healthz  200 when the loop runs and the broker is connected, else 503 and why\n"))
	})
	return mux
}
