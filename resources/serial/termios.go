package serial

import (
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

// makeRaw is cfmakeraw(3) with the modem lines ignored (CLOCAL), so that a
// missing carrier neither blocks nor hangs up the port, and the receiver on.
func makeRaw(t *unix.Termios) {
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR |
		unix.IGNCR | unix.ICRNL | unix.IXON | unix.IXOFF | unix.IXANY | unix.INPCK
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8 | unix.CREAD | unix.CLOCAL
	// With VMIN 0 a read with nothing to read would return 0, which cannot
	// be told from a hangup; with VMIN 1 it fails with EAGAIN.
	t.Cc[unix.VMIN] = 1
	t.Cc[unix.VTIME] = 0
}

// encode sets t to raw mode with the settings of m, which has its defaults.
func encode(t *unix.Termios, m Mode) error {
	makeRaw(t)
	setSpeed(t, m.Baud)
	t.Cflag &^= unix.CSIZE | unix.PARENB | unix.PARODD | cmspar | unix.CSTOPB | unix.CRTSCTS
	switch m.DataBits {
	case 5:
		t.Cflag |= unix.CS5
	case 6:
		t.Cflag |= unix.CS6
	case 7:
		t.Cflag |= unix.CS7
	default:
		t.Cflag |= unix.CS8
	}
	switch m.Parity {
	case ParityEven:
		t.Cflag |= unix.PARENB
	case ParityOdd:
		t.Cflag |= unix.PARENB | unix.PARODD
	case ParityMark, ParitySpace:
		if cmspar == 0 {
			return fmt.Errorf("%s parity: %w on %s", m.Parity, ErrNotSupported, runtime.GOOS)
		}
		t.Cflag |= unix.PARENB | cmspar
		if m.Parity == ParityMark {
			t.Cflag |= unix.PARODD
		}
	}
	if m.Parity != ParityNone {
		// A character with a bad parity bit reads as NUL, not as itself.
		t.Iflag |= unix.INPCK
	}
	if m.StopBits == 2 {
		t.Cflag |= unix.CSTOPB
	}
	switch m.Flow {
	case FlowRTSCTS:
		t.Cflag |= unix.CRTSCTS
	case FlowXONXOFF:
		t.Iflag |= unix.IXON | unix.IXOFF
	}
	return nil
}

// decode reads the settings of a Mode from t.
func decode(t *unix.Termios) Mode {
	m := Mode{Baud: speed(t), DataBits: 8, Parity: ParityNone, StopBits: 1, Flow: FlowNone}
	switch t.Cflag & unix.CSIZE {
	case unix.CS5:
		m.DataBits = 5
	case unix.CS6:
		m.DataBits = 6
	case unix.CS7:
		m.DataBits = 7
	}
	if t.Cflag&unix.PARENB != 0 {
		odd := t.Cflag&unix.PARODD != 0
		switch {
		case t.Cflag&cmspar != 0 && odd:
			m.Parity = ParityMark
		case t.Cflag&cmspar != 0:
			m.Parity = ParitySpace
		case odd:
			m.Parity = ParityOdd
		default:
			m.Parity = ParityEven
		}
	}
	if t.Cflag&unix.CSTOPB != 0 {
		m.StopBits = 2
	}
	switch {
	case t.Cflag&unix.CRTSCTS == unix.CRTSCTS:
		m.Flow = FlowRTSCTS
	case t.Iflag&unix.IXON != 0:
		m.Flow = FlowXONXOFF
	}
	return m
}
