package serial

import (
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// ModemStatus is the state of the modem input lines.
type ModemStatus struct {
	CTS bool // clear to send
	DSR bool // data set ready
	RI  bool // ring indicator
	DCD bool // data carrier detect
}

// SetDTR raises or drops the DTR line. Many boards reset when it drops.
func (p *Port) SetDTR(on bool) error { return p.setLines("set DTR on", unix.TIOCM_DTR, on) }

// SetRTS raises or drops the RTS line. With FlowRTSCTS the driver drives it.
func (p *Port) SetRTS(on bool) error { return p.setLines("set RTS on", unix.TIOCM_RTS, on) }

func (p *Port) setLines(op string, lines int, on bool) error {
	var req uint = unix.TIOCMBIC
	if on {
		req = unix.TIOCMBIS
	}
	return p.ioctlErr(op, unix.IoctlSetPointerInt(p.fd, req, lines))
}

// ModemStatus reads the modem input lines.
func (p *Port) ModemStatus() (ModemStatus, error) {
	bits, err := unix.IoctlGetInt(p.fd, unix.TIOCMGET)
	if err != nil {
		return ModemStatus{}, p.ioctlErr("read modem status of", err)
	}
	return ModemStatus{
		CTS: bits&unix.TIOCM_CTS != 0,
		DSR: bits&unix.TIOCM_DSR != 0,
		RI:  bits&unix.TIOCM_RI != 0,
		DCD: bits&unix.TIOCM_CD != 0,
	}, nil
}

// SetBreak starts or ends a break: the line held at space. To send a break
// of some length, start it, set a reactor timer and end it when the timer
// fires, rather than block the loop in tcsendbreak. A pty takes it and does
// nothing.
func (p *Port) SetBreak(on bool) error {
	var req uint = unix.TIOCCBRK
	if on {
		req = unix.TIOCSBRK
	}
	return p.ioctlErr("set break on", unix.IoctlSetInt(p.fd, req, 0))
}

// DiscardInput drops what the port received and nobody has read yet.
func (p *Port) DiscardInput() error {
	return p.ioctlErr("discard input of", discard(p.fd, queueIn))
}

// DiscardOutput drops what was written to the port and not yet sent.
func (p *Port) DiscardOutput() error {
	return p.ioctlErr("discard output of", discard(p.fd, queueOut))
}

// ioctlErr tells a request that the device refuses (ptys refuse the modem
// ones with ENOTTY or EINVAL) from a device that went away.
func (p *Port) ioctlErr(op string, err error) error {
	errno, ok := err.(syscall.Errno)
	if ok && (errno == unix.ENOTTY || errno == unix.EINVAL || errno == unix.ENOTSUP || errno == unix.EOPNOTSUPP) {
		return fmt.Errorf("%s %s: %w by this device (%s)", op, p.desc, ErrNotSupported, unix.ErrnoName(errno))
	}
	if err != nil {
		return p.fail(op, err)
	}
	return nil
}
