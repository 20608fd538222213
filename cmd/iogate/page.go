package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"net/http"

	"github.com/iogate/iogate/control"
)

// statusFunc gives the gateway's status document, as the control socket
// answers it; it fails when the loop does not answer before ctx ends.
type statusFunc func(ctx context.Context) (control.Status, error)

// page is the status page: one file, with its style and script, and no
// other asset, so that it works on a box with no internet.
//
//go:embed page.html
var page []byte

// pagePolicy lets the page run its own script and style and nothing else:
// no other origin, no form, no frame around it.
var pagePolicy = "default-src 'none'; script-src " + inlineHash(page, "<script>", "</script>") +
	"; style-src " + inlineHash(page, "<style>", "</style>") +
	"; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// inlineHash is the CSP source of the page's element between open and
// close.
func inlineHash(page []byte, open, close string) string {
	_, rest, _ := bytes.Cut(page, []byte(open))
	body, _, _ := bytes.Cut(rest, []byte(close))
	sum := sha256.Sum256(body)
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

// statusPages serves the status page at / and the status document it
// reads at /status.json, and hands the other paths to next. Both are
// read-only: GET and HEAD only, nothing that changes the gateway.
func statusPages(next http.Handler, status statusFunc) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", next)
	readOnly := func(rw http.ResponseWriter, _ *http.Request) {
		rw.Header().Set("Allow", "GET, HEAD")
		http.Error(rw, "read-only: GET or HEAD", http.StatusMethodNotAllowed)
	}
	mux.HandleFunc("/{$}", readOnly)
	mux.HandleFunc("/status.json", readOnly)
	mux.HandleFunc("GET /{$}", func(rw http.ResponseWriter, _ *http.Request) {
		h := rw.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Security-Policy", pagePolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		rw.Write(page)
	})
	mux.HandleFunc("GET /status.json", func(rw http.ResponseWriter, req *http.Request) {
		ctx, cancel := context.WithTimeout(req.Context(), scrapeTimeout)
		defer cancel()
		h := rw.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		st, err := status(ctx)
		if err != nil {
			rw.WriteHeader(http.StatusServiceUnavailable)
			json.NewEncoder(rw).Encode(map[string]string{"error": err.Error()})
			return
		}
		json.NewEncoder(rw).Encode(&st)
	})
	return mux
}
