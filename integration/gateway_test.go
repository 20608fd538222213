package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// gatewayID is the gateway.id of every test's gateway; each test has a
// broker of its own, so they do not meet.
const gatewayID = "edge-01"

// prefix is the gateway's topic prefix, the default iogate/{gateway}.
const prefix = "iogate/" + gatewayID

// fakeDevice is a serial device as users fake one: a socat pty pair, the
// gateway at one end (path) and the test at the other.
type fakeDevice struct {
	t     *testing.T
	name  string
	dir   string
	path  string // the gateway's end
	socat *proc
	f     *os.File // the test's end
}

// plug creates a device and plugs it in.
func plug(t *testing.T, name string) *fakeDevice {
	t.Helper()
	d := &fakeDevice{t: t, name: name, dir: t.TempDir()}
	d.replug()
	return d
}

// replug starts a new socat with the same link paths: the device is back.
func (d *fakeDevice) replug() {
	d.t.Helper()
	var peer string
	d.path, peer, d.socat = socatPair(d.t, d.dir)
	f, err := os.OpenFile(peer, os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		d.t.Fatal(err)
	}
	d.f = f
	d.t.Cleanup(func() { f.Close() })
}

// unplug kills the device's socat: both ptys vanish, as when a USB
// adapter is pulled.
func (d *fakeDevice) unplug() {
	// The links go first, as udev removes /dev/serial/by-id links: socat
	// killed leaves them behind, and a pty number freed by its death may
	// soon be another test's device, which the gateway would then open.
	for _, link := range []string{"a", "b"} {
		if err := os.Remove(filepath.Join(d.dir, link)); err != nil {
			d.t.Fatal(err)
		}
	}
	d.socat.kill(syscall.SIGKILL)
	d.f.Close()
}

// toml is the device's [[device]] section, with extra keys.
func (d *fakeDevice) toml(extra string) string {
	return fmt.Sprintf("[[device]]\nname = %q\npath = %q\nbaud = 115200\nreconnect_min = \"50ms\"\nreconnect_max = \"500ms\"\n%s\n",
		d.name, d.path, extra)
}

func (d *fakeDevice) topic(sub string) string { return prefix + "/" + d.name + "/" + sub }

// write sends bytes as the device.
func (d *fakeDevice) write(data string) {
	d.t.Helper()
	if _, err := d.f.WriteString(data); err != nil {
		d.t.Fatalf("write to device %s: %v", d.name, err)
	}
}

// read returns the next n bytes the gateway wrote to the device.
func (d *fakeDevice) read(n int) string {
	d.t.Helper()
	if err := d.f.SetReadDeadline(time.Now().Add(deadline)); err != nil {
		d.t.Fatal(err)
	}
	buf := make([]byte, n)
	if k, err := io.ReadFull(d.f, buf); err != nil {
		d.t.Fatalf("device %s read %q: %v", d.name, buf[:k], err)
	}
	return string(buf)
}

// gateway is an iogate run process with a config written by the test.
type gateway struct {
	*proc
	t      *testing.T
	log    *logLines
	conf   string // the config file, which a test may rewrite before SIGHUP
	url    string
	opts   gatewayOptions
	killed bool // stopped on purpose in a way that is not a clean exit
}

// gatewayOptions are what a test sets beyond the broker and the devices.
type gatewayOptions struct {
	keepalive string   // mqtt.keepalive; "" is 10s
	mqtt      string   // more lines of the [mqtt] table
	args      []string // more arguments of iogate run, as --log-level debug
	stateDir  string   // state_dir, shared by gateways run one after another; "" is the config's directory
}

// startGateway writes a config for the broker at url and the device
// sections given, and runs iogate on it with JSON logs. At the end of the
// test it is stopped with SIGTERM and must exit cleanly, without a data
// race or a panic in its log.
func startGateway(t *testing.T, url string, devices ...string) *gateway {
	t.Helper()
	return startGatewayWith(t, gatewayOptions{}, url, devices...)
}

// startGatewayWith is startGateway with more settings.
func startGatewayWith(t *testing.T, opts gatewayOptions, url string, devices ...string) *gateway {
	t.Helper()
	if opts.keepalive == "" {
		opts.keepalive = "10s"
	}
	g := &gateway{t: t, log: newLogLines(), conf: filepath.Join(t.TempDir(), "iogate.toml"), url: url, opts: opts}
	g.configure(devices...)
	args := append([]string{"run", "-c", g.conf, "--log-format", "json"}, opts.args...)
	g.proc = start(t, g.log.add, iogateBin, args...)
	t.Cleanup(func() {
		g.resume()
		g.kill(syscall.SIGTERM)
		if g.log.contains("WARNING: DATA RACE") {
			t.Error("iogate had a data race: see its log above")
		}
		if g.log.contains("panic:") {
			t.Error("iogate panicked: see its log above")
		}
		if !g.killed && g.err != nil {
			t.Errorf("iogate run: %v, want a clean exit after SIGTERM", g.err)
		}
	})
	return g
}

// configure writes the gateway's config file with the device sections given.
func (g *gateway) configure(devices ...string) {
	g.t.Helper()
	state := g.opts.stateDir
	if state == "" {
		state = filepath.Dir(g.conf)
	}
	text := fmt.Sprintf("[gateway]\nid = %q\nstate_dir = %q\n\n[log]\nlevel = \"info\"\n\n[mqtt]\nbroker = %q\nkeepalive = %q\n%s\n\n%s",
		gatewayID, state, g.url, g.opts.keepalive, g.opts.mqtt, strings.Join(devices, "\n"))
	if err := os.WriteFile(g.conf, []byte(text), 0o644); err != nil {
		g.t.Fatal(err)
	}
}

// stop sends SIGTERM and checks the contract: a clean exit within 5 s.
func (g *gateway) stop() {
	g.t.Helper()
	sent := time.Now()
	syscall.Kill(g.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-g.done:
	case <-time.After(5 * time.Second):
		g.t.Fatal("iogate did not exit within 5 s of SIGTERM")
	}
	if g.err != nil {
		g.t.Fatalf("iogate exited with %v after SIGTERM, want 0", g.err)
	}
	g.t.Logf("iogate stopped %v after SIGTERM", time.Since(sent).Round(time.Millisecond))
}

// crash kills the gateway with SIGKILL.
func (g *gateway) crash() {
	g.killed = true
	g.kill(syscall.SIGKILL)
}

// pause freezes the gateway with SIGSTOP, and returns once it is stopped.
func (g *gateway) pause() {
	g.t.Helper()
	pid := g.cmd.Process.Pid
	syscall.Kill(pid, syscall.SIGSTOP)
	stat := fmt.Sprintf("/proc/%d/stat", pid)
	for end := time.Now().Add(deadline); ; time.Sleep(time.Millisecond) {
		// The state follows the command in parentheses: "T" is stopped.
		b, err := os.ReadFile(stat)
		if err != nil {
			g.t.Fatalf("iogate is gone: %v", err)
		}
		if i := bytes.LastIndexByte(b, ')'); i >= 0 && bytes.HasPrefix(b[i:], []byte(") T")) {
			return
		}
		if time.Now().After(end) {
			g.t.Fatalf("iogate did not stop on SIGSTOP within %v: %s", deadline, b)
		}
	}
}

// resume lets a paused gateway go on.
func (g *gateway) resume() {
	select {
	case <-g.done: // gone, and its pid may be another's now
	default:
		syscall.Kill(g.cmd.Process.Pid, syscall.SIGCONT)
	}
}

// logLines collects a process's output, and reads it as logrus JSON.
type logLines struct {
	mu    sync.Mutex
	lines []string
	more  chan struct{} // closed when a line arrives
}

// entry is one JSON log line: level, msg, time and the fields.
type entry map[string]any

func (e entry) is(level, msg string) bool {
	return e["level"] == level && strings.Contains(fmt.Sprint(e["msg"]), msg)
}

func newLogLines() *logLines { return &logLines{more: make(chan struct{})} }

// add is a watch function for start: it takes every line.
func (l *logLines) add(line string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, line)
	close(l.more)
	l.more = make(chan struct{})
	return false
}

func (l *logLines) contains(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range l.lines {
		if strings.Contains(line, s) {
			return true
		}
	}
	return false
}

// entries returns the JSON lines so far that match.
func (l *logLines) entries(match func(entry) bool) []entry {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []entry
	for _, line := range l.lines {
		var e entry
		if json.Unmarshal([]byte(line), &e) == nil && match(e) {
			out = append(out, e)
		}
	}
	return out
}

// waitFor waits until a JSON line matches, and returns it.
func (l *logLines) waitFor(t *testing.T, what string, match func(entry) bool) entry {
	t.Helper()
	timeout := time.NewTimer(deadline)
	defer timeout.Stop()
	for {
		l.mu.Lock()
		more := l.more
		l.mu.Unlock()
		if es := l.entries(match); len(es) > 0 {
			return es[0]
		}
		select {
		case <-more:
		case <-timeout.C:
			t.Fatalf("no log line %s within %v", what, deadline)
		}
	}
}

// count is the number of lines so far that contain every one of s.
func (l *logLines) count(s ...string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, line := range l.lines {
		if !slices.ContainsFunc(s, func(s string) bool { return !strings.Contains(line, s) }) {
			n++
		}
	}
	return n
}

// waitUntil waits until cond holds, checking it again at every new line.
func (l *logLines) waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	timeout := time.NewTimer(deadline)
	defer timeout.Stop()
	for {
		l.mu.Lock()
		more := l.more
		l.mu.Unlock()
		if cond() {
			return
		}
		select {
		case <-more:
		case <-timeout.C:
			t.Fatalf("no %s within %v", what, deadline)
		}
	}
}
