package serial_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/iogate/iogate/reactor"
	"github.com/iogate/iogate/resources/serial"
)

// wait bounds every wait for something to happen; nothing here measures time.
const wait = 10 * time.Second

// Both sides of a pty are transports.
var (
	_ reactor.Transport = (*serial.Port)(nil)
	_ reactor.Transport = (*serial.PTY)(nil)
)

// openPTY opens a pty for the test, or skips it where there are none.
func openPTY(t *testing.T) *serial.PTY {
	t.Helper()
	p, err := serial.OpenPTY()
	if errors.Is(err, serial.ErrNotSupported) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// open opens the port at path for the test.
func open(t *testing.T, path string, m serial.Mode) *serial.Port {
	t.Helper()
	p, err := serial.Open(path, m)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

type chunk struct {
	id   reactor.ID
	data []byte
}

type gone struct {
	id    reactor.ID
	cause error
}

// send is a command: the service sends data to id.
type send struct {
	id   reactor.ID
	data []byte
}

// recorder reports what reaches it on channels, and sends what it is told.
type recorder struct {
	reactor.Base
	got  chan chunk
	gone chan gone
	errs chan error
}

func newRecorder() *recorder {
	return &recorder{got: make(chan chunk, 1<<16), gone: make(chan gone, 16), errs: make(chan error, 16)}
}

func (s *recorder) Received(_ *reactor.Reactor, id reactor.ID, data []byte) {
	s.got <- chunk{id, bytes.Clone(data)}
}

func (s *recorder) Disconnected(_ *reactor.Reactor, id reactor.ID, res reactor.Resource, cause error) {
	res.Close()
	s.gone <- gone{id, cause}
}

func (s *recorder) Command(r *reactor.Reactor, cmd any) {
	c := cmd.(send)
	if err := r.Send(c.id, c.data); err != nil {
		s.errs <- err
	}
}

// run runs r until the test ends.
func run(t *testing.T, r *reactor.Reactor) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- r.Run() }()
	t.Cleanup(func() {
		r.Controller().Stop()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run: %v", err)
			}
		case <-time.After(wait):
			t.Error("the reactor did not stop")
		}
	})
}

// collect gathers what the transports in want receive until each has as
// many bytes as wanted, and fails on a disconnection or an error first.
func (s *recorder) collect(t *testing.T, want map[reactor.ID]int) map[reactor.ID][]byte {
	t.Helper()
	got := map[reactor.ID][]byte{}
	deadline := time.After(wait)
	done := func() bool {
		for id, n := range want {
			if len(got[id]) < n {
				return false
			}
		}
		return true
	}
	for !done() {
		select {
		case c := <-s.got:
			got[c.id] = append(got[c.id], c.data...)
		case g := <-s.gone:
			t.Fatalf("%d disconnected: %v", g.id, g.cause)
		case err := <-s.errs:
			t.Fatal(err)
		case <-deadline:
			t.Fatalf("received %v bytes of %v after %v", lengths(got), want, wait)
		}
	}
	return got
}

func lengths(m map[reactor.ID][]byte) map[reactor.ID]int {
	n := map[reactor.ID]int{}
	for id, b := range m {
		n[id] = len(b)
	}
	return n
}

// writeAll writes all of data to a non-blocking transport, waiting in
// poll(2) for room.
func writeAll(t *testing.T, w reactor.Transport, data []byte) {
	t.Helper()
	for len(data) > 0 {
		n, err := w.Write(data)
		data = data[n:]
		if errors.Is(err, reactor.ErrWouldBlock) {
			fds := []unix.PollFd{{Fd: int32(w.Fd()), Events: unix.POLLOUT}}
			if n, err := unix.Poll(fds, int(wait/time.Millisecond)); n == 0 && err == nil {
				t.Fatalf("no room to write after %v", wait)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// pattern is n bytes that show a lost, doubled or reordered chunk.
func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7) ^ byte(i>>8) ^ seed
	}
	return b
}
