package serial

import (
	"testing"

	"golang.org/x/sys/unix"
)

// TestNonStandardBaud sets rates that have no Bnnn code through termios2
// and reads them back from the kernel.
func TestNonStandardBaud(t *testing.T) {
	pty, err := OpenPTY()
	if err != nil {
		t.Fatal(err)
	}
	defer pty.Close()
	for _, baud := range []int{250000, 31250, 12345, 7812500} {
		port, err := Open(pty.SlavePath(), Mode{Baud: baud})
		if err != nil {
			t.Errorf("%d baud: %v", baud, err)
			continue
		}
		ts, err := getTermios(port.Fd())
		port.Close()
		if err != nil {
			t.Fatal(err)
		}
		if ts.Cflag&unix.CBAUD != unix.BOTHER || int(ts.Ispeed) != baud || int(ts.Ospeed) != baud {
			t.Errorf("%d baud: CBAUD %#o, speeds %d/%d", baud, ts.Cflag&unix.CBAUD, ts.Ispeed, ts.Ospeed)
		}
	}
}
