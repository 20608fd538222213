package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iogate/iogate/control"
	"github.com/iogate/iogate/metrics"
)

// quiet is a metrics source with nothing to say, for the paths the
// status pages leave to metrics.Handler.
type quiet struct{}

func (quiet) Gather(context.Context, *metrics.Writer) error { return nil }
func (quiet) Healthy(context.Context) error                 { return nil }

var metricsHandler = metrics.Handler(quiet{}, time.Second)

func get(t *testing.T, url string) (*http.Response, string) {
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
	return resp, string(body)
}

func TestStatusPages(t *testing.T) {
	st := sampleStatus()
	fail := false
	srv := httptest.NewServer(statusPages(metricsHandler, func(context.Context) (control.Status, error) {
		if fail {
			return control.Status{}, errors.New("reactor loop did not answer: context deadline exceeded")
		}
		return *st, nil
	}))
	defer srv.Close()

	resp, body := get(t, srv.URL+"/status.json")
	var got control.Status
	if err := json.Unmarshal([]byte(body), &got); err != nil || resp.StatusCode != 200 || !reflect.DeepEqual(&got, st) ||
		resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("/status.json: %d %v %v:\n%s", resp.StatusCode, resp.Header, err, body)
	}
	fail = true
	resp, body = get(t, srv.URL+"/status.json")
	if resp.StatusCode != 503 || body != `{"error":"reactor loop did not answer: context deadline exceeded"}`+"\n" {
		t.Errorf("/status.json of a stalled loop: %d %q", resp.StatusCode, body)
	}

	resp, body = get(t, srv.URL+"/")
	csp := resp.Header.Get("Content-Security-Policy")
	if resp.StatusCode != 200 || body != string(page) || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(csp, "script-src 'sha256-") || !strings.Contains(csp, "form-action 'none'") {
		t.Errorf("/: %d %v", resp.StatusCode, resp.Header)
	}
	// Nothing on the page writes data as HTML, and nothing changes the gateway.
	for _, banned := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "<form", "method=", "eval(", "http://", "https://"} {
		if banned == "http://" {
			// The SVG namespace is a name, not a link.
			if strings.Count(string(page), banned) != strings.Count(string(page), "http://www.w3.org/2000/svg") {
				t.Errorf("the page links elsewhere")
			}
			continue
		}
		if strings.Contains(string(page), banned) {
			t.Errorf("the page contains %q", banned)
		}
	}
	if len(page) > 16<<10 {
		t.Errorf("the page is %d bytes; keep it small", len(page))
	}

	if resp, body := get(t, srv.URL+"/healthz"); resp.StatusCode != 200 || body != "ok\n" {
		t.Errorf("/healthz: %d %q", resp.StatusCode, body)
	}
	if resp, body := get(t, srv.URL+"/metrics"); resp.StatusCode != 200 || !strings.Contains(body, "\ngo_goroutines ") {
		t.Errorf("/metrics: %d %q", resp.StatusCode, body)
	}
	for _, method := range []string{"POST", "PUT", "DELETE", "PATCH"} {
		for _, path := range []string{"/", "/status.json"} {
			req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader("{}"))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
				t.Errorf("%s %s: %d, want 405", method, path, resp.StatusCode)
			}
		}
	}
}

// chromium returns the browser, skipping the test where it is missing
// (failing it under CI).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is missing; CI must have it (apt-get install chromium)")
	}
	t.Skip("chromium is not installed (apt-get install chromium)")
	return ""
}

// headless runs chromium on url with a fresh profile and the flags that
// keep it off the network but for url, plus args, and returns its output.
func headless(t *testing.T, browser, url string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	flags := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--user-data-dir=" + t.TempDir()}
	cmd := exec.CommandContext(ctx, browser, append(append(flags, args...), url)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
	}
	return stdout.String()
}

// readings is a gateway whose counters grow by a fixed step at every
// reading, 2 s apart on its clock, so that the rates the page computes
// are known whatever the browser's timing.
type readings struct {
	mu sync.Mutex
	n  int
}

const hostile = `<img src=x onerror="document.body.dataset.owned=1">`

func (r *readings) status(context.Context) (control.Status, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n++
	st := sampleStatus()
	st.Time = st.Time.Add(time.Duration(r.n) * 2 * time.Second)
	st.Devices[0].RxFrames = uint64(1000 + 20*r.n) // 10 frames/s
	st.Devices[1].RxFrames = uint64(5000 + 2*r.n)  // 1 frame/s
	st.Devices = append(st.Devices, control.Device{Name: hostile, Kind: "serial", State: control.Online})
	st.Time = st.Time.Add(123456789 * time.Nanosecond) // nine digits of fraction, as Go writes them
	return *st, nil
}

// The page in a real browser: every device with its state, names as
// text, and the frame rates drawn from successive readings.
func TestStatusPageInChromium(t *testing.T) {
	browser := chromium(t)
	var r readings
	srv := httptest.NewServer(statusPages(metricsHandler, r.status))
	defer srv.Close()

	// Ten refreshes of 2 s of the page's clock, which the browser runs
	// fast; virtual time waits for each fetch.
	dom := headless(t, browser, srv.URL+"/", "--virtual-time-budget=20000", "--dump-dom")
	refreshes := regexp.MustCompile(`<body data-refreshes="(\d+)"`).FindStringSubmatch(dom)
	if refreshes == nil || len(refreshes[1]) < 1 || refreshes[1] == "1" || refreshes[1] == "2" {
		t.Fatalf("the page did not refresh itself (%v):\n%s", refreshes, dom)
	}
	if strings.Contains(dom, "data-owned") || strings.Contains(dom, "<img src=") {
		t.Errorf("a device name was parsed as HTML:\n%s", dom)
	}
	for _, want := range []string{
		`data-device="gps" data-state="online"`,
		`data-device="rs485-bus" data-state="online"`,
		`data-device="door" data-state="offline"`,
		`data-device="&lt;img src=x onerror=&quot;document.body.dataset.owned=1&quot;&gt;" data-state="online"`,
		`<h2>&lt;img src=x onerror="document.body.dataset.owned=1"&gt;</h2>`,
		`data-slave="meter" data-state="online"`,
		`data-slave="pump" data-state="offline"`,
		`<section class="card" id="broker" data-state="connected">`,
		"open /dev/door: no such file or directory",
		"<li>slave pump of rs485-bus offline</li><li>device door offline</li>",
		"10.0 frames/s now", "1.0 frames/s now",
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("the rendered page lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("the rendered page:\n%s", dom)
	}
	points := regexp.MustCompile(`data-device="gps".*?<polyline points="([^"]*)"`).FindStringSubmatch(dom)
	if points == nil || len(strings.Fields(points[1])) < 2 {
		t.Errorf("gps's chart has no line: %v", points)
	}

	shot := filepath.Join(t.TempDir(), "status-phone.png")
	headless(t, browser, srv.URL+"/", "--virtual-time-budget=10000", "--hide-scrollbars", "--window-size=390,844", "--screenshot="+shot)
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 390 || b.Dy() != 844 {
		t.Errorf("screenshot of %v, want 390x844", b)
	}
	colours := map[uint32]bool{}
	for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y; y += 4 {
		for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x += 4 {
			r, g, b, _ := img.At(x, y).RGBA()
			colours[r>>8<<16|g>>8<<8|b>>8] = true
		}
	}
	if len(colours) < 8 {
		t.Errorf("the screenshot has %d colours: a blank page?", len(colours))
	}
	t.Logf("phone-sized screenshot: %s", shot)
}
