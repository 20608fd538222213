package tcp_test

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/iogate/iogate/reactor"
	"github.com/iogate/iogate/reactor/reactortest"
	"github.com/iogate/iogate/resources/tcp"
)

// recorder is a reactortest.Recorder that closes what the reactor hands
// back, as Base does and before the test hears of it, so that no socket
// outlives its test.
func recorder() *reactortest.Recorder {
	svc := reactortest.NewRecorder()
	svc.OnDisconnected = reactor.Base{}.Disconnected
	svc.OnShutdown = reactor.Base{}.Shutdown
	return svc
}

// registerAccepted is an OnAccepted hook of svc that registers the
// transport with svc, leaves its ID in *id for the test to read once
// Accepted is reported, and then calls then, if set.
func registerAccepted(t *testing.T, svc *reactortest.Recorder, id *reactor.ID, then func(r *reactor.Reactor)) func(*reactor.Reactor, reactor.ID, reactor.Transport) {
	return func(r *reactor.Reactor, _ reactor.ID, tr reactor.Transport) {
		var err error
		if *id, err = r.RegisterTransport(tr, svc); err != nil {
			t.Errorf("service: %v", err)
			tr.Close()
			return
		}
		if then != nil {
			then(r)
		}
	}
}

// serve starts a loop running svc with l registered, dials addr, and waits
// for Accepted. The client waits at most reactortest.Deadline, and is
// closed when the test ends.
func serve(t *testing.T, svc *reactortest.Recorder, opts reactor.Options, l *tcp.Listener, addr string) (*reactortest.Loop, net.Conn) {
	t.Helper()
	loop := reactortest.Start(t, svc, opts)
	lid := loop.RegisterListener(l)
	client, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	client.SetDeadline(time.Now().Add(reactortest.Deadline))
	loop.Expect("accepted", lid)
	return loop, client
}

// listenFamily is a test's loopback address for a family, or skips the test
// where the host has no such loopback.
func listenFamily(t *testing.T, family string) string {
	t.Helper()
	if family == "ipv4" {
		return "127.0.0.1:0"
	}
	probe, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	probe.Close()
	return "[::1]:0"
}

// dialPeers dials, with tcp.Dial, a listener of package net on the family's
// loopback, and closes both when the test ends.
func dialPeers(t *testing.T, family string) (*tcp.Conn, *net.TCPListener) {
	t.Helper()
	ln, err := net.Listen("tcp", listenFamily(t, family))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	peers := ln.(*net.TCPListener)
	c, err := tcp.Dial(peers.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, peers
}

// accept takes the connection dialed to peers, and closes it when the test
// ends. Both ends wait at most reactortest.Deadline.
func accept(t *testing.T, peers *net.TCPListener) net.Conn {
	t.Helper()
	peers.SetDeadline(time.Now().Add(reactortest.Deadline))
	peer, err := peers.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.Close() })
	peer.SetDeadline(time.Now().Add(reactortest.Deadline))
	return peer
}

// freePort is an address where nothing listens: a port just released.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// addrOf converts package net's address, which may hold an IPv4 address in
// 16 bytes, to the unmapped form package tcp reports.
func addrOf(a net.Addr) netip.AddrPort {
	ap := a.(*net.TCPAddr).AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}
