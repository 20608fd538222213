package serial

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/iogate/iogate/reactor"
)

// drained records what a reactor hands its service, in order.
type drained struct {
	reactor.Base
	events chan any // []byte or error
}

func (s *drained) Received(_ *reactor.Reactor, _ reactor.ID, data []byte) {
	s.events <- bytes.Clone(data)
}

func (s *drained) Disconnected(_ *reactor.Reactor, _ reactor.ID, res reactor.Resource, cause error) {
	res.Close()
	s.events <- cause
}

// TestBytesBeforeHangup writes into a terminal and closes it before the
// reactor looks: the device side, which reads EIO once the other side has
// gone, must deliver every byte first.
func TestBytesBeforeHangup(t *testing.T) {
	m, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	path, err := unlock(m)
	if err != nil {
		t.Fatal(err)
	}
	s, err := rawTerminal(path)
	if err != nil {
		t.Fatal(err)
	}
	device := &Port{fd: m, path: "/dev/ptmx", desc: "pty " + path, dev: "/dev/ptmx"}
	data := []byte(strings.Repeat("the last words of a device\n", 100))
	if n, err := unix.Write(s, data); n != len(data) {
		t.Fatalf("wrote %d of %d bytes: %v", n, len(data), err)
	}
	unix.Close(s)

	svc := &drained{events: make(chan any, 1024)}
	r, err := reactor.New(svc, reactor.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.RegisterTransport(device); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- r.Run() }()
	defer func() {
		r.Controller().Stop()
		<-done
	}()

	var got []byte
	for {
		select {
		case ev := <-svc.events:
			if b, ok := ev.([]byte); ok {
				got = append(got, b...)
				continue
			}
			cause := ev.(error)
			if !bytes.Equal(got, data) {
				t.Errorf("received %d bytes of %d before the hangup", len(got), len(data))
			}
			if !errors.Is(cause, ErrUnplugged) || !strings.HasSuffix(cause.Error(), "device unplugged or hung up (EIO)") {
				t.Errorf("cause %q, want ErrUnplugged with EIO", cause)
			}
			return
		case <-time.After(10 * time.Second):
			t.Fatalf("received %d bytes of %d and no hangup after 10s", len(got), len(data))
		}
	}
}
