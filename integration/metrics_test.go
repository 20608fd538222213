package integration

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// scrape GETs path from the gateway's metrics endpoint.
func scrape(t *testing.T, addr, path string) (int, string) {
	t.Helper()
	c := http.Client{Timeout: deadline}
	resp, err := c.Get("http://" + addr + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if path == "/metrics" && resp.StatusCode == 200 && resp.Header.Get("Content-Type") != "text/plain; version=0.0.4; charset=utf-8" {
		t.Errorf("/metrics Content-Type %q", resp.Header.Get("Content-Type"))
	}
	return resp.StatusCode, string(body)
}

// waitScrape scrapes path until check accepts the answer.
func waitScrape(t *testing.T, addr, path, what string, check func(code int, body string) bool) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	end := time.Now().Add(deadline)
	for {
		code, body := scrape(t, addr, path)
		if check(code, body) {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("%s: never %s; last answer %d:\n%s", path, what, code, body)
		}
		<-tick.C
	}
}

// [metrics] listen serves Prometheus metrics and a health check that
// follows the broker connection.
func TestMetricsEndpoint(t *testing.T) {
	t.Parallel()
	mq := startMosquitto(t)
	dev := plug(t, "meter")
	sub := subscribe(t, mq.url(), prefix+"/#")
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	gw := startGatewayWith(t, gatewayOptions{mqtt: fmt.Sprintf("[metrics]\nlisten = %q", addr)}, mq.url(), dev.toml(""))
	gw.log.waitFor(t, "the metrics listener", func(e entry) bool { return e.is("info", "metrics: serving /metrics and /healthz") })
	waitOnline(t, sub, dev)
	dev.write("1\n2\n")
	sub.expect(dev.topic("rx"), "1", "2")

	if code, body := scrape(t, addr, "/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz with the broker up: %d %q", code, body)
	}
	rx := fmt.Sprintf(`iogate_device_frames_total{device="%s",direction="rx"} 2`, dev.name)
	waitScrape(t, addr, "/metrics", "counting both frames as acknowledged", func(code int, body string) bool {
		return code == 200 && strings.Contains(body, "\n"+rx+"\n") &&
			strings.Contains(body, "\niogate_mqtt_publish_ack_seconds_count ") &&
			!strings.Contains(body, "\niogate_mqtt_publish_ack_seconds_count 0\n")
	})
	_, body := scrape(t, addr, "/metrics")
	for _, want := range []string{
		"# TYPE iogate_build_info gauge\niogate_build_info{version=",
		"\niogate_mqtt_connected 1\n",
		fmt.Sprintf("\niogate_device_up{device=%q} 1\n", dev.name),
		"\niogate_spool_frames ",
		"\nprocess_resident_memory_bytes ",
		"\ngo_goroutines ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q:\n%s", want, body)
		}
	}

	// The status page's document says the same.
	if code, body := scrape(t, addr, "/status.json"); code != 200 || !strings.Contains(body, `"broker":{"state":"connected"`) ||
		!strings.Contains(body, fmt.Sprintf(`{"name":%q,`, dev.name)) || !strings.Contains(body, `"state":"online"`) {
		t.Errorf("/status.json: %d %s", code, body)
	}
	if code, body := scrape(t, addr, "/"); code != 200 || !strings.Contains(body, "status.json") {
		t.Errorf("/: %d %.200s", code, body)
	}

	mq.kill()
	waitScrape(t, addr, "/healthz", "503 with the broker gone", func(code int, body string) bool {
		return code == 503 && strings.HasPrefix(body, "mqtt: no connection to "+mq.url())
	})
	waitScrape(t, addr, "/metrics", "the connection counted down", func(code int, body string) bool {
		return code == 200 && strings.Contains(body, "\niogate_mqtt_connected 0\n")
	})
	mq.restart()
	waitScrape(t, addr, "/healthz", "healthy again", func(code int, body string) bool { return code == 200 })
	if _, body := scrape(t, addr, "/metrics"); !strings.Contains(body, "\niogate_mqtt_reconnects_total 1\n") {
		t.Errorf("after one outage:\n%s", body)
	}
}
