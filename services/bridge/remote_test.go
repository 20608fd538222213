package bridge_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/iogate/iogate/rfc2217"
	"github.com/iogate/iogate/services/bridge"
)

// peer is a device on the network as a test plays it: a TCP listener whose
// connections the test takes one by one.
type peer struct {
	t     *testing.T
	l     net.Listener
	conns chan net.Conn
}

func listenPeer(t *testing.T, addr string) *peer {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	p := &peer{t: t, l: l, conns: make(chan net.Conn, 16)}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			p.conns <- c
		}
	}()
	t.Cleanup(func() {
		l.Close()
		for {
			select {
			case c := <-p.conns:
				c.Close()
			default:
				return
			}
		}
	})
	return p
}

func (p *peer) addr() string { return p.l.Addr().String() }

// accept waits for the gateway's next connection.
func (p *peer) accept() net.Conn {
	p.t.Helper()
	select {
	case c := <-p.conns:
		p.t.Cleanup(func() { c.Close() })
		return c
	case <-time.After(deadline):
		p.t.Fatalf("the gateway did not connect to %s", p.addr())
		return nil
	}
}

// remoteDevice is the TOML of a kind = "tcp" device at addr, with more keys.
func remoteDevice(addr, extra string) string {
	return fmt.Sprintf("kind = \"tcp\"\naddress = %q\n%s", addr, extra)
}

// stats returns the counters of the device named name.
func (w *world) stats(name string) bridge.DeviceStats {
	w.t.Helper()
	sn, err := w.svc.Snapshot(context.Background())
	if err != nil {
		w.t.Fatal(err)
	}
	for _, d := range sn.Devices {
		if d.Name == name {
			return d
		}
	}
	w.t.Fatalf("no device %s in the snapshot", name)
	return bridge.DeviceStats{}
}

// waitStats waits until the counters of the device satisfy cond.
func (w *world) waitStats(name, what string, cond func(bridge.DeviceStats) bool) bridge.DeviceStats {
	w.t.Helper()
	for start := time.Now(); ; {
		st := w.stats(name)
		if cond(st) {
			return st
		}
		if time.Since(start) > deadline {
			w.t.Fatalf("device %s: never %s; counters %+v", name, what, st)
		}
		time.Sleep(10 * time.Millisecond) // polling a condition, not waiting for time to pass
	}
}

// A device on the network is a device like a serial port: its frames go to
// MQTT and its bytes to the clients of its tcp_listen, commands from both
// are written to it, and when the server closes the connection (here in
// the middle of a frame, which is cut) it goes offline and is dialled
// again. Its host name is looked up.
func TestRemoteDevice(t *testing.T) {
	w := newWorld(t)
	p := listenPeer(t, "127.0.0.1:0")
	_, port, _ := net.SplitHostPort(p.addr())
	access := freeAddr(t)
	w.run(map[string]string{"meter": remoteDevice("localhost:"+port, fmt.Sprintf("writable = true\ntcp_listen = %q", access))})
	c := p.accept()
	w.expectPayload("iogate/gw/meter/status", "online")

	client := dial(t, access)
	client.Write([]byte("PING\n"))
	if got := readN(t, c, 5); got != "PING\n" {
		t.Fatalf("the device got %q from the TCP client", got)
	}
	c.Write([]byte("reading 1\r\nreading 2\n"))
	w.expectPayload("iogate/gw/meter/rx", "reading 1")
	w.expectPayload("iogate/gw/meter/rx", "reading 2")
	if got := readN(t, client, 21); got != "reading 1\r\nreading 2\n" {
		t.Fatalf("the TCP client got %q", got)
	}
	w.publish("iogate/gw/meter/tx", []byte("RESET"), false)
	if got := readN(t, c, 6); got != "RESET\n" {
		t.Fatalf("the device got %q from MQTT", got)
	}

	c.Write([]byte("half"))
	c.Close()
	w.expectPayload("iogate/gw/meter/status", "offline")
	c = p.accept()
	w.expectPayload("iogate/gw/meter/status", "online")
	c.Write([]byte("after\n"))
	if m := w.expect("iogate/gw/meter/rx"); m.payload != "after" {
		t.Fatalf("frame after the reconnect %q, want \"after\" alone", m.payload)
	}
	st := w.stats("meter")
	if st.Cut != 1 || st.Reopens != 1 || !st.Online || st.Frames != 3 || st.TxBytes != 11 {
		t.Errorf("counters %+v: want 1 cut, 1 reopen, online, 3 frames, 11 bytes written", st)
	}
}

// A refused connection is dialled again with backoff until the device
// listens; meanwhile its status is offline.
func TestRemoteRefused(t *testing.T) {
	w := newWorld(t)
	addr := freeAddr(t)
	w.run(map[string]string{"late": remoteDevice(addr, "")})
	w.expectPayload("iogate/gw/late/status", "offline")
	if st := w.stats("late"); st.Online {
		t.Fatalf("online with nothing listening: %+v", st)
	}
	p := listenPeer(t, addr)
	c := p.accept()
	w.expectPayload("iogate/gw/late/status", "online")
	c.Write([]byte("hello\n"))
	w.expectPayload("iogate/gw/late/rx", "hello")
}

// A connection silent for tcp_idle_timeout is closed and dialled again.
func TestRemoteIdleTimeout(t *testing.T) {
	w := newWorld(t)
	p := listenPeer(t, "127.0.0.1:0")
	w.run(map[string]string{"quiet": remoteDevice(p.addr(), `tcp_idle_timeout = "200ms"`)})
	c := p.accept()
	w.expectPayload("iogate/gw/quiet/status", "online")
	c.SetReadDeadline(time.Now().Add(deadline))
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("the silent connection: read %v, want the gateway to close it", err)
	}
	w.expectPayload("iogate/gw/quiet/status", "offline")
	c = p.accept()
	w.expectPayload("iogate/gw/quiet/status", "online")
	c.Write([]byte("awake\n"))
	w.expectPayload("iogate/gw/quiet/rx", "awake")
}

// comPortServer reads what the gateway sends as an RFC 2217 server does,
// until done says it has enough, and returns the data and the commands.
// It answers the telnet negotiation, as rfc2217.Server does, and none of
// the commands.
func comPortServer(t *testing.T, c net.Conn, srv *rfc2217.Server, done func(data []byte, cmds []rfc2217.Command) bool) ([]byte, []rfc2217.Command) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(deadline))
	var data, reply []byte
	var cmds []rfc2217.Command
	buf := make([]byte, 4096)
	for !done(data, cmds) {
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("server read: %v; got %q and %v", err, data, cmds)
		}
		for in := buf[:n]; len(in) > 0; {
			var k int
			var cmd rfc2217.Command
			data, reply, k, cmd = srv.Decode(data, reply[:0], in)
			in = in[k:]
			if cmd.Op != rfc2217.OpNone {
				cmds = append(cmds, cmd)
			}
			c.Write(reply)
		}
	}
	return data, cmds
}

// With tcp_protocol = "rfc2217" the gateway sets the line of the remote
// port, and the data flows although the server answers none of it, with
// 0xFF escaped both ways.
func TestRemoteRFC2217(t *testing.T) {
	w := newWorld(t)
	p := listenPeer(t, "127.0.0.1:0")
	w.run(map[string]string{"port": remoteDevice(p.addr(), `tcp_protocol = "rfc2217"
baud = 19200
data_bits = 7
parity = "even"
stop_bits = 2
flow = "rtscts"
writable = true
encoding = "hex"`)})
	c := p.accept()
	srv := rfc2217.NewServer("test")
	c.Write(srv.Greeting(nil))
	_, cmds := comPortServer(t, c, srv, func(_ []byte, cmds []rfc2217.Command) bool { return len(cmds) == 5 })
	want := []string{"SET-BAUDRATE 19200", "SET-DATASIZE 7", "SET-PARITY even", "SET-STOPSIZE 2", "SET-CONTROL flow rtscts"}
	for i, cmd := range cmds {
		if cmd.String() != want[i] {
			t.Errorf("command %d: %v, want %s", i, cmd, want[i])
		}
	}
	w.expectPayload("iogate/gw/port/status", "online")
	c.Write(rfc2217.Escape(nil, []byte("\xffT=1\n")))
	w.expectPayload("iogate/gw/port/rx", "ff543d31")
	w.publish("iogate/gw/port/tx", []byte("41ff42"), false)
	data, _ := comPortServer(t, c, srv, func(data []byte, _ []rfc2217.Command) bool { return len(data) >= 4 })
	if string(data) != "A\xffB\n" {
		t.Fatalf("the remote port got %q, want \"A\\xffB\\n\"", data)
	}
	if st := w.stats("port"); st.TxBytes != 4 || st.Malformed != 0 {
		t.Errorf("counters %+v: want 4 bytes written and nothing malformed", st)
	}
}

// A server that floods garbage costs the gateway one read at a time: the
// other devices' frames flow meanwhile, the garbage is counted (overlong
// frames; malformed telnet from an RFC 2217 server), and the device is
// back to normal on its next connection.
func TestRemoteFlood(t *testing.T) {
	w := newWorld(t, "calm")
	raw, tn := listenPeer(t, "127.0.0.1:0"), listenPeer(t, "127.0.0.1:0")
	// Random bytes practically never hold the delimiter: the garbage is all
	// one overlong frame, and nothing of it is published.
	const flooded = "framing = \"delimiter\"\ndelimiter = \"\\r\\n\\r\\n\"\nmax_frame = 64\n"
	w.run(map[string]string{
		"calm": "",
		"raw":  remoteDevice(raw.addr(), flooded),
		"tn":   remoteDevice(tn.addr(), flooded+`tcp_protocol = "rfc2217"`),
	})
	w.expectPayload("iogate/gw/calm/status", "online")
	stop := make(chan struct{})
	flood := func(c net.Conn, seed uint64) {
		rnd := rand.New(rand.NewPCG(seed, seed))
		buf := make([]byte, 64<<10)
		for {
			for i := range buf {
				buf[i] = byte(rnd.UintN(256))
			}
			select {
			case <-stop:
				c.Close()
				return
			default:
			}
			if _, err := c.Write(buf); err != nil {
				return
			}
		}
	}
	rc, tc := raw.accept(), tn.accept()
	go flood(rc, 1)
	go flood(tc, 2)
	const lots = 8 << 20
	w.waitStats("raw", "flooded", func(st bridge.DeviceStats) bool { return st.ReadBytes > lots })
	w.waitStats("tn", "flooded", func(st bridge.DeviceStats) bool { return st.ReadBytes > lots })
	for i := range 5 {
		line := fmt.Sprintf("calm %d", i)
		w.write("calm", line+"\n")
		w.expectPayload("iogate/gw/calm/rx", line)
	}
	before := w.stats("raw").ReadBytes
	w.waitStats("raw", "still flooded", func(st bridge.DeviceStats) bool { return st.ReadBytes > before+lots })
	w.waitStats("tn", "counting malformed telnet", func(st bridge.DeviceStats) bool { return st.Malformed > 0 })
	if st := w.stats("raw"); st.Overlong == 0 || st.Frames != 0 {
		t.Errorf("raw flood: %+v, want overlong frames and none published", st)
	}
	close(stop)

	rc, tc = raw.accept(), tn.accept()
	w.expectAll("iogate/gw/raw/status online", "iogate/gw/tn/status online")
	rc.Write([]byte("ok\r\n\r\n"))
	tc.Write([]byte("ok\r\n\r\n"))
	w.expectAll("iogate/gw/raw/rx ok", "iogate/gw/tn/rx ok")
}

// A reload that moves a device to another address closes the old
// connection and dials the new one.
func TestRemoteReload(t *testing.T) {
	w := newWorld(t)
	a, b := listenPeer(t, "127.0.0.1:0"), listenPeer(t, "127.0.0.1:0")
	w.run(map[string]string{"moving": remoteDevice(a.addr(), "")})
	ca := a.accept()
	w.expectPayload("iogate/gw/moving/status", "online")
	if err := w.svc.Reload(w.config("", map[string]string{"moving": remoteDevice(b.addr(), "")})); err != nil {
		t.Fatal(err)
	}
	cb := b.accept()
	ca.SetReadDeadline(time.Now().Add(deadline))
	if _, err := ca.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("the old connection: read %v, want it closed", err)
	}
	cb.Write([]byte("moved\n"))
	w.expectPayload("iogate/gw/moving/rx", "moved")
}

// An RFC 2217 server that floods the gateway with requests and never reads
// the answers is dropped once they fill the connection's buffer, rather
// than allowed to grow it, and is dialled again.
func TestRemoteRFC2217ServerDoesNotRead(t *testing.T) {
	w := newWorld(t)
	p := listenPeer(t, "127.0.0.1:0")
	w.run(map[string]string{"deaf": remoteDevice(p.addr(), `tcp_protocol = "rfc2217"`)})
	c := p.accept()
	// Each DO of an option the client does not take is answered WONT.
	requests := []byte(strings.Repeat("\xff\xfd\x63", 64<<10/3))
	go func() {
		c.SetWriteDeadline(time.Now().Add(deadline))
		for {
			if _, err := c.Write(requests); err != nil {
				return
			}
		}
	}()
	next := p.accept()
	w.expectPayload("iogate/gw/deaf/status", "online")
	next.Write([]byte("heard\n"))
	w.expectPayload("iogate/gw/deaf/rx", "heard")
}
