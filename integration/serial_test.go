package integration

import (
	"errors"
	"os"
	"syscall"
	"testing"

	"github.com/iogate/iogate/reactor"
	"github.com/iogate/iogate/reactor/reactortest"
	"github.com/iogate/iogate/resources/serial"
)

// A socat pty pair stands in for a serial device: bytes go both ways
// through the reactor, killing socat is an unplug, and a new socat at the
// same path is the device coming back.
func TestSerialOverSocat(t *testing.T) {
	dir := t.TempDir()
	a, b, socat := socatPair(t, dir)
	loop := reactortest.Start(t, reactortest.NewRecorder(), reactor.Options{})

	port, err := serial.Open(a, serial.Mode{Baud: 115200})
	if err != nil {
		t.Fatal(err)
	}
	id := loop.Register(port)
	device, err := os.OpenFile(b, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer device.Close()

	if _, err := device.WriteString("$GPGGA,1*00\r\n"); err != nil {
		t.Fatal(err)
	}
	if got := loop.Receive(id, 13); got != "$GPGGA,1*00\r\n" {
		t.Fatalf("received %q", got)
	}
	loop.Do(func(r *reactor.Reactor) {
		if err := r.Send(id, []byte("RESET\n")); err != nil {
			t.Error(err)
		}
	})
	buf := make([]byte, 6)
	if _, err := device.Read(buf); err != nil || string(buf) != "RESET\n" {
		t.Fatalf("device read %q, %v", buf, err)
	}

	// A second program cannot take the port while the gateway has it.
	if _, err := serial.Open(a, serial.Mode{Baud: 9600}); !errors.Is(err, serial.ErrBusy) {
		t.Fatalf("second open: %v, want ErrBusy", err)
	}

	socat.kill(syscall.SIGKILL)
	e := loop.Expect("disconnected", id)
	if !errors.Is(e.Err, serial.ErrUnplugged) {
		t.Fatalf("cause %v, want ErrUnplugged", e.Err)
	}
	port.Close()

	// Replugged: a new pty at the same path opens and carries data again.
	a2, b2, _ := socatPair(t, dir)
	port, err = serial.Open(a2, serial.Mode{Baud: 9600})
	if err != nil {
		t.Fatalf("reopen after replug: %v", err)
	}
	id = loop.Register(port)
	device2, err := os.OpenFile(b2, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer device2.Close()
	device2.WriteString("back\n")
	if got := loop.Receive(id, 5); got != "back\n" {
		t.Fatalf("after replug received %q", got)
	}
}
