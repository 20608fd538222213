package tcp_test

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/iogate/iogate/reactor"
)

// patience bounds every wait for something that must happen; it is not a
// measurement, only how long a broken test takes to say so.
const patience = 10 * time.Second

// hooks is a Service made of the handlers a test sets; the others are
// Base's, except that Disconnected always closes the resource, before the
// test's handler so that the test sees it closed.
type hooks struct {
	reactor.Base
	accepted     func(r *reactor.Reactor, l reactor.ID, t reactor.Transport)
	connected    func(r *reactor.Reactor, id reactor.ID)
	received     func(r *reactor.Reactor, id reactor.ID, data []byte)
	congested    func(r *reactor.Reactor, id reactor.ID)
	drained      func(r *reactor.Reactor, id reactor.ID)
	disconnected func(r *reactor.Reactor, id reactor.ID, res reactor.Resource, cause error)
	timer        func(r *reactor.Reactor, t reactor.TimerID)
}

func (h *hooks) Accepted(r *reactor.Reactor, l reactor.ID, t reactor.Transport) {
	if h.accepted == nil {
		h.Base.Accepted(r, l, t)
		return
	}
	h.accepted(r, l, t)
}

func (h *hooks) Connected(r *reactor.Reactor, id reactor.ID) {
	if h.connected != nil {
		h.connected(r, id)
	}
}

func (h *hooks) Received(r *reactor.Reactor, id reactor.ID, data []byte) {
	if h.received != nil {
		h.received(r, id, data)
	}
}

func (h *hooks) Congested(r *reactor.Reactor, id reactor.ID) {
	if h.congested != nil {
		h.congested(r, id)
	}
}

func (h *hooks) Drained(r *reactor.Reactor, id reactor.ID) {
	if h.drained != nil {
		h.drained(r, id)
	}
}

func (h *hooks) Disconnected(r *reactor.Reactor, id reactor.ID, res reactor.Resource, cause error) {
	res.Close()
	if h.disconnected != nil {
		h.disconnected(r, id, res, cause)
	}
}

func (h *hooks) Timer(r *reactor.Reactor, t reactor.TimerID) {
	if h.timer != nil {
		h.timer(r, t)
	}
}

// run starts a reactor for s with setup done before the loop, and stops it
// when the test ends.
func run(t *testing.T, s reactor.Service, opts reactor.Options, setup func(r *reactor.Reactor)) *reactor.Reactor {
	t.Helper()
	r, err := reactor.New(s, opts)
	if err != nil {
		t.Fatal(err)
	}
	setup(r)
	done := make(chan error, 1)
	go func() { done <- r.Run() }()
	t.Cleanup(func() {
		r.Controller().Stop()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(patience):
			t.Error("reactor did not stop")
		}
	})
	return r
}

// wait returns the next value from ch, or fails the test if none comes.
func wait[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(patience):
	}
	t.Fatalf("gave up waiting for %s", what)
	var zero T
	return zero
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
