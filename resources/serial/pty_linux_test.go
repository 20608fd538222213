package serial

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/iogate/iogate/reactor"
	"github.com/iogate/iogate/reactor/reactortest"
)

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
	t.Cleanup(func() { device.Close() }) // once the loop started below has stopped
	data := []byte(strings.Repeat("the last words of a device\n", 100))
	if n, err := unix.Write(s, data); n != len(data) {
		t.Fatalf("wrote %d of %d bytes: %v", n, len(data), err)
	}
	unix.Close(s)

	loop := reactortest.Start(t, reactortest.NewRecorder(), reactor.Options{})
	id := loop.Register(device)
	var got []byte
	e := loop.Next()
	for ; e.Kind == "received" && e.ID == id; e = loop.Next() {
		got = append(got, e.Data...)
	}
	if e.Kind != "disconnected" || e.ID != id {
		t.Fatalf("got %v after %d bytes of %d, want the hangup", e, len(got), len(data))
	}
	if !bytes.Equal(got, data) {
		t.Errorf("received %d bytes of %d before the hangup", len(got), len(data))
	}
	if !errors.Is(e.Err, ErrUnplugged) || !strings.HasSuffix(e.Err.Error(), "device unplugged or hung up (EIO)") {
		t.Errorf("cause %q, want ErrUnplugged with EIO", e.Err)
	}
}
