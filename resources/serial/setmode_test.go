package serial

import (
	"errors"
	"os"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// openPortPTY opens a pty, and a Port on its terminal in mode m.
func openPortPTY(t *testing.T, m Mode) (*Port, *PTY) {
	t.Helper()
	pty, err := OpenPTY()
	if errors.Is(err, ErrNotSupported) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pty.Close() })
	port, err := Open(pty.SlavePath(), m)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { port.Close() })
	return port, pty
}

// kept reads the mode of port back from the driver.
func kept(t *testing.T, port *Port) Mode {
	t.Helper()
	ts, err := getTermios(port.Fd())
	if err != nil {
		t.Fatal(err)
	}
	return decode(ts)
}

// TestSetMode changes the settings of an open port, one after the other,
// and reads each back from the driver: the port stays raw and
// non-blocking, whatever it was asked.
func TestSetMode(t *testing.T) {
	port, _ := openPortPTY(t, Mode{Baud: 9600})
	modes := []Mode{
		{Baud: 115200},
		{Baud: 250000, StopBits: 2},
		{Baud: 31250, Flow: FlowRTSCTS},
		{Baud: 1200, Flow: FlowXONXOFF, StopBits: 2},
		{Baud: 9600},
	}
	for _, m := range modes {
		if err := port.SetMode(m); err != nil {
			t.Fatalf("%v: %v", m, err)
		}
		if got := kept(t, port); got != m.withDefaults() {
			t.Errorf("asked %v, the driver has %v", m, got)
		}
		ts, err := getTermios(port.Fd())
		if err != nil {
			t.Fatal(err)
		}
		if ts.Lflag&(unix.ICANON|unix.ECHO|unix.ISIG) != 0 || ts.Oflag&unix.OPOST != 0 || ts.Cc[unix.VMIN] != 1 || ts.Cflag&unix.CLOCAL == 0 {
			t.Errorf("%v: not raw: lflag %#x oflag %#x VMIN %d cflag %#x", m, ts.Lflag, ts.Oflag, ts.Cc[unix.VMIN], ts.Cflag)
		}
	}
	flags, err := unix.FcntlInt(uintptr(port.Fd()), unix.F_GETFL, 0)
	if err != nil || flags&unix.O_NONBLOCK == 0 {
		t.Errorf("file flags %#x, %v: want O_NONBLOCK", flags, err)
	}
}

// TestSetModeRefused asks for settings that the Linux pty driver does not
// keep (pty_set_termios keeps 8 data bits and no parity), and for invalid
// ones: each is refused with the driver's answer, and the port keeps the
// mode it had, the baud rate included.
func TestSetModeRefused(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("only the Linux pty driver is known to keep 8 data bits")
	}
	before := Mode{Baud: 19200, StopBits: 2, Flow: FlowRTSCTS}
	port, pty := openPortPTY(t, before)
	path := pty.SlavePath()
	tests := []struct {
		mode Mode
		want string
	}{
		{Mode{Baud: 57600, DataBits: 7, Parity: ParityEven}, "set mode on " + path + ": driver kept 8 data bits, asked 7"},
		{Mode{Baud: 57600, Parity: ParityOdd}, "set mode on " + path + ": driver kept parity none, asked odd"},
		{Mode{Baud: 57600, DataBits: 9}, "set mode on " + path + ": invalid mode: data bits 9 (want 5, 6, 7 or 8)"},
		{Mode{}, "set mode on " + path + ": invalid mode: baud 0 (want 1 to 2147483647)"},
	}
	for _, tt := range tests {
		err := port.SetMode(tt.mode)
		if err == nil || err.Error() != tt.want {
			t.Errorf("%+v:\n got %v\nwant %q", tt.mode, err, tt.want)
		}
		if strings.Contains(tt.want, "driver kept") && !errors.Is(err, ErrNotSupported) {
			t.Errorf("%+v: %v is not ErrNotSupported", tt.mode, err)
		}
		if got := kept(t, port); got != before.withDefaults() {
			t.Errorf("%+v refused, but the port went from %v to %v", tt.mode, before, got)
		}
	}
}

// TestSetModeData carries bytes both ways after a change of mode.
func TestSetModeData(t *testing.T) {
	port, pty := openPortPTY(t, Mode{Baud: 9600})
	if err := port.SetMode(Mode{Baud: 115200, StopBits: 2}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name     string
		from, to interface {
			Read([]byte) (int, error)
			Write([]byte) (int, error)
			Fd() int
		}
	}{{"device to port", pty, port}, {"port to device", port, pty}} {
		msg := []byte("after\xffthe\r\nchange\x00")
		if n, err := c.from.Write(msg); n != len(msg) {
			t.Fatalf("%s: wrote %d of %d bytes: %v", c.name, n, len(msg), err)
		}
		var got []byte
		for len(got) < len(msg) {
			fds := []unix.PollFd{{Fd: int32(c.to.Fd()), Events: unix.POLLIN}}
			if n, err := unix.Poll(fds, 10000); n != 1 {
				t.Fatalf("%s: nothing to read after %d bytes: %v", c.name, len(got), err)
			}
			buf := make([]byte, 64)
			n, err := c.to.Read(buf)
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			got = append(got, buf[:n]...)
		}
		if string(got) != string(msg) {
			t.Errorf("%s: got %q, want %q", c.name, got, msg)
		}
	}
}

func TestSetModeClosed(t *testing.T) {
	port, _ := openPortPTY(t, Mode{Baud: 9600})
	port.Close()
	if err := port.SetMode(Mode{Baud: 9600}); !errors.Is(err, os.ErrClosed) {
		t.Errorf("got %v, want os.ErrClosed", err)
	}
}
