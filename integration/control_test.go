package integration

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// iogateAs runs an iogate command as uid:gid (or as the test when uid is
// negative) and returns its exit code and output.
func iogateAs(t *testing.T, uid, gid int, bin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	if uid >= 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}}
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(deadline):
		cmd.Process.Kill()
		t.Fatalf("iogate %v did not exit within %v", args, deadline)
	}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return code, out.String(), errOut.String()
}

// status runs `iogate status` on the gateway's config until its exit
// code is want, and returns its output.
func (g *gateway) status(want int, args ...string) (stdout, stderr string) {
	g.t.Helper()
	end := time.Now().Add(deadline)
	for {
		code, stdout, stderr := iogateAs(g.t, -1, -1, iogateBin, append([]string{"status", "-c", g.conf}, args...)...)
		if code == want {
			return stdout, stderr
		}
		if time.Now().After(end) {
			g.t.Fatalf("iogate status: exit %d, want %d:\n%s%s", code, want, stdout, stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// iogate status says 0 while everything is up, and 1, with what is down,
// when a device is unplugged or the broker goes away.
func TestStatusExitCodes(t *testing.T) {
	t.Parallel()
	mq := startMosquitto(t)
	gps, door := plug(t, "gps"), plug(t, "door")
	sub := subscribe(t, mq.url(), prefix+"/#")
	g := startGateway(t, mq.url(), gps.toml(""), door.toml(""))
	waitOnline(t, sub, gps, door)
	gps.write("$GPGGA,1\n")
	sub.expect(gps.topic("rx"), "$GPGGA,1")

	stdout, stderr := g.status(0)
	for _, want := range []string{"gateway " + gatewayID + ", iogate ", "broker  connected to " + mq.url(), "spool   ",
		"DEVICE", "gps ", "door ", " online "} {
		if !strings.Contains(stdout, want) {
			t.Errorf("iogate status lacks %q:\n%s", want, stdout)
		}
	}
	if stderr != "" || strings.Contains(stdout, "offline") {
		t.Errorf("iogate status of a healthy gateway:\n%s%s", stdout, stderr)
	}
	stdout, _ = g.status(0, "--json")
	var st struct {
		Gateway string
		Broker  struct{ State string }
		Devices []struct {
			Name, State string
			RxFrames    uint64 `json:"rx_frames"`
		}
	}
	if err := json.Unmarshal([]byte(stdout), &st); err != nil || st.Gateway != gatewayID || st.Broker.State != "connected" ||
		len(st.Devices) != 2 || st.Devices[0].Name != "gps" || st.Devices[0].State != "online" || st.Devices[0].RxFrames != 1 {
		t.Errorf("iogate status --json (%v):\n%s", err, stdout)
	}

	door.unplug()
	stdout, stderr = g.status(1)
	if !strings.Contains(stderr, "device door offline") || !regexp.MustCompile(`(?m)^door +offline `).MatchString(stdout) {
		t.Errorf("with door unplugged:\n%s%s", stdout, stderr)
	}
	door.replug()
	g.status(0)

	mq.kill()
	stdout, stderr = g.status(1)
	if !strings.Contains(stderr, "iogate status: broker ") || !strings.Contains(stdout, "last error: ") {
		t.Errorf("with the broker gone:\n%s%s", stdout, stderr)
	}
}

// tracer is an `iogate trace` process, its lines collected.
type tracer struct {
	*proc
	mu    sync.Mutex
	lines []string
	more  chan struct{}
}

func startTrace(t *testing.T, g *gateway, args ...string) *tracer {
	t.Helper()
	tr := &tracer{more: make(chan struct{})}
	tr.proc = start(t, func(line string) bool {
		tr.mu.Lock()
		defer tr.mu.Unlock()
		tr.lines = append(tr.lines, line)
		close(tr.more)
		tr.more = make(chan struct{})
		return false
	}, iogateBin, append([]string{"trace", "-c", g.conf}, args...)...)
	tr.line(regexp.MustCompile(`^tracing gps on the gateway with state_dir .*; Ctrl-C stops$`))
	return tr
}

// line waits for the next line that matches re, and returns its
// submatches.
func (tr *tracer) line(re *regexp.Regexp) []string {
	tr.t.Helper()
	end := time.After(deadline)
	seen := 0
	for {
		tr.mu.Lock()
		lines, more := tr.lines[seen:], tr.more
		tr.mu.Unlock()
		for _, l := range lines {
			seen++
			if m := re.FindStringSubmatch(l); m != nil {
				tr.mu.Lock()
				tr.lines = tr.lines[seen:]
				tr.mu.Unlock()
				return m
			}
		}
		select {
		case <-more:
		case <-end:
			tr.t.Fatalf("iogate trace printed no line like %s", re)
		}
	}
}

// iogate trace prints what the device sends and what MQTT and a TCP client
// write to it, in the contract's line format, and stops on Ctrl-C.
func TestTraceCommand(t *testing.T) {
	t.Parallel()
	mq := startMosquitto(t)
	gps := plug(t, "gps")
	sub := subscribe(t, mq.url(), prefix+"/#")
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	g := startGateway(t, mq.url(), gps.toml(fmt.Sprintf("writable = true\ntcp_listen = %q", addr)))
	waitOnline(t, sub, gps)
	hex := startTrace(t, g, "--hex", "gps")
	plain := startTrace(t, g, "gps")

	const stamp = `\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z`
	gps.write("$GPGGA,1\n")
	hex.line(regexp.MustCompile(`^` + stamp + ` gps rx 9  24 47 50 47 47 41 2c 31 0a  \|\$GPGGA,1\.\|$`))
	plain.line(regexp.MustCompile(`^` + stamp + ` gps rx 9  \|\$GPGGA,1\.\|$`))

	sub.publish(gps.topic("tx"), "R")
	if got := gps.read(2); got != "R\n" {
		t.Fatalf("the device got %q", got)
	}
	hex.line(regexp.MustCompile(`^` + stamp + ` gps tx 2  52 0a  \|R\.\|$`))
	plain.line(regexp.MustCompile(`^` + stamp + ` gps tx 2  \|R\.\|$`))

	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("\x01AT\r")); err != nil {
		t.Fatal(err)
	}
	if got := gps.read(4); got != "\x01AT\r" {
		t.Fatalf("the device got %q from the TCP client", got)
	}
	hex.line(regexp.MustCompile(`^` + stamp + ` gps tx 4  01 41 54 0d  \|\.AT\.\|$`))
	plain.line(regexp.MustCompile(`^` + stamp + ` gps tx 4  \|\.AT\.\|$`))

	for _, tr := range []*tracer{hex, plain} {
		tr.kill(syscall.SIGINT)
		if tr.err != nil {
			t.Errorf("iogate trace after Ctrl-C: %v, want exit 0", tr.err)
		}
	}
	code, _, stderr := iogateAs(t, -1, -1, iogateBin, "trace", "-c", g.conf, "gps", "nope")
	if code != 2 || !strings.Contains(stderr, `no device "nope" in this gateway`) {
		t.Errorf("trace of an unknown device: exit %d, %q", code, stderr)
	}
}

// As the package runs it: the gateway as its own user and group, in a
// state directory of mode 0710; a member of the group gets in, another
// user does not even reach the socket.
func TestControlSocketPermissions(t *testing.T) {
	t.Parallel()
	if os.Getuid() != 0 {
		t.Skip("running the gateway as another user needs root")
	}
	// nobody:nogroup stand for iogate:iogate, and daemon for an operator,
	// in the group or not.
	const gatewayUID, groupGID, daemon = 65534, 65534, 1
	base := t.TempDir()
	for dir := base; dir != os.TempDir() && dir != "/"; dir = filepath.Dir(dir) {
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(base, "iogate")
	copyFile(t, iogateBin, bin, 0o755)
	state := filepath.Join(base, "state")
	if err := os.Mkdir(state, 0o710); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(state, gatewayUID, groupGID); err != nil {
		t.Fatal(err)
	}
	os.Chmod(state, 0o710) // past the umask
	conf := filepath.Join(base, "iogate.toml")
	if err := os.WriteFile(conf, fmt.Appendf(nil, "[gateway]\nid = %q\nstate_dir = %q\n[mqtt]\nbroker = \"none\"\n", gatewayID, state), 0o644); err != nil {
		t.Fatal(err)
	}

	var log bytes.Buffer
	var logMu sync.Mutex
	gw := exec.Command(bin, "run", "-c", conf)
	gw.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: gatewayUID, Gid: groupGID, NoSetGroups: true}}
	gw.Stdout = writerFunc(func(p []byte) (int, error) { logMu.Lock(); defer logMu.Unlock(); return log.Write(p) })
	gw.Stderr = gw.Stdout
	if err := gw.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- gw.Wait() }()
	t.Cleanup(func() {
		gw.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("iogate run: %v after SIGTERM", err)
			}
		case <-time.After(deadline):
			gw.Process.Kill()
			t.Error("iogate did not stop on SIGTERM")
		}
		logMu.Lock()
		t.Logf("iogate run as nobody:\n%s", log.String())
		logMu.Unlock()
		if _, err := os.Lstat(filepath.Join(state, "iogate.sock")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the socket outlived the gateway: %v", err)
		}
	})

	var stdout, stderr string
	for end := time.Now().Add(deadline); ; time.Sleep(50 * time.Millisecond) {
		var code int
		if code, stdout, stderr = iogateAs(t, daemon, groupGID, bin, "status", "-c", conf); code == 0 {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("a member of the group: exit %d:\n%s%s", code, stdout, stderr)
		}
	}
	if !strings.Contains(stdout, "broker  none") {
		t.Errorf("a member of the group:\n%s", stdout)
	}
	fi, err := os.Lstat(filepath.Join(state, "iogate.sock"))
	if err != nil {
		t.Fatal(err)
	}
	if sys := fi.Sys().(*syscall.Stat_t); fi.Mode() != os.ModeSocket|0o660 || sys.Uid != gatewayUID || sys.Gid != groupGID {
		t.Errorf("socket %v %d:%d, want 0660 nobody:nogroup", fi.Mode(), sys.Uid, sys.Gid)
	}
	if fi, err := os.Stat(state); err != nil || fi.Mode().Perm() != 0o710 {
		t.Errorf("state_dir %v (%v), want 0710", fi.Mode(), err)
	}

	code, stdout, stderr := iogateAs(t, daemon, daemon, bin, "status", "-c", conf)
	if code != 1 || stdout != "" || !strings.Contains(stderr, "permission denied: run it as root, or as a member of the group nogroup") {
		t.Errorf("another user: exit %d:\n%s%s", code, stdout, stderr)
	}
	if code, _, stderr := iogateAs(t, -1, -1, bin, "status", "-c", conf); code != 0 {
		t.Errorf("root: exit %d: %s", code, stderr)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
