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
	"github.com/iogate/iogate/resources/mqtt"
	"github.com/iogate/iogate/services/bridge"
)

// scrapeTimeout bounds a scrape's wait for the loop: a loop that does not
// answer in this time is reported stalled (503), not waited for.
const scrapeTimeout = 5 * time.Second

// serveMetrics serves /metrics, /healthz, the status page and
// /status.json on addr until the returned
// stop is called. The HTTP server runs on goroutines of its own, off the
// reactor: it reads the gateway's counters through the loop's controller.
func serveMetrics(addr string, svc *bridge.Service, broker *mqtt.Broker, log *logrus.Entry) (stop func(), err error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	srv := &http.Server{
		Handler:           statusPages(metrics.Handler(gateway{svc, broker}, scrapeTimeout), svc.Status),
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
// the build's identity, and the embedded broker's counters if it runs.
type gateway struct {
	*bridge.Service
	broker *mqtt.Broker // nil without an embedded broker
}

func (g gateway) Gather(ctx context.Context, w *metrics.Writer) error {
	w.Header("iogate_build_info", metrics.Gauge, "The running build: always 1.")
	w.Sample("iogate_build_info", 1, "version", buildVersion(), "goversion", runtime.Version())
	if err := g.Service.Gather(ctx, w); err != nil {
		return err
	}
	if g.broker != nil {
		gatherBroker(w, g.broker.Stats())
	}
	return nil
}

// gatherBroker writes the embedded broker's series (docs/metrics.md).
func gatherBroker(w *metrics.Writer, s mqtt.BrokerStats) {
	w.One("iogate_broker_clients", metrics.Gauge, "Clients connected to the embedded broker, the gateway's own connection included.", float64(s.Clients))
	w.Header("iogate_broker_logins_refused_total", metrics.Counter, "Connections the embedded broker refused, by reason.")
	for _, r := range []struct {
		reason string
		n      uint64
	}{{"password", s.LoginFailures}, {"anonymous", s.AnonymousRefused}, {"client_id", s.ClientIDRefused}, {"busy", s.Busy}} {
		w.Sample("iogate_broker_logins_refused_total", float64(r.n), "reason", r.reason)
	}
	w.Header("iogate_broker_acl_denied_total", metrics.Counter, "What the embedded broker's ACL refused: publishes, subscriptions and wills.")
	for _, d := range []struct {
		action string
		n      uint64
	}{{"publish", s.PublishDenied}, {"subscribe", s.SubscribeDenied}, {"will", s.WillDenied}} {
		w.Sample("iogate_broker_acl_denied_total", float64(d.n), "action", d.action)
	}
	w.One("iogate_broker_retained", metrics.Gauge, "Retained messages the embedded broker holds.", float64(s.Retained))
	w.One("iogate_broker_retained_bytes", metrics.Gauge, "Topic and payload bytes of the retained messages.", float64(s.RetainedBytes))
	w.One("iogate_broker_retained_refused_total", metrics.Counter, "Messages delivered but not retained: embedded_max_retained_bytes was reached.", float64(s.RetainedRefused))
	w.One("iogate_broker_retained_save_errors_total", metrics.Counter, "Failed writes of the retained messages to the state directory.", float64(s.RetainedSaveErrors))
	w.One("iogate_broker_reload_disconnects_total", metrics.Counter, "Clients disconnected by a reload: user removed, password changed, or no longer allowed anonymously.", float64(s.ReloadDisconnects))
}
