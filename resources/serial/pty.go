package serial

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// PTY is a pseudo-terminal pair made in-process. Its terminal side, at
// SlavePath, is what Open opens as the device; the PTY itself is the other
// side, the simulated device, and a reactor.Transport: what it writes, the
// Port reads, and the other way round.
//
// The PTY keeps the terminal open itself, so it lives on while ports come
// and go on it, as a device does while the gateway reopens it. Closing the
// PTY hangs up the terminal: a Port open on it reads ErrUnplugged, as if
// the device were unplugged.
type PTY struct {
	master Port
	slave  int // the terminal, held open
	path   string
}

// SlavePath is the path of the terminal side: /dev/pts/N on Linux.
func (t *PTY) SlavePath() string { return t.path }

// Fd is the descriptor of the device side, in non-blocking mode.
func (t *PTY) Fd() int { return t.master.fd }

// Read reads what was written to the terminal side. It returns
// reactor.ErrWouldBlock (EAGAIN) when there is nothing.
func (t *PTY) Read(b []byte) (int, error) { return t.master.Read(b) }

// Write sends b to the terminal side, as far as its input buffer has room,
// and returns reactor.ErrWouldBlock (EAGAIN) when it has none.
func (t *PTY) Write(b []byte) (int, error) { return t.master.Write(b) }

// Close closes both sides, which hangs up any Port open on the terminal.
func (t *PTY) Close() error {
	if t.slave < 0 {
		return fmt.Errorf("close pty %s: %w", t.path, os.ErrClosed)
	}
	err := unix.Close(t.master.fd)
	unix.Close(t.slave)
	t.master.fd, t.slave = -1, -1
	if err != nil {
		return fmt.Errorf("close pty %s: %w", t.path, err)
	}
	return nil
}
