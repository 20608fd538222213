package serial_test

import (
	"errors"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/iogate/iogate/reactor"
	"github.com/iogate/iogate/reactor/reactortest"
	"github.com/iogate/iogate/resources/serial"
)

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

// open opens the port at path for the test, and closes it when the test
// ends: a reactortest.Recorder leaves what it is handed back open. Open it
// before starting a loop that registers it, so that the loop stops first.
func open(t *testing.T, path string, m serial.Mode) *serial.Port {
	t.Helper()
	p, err := serial.Open(path, m)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// exchange has the service send up from the device dev and down from the
// port gw, and returns what each side received. It fails the test on a
// refused Send or a disconnection first.
func exchange(t *testing.T, loop *reactortest.Loop, dev, gw reactor.ID, up, down []byte) (atPort, atDevice []byte) {
	t.Helper()
	var err error
	loop.Do(func(r *reactor.Reactor) {
		for _, c := range []struct {
			id   reactor.ID
			data []byte
		}{{dev, up}, {gw, down}} {
			// In pieces, as a service sends messages: the later ones
			// queue behind those the descriptor has not taken yet.
			for data := c.data; len(data) > 0 && err == nil; {
				n := min(len(data), 64<<10)
				err = r.Send(c.id, data[:n])
				data = data[n:]
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if t.Failed() {
			t.Logf("the port received %d bytes of %d, the device %d of %d", len(atPort), len(up), len(atDevice), len(down))
		}
	}()
	for len(atPort) < len(up) || len(atDevice) < len(down) {
		switch e := loop.Next(); {
		case e.Kind == "received" && e.ID == gw:
			atPort = append(atPort, e.Data...)
		case e.Kind == "received" && e.ID == dev:
			atDevice = append(atDevice, e.Data...)
		case e.Kind == "congested", e.Kind == "drained":
			// Flow control, which the service leaves to the reactor's queue.
		default:
			t.Fatalf("unexpected %v", e)
		}
	}
	return atPort, atDevice
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
			if n, err := unix.Poll(fds, int(reactortest.Deadline/time.Millisecond)); n == 0 && err == nil {
				t.Fatalf("no room to write after %v", reactortest.Deadline)
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
