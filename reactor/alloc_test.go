package reactor_test

import (
	"runtime"
	"testing"

	"github.com/iogate/iogate/reactor"
)

type echo struct{ reactor.Base }

func (echo) Received(r *reactor.Reactor, id reactor.ID, data []byte) { r.Send(id, data) }

// The data path (poll, read, handler, write) must not allocate per event.
func TestSteadyStateDoesNotAllocate(t *testing.T) {
	r, err := reactor.New(reactor.Base{}, reactor.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tr, peer := socketpair(t)
	if _, err := r.RegisterTransport(tr, echo{}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- r.Run() }()
	defer func() { r.Controller().Stop(); <-done }()

	msg := make([]byte, 64)
	roundTrip := func() {
		writeAll(t, peer, msg)
		readFull(t, peer, len(msg))
	}
	for range 100 { // warm up: buffers, maps and the scheduler settle
		roundTrip()
	}
	const n = 2000
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range n {
		roundTrip()
	}
	runtime.ReadMemStats(&after)
	// readFull allocates its result once per round trip; the reactor adds
	// nothing. A little slack covers the runtime's own background work.
	if extra := after.Mallocs - before.Mallocs - n; extra > n/20 {
		t.Fatalf("%d allocations beyond the test's own over %d round trips", extra, n)
	}
}
