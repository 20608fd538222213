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
// that does not read its echo.
func echoService(conns chan<- accepted, errs chan<- error) *hooks {
	return &hooks{
		accepted: func(r *reactor.Reactor, _ reactor.ID, t reactor.Transport) {
			conns <- inspect(t.(*tcp.Conn))
			if _, err := r.RegisterTransport(t); err != nil {
				errs <- err
				t.Close()
			}
		},
		received: func(r *reactor.Reactor, id reactor.ID, data []byte) {
			if err := r.Send(id, data); err != nil {
				errs <- err
			}
		},
		congested: func(r *reactor.Reactor, id reactor.ID) { r.Pause(id) },
		drained:   func(r *reactor.Reactor, id reactor.ID) { r.Resume(id) },
	}
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
			conns := make(chan accepted, 1)
			errs := make(chan error, 16)
			run(t, echoService(conns, errs), reactor.Options{}, func(r *reactor.Reactor) {
				if _, err := r.RegisterListener(l); err != nil {
					t.Fatal(err)
				}
			})

			client, err := net.Dial("tcp", l.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer client.Close()
			client.SetDeadline(time.Now().Add(patience))
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
			if err := wait(t, wrote, "the client's write"); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(echo, payload) {
				t.Error("the echo differs from what was sent")
			}
			select {
			case err := <-errs:
				t.Errorf("service: %v", err)
			default:
			}

			c := wait(t, conns, "Accepted")
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
	conns := make(chan accepted, 1)
	run(t, echoService(conns, make(chan error, 16)), reactor.Options{}, func(r *reactor.Reactor) {
		if _, err := r.RegisterListener(l); err != nil {
			t.Fatal(err)
		}
	})
	client, err := net.Dial("tcp", netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), l.Addr().Port()).String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	c := wait(t, conns, "Accepted")
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
			peers, err := net.Listen("tcp", listenFamily(t, family))
			if err != nil {
				t.Fatal(err)
			}
			defer peers.Close()
			c, err := tcp.Dial(peers.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			connected := make(chan reactor.ID, 1)
			received := make(chan []byte, 16)
			h := &hooks{
				connected: func(_ *reactor.Reactor, id reactor.ID) { connected <- id },
				received: func(_ *reactor.Reactor, _ reactor.ID, data []byte) {
					received <- bytes.Clone(data)
				},
			}
			var id reactor.ID
			run(t, h, reactor.Options{}, func(r *reactor.Reactor) {
				if id, err = r.Connect(c); err != nil {
					t.Fatal(err)
				}
				// Sent before the connection is up: queued until it is.
				if err := r.Send(id, []byte("ping\n")); err != nil {
					t.Fatal(err)
				}
			})

			peers.(*net.TCPListener).SetDeadline(time.Now().Add(patience))
			peer, err := peers.Accept()
			if err != nil {
				t.Fatal(err)
			}
			defer peer.Close()
			peer.SetDeadline(time.Now().Add(patience))
			if got := wait(t, connected, "Connected"); got != id {
				t.Errorf("Connected(%d), want %d", got, id)
			}
			ping := make([]byte, 5)
			if _, err := io.ReadFull(peer, ping); err != nil || string(ping) != "ping\n" {
				t.Fatalf("peer read %q, %v; want %q", ping, err, "ping\n")
			}
			if _, err := peer.Write([]byte("pong\n")); err != nil {
				t.Fatal(err)
			}
			var pong []byte
			for len(pong) < 5 {
				pong = append(pong, wait(t, received, "Received")...)
			}
			if string(pong) != "pong\n" {
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

// disconnection is what a test service learns when the reactor hands a
// resource back.
type disconnection struct {
	id    reactor.ID
	res   reactor.Resource
	cause error
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
	connected := make(chan reactor.ID, 1)
	gone := make(chan disconnection, 1)
	h := &hooks{
		connected: func(_ *reactor.Reactor, id reactor.ID) { connected <- id },
		disconnected: func(_ *reactor.Reactor, id reactor.ID, res reactor.Resource, cause error) {
			gone <- disconnection{id, res, cause}
		},
	}
	var id reactor.ID
	run(t, h, reactor.Options{}, func(r *reactor.Reactor) {
		if id, err = r.Connect(c); err != nil {
			t.Fatal(err)
		}
	})
	d := wait(t, gone, "Disconnected")
	if d.id != id || d.res != reactor.Resource(c) {
		t.Errorf("Disconnected(%d, %v), want (%d, the dialed Conn)", d.id, d.res, id)
	}
	if !errors.Is(d.cause, syscall.ECONNREFUSED) {
		t.Errorf("cause %v, want ECONNREFUSED", d.cause)
	}
	if want := "dial tcp " + addr + ": connect: connection refused"; d.cause == nil || d.cause.Error() != want {
		t.Errorf("cause reads %q, want %q", d.cause, want)
	}
	if err := c.FinishConnect(); err != d.cause {
		t.Errorf("FinishConnect asked again = %v, want the same answer", err)
	}
	select {
	case <-connected:
		t.Error("Connected reported for a refused connection")
	default:
	}
}

// TestPeerClosesMidWrite: a client that reads a little of a large reply and
// closes costs the service a Disconnected with the reset, nothing worse.
func TestPeerClosesMidWrite(t *testing.T) {
	const total = 16 << 20
	chunk := make([]byte, 64<<10)
	gone := make(chan error, 1)
	var id reactor.ID // the loop's
	var sent int      // the loop's
	pump := func(r *reactor.Reactor) {
		for sent < total {
			if err := r.Send(id, chunk); err != nil {
				return // overflow: Drained resumes; failure: Disconnected follows
			}
			sent += len(chunk)
		}
	}
	h := &hooks{
		accepted: func(r *reactor.Reactor, _ reactor.ID, t reactor.Transport) {
			var err error
			if id, err = r.RegisterTransport(t); err != nil {
				t.Close()
				gone <- err
				return
			}
			pump(r)
		},
		drained: func(r *reactor.Reactor, _ reactor.ID) { pump(r) },
		disconnected: func(_ *reactor.Reactor, _ reactor.ID, _ reactor.Resource, cause error) {
			gone <- cause
		},
	}
	l, err := tcp.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	run(t, h, reactor.Options{}, func(r *reactor.Reactor) {
		if _, err := r.RegisterListener(l); err != nil {
			t.Fatal(err)
		}
	})
	client, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	client.SetDeadline(time.Now().Add(patience))
	if _, err := io.ReadFull(client, make([]byte, 1024)); err != nil {
		t.Fatal(err)
	}
	// Unread data makes the close a reset.
	client.Close()
	cause := wait(t, gone, "Disconnected")
	if !errors.Is(cause, syscall.ECONNRESET) && !errors.Is(cause, syscall.EPIPE) {
		t.Errorf("cause %v, want ECONNRESET or EPIPE", cause)
	}
}

// TestPeerNeverReads: output to a client that does not read stays within
// Limits.Max, and flows again once the client reads.
func TestPeerNeverReads(t *testing.T) {
	limits := reactor.Limits{Low: 16 << 10, High: 64 << 10, Max: 256 << 10}
	chunk := make([]byte, 16<<10)
	type congestion struct {
		pending    int   // when Congested arrived
		peak       int   // the most ever pending
		fillErr    error // what ended filling up to Max
		overflow   error // a Send once full
		pendingEnd int   // after that Send
	}
	congested := make(chan congestion, 1)
	drained := make(chan int, 1)
	failed := make(chan error, 1)
	var id reactor.ID    // the loop's
	var stopSending bool // the loop's
	h := &hooks{
		accepted: func(r *reactor.Reactor, _ reactor.ID, t reactor.Transport) {
			var err error
			if id, err = r.RegisterTransport(t); err != nil {
				t.Close()
				failed <- err
				return
			}
			r.SetTimer(0)
		},
		// Send a chunk per turn of the loop until Congested says stop.
		timer: func(r *reactor.Reactor, _ reactor.TimerID) {
			if stopSending {
				return
			}
			if err := r.Send(id, chunk); err != nil {
				failed <- err
				return
			}
			r.SetTimer(0)
		},
		congested: func(r *reactor.Reactor, _ reactor.ID) {
			stopSending = true
			c := congestion{pending: r.Pending(id)}
			for c.fillErr == nil {
				c.fillErr = r.Send(id, chunk)
				c.peak = max(c.peak, r.Pending(id))
			}
			c.overflow = r.Send(id, chunk)
			c.pendingEnd = r.Pending(id)
			congested <- c
		},
		drained: func(r *reactor.Reactor, _ reactor.ID) { drained <- r.Pending(id) },
		disconnected: func(_ *reactor.Reactor, _ reactor.ID, _ reactor.Resource, cause error) {
			failed <- cause
		},
	}
	l, err := tcp.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	run(t, h, reactor.Options{Limits: limits}, func(r *reactor.Reactor) {
		if _, err := r.RegisterListener(l); err != nil {
			t.Fatal(err)
		}
	})
	client, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()

	var c congestion
	select {
	case c = <-congested:
	case err := <-failed:
		t.Fatalf("before Congested: %v", err)
	case <-time.After(patience):
		t.Fatal("gave up waiting for Congested")
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
	if pending := wait(t, drained, "Drained"); pending > limits.Low {
		t.Errorf("Drained with %d pending, above Low (%d)", pending, limits.Low)
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
			type result struct {
				data  []byte
				cause error
			}
			results := make(chan result, 1)
			var data []byte // the loop's
			h := &hooks{
				accepted: func(r *reactor.Reactor, _ reactor.ID, t reactor.Transport) {
					id, err := r.RegisterTransport(t)
					if err == nil && tt.pause {
						err = r.Pause(id)
					}
					if err != nil {
						results <- result{cause: err}
					}
				},
				received: func(_ *reactor.Reactor, _ reactor.ID, b []byte) { data = append(data, b...) },
				disconnected: func(_ *reactor.Reactor, _ reactor.ID, _ reactor.Resource, cause error) {
					results <- result{data, cause}
				},
			}
			l, err := tcp.Listen("127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			run(t, h, reactor.Options{}, func(r *reactor.Reactor) {
				if _, err := r.RegisterListener(l); err != nil {
					t.Fatal(err)
				}
			})
			client, err := net.Dial("tcp", l.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			payload := make([]byte, tt.size)
			rand.Read(payload)
			client.SetDeadline(time.Now().Add(patience))
			if _, err := client.Write(payload); err != nil {
				t.Fatal(err)
			}
			client.Close()

			res := wait(t, results, "Disconnected")
			if !errors.Is(res.cause, io.EOF) {
				t.Errorf("cause %v, want io.EOF", res.cause)
			}
			if !bytes.Equal(res.data, payload) {
				t.Errorf("received %d bytes, want the %d sent", len(res.data), len(payload))
			}
		})
	}
}

// TestCloseWrite: a half-closed connection still receives.
func TestCloseWrite(t *testing.T) {
	peers, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer peers.Close()
	c, err := tcp.Dial(peers.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	closed := make(chan error, 1)
	received := make(chan []byte, 16)
	h := &hooks{
		connected: func(*reactor.Reactor, reactor.ID) { closed <- c.CloseWrite() },
		received: func(_ *reactor.Reactor, _ reactor.ID, data []byte) {
			received <- bytes.Clone(data)
		},
	}
	run(t, h, reactor.Options{}, func(r *reactor.Reactor) {
		if _, err := r.Connect(c); err != nil {
			t.Fatal(err)
		}
	})
	peers.(*net.TCPListener).SetDeadline(time.Now().Add(patience))
	peer, err := peers.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	peer.SetDeadline(time.Now().Add(patience))
	if err := wait(t, closed, "CloseWrite"); err != nil {
		t.Fatal(err)
	}
	if rest, err := io.ReadAll(peer); err != nil || len(rest) != 0 {
		t.Fatalf("peer read %q, %v; want end-of-file", rest, err)
	}
	if _, err := peer.Write([]byte("still open")); err != nil {
		t.Fatal(err)
	}
	var got []byte
	for len(got) < len("still open") {
		got = append(got, wait(t, received, "Received")...)
	}
	if string(got) != "still open" {
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
	peers, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer peers.Close()
	c, err := tcp.Dial(peers.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
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
	peers, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer peers.Close()
	c, err := tcp.Dial(peers.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
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
	peers, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer peers.Close()
	c, err := tcp.Dial(peers.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
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
