package serial_test

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/iogate/iogate/poller"
	"github.com/iogate/iogate/reactor"
	"github.com/iogate/iogate/reactor/reactortest"
	"github.com/iogate/iogate/resources/serial"
)

// TestBothWays carries bytes from the device side to the port and back,
// both ways at once, through a reactor on every poll engine.
func TestBothWays(t *testing.T) {
	for _, engine := range poller.Engines() {
		t.Run(engine, func(t *testing.T) {
			pty := openPTY(t)
			port := open(t, pty.SlavePath(), serial.Mode{Baud: 115200})
			loop := reactortest.Start(t, reactortest.NewRecorder(), reactor.Options{Poller: engine})
			dev := loop.Register(pty)
			gw := loop.Register(port)

			atPort, atDevice := exchange(t, loop, dev, gw, []byte("hello\r\n"), []byte("ok\n"))
			if string(atPort) != "hello\r\n" || string(atDevice) != "ok\n" {
				t.Fatalf("port got %q, device got %q", atPort, atDevice)
			}
			// More than the tty buffers hold, so writes meet EAGAIN and the
			// reactor queues, in both directions at once.
			up, down := pattern(300<<10, 1), pattern(200<<10, 2)
			atPort, atDevice = exchange(t, loop, dev, gw, up, down)
			if !bytes.Equal(atPort, up) {
				t.Errorf("device to port: %d bytes arrived, not the %d sent", len(atPort), len(up))
			}
			if !bytes.Equal(atDevice, down) {
				t.Errorf("port to device: %d bytes arrived, not the %d sent", len(atDevice), len(down))
			}
		})
	}
}

// TestHangup closes the device side under a registered port: the service
// gets every byte written before, then the port back as unplugged.
func TestHangup(t *testing.T) {
	for _, engine := range poller.Engines() {
		t.Run(engine, func(t *testing.T) {
			pty := openPTY(t)
			path := pty.SlavePath()
			port := open(t, path, serial.Mode{Baud: 9600})
			loop := reactortest.Start(t, reactortest.NewRecorder(), reactor.Options{Poller: engine})
			id := loop.Register(port)

			data := pattern(10000, 3)
			writeAll(t, pty, data)
			// Linux discards input not yet read when a tty hangs up, as
			// when a USB adapter goes: close only once all has arrived.
			if got := loop.Receive(id, len(data)); got != string(data) {
				t.Fatalf("received %d bytes, not the %d written", len(got), len(data))
			}
			if err := pty.Close(); err != nil {
				t.Fatal(err)
			}
			e := loop.Next()
			if e.Kind == "received" {
				t.Fatalf("received %q after the hangup", e.Data)
			}
			if e.Kind != "disconnected" || e.ID != id || !errors.Is(e.Err, serial.ErrUnplugged) {
				t.Fatalf("got %v, want %d disconnected with ErrUnplugged", e, id)
			}
			if want := "read " + path + ": device unplugged or hung up ("; !strings.HasPrefix(e.Err.Error(), want) {
				t.Errorf("cause %q, want it to start with %q", e.Err, want)
			}
			t.Log(e.Err)
		})
	}
}

// TestModes applies every setting on a pty and reads it back. The Linux
// pty driver keeps 8 data bits and no parity whatever it is asked
// (pty_set_termios), so those must be refused with the driver's answer.
func TestModes(t *testing.T) {
	pty := openPTY(t)
	path := pty.SlavePath()
	type test struct {
		mode serial.Mode
		kept string // what the driver keeps instead, if it refuses
	}
	var tests []test
	for _, baud := range []int{50, 75, 110, 134, 150, 200, 300, 600, 1200, 1800, 2400, 4800, 9600,
		19200, 38400, 57600, 115200, 230400, 460800, 500000, 576000, 921600, 1000000, 1152000,
		1500000, 2000000, 2500000, 3000000, 3500000, 4000000} {
		tests = append(tests, test{mode: serial.Mode{Baud: baud}})
	}
	linux := runtime.GOOS == "linux"
	for bits := 5; bits <= 8; bits++ {
		tt := test{mode: serial.Mode{Baud: 9600, DataBits: bits}}
		if linux && bits != 8 {
			tt.kept = "8 data bits"
		}
		tests = append(tests, tt)
	}
	parities := []serial.Parity{serial.ParityNone, serial.ParityEven, serial.ParityOdd}
	if linux {
		parities = append(parities, serial.ParityMark, serial.ParitySpace)
	}
	for _, parity := range parities {
		tt := test{mode: serial.Mode{Baud: 9600, Parity: parity}}
		if linux && parity != serial.ParityNone {
			tt.kept = "parity none"
		}
		tests = append(tests, tt)
	}
	for _, stop := range []int{1, 2} {
		tests = append(tests, test{mode: serial.Mode{Baud: 9600, StopBits: stop}})
	}
	for _, flow := range []serial.Flow{serial.FlowNone, serial.FlowRTSCTS, serial.FlowXONXOFF} {
		tests = append(tests, test{mode: serial.Mode{Baud: 9600, Flow: flow}})
	}
	tests = append(tests, test{mode: serial.Mode{Baud: 38400, DataBits: 8, Parity: serial.ParityNone, StopBits: 2, Flow: serial.FlowRTSCTS}})

	for _, tt := range tests {
		port, err := serial.Open(path, tt.mode)
		if tt.kept == "" {
			if err != nil {
				t.Errorf("%v: %v", tt.mode, err)
				continue
			}
			if err := port.Close(); err != nil {
				t.Error(err)
			}
			continue
		}
		if err == nil {
			port.Close()
			t.Errorf("%v: taken, want the driver to keep %s", tt.mode, tt.kept)
			continue
		}
		if !errors.Is(err, serial.ErrNotSupported) || !strings.HasPrefix(err.Error(), "set mode on "+path+": driver kept "+tt.kept+", asked ") {
			t.Errorf("%v: got %q, want the driver to keep %s", tt.mode, err, tt.kept)
		}
	}
}

// TestModeRefused checks the whole message of a refusal.
func TestModeRefused(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("only the Linux pty driver is known to keep 8 data bits")
	}
	path := openPTY(t).SlavePath()
	_, err := serial.Open(path, serial.Mode{Baud: 9600, DataBits: 7, Parity: serial.ParityEven})
	if err == nil {
		t.Fatal("7E1 taken")
	}
	if want := "set mode on " + path + ": driver kept 8 data bits, asked 7"; err.Error() != want {
		t.Errorf("got %q, want %q", err, want)
	}
}

func TestInvalidMode(t *testing.T) {
	path := openPTY(t).SlavePath()
	tests := []struct {
		mode serial.Mode
		want string
	}{
		{serial.Mode{Baud: 9600, DataBits: 9}, "open " + path + ": invalid mode: data bits 9 (want 5, 6, 7 or 8)"},
		{serial.Mode{Baud: 9600, StopBits: 3}, "open " + path + ": invalid mode: stop bits 3 (want 1 or 2)"},
		{serial.Mode{Baud: 9600, Parity: "foo"}, "open " + path + `: invalid mode: parity "foo" (want none, even, odd, mark or space)`},
		{serial.Mode{Baud: 9600, Flow: "cts"}, "open " + path + `: invalid mode: flow "cts" (want none, rtscts or xonxoff)`},
		{serial.Mode{}, "open " + path + ": invalid mode: baud 0 (want 1 to 2147483647)"},
	}
	for _, tt := range tests {
		port, err := serial.Open(path, tt.mode)
		if err == nil {
			port.Close()
			t.Errorf("%+v: taken", tt.mode)
			continue
		}
		if err.Error() != tt.want {
			t.Errorf("%+v:\n got %q\nwant %q", tt.mode, err, tt.want)
		}
	}
	// An invalid mode leaves the port free.
	open(t, path, serial.Mode{Baud: 9600}).Close()
}

// TestExclusive opens a port twice: by its path, and through a link.
func TestExclusive(t *testing.T) {
	path := openPTY(t).SlavePath()
	link := filepath.Join(t.TempDir(), "by-id-link")
	if err := os.Symlink(path, link); err != nil {
		t.Fatal(err)
	}
	first := open(t, link, serial.Mode{Baud: 9600})
	if first.Path() != link {
		t.Errorf("Path %q, want the name it was opened by, %q", first.Path(), link)
	}
	for _, name := range []string{path, link} {
		second, err := serial.Open(name, serial.Mode{Baud: 9600})
		if err == nil {
			second.Close()
			t.Fatalf("%s opened twice", name)
		}
		if !errors.Is(err, serial.ErrBusy) {
			t.Errorf("second open of %s: %v, want ErrBusy", name, err)
		}
		t.Log(err)
	}
	_, err := serial.Open(link, serial.Mode{Baud: 9600})
	if want := "open " + link + " (" + path + "): port busy"; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("got %v, want it to start with %q", err, want)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	if err := first.Close(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("second close: %v, want os.ErrClosed", err)
	}
	open(t, path, serial.Mode{Baud: 9600}).Close()
}

// TestModemLines: ptys have no modem lines, and say so.
func TestModemLines(t *testing.T) {
	path := openPTY(t).SlavePath()
	port := open(t, path, serial.Mode{Baud: 9600})
	_, err := port.ModemStatus()
	for _, err := range []error{port.SetDTR(true), port.SetDTR(false), port.SetRTS(true), port.SetRTS(false), err} {
		if !errors.Is(err, serial.ErrNotSupported) || !strings.Contains(err.Error(), path+": not supported by this device (") {
			t.Errorf("got %v, want ErrNotSupported naming %s", err, path)
		}
	}
	if err := port.SetDTR(true); !strings.HasPrefix(err.Error(), "set DTR on "+path+": ") {
		t.Errorf("got %q", err)
	}
	for _, err := range []error{port.DiscardInput(), port.DiscardOutput(), port.SetBreak(true), port.SetBreak(false)} {
		if err != nil {
			t.Error(err)
		}
	}
}

func TestDiscardInput(t *testing.T) {
	pty := openPTY(t)
	port := open(t, pty.SlavePath(), serial.Mode{Baud: 9600})
	writeAll(t, pty, []byte("stale"))
	// The bytes reach the port's queue through a kernel worker: wait for them.
	fds := []unix.PollFd{{Fd: int32(port.Fd()), Events: unix.POLLIN}}
	if n, err := unix.Poll(fds, int(reactortest.Deadline/time.Millisecond)); n != 1 {
		t.Fatalf("nothing to read after %v: %v", reactortest.Deadline, err)
	}
	if err := port.DiscardInput(); err != nil {
		t.Fatal(err)
	}
	if n, err := port.Read(make([]byte, 16)); !errors.Is(err, reactor.ErrWouldBlock) {
		t.Errorf("read %d bytes, %v after discarding, want ErrWouldBlock", n, err)
	}
}

func TestOpenErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "ttyUSB9")
	_, err := serial.Open(missing, serial.Mode{Baud: 9600})
	if !errors.Is(err, fs.ErrNotExist) || err.Error() != "open "+missing+": no such file or directory" {
		t.Errorf("missing: %v", err)
	}
	_, err = serial.Open(os.DevNull, serial.Mode{Baud: 9600})
	if err == nil || err.Error() != "open "+os.DevNull+": not a serial port" {
		t.Errorf("%s: %v", os.DevNull, err)
	}
}

// TestReadAfterClose: a closed port fails, and does not pass for unplugged.
func TestReadAfterClose(t *testing.T) {
	port := open(t, openPTY(t).SlavePath(), serial.Mode{Baud: 9600})
	port.Close()
	if _, err := port.Read(make([]byte, 1)); err == nil || errors.Is(err, serial.ErrUnplugged) || errors.Is(err, reactor.ErrWouldBlock) {
		t.Errorf("read: %v", err)
	}
	if _, err := port.Write([]byte("x")); err == nil || errors.Is(err, serial.ErrUnplugged) || errors.Is(err, reactor.ErrWouldBlock) {
		t.Errorf("write: %v", err)
	}
}

// A pty has no RS-485 mode: the refusal says so and names the port.
func TestSetRS485OnPTY(t *testing.T) {
	pty, err := serial.OpenPTY()
	if err != nil {
		t.Fatal(err)
	}
	defer pty.Close()
	p, err := serial.Open(pty.SlavePath(), serial.Mode{Baud: 9600})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	err = p.SetRS485(true)
	if !errors.Is(err, serial.ErrNotSupported) || !strings.Contains(err.Error(), pty.SlavePath()) {
		t.Fatalf("SetRS485 on a pty: %v, want ErrNotSupported naming %s", err, pty.SlavePath())
	}
}
