package bridge_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/iogate/iogate/control"
	"github.com/iogate/iogate/services/bridge"
)

// ctl is a client of the gateway's control socket, as `iogate status` and
// `iogate trace` are, reading each message with control.ParseMessage.
type ctl struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func (w *world) dialControl() *ctl {
	w.t.Helper()
	c, err := net.Dial("unix", control.SocketPath(w.dir))
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(deadline))
	return &ctl{t: w.t, c: c, r: bufio.NewReaderSize(c, 1<<20)}
}

func (c *ctl) send(lines ...string) {
	c.t.Helper()
	if _, err := io.WriteString(c.c, strings.Join(lines, "\n")+"\n"); err != nil {
		c.t.Fatal(err)
	}
}

// next reads the gateway's next message; an I/O error is returned, a line
// that is not the protocol fails the test.
func (c *ctl) next() (control.Message, error) {
	c.t.Helper()
	line, err := c.r.ReadBytes('\n')
	if err != nil {
		return control.Message{}, err
	}
	m, err := control.ParseMessage(line)
	if err != nil {
		c.t.Fatalf("%q: %v", line, err)
	}
	return m, nil
}

// want reads the next message and fails the test unless it is of kind k.
func (c *ctl) want(k control.Kind) control.Message {
	c.t.Helper()
	m, err := c.next()
	if err != nil {
		c.t.Fatalf("waiting for a %s message: %v", k, err)
	}
	if m.Kind != k {
		c.t.Fatalf("a %s message (%v), want %s", m.Kind, m.Err, k)
	}
	return m
}

var helloLine = fmt.Sprintf(`{"type":"hello","protocol":%d,"version":"test"}`, control.Version)

func (c *ctl) hello() {
	c.t.Helper()
	c.send(helloLine)
	if m := c.want(control.KindHello); m.Protocol != control.Version || m.Version != testVersion {
		c.t.Fatalf("hello %+v", m)
	}
}

func (c *ctl) status() *control.Status {
	c.t.Helper()
	c.send(`{"type":"status"}`)
	return c.want(control.KindStatus).Status
}

func (c *ctl) trace(devices ...string) {
	c.t.Helper()
	c.send(strings.TrimSuffix(string(control.AppendTraceRequest(nil, devices)), "\n"))
	if m := c.want(control.KindTracing); !slices.Equal(m.Devices, devices) {
		c.t.Fatalf("tracing %v, want %v", m.Devices, devices)
	}
}

// closed reads to the end and tells whether the gateway closed the
// connection, rather than the deadline passing.
func (c *ctl) closed() bool {
	c.t.Helper()
	_, err := io.Copy(io.Discard, c.r)
	return err == nil || errors.Is(err, syscall.ECONNRESET)
}

// hungUp waits, without reading, until the gateway has closed the
// connection, and tells whether it did within the deadline.
func (c *ctl) hungUp() bool {
	c.t.Helper()
	raw, err := c.c.(*net.UnixConn).SyscallConn()
	if err != nil {
		c.t.Fatal(err)
	}
	var up bool
	raw.Control(func(fd uintptr) {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLRDHUP}}
		for {
			n, err := unix.Poll(fds, int(deadline/time.Millisecond))
			if err == unix.EINTR {
				continue
			}
			up = err == nil && n == 1
			return
		}
	})
	return up
}

// waitStatus asks for the status until cond holds, and returns it.
func (c *ctl) waitStatus(what string, cond func(*control.Status) bool) *control.Status {
	c.t.Helper()
	end := time.Now().Add(deadline)
	for {
		st := c.status()
		if cond(st) {
			return st
		}
		if time.Now().After(end) {
			c.t.Fatalf("the status never showed %s: %+v", what, st)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func deviceIn(st *control.Status, name string) *control.Device {
	for i := range st.Devices {
		if st.Devices[i].Name == name {
			return &st.Devices[i]
		}
	}
	return nil
}

// The status follows the devices and the broker: what is online and since
// when, why what is offline is, the counters, the spool's oldest frame.
func TestControlStatus(t *testing.T) {
	w := newWorld(t, "gps")
	addr := freeAddr(t)
	w.run(map[string]string{
		"gps":  fmt.Sprintf("writable = true\ntcp_listen = %q", addr),
		"door": `kind = "file"`, // never plugged
	})
	w.expectAll("iogate/gw/status online", "iogate/gw/gps/status online")
	tc := dial(t, addr)
	w.write("gps", "$GPGGA,1\n$GPGGA,2\n")
	w.expectPayload("iogate/gw/gps/rx", "$GPGGA,2")
	w.publish("iogate/gw/gps/tx", []byte("R"), false)
	w.read("gps", 2)
	if _, err := tc.Write([]byte("T\n")); err != nil {
		t.Fatal(err)
	}
	w.read("gps", 2)

	c := w.dialControl()
	c.hello()
	st := c.waitStatus("gps's TCP client", func(st *control.Status) bool { return deviceIn(st, "gps").TCPClients == 1 })
	if st.Gateway != "gw" || st.Version != testVersion || st.Started.IsZero() || st.Time.Before(st.Started) {
		t.Errorf("gateway %q, version %q, started %v, time %v", st.Gateway, st.Version, st.Started, st.Time)
	}
	if b := st.Broker; b.State != control.LinkConnected || b.Address != "tcp://"+w.addr || b.Since.IsZero() || b.LastError != "" {
		t.Errorf("broker %+v", b)
	}
	if st.Spool == nil || (st.Spool.Frames == 0) != st.Spool.Oldest.IsZero() {
		t.Errorf("spool %+v", st.Spool)
	}
	gps, door := deviceIn(st, "gps"), deviceIn(st, "door")
	if gps == nil || door == nil || len(st.Devices) != 2 {
		t.Fatalf("devices %+v", st.Devices)
	}
	if gps.Kind != "serial" || gps.State != control.Online || gps.Since.IsZero() || gps.Since.After(st.Time) || gps.Error != "" ||
		gps.RxFrames != 2 || gps.RxBytes != 18 || gps.TxFrames != 1 || gps.TxBytes != 4 ||
		gps.LastFrame.Before(gps.Since) || gps.LastFrame.After(st.Time) || gps.Reopens != 0 {
		t.Errorf("gps %+v", gps)
	}
	if door.Kind != "file" || door.State != control.Offline || door.Since.IsZero() || !strings.Contains(door.Error, "no such file") ||
		!door.LastFrame.IsZero() || door.RxFrames != 0 {
		t.Errorf("door %+v", door)
	}
	if p := st.Problems(); !slices.Equal(p, []string{"device door offline"}) {
		t.Errorf("problems %q", p)
	}

	// The status page's document is the same, taken the same way.
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	page, err := w.svc.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if g := deviceIn(&page, "gps"); g == nil || !g.Since.Equal(gps.Since) || g.RxFrames != gps.RxFrames ||
		page.Broker.State != st.Broker.State || !page.Broker.Since.Equal(st.Broker.Since) {
		t.Errorf("Service.Status %+v, the socket's %+v", page, st)
	}

	// The broker goes away: frames wait in the spool, the oldest first.
	w.broker.Close()
	st = c.waitStatus("the broker gone", func(st *control.Status) bool { return st.Broker.State != control.LinkConnected })
	lost := st.Broker.Since
	w.write("gps", "$GPGGA,3\n")
	st = c.waitStatus("a frame in the spool", func(st *control.Status) bool { return st.Spool.Frames == 1 })
	if b := st.Broker; (b.State != control.LinkDown && b.State != control.LinkConnecting) || b.LastError == "" || b.Since.IsZero() {
		t.Errorf("broker %+v", b)
	}
	if o := st.Spool.Oldest; o.IsZero() || o.Before(lost) || o.After(st.Time) || st.Spool.Bytes == 0 {
		t.Errorf("spool %+v, broker lost at %v", st.Spool, lost)
	}
	if p := st.Problems(); len(p) != 2 || !strings.HasPrefix(p[0], "broker ") {
		t.Errorf("problems %q", p)
	}
	oldest := st.Spool.Oldest
	w.write("gps", "$GPGGA,4\n")
	st = c.waitStatus("two frames in the spool", func(st *control.Status) bool { return st.Spool.Frames == 2 })
	if o := st.Spool.Oldest; !o.Equal(oldest) || !o.Before(deviceIn(st, "gps").LastFrame) {
		t.Errorf("the oldest frame's time %v, was %v (last frame %v)", o, oldest, deviceIn(st, "gps").LastFrame)
	}

	// The device is unplugged, then comes back.
	since := gps.Since
	w.unplug("gps")
	st = c.waitStatus("gps offline", func(st *control.Status) bool { return deviceIn(st, "gps").State == control.Offline })
	if g := deviceIn(st, "gps"); !g.Since.After(since) || g.Error == "" || g.TCPClients != 1 {
		t.Errorf("unplugged gps %+v", g)
	}
	w.plug("gps")
	st = c.waitStatus("gps back", func(st *control.Status) bool { return deviceIn(st, "gps").State == control.Online })
	if g := deviceIn(st, "gps"); g.Reopens != 1 || g.Error != "" || g.RxFrames != 4 {
		t.Errorf("replugged gps %+v", g)
	}
}

// Without MQTT, there is no broker link and no spool.
func TestControlStatusNoBroker(t *testing.T) {
	w := newWorld(t, "meter")
	w.noBroker = true
	w.run(map[string]string{"meter": fmt.Sprintf("tcp_listen = %q", freeAddr(t))})
	c := w.dialControl()
	c.hello()
	st := c.waitStatus("meter online", func(st *control.Status) bool { return deviceIn(st, "meter").State == control.Online })
	if st.Broker != (control.Broker{State: control.LinkNone}) || st.Spool != nil || len(st.Problems()) != 0 {
		t.Errorf("broker %+v, spool %+v, problems %q", st.Broker, st.Spool, st.Problems())
	}
}

// Every protocol error is answered, then the connection is closed; a
// client that says nothing is closed too.
func TestControlProtocolErrors(t *testing.T) {
	w := newWorld(t, "gps")
	w.run(map[string]string{"gps": ""})
	for _, tc := range []struct {
		name  string
		send  []string
		kinds []control.Kind // the answers, the last an error with code
		code  control.Code
	}{
		{"garbage", []string{"\x00\x01 hello there"}, []control.Kind{control.KindError}, control.ErrMalformed},
		{"no type", []string{`{"protocol":1}`}, []control.Kind{control.KindError}, control.ErrMalformed},
		{"status before the hello", []string{`{"type":"status"}`}, []control.Kind{control.KindError}, control.ErrUnexpected},
		{"another version", []string{`{"type":"hello","protocol":99,"version":"v9"}`}, []control.Kind{control.KindHello, control.KindError}, control.ErrVersion},
		{"two hellos", []string{helloLine, helloLine}, []control.Kind{control.KindHello, control.KindError}, control.ErrUnexpected},
		{"unknown type", []string{helloLine, `{"type":"reboot"}`}, []control.Kind{control.KindHello, control.KindError}, control.ErrUnexpected},
		{"unknown device", []string{helloLine, `{"type":"trace","devices":["gps","nope","nope"]}`}, []control.Kind{control.KindHello, control.KindError}, control.ErrUnknownDevice},
		{"a request after a trace", []string{helloLine, `{"type":"trace","devices":["gps"]}`, `{"type":"status"}`},
			[]control.Kind{control.KindHello, control.KindTracing, control.KindError}, control.ErrUnexpected},
		{"too long", []string{strings.Repeat("x", control.MaxRequest+1)}, []control.Kind{control.KindError}, control.ErrTooLong},
		{"silence", nil, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := w.dialControl()
			if tc.send != nil {
				c.send(tc.send...)
			}
			for i, k := range tc.kinds {
				m := c.want(k)
				if i == len(tc.kinds)-1 && (m.Err == nil || m.Err.Code != tc.code || m.Err.Message == "") {
					t.Errorf("error %+v, want code %s", m.Err, tc.code)
				}
				if m.Kind == control.KindError && tc.code == control.ErrUnknownDevice && !slices.Equal(m.Err.Devices, []string{"nope"}) {
					t.Errorf("unknown devices %q", m.Err.Devices)
				}
			}
			if !c.closed() {
				t.Error("the gateway did not close the connection")
			}
		})
	}

	// Requests may come in one write, cut anywhere, and with "\r\n"; a
	// client that has said all it will gets its answers, then the end.
	c := w.dialControl()
	io.WriteString(c.c, helloLine+"\r\n\r\n"+`{"type":"status"}`+"\n"+`{"type":`)
	c.want(control.KindHello)
	c.send(`"status"}`)
	c.want(control.KindStatus)
	c.want(control.KindStatus)
	c.c.(*net.UnixConn).CloseWrite()
	if !c.closed() {
		t.Error("the gateway did not close a half-closed client once it had its answers")
	}
}

// Sixteen clients are served at once; the next is told the gateway is
// busy, until one leaves.
func TestControlBusy(t *testing.T) {
	w := newWorld(t, "gps")
	w.run(map[string]string{"gps": ""})
	var clients []*ctl
	for range 16 {
		c := w.dialControl()
		c.hello()
		clients = append(clients, c)
	}
	c := w.dialControl()
	c.send(helloLine)
	if m := c.want(control.KindError); m.Err.Code != control.ErrBusy || !c.closed() {
		t.Fatalf("17th client: %+v", m.Err)
	}
	clients[0].c.Close()
	for end := time.Now().Add(deadline); ; time.Sleep(10 * time.Millisecond) {
		c := w.dialControl()
		c.send(helloLine)
		if m := c.want(control.KindHello); m.Kind == control.KindHello {
			break
		}
		if time.Now().After(end) {
			t.Fatal("no room after a client left")
		}
	}
}

// socatAs runs socat as uid:gid connected to the socket at path, sending
// input, and returns what it printed and said on stderr.
func socatAs(t *testing.T, path string, uid, gid int, input string) (stdout, stderr string, err error) {
	t.Helper()
	socat, lerr := exec.LookPath("socat")
	if lerr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("socat is missing; CI must have it (apt-get install socat)")
		}
		t.Skip("socat is not installed (apt-get install socat)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	cmd := exec.CommandContext(ctx, socat, "-", "UNIX-CONNECT:"+path)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}}
	var out, errOut bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(input), &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

// Peers are checked against the socket's group: the kernel checks the
// mode, and the gateway the peer's credentials, so a socket whose mode was
// widened still lets no one else in.
func TestControlPeers(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("connecting as another user needs root")
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Skip(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	w := newWorld(t, "gps")
	w.run(map[string]string{"gps": ""})
	for dir := w.dir; dir != os.TempDir() && dir != "/"; dir = filepath.Dir(dir) {
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	path := control.SocketPath(w.dir)
	fi, err := os.Stat(path)
	if err != nil || fi.Mode() != os.ModeSocket|0o660 || fi.Sys().(*syscall.Stat_t).Gid != uint32(os.Getgid()) {
		t.Fatalf("socket %v, %v", fi.Mode(), err)
	}

	if _, stderr, err := socatAs(t, path, uid, gid, helloLine+"\n"); err == nil || !strings.Contains(stderr, "Permission denied") {
		t.Errorf("nobody on a 0660 socket of another group: %v, %q", err, stderr)
	}
	stdout, stderr, err := socatAs(t, path, uid, os.Getgid(), helloLine+"\n")
	if err != nil || !strings.HasPrefix(stdout, `{"type":"hello","protocol":1,`) {
		t.Errorf("nobody in the socket's group: %v, %q, %q", err, stdout, stderr)
	}
	if err := os.Chmod(path, 0o666); err != nil {
		t.Fatal(err)
	}
	stdout, _, _ = socatAs(t, path, uid, gid, helloLine+"\n")
	m, err := control.ParseMessage([]byte(stdout))
	if err != nil || m.Kind != control.KindError || m.Err.Code != control.ErrPermission ||
		!strings.Contains(m.Err.Message, "uid "+u.Uid+" is neither root") {
		t.Errorf("nobody on a widened socket: %q (%v)", stdout, err)
	}
	// The gateway serves on.
	c := w.dialControl()
	c.hello()
	c.status()
}

// trace lines as the contract writes them.
var (
	hexLine   = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z gps (rx|tx) (\d+)  ([0-9a-f]{2}( [0-9a-f]{2})*)  \|[ -~]*\|\n$`)
	plainLine = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z gps (rx|tx) (\d+)  \|[ -~]*\|\n$`)
)

// event reads trace events until their bytes add up to want, and checks
// their device, direction and time.
func (c *ctl) event(device string, dir control.Dir, want string, after time.Time) []control.Event {
	c.t.Helper()
	var got []byte
	var evs []control.Event
	for len(got) < len(want) {
		ev := c.want(control.KindTrace).Event
		if ev.Device != device || ev.Dir != dir {
			c.t.Fatalf("event %+v, want %s %v %q", ev, device, dir, want)
		}
		if ev.Time.Before(after.Add(-time.Second)) || ev.Time.After(time.Now().Add(time.Second)) {
			c.t.Errorf("event at %v, its bytes were sent at %v", ev.Time, after)
		}
		got = append(got, ev.Data...)
		evs = append(evs, ev)
	}
	if string(got) != want {
		c.t.Fatalf("traced %v %q, want %q", dir, got, want)
	}
	return evs
}

// A trace sees every byte each way, whoever wrote it, in order; the lines
// print in the contract's format with and without hex.
func TestTrace(t *testing.T) {
	w := newWorld(t, "gps", "other")
	addr := freeAddr(t)
	devices := map[string]string{"gps": fmt.Sprintf("writable = true\ntcp_listen = %q", addr), "other": "writable = true"}
	w.run(devices)
	w.expectAll("iogate/gw/gps/status online", "iogate/gw/other/status online")
	tr := w.dialControl()
	tr.hello()
	tr.trace("gps")
	both := w.dialControl()
	both.hello()
	both.trace("other", "gps")
	tc := dial(t, addr)
	probe := w.dialControl()
	probe.hello()
	probe.waitStatus("the TCP client", func(st *control.Status) bool { return deviceIn(st, "gps").TCPClients == 1 })

	start := time.Now()
	w.write("other", "not traced by tr\n")
	both.event("other", control.RX, "not traced by tr\n", start)
	w.write("gps", "$GPGGA,1\n")
	rx := tr.event("gps", control.RX, "$GPGGA,1\n", start)
	both.event("gps", control.RX, "$GPGGA,1\n", start)
	readN(t, tc, 9) // the TCP client got it too

	start = time.Now()
	w.publish("iogate/gw/gps/tx", []byte("R"), false)
	mqtt := tr.event("gps", control.TX, "R\n", start)
	w.read("gps", 2)
	if _, err := tc.Write([]byte("\x01\x02T\n")); err != nil {
		t.Fatal(err)
	}
	fromTCP := tr.event("gps", control.TX, "\x01\x02T\n", start)
	w.read("gps", 4)
	both.event("gps", control.TX, "R\n", start)
	both.event("gps", control.TX, "\x01\x02T\n", start)

	for _, ev := range slices.Concat(rx, mqtt, fromTCP) {
		hex, plain := string(control.AppendLine(nil, ev, true)), string(control.AppendLine(nil, ev, false))
		m := hexLine.FindStringSubmatch(hex)
		if m == nil || m[1] != ev.Dir.String() || m[2] != strconv.Itoa(len(ev.Data)) || !plainLine.MatchString(plain) {
			t.Errorf("trace lines %q and %q", hex, plain)
		}
	}
	if line := string(control.AppendLine(nil, rx[0], true)); !strings.HasSuffix(line, " gps rx 9  24 47 50 47 47 41 2c 31 0a  |$GPGGA,1.|\n") {
		t.Errorf("trace line %q", line)
	}

	// A reload that reopens the device keeps its tracers.
	since := deviceIn(probe.status(), "gps").Since
	devices["gps"] += "\nbaud = 19200"
	if err := w.svc.Reload(w.config(w.extra, devices)); err != nil {
		t.Fatal(err)
	}
	probe.waitStatus("gps reopened", func(st *control.Status) bool {
		g := deviceIn(st, "gps")
		return g.State == control.Online && g.Since.After(since)
	})
	start = time.Now()
	w.write("gps", "$GPGGA,2\n")
	tr.event("gps", control.RX, "$GPGGA,2\n", start)
}

// A tracer that does not keep up loses events, counted, and the device is
// not slowed: every frame still reaches the broker.
func TestTraceSlowReader(t *testing.T) {
	w := newWorld(t, "gps")
	w.run(map[string]string{"gps": ""})
	w.expectAll("iogate/gw/gps/status online")
	tr := w.dialControl()
	tr.hello()
	tr.trace("gps")

	line := strings.Repeat("x", 4000)
	var flood strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&flood, "%04d%s\n", i, line)
	}
	w.write("gps", flood.String()) // 4 MB, while the tracer reads nothing
	w.expectPayload("iogate/gw/gps/rx", "0999"+line)

	events := 0
	for {
		m, err := tr.next()
		if err != nil {
			t.Fatalf("after %d events: %v", events, err)
		}
		if m.Kind == control.KindLost {
			if m.Lost.Count == 0 || events == 0 {
				t.Fatalf("lost %d after %d events", m.Lost.Count, events)
			}
			t.Logf("%d events, then %d lost", events, m.Lost.Count)
			break
		}
		events++
	}
	w.write("gps", "END\n")
	for {
		m := tr.want(control.KindTrace)
		if strings.Contains(string(m.Event.Data), "END") {
			break
		}
	}
}

// A tracer that reads nothing at all is closed; the gateway goes on.
func TestTraceNeverReads(t *testing.T) {
	t.Cleanup(bridge.SetCongestionLimit(200 * time.Millisecond))
	w := newWorld(t, "gps")
	w.run(map[string]string{"gps": ""})
	w.expectAll("iogate/gw/gps/status online")
	tr := w.dialControl()
	tr.hello()
	tr.trace("gps")
	w.write("gps", strings.Repeat(strings.Repeat("y", 1000)+"\n", 2000))
	if !tr.hungUp() {
		t.Fatal("a tracer that reads nothing was not closed")
	}
	w.write("gps", "after\n")
	w.expectPayload("iogate/gw/gps/rx", "after")
	c := w.dialControl()
	c.hello()
	c.status()
}

// A client that asks for statuses and reads none is closed, rather than
// have them pile up in the gateway.
func TestControlStatusNeverRead(t *testing.T) {
	w := newWorld(t, "gps")
	w.run(map[string]string{"gps": ""})
	c := w.dialControl()
	go io.WriteString(c.c, helloLine+"\n"+strings.Repeat(`{"type":"status"}`+"\n", 5000))
	if !c.hungUp() {
		t.Fatal("a client that reads no status was not closed")
	}
}
