package tcp_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iogate/iogate/reactor"
	"github.com/iogate/iogate/reactor/reactortest"
	"github.com/iogate/iogate/resources/tcp"
	"golang.org/x/sys/unix"
)

// accepted is what a test service learns of a connection when it accepts it.
type accepted struct {
	local, remote netip.AddrPort
	noDelay       int
	keepAlive     int
	err           error
}

func inspect(c *tcp.Conn) accepted {
	a := accepted{local: c.LocalAddr(), remote: c.RemoteAddr()}
	a.noDelay, a.err = unix.GetsockoptInt(c.Fd(), unix.IPPROTO_TCP, unix.TCP_NODELAY)
	if a.err == nil {
		a.keepAlive, a.err = unix.GetsockoptInt(c.Fd(), unix.SOL_SOCKET, unix.SO_KEEPALIVE)
	}
	return a
}

// echoService echoes what it receives, and stops reading from a client
// that does not read its echo. It leaves in conn what it learns of the
// connection it accepts, for the test to read once Accepted is reported.
func echoService(t *testing.T, conn *accepted) *reactortest.Recorder {
	svc := recorder()
	svc.OnAccepted = func(r *reactor.Reactor, _ reactor.ID, tr reactor.Transport) {
		*conn = inspect(tr.(*tcp.Conn))
		if _, err := r.RegisterTransport(tr, svc); err != nil {
			t.Errorf("service: %v", err)
			tr.Close()
		}
	}
	svc.OnReceived = func(r *reactor.Reactor, id reactor.ID, data []byte) {
		if err := r.Send(id, data); err != nil {
			t.Errorf("service: %v", err)
		}
	}
	svc.OnCongested = func(r *reactor.Reactor, id reactor.ID) { r.Pause(id) }
	svc.OnDrained = func(r *reactor.Reactor, id reactor.ID) { r.Resume(id) }
	return svc
}

func TestEcho(t *testing.T) {
	for _, family := range []string{"ipv4", "ipv6"} {
		t.Run(family, func(t *testing.T) {
			l, err := tcp.Listen(listenFamily(t, family))
			if err != nil {
				t.Fatal(err)
			}
			if l.Addr().Port() == 0 || !l.Addr().Addr().IsLoopback() {
				t.Fatalf("Addr() = %v, want a loopback address with the port picked", l.Addr())
			}
			var c accepted
			_, client := serve(t, echoService(t, &c), reactor.Options{}, l, l.Addr().String())
			payload := make([]byte, 1<<20)
			rand.Read(payload)
			wrote := make(chan error, 1)
			go func() {
				_, err := client.Write(payload)
				wrote <- err
			}()
			echo := make([]byte, len(payload))
			if _, err := io.ReadFull(client, echo); err != nil {
				t.Fatalf("reading the echo: %v", err)
			}
			if err := <-wrote; err != nil { // no longer than the client's deadline
				t.Fatal(err)
			}
			if !bytes.Equal(echo, payload) {
				t.Error("the echo differs from what was sent")
			}

			if c.err != nil {
				t.Fatal(c.err)
			}
			if c.local != l.Addr() {
				t.Errorf("LocalAddr() = %v, want %v", c.local, l.Addr())
			}
			if want := addrOf(client.LocalAddr()); c.remote != want {
				t.Errorf("RemoteAddr() = %v, want %v", c.remote, want)
			}
			if c.noDelay == 0 {
				t.Error("TCP_NODELAY is off on an accepted connection")
			}
			if c.keepAlive == 0 {
				t.Error("SO_KEEPALIVE is off on an accepted connection")
			}
		})
	}
}

// TestDualStack: an IPv6 wildcard listener takes IPv4 clients and reports
// their addresses as IPv4.
func TestDualStack(t *testing.T) {
	if runtime.GOOS == "openbsd" {
		t.Skip("OpenBSD has no dual-stack sockets")
	}
	probe, err := net.Listen("tcp", "[::]:0")
	if err != nil {
		t.Skipf("no IPv6: %v", err)
	}
	probe.Close()
	l, err := tcp.Listen("[::]:0")
	if err != nil {
		t.Fatal(err)
	}
	var c accepted
	_, client := serve(t, echoService(t, &c), reactor.Options{}, l,
		netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), l.Addr().Port()).String())
	if want := addrOf(client.LocalAddr()); c.remote != want {
		t.Errorf("RemoteAddr() = %v, want %v", c.remote, want)
	}
	if want := addrOf(client.RemoteAddr()); c.local != want {
		t.Errorf("LocalAddr() = %v, want %v", c.local, want)
	}
}

func TestDial(t *testing.T) {
	for _, family := range []string{"ipv4", "ipv6"} {
		t.Run(family, func(t *testing.T) {
			c, peers := dialPeers(t, family)
			loop := reactortest.Start(t, recorder(), reactor.Options{})
			var id reactor.ID
			var connectErr, sendErr error
			loop.Do(func(r *reactor.Reactor) {
				if id, connectErr = r.Connect(c, loop.Svc); connectErr == nil {
					// Sent before the connection is up: queued until it is.
					sendErr = r.Send(id, []byte("ping\n"))
				}
			})
			if err := errors.Join(connectErr, sendErr); err != nil {
				t.Fatal(err)
			}

			peer := accept(t, peers)
			if e := loop.Next(); e.Kind != "connected" || e.ID != id {
				t.Errorf("%v, want connected(id=%d)", e, id)
			}
			ping := make([]byte, 5)
			if _, err := io.ReadFull(peer, ping); err != nil || string(ping) != "ping\n" {
				t.Fatalf("peer read %q, %v; want %q", ping, err, "ping\n")
			}
			if _, err := peer.Write([]byte("pong\n")); err != nil {
				t.Fatal(err)
			}
			if pong := loop.Receive(id, 5); pong != "pong\n" {
				t.Errorf("service received %q, want %q", pong, "pong\n")
			}
			if want := addrOf(peers.Addr()); c.RemoteAddr() != want {
				t.Errorf("RemoteAddr() = %v, want %v", c.RemoteAddr(), want)
			}
			if want := addrOf(peer.RemoteAddr()); c.LocalAddr() != want {
				t.Errorf("LocalAddr() = %v, want %v", c.LocalAddr(), want)
			}
		})
	}
}

func TestDialRefused(t *testing.T) {
	addr := freePort(t)
	c, err := tcp.Dial(addr)
	if err != nil {
		if !errors.Is(err, syscall.ECONNREFUSED) || !strings.Contains(err.Error(), "dial tcp "+addr) {
			t.Fatalf("Dial(%s) = %v, want a refusal that names the address", addr, err)
		}
		t.Skip("this system refuses at once, in Dial: FinishConnect had nothing to report")
	}
	loop := reactortest.Start(t, recorder(), reactor.Options{})
	id := loop.Connect(c)
	d := loop.Next()
	if d.Kind == "connected" {
		t.Error("Connected reported for a refused connection")
		d = loop.Next()
	}
	if d.Kind != "disconnected" || d.ID != id || d.Res != reactor.Resource(c) {
		t.Errorf("%s(%d, %v), want disconnected(%d, the dialed Conn)", d.Kind, d.ID, d.Res, id)
	}
	if !errors.Is(d.Err, syscall.ECONNREFUSED) {
		t.Errorf("cause %v, want ECONNREFUSED", d.Err)
	}
	if want := "dial tcp " + addr + ": connect: connection refused"; d.Err == nil || d.Err.Error() != want {
		t.Errorf("cause reads %q, want %q", d.Err, want)
	}
	if err := c.FinishConnect(); err != d.Err {
		t.Errorf("FinishConnect asked again = %v, want the same answer", err)
	}
}

// TestPeerClosesMidWrite: a client that reads a little of a large reply and
// closes costs the service a Disconnected with the reset, nothing worse.
func TestPeerClosesMidWrite(t *testing.T) {
	const total = 16 << 20
	chunk := make([]byte, 64<<10)
	var id reactor.ID // the loop's, and the test's once Accepted is reported
	var sent int      // the loop's
	pump := func(r *reactor.Reactor) {
		for sent < total {
			if err := r.Send(id, chunk); err != nil {
				return // overflow: Drained resumes; failure: Disconnected follows
			}
			sent += len(chunk)
		}
	}
	svc := recorder()
	svc.OnAccepted = registerAccepted(t, svc, &id, pump)
	svc.OnDrained = func(r *reactor.Reactor, _ reactor.ID) { pump(r) }
	l, err := tcp.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	loop, client := serve(t, svc, reactor.Options{}, l, l.Addr().String())
	if _, err := io.ReadFull(client, make([]byte, 1024)); err != nil {
		t.Fatal(err)
	}
	// Unread data makes the close a reset.
	client.Close()
	cause := loop.Expect("disconnected", id).Err
	if !errors.Is(cause, syscall.ECONNRESET) && !errors.Is(cause, syscall.EPIPE) {
		t.Errorf("cause %v, want ECONNRESET or EPIPE", cause)
	}
}

// TestPeerNeverReads: output to a client that does not read stays within
// Limits.Max, and flows again once the client reads.
func TestPeerNeverReads(t *testing.T) {
	limits := reactor.Limits{Low: 16 << 10, High: 64 << 10, Max: 256 << 10}
	chunk := make([]byte, 16<<10)
	var c struct { // the loop's, and the test's once Congested is reported
		pending    int   // when Congested arrived
		peak       int   // the most ever pending
		fillErr    error // what ended filling up to Max
		overflow   error // a Send once full
		pendingEnd int   // after that Send
	}
	var drained int      // pending at Drained; the test's once it is reported
	var id reactor.ID    // the loop's, and the test's once Accepted is reported
	var stopSending bool // the loop's
	svc := recorder()
	svc.OnAccepted = registerAccepted(t, svc, &id, func(r *reactor.Reactor) { svc.SetTimer(r, 0) })
	// Send a chunk per turn of the loop until Congested says stop.
	svc.OnTimer = func(r *reactor.Reactor, _ reactor.TimerID) {
		if stopSending {
			return
		}
		if err := r.Send(id, chunk); err != nil {
			t.Errorf("before Congested: %v", err)
			return
		}
		svc.SetTimer(r, 0)
	}
	svc.OnCongested = func(r *reactor.Reactor, _ reactor.ID) {
		stopSending = true
		c.pending = r.Pending(id)
		for c.fillErr == nil {
			c.fillErr = r.Send(id, chunk)
			c.peak = max(c.peak, r.Pending(id))
		}
		c.overflow = r.Send(id, chunk)
		c.pendingEnd = r.Pending(id)
	}
	svc.OnDrained = func(r *reactor.Reactor, _ reactor.ID) { drained = r.Pending(id) }
	l, err := tcp.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	loop, client := serve(t, svc, reactor.Options{Limits: limits}, l, l.Addr().String())
	// Timers go by until Congested.
	for e := loop.Next(); e.Kind != "congested" || e.ID != id; e = loop.Next() {
		if e.Kind == "disconnected" {
			t.Fatalf("before Congested: %v", e.Err)
		}
	}
	if c.pending < limits.High {
		t.Errorf("Congested with %d pending, want at least High (%d)", c.pending, limits.High)
	}
	if !errors.Is(c.fillErr, reactor.ErrOverflow) || !errors.Is(c.overflow, reactor.ErrOverflow) {
		t.Errorf("Send when full: %v then %v, want ErrOverflow", c.fillErr, c.overflow)
	}
	if c.peak > limits.Max || c.pendingEnd > limits.Max {
		t.Errorf("pending reached %d, beyond Max (%d)", max(c.peak, c.pendingEnd), limits.Max)
	}
	if c.peak <= limits.Max-len(chunk) {
		t.Errorf("pending stopped at %d, well short of Max (%d)", c.peak, limits.Max)
	}

	go io.Copy(io.Discard, client)
	loop.Expect("drained", id)
	if drained > limits.Low {
		t.Errorf("Drained with %d pending, above Low (%d)", drained, limits.Low)
	}
}

// TestPeerClosesWithUnreadData: a client that writes and closes at once
// has every byte delivered before Disconnected, even to a paused
// connection.
func TestPeerClosesWithUnreadData(t *testing.T) {
	tests := []struct {
		name  string
		size  int
		pause bool
	}{
		// Small enough for the kernel to hold while paused, or the
		// client could not finish writing and close.
		{"paused", 32 << 10, true},
		{"reading", 4 << 20, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var id reactor.ID // the loop's, and the test's once Accepted is reported
			var data []byte   // the loop's, and the test's once Disconnected is reported
			svc := recorder()
			svc.OnAccepted = registerAccepted(t, svc, &id, func(r *reactor.Reactor) {
				if !tt.pause {
					return
				}
				if err := r.Pause(id); err != nil {
					t.Errorf("service: %v", err)
				}
			})
			svc.OnReceived = func(_ *reactor.Reactor, _ reactor.ID, b []byte) { data = append(data, b...) }
			l, err := tcp.Listen("127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			loop, client := serve(t, svc, reactor.Options{}, l, l.Addr().String())
			payload := make([]byte, tt.size)
			rand.Read(payload)
			if _, err := client.Write(payload); err != nil {
				t.Fatal(err)
			}
			client.Close()

			if cause := loop.Expect("disconnected", id).Err; !errors.Is(cause, io.EOF) {
				t.Errorf("cause %v, want io.EOF", cause)
			}
			if !bytes.Equal(data, payload) {
				t.Errorf("received %d bytes, want the %d sent", len(data), len(payload))
			}
		})
	}
}

// TestCloseWrite: a half-closed connection still receives.
func TestCloseWrite(t *testing.T) {
	c, peers := dialPeers(t, "ipv4")
	var closed error // the loop's, and the test's once Connected is reported
	svc := recorder()
	svc.OnConnected = func(*reactor.Reactor, reactor.ID) { closed = c.CloseWrite() }
	loop := reactortest.Start(t, svc, reactor.Options{})
	id := loop.Connect(c)
	peer := accept(t, peers)
	loop.Expect("connected", id)
	if closed != nil {
		t.Fatal(closed)
	}
	if rest, err := io.ReadAll(peer); err != nil || len(rest) != 0 {
		t.Fatalf("peer read %q, %v; want end-of-file", rest, err)
	}
	if _, err := peer.Write([]byte("still open")); err != nil {
		t.Fatal(err)
	}
	if got := loop.Receive(id, len("still open")); got != "still open" {
		t.Errorf("received %q, want %q", got, "still open")
	}
}

func TestListenerClose(t *testing.T) {
	l, err := tcp.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if l.Fd() != -1 {
		t.Errorf("Fd() = %d after Close, want -1", l.Fd())
	}
	tr, err := l.Accept()
	if tr != nil || !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept after Close = %v, %v; want nil, net.ErrClosed", tr, err)
	}
	if want := "accept tcp " + l.Addr().String() + ": "; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Accept's error reads %q, want it to start %q", err, want)
	}
	if err := l.Close(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("second Close = %v, want net.ErrClosed", err)
	}
}

func TestConnClose(t *testing.T) {
	c, _ := dialPeers(t, "ipv4")
	fd := c.Fd()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	// The descriptor number is free again; a new socket likely takes it.
	other, err := tcp.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := c.Close(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("second Close = %v, want net.ErrClosed", err)
	}
	if _, err := other.Accept(); !errors.Is(err, reactor.ErrWouldBlock) {
		t.Errorf("a socket opened after Close (fd %d, the Conn had %d) was harmed by the second Close: Accept = %v",
			other.Fd(), fd, err)
	}
	if c.Fd() != -1 {
		t.Errorf("Fd() = %d after Close, want -1", c.Fd())
	}
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Read after Close = %v, want net.ErrClosed", err)
	}
	if _, err := c.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Write after Close = %v, want net.ErrClosed", err)
	}
}

// TestWouldBlock: a socket that is not ready says so with
// reactor.ErrWouldBlock itself, unwrapped, as the reactor's fast path
// expects, and takes nothing.
func TestWouldBlock(t *testing.T) {
	c, _ := dialPeers(t, "ipv4")
	if n, err := c.Read(make([]byte, 64)); n != 0 || err != reactor.ErrWouldBlock {
		t.Errorf("Read with nothing sent = %d, %v; want 0, ErrWouldBlock", n, err)
	}
	// The peer never reads: the kernel's buffers fill up.
	chunk := make([]byte, 64<<10)
	for {
		n, err := c.Write(chunk)
		if err == nil {
			continue
		}
		if n != 0 || err != reactor.ErrWouldBlock {
			t.Errorf("Write when full = %d, %v; want 0, ErrWouldBlock", n, err)
		}
		break
	}
}

func TestAddressErrors(t *testing.T) {
	tests := []struct {
		name string
		open func() error
		want string
	}{
		{"listen without port", listen("127.0.0.1"), "listen tcp: address 127.0.0.1: missing port in address"},
		{"listen without host", listen(":4001"), "listen tcp: address :4001: missing host"},
		{"listen on a port too high", listen("127.0.0.1:65536"), "listen tcp: address 127.0.0.1:65536: invalid port"},
		{"listen on a named port", listen("127.0.0.1:http"), "listen tcp: address 127.0.0.1:http: invalid port"},
		{"dial a host name", dial("localhost:1883"), "dial tcp: address localhost:1883: not an IP address (look host names up with tcp.Resolve)"},
		{"dial without host", dial(":1883"), "dial tcp: address :1883: missing host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.open()
			if err == nil || err.Error() != tt.want {
				t.Errorf("got %v, want %q", err, tt.want)
			}
		})
	}
}

// TestListenForeignAddress: a system call's failure names the call and
// keeps its errno, whose wording is the system's.
func TestListenForeignAddress(t *testing.T) {
	err := listen("192.0.2.1:0")() // TEST-NET-1: no host has it
	if want := "listen tcp 192.0.2.1:0: bind: "; !errors.Is(err, syscall.EADDRNOTAVAIL) || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("got %v, want EADDRNOTAVAIL in an error starting %q", err, want)
	}
}

func listen(addr string) func() error {
	return func() error {
		l, err := tcp.Listen(addr)
		if err == nil {
			l.Close()
		}
		return err
	}
}

func dial(addr string) func() error {
	return func() error {
		c, err := tcp.Dial(addr)
		if err == nil {
			c.Close()
		}
		return err
	}
}

func TestResolve(t *testing.T) {
	tests := []struct {
		addr string
		want netip.AddrPort
	}{
		{"127.0.0.1:4001", netip.MustParseAddrPort("127.0.0.1:4001")},
		{"[::1]:4001", netip.MustParseAddrPort("[::1]:4001")},
		{"[::ffff:10.0.0.1]:80", netip.MustParseAddrPort("10.0.0.1:80")},
		{"localhost:1883", netip.MustParseAddrPort("127.0.0.1:1883")},
	}
	for _, tt := range tests {
		got, err := tcp.Resolve(context.Background(), tt.addr)
		if err != nil || got != tt.want {
			t.Errorf("Resolve(%q) = %v, %v; want %v", tt.addr, got, err, tt.want)
		}
	}
}

func TestSocketOptions(t *testing.T) {
	c, _ := dialPeers(t, "ipv4")
	get := func(level, opt int) int {
		t.Helper()
		v, err := unix.GetsockoptInt(c.Fd(), level, opt)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if get(unix.IPPROTO_TCP, unix.TCP_NODELAY) == 0 || get(unix.SOL_SOCKET, unix.SO_KEEPALIVE) == 0 {
		t.Error("a dialed connection lacks TCP_NODELAY or SO_KEEPALIVE")
	}
	if err := c.SetNoDelay(false); err != nil {
		t.Fatal(err)
	}
	if get(unix.IPPROTO_TCP, unix.TCP_NODELAY) != 0 {
		t.Error("SetNoDelay(false) left TCP_NODELAY on")
	}
	if err := c.SetKeepAlive(0, 0, 0); err != nil {
		t.Fatal(err)
	}
	if get(unix.SOL_SOCKET, unix.SO_KEEPALIVE) != 0 {
		t.Error("SetKeepAlive(0, ...) left SO_KEEPALIVE on")
	}
	if err := c.SetKeepAlive(time.Minute, 0, 3); err == nil {
		t.Error("SetKeepAlive with a zero interval succeeded")
	}
}
