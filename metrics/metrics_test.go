package metrics

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestWriter(t *testing.T) {
	var w Writer
	w.Header("iogate_device_frames_total", Counter, "Frames cut from a device's stream.\nSecond line \\ here.")
	w.Sample("iogate_device_frames_total", 10000000, "device", "gps", "direction", "rx")
	w.Sample("iogate_device_frames_total", 3, "device", `we"ird\`+"\n", "direction", "tx")
	w.One("iogate_up", Gauge, "Up.", 1)
	w.One("iogate_ratio", Gauge, "A fraction.", 0.25)
	w.One("iogate_inf", Gauge, "Infinite.", math.Inf(1))
	w.One("iogate_when", Gauge, "A timestamp.", 1795323487.4513135)
	w.One("iogate_tiny", Gauge, "Tiny.", 1.5e-9)
	want := `# HELP iogate_device_frames_total Frames cut from a device's stream.\nSecond line \\ here.
# TYPE iogate_device_frames_total counter
iogate_device_frames_total{device="gps",direction="rx"} 10000000
iogate_device_frames_total{device="we\"ird\\\n",direction="tx"} 3
# HELP iogate_up Up.
# TYPE iogate_up gauge
iogate_up 1
# HELP iogate_ratio A fraction.
# TYPE iogate_ratio gauge
iogate_ratio 0.25
# HELP iogate_inf Infinite.
# TYPE iogate_inf gauge
iogate_inf +Inf
# HELP iogate_when A timestamp.
# TYPE iogate_when gauge
iogate_when 1795323487.4513135
# HELP iogate_tiny Tiny.
# TYPE iogate_tiny gauge
iogate_tiny 1.5e-09
`
	if got := string(w.Bytes()); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if err := lint(string(w.Bytes())); err != nil {
		t.Error(err)
	}
}

func TestHistogram(t *testing.T) {
	h := NewBuckets([]float64{0.001, 0.01, 0.1})
	for _, v := range []float64{0.0005, 0.001, 0.002, 0.05, 0.05, 3} {
		h.Observe(v)
	}
	snap := h.Clone()
	h.Observe(0.0001) // not in the snapshot
	var w Writer
	w.Header("lat_seconds", Histogram, "Latency.")
	w.Histogram("lat_seconds", &snap, "device", "gps")
	want := `# HELP lat_seconds Latency.
# TYPE lat_seconds histogram
lat_seconds_bucket{device="gps",le="0.001"} 2
lat_seconds_bucket{device="gps",le="0.01"} 3
lat_seconds_bucket{device="gps",le="0.1"} 5
lat_seconds_bucket{device="gps",le="+Inf"} 6
lat_seconds_sum{device="gps"} 3.1035
lat_seconds_count{device="gps"} 6
`
	if got := string(w.Bytes()); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if err := lint(string(w.Bytes())); err != nil {
		t.Error(err)
	}
	if h.Count() != 7 || snap.Count() != 6 {
		t.Errorf("counts %d, %d: want 7 and 6", h.Count(), snap.Count())
	}
}

func TestQuantile(t *testing.T) {
	h := NewBuckets([]float64{1, 2, 4})
	if q := h.Quantile(0.5); q != 0 {
		t.Errorf("empty: %v", q)
	}
	for range 10 {
		h.Observe(1.5) // all in (1, 2]
	}
	for _, c := range []struct{ q, want float64 }{{0.5, 1.5}, {1, 2}, {0.1, 1.1}} {
		if got := h.Quantile(c.q); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("Quantile(%v) = %v, want %v", c.q, got, c.want)
		}
	}
	h.Observe(100)
	if got := h.Quantile(0.999); got != 4 {
		t.Errorf("past the last bound: %v, want 4", got)
	}
}

func TestObserveDoesNotAllocate(t *testing.T) {
	h := NewBuckets(LatencyBounds)
	if n := testing.AllocsPerRun(100, func() { h.ObserveDuration(3 * time.Millisecond) }); n != 0 {
		t.Errorf("%v allocations per Observe", n)
	}
}

// source is a Source whose answers the test sets.
type source struct {
	gatherErr, healthErr error
}

func (s *source) Gather(ctx context.Context, w *Writer) error {
	if s.gatherErr != nil {
		return s.gatherErr
	}
	w.One("iogate_test_total", Counter, "A counter.", 42)
	return nil
}

func (s *source) Healthy(context.Context) error { return s.healthErr }

func get(t *testing.T, url string) (int, http.Header, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(body)
}

func TestHandler(t *testing.T) {
	src := &source{}
	srv := httptest.NewServer(Handler(src, time.Second))
	defer srv.Close()

	code, hdr, body := get(t, srv.URL+"/metrics")
	if code != 200 || hdr.Get("Content-Type") != ContentType || !strings.Contains(body, "\niogate_test_total 42\n") {
		t.Errorf("/metrics: %d %q\n%s", code, hdr.Get("Content-Type"), body)
	}
	if err := lint(body); err != nil {
		t.Errorf("/metrics: %v\n%s", err, body)
	}
	if !strings.Contains(body, "\ngo_goroutines ") || !strings.Contains(body, "\nprocess_resident_memory_bytes ") {
		t.Errorf("/metrics lacks the process families:\n%s", body)
	}
	if code, _, body := get(t, srv.URL+"/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}

	src.healthErr = errors.New("mqtt: not connected to tcp://broker:1883")
	if code, _, body := get(t, srv.URL+"/healthz"); code != 503 || body != "mqtt: not connected to tcp://broker:1883\n" {
		t.Errorf("/healthz unhealthy: %d %q", code, body)
	}
	src.gatherErr = errors.New("reactor loop did not answer")
	if code, _, body := get(t, srv.URL+"/metrics"); code != 503 || !strings.Contains(body, "did not answer") {
		t.Errorf("/metrics with a stalled source: %d %q", code, body)
	}

	if code, _, _ := get(t, srv.URL+"/nothing"); code != 404 {
		t.Errorf("/nothing: %d", code)
	}
	resp, err := http.Post(srv.URL+"/metrics", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /metrics: %d", resp.StatusCode)
	}
}

var (
	sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*",?)*\})? (\S+)$`)
	typeLine   = regexp.MustCompile(`^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$`)
	helpLine   = regexp.MustCompile(`^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) `)
)

// lint checks an exposition the way a Prometheus server reads it: every
// sample belongs to the family last declared, families are declared once,
// counters end in _total, values parse.
func lint(text string) error {
	declared := map[string]bool{}
	family, typ := "", ""
	sc := bufio.NewScanner(strings.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case helpLine.MatchString(line):
		case typeLine.MatchString(line):
			m := typeLine.FindStringSubmatch(line)
			if declared[m[1]] {
				return fmt.Errorf("line %d: family %s declared twice", n, m[1])
			}
			declared[m[1]] = true
			family, typ = m[1], m[2]
			if typ == Counter && !strings.HasSuffix(family, "_total") {
				return fmt.Errorf("line %d: counter %s does not end in _total", n, family)
			}
		case sampleLine.MatchString(line):
			m := sampleLine.FindStringSubmatch(line)
			name := m[1]
			if typ == Histogram {
				name = strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_sum"), "_count")
			}
			if name != family {
				return fmt.Errorf("line %d: sample %s outside its family (%s)", n, m[1], family)
			}
			if _, err := strconv.ParseFloat(m[5], 64); err != nil {
				return fmt.Errorf("line %d: value %q: %v", n, m[5], err)
			}
		default:
			return fmt.Errorf("line %d: not in the text format: %q", n, line)
		}
	}
	return nil
}
