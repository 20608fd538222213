package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"runtime"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/iogate/iogate/metrics"
	"github.com/iogate/iogate/services/bridge"
)

// scrapeTimeout bounds a scrape's wait for the loop: a loop that does not
// answer in this time is reported stalled (503), not waited for.
const scrapeTimeout = 5 * time.Second

// serveMetrics serves /metrics and /healthz on addr until the returned
// stop is called. The HTTP server runs on goroutines of its own, off the
// reactor: it reads the gateway's counters through the loop's controller.
func serveMetrics(addr string, svc *bridge.Service, log *logrus.Entry) (stop func(), err error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	srv := &http.Server{
		Handler:           metrics.Handler(gateway{svc}, scrapeTimeout),
		ReadHeaderTimeout: 10 * time.Second,
		WriteTimeout:      2 * scrapeTimeout,
		IdleTimeout:       time.Minute,
	}
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.WithError(err).Error("metrics: server stopped")
		}
	}()
	log.WithField("listen", l.Addr().String()).Info("metrics: serving /metrics and /healthz")
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}, nil
}

// gateway is the metrics source: the bridge's counters and health, after
// the build's identity.
type gateway struct{ *bridge.Service }

func (g gateway) Gather(ctx context.Context, w *metrics.Writer) error {
	w.Header("iogate_build_info", metrics.Gauge, "The running build: always 1.")
	w.Sample("iogate_build_info", 1, "version", buildVersion(), "goversion", runtime.Version())
	return g.Service.Gather(ctx, w)
}
