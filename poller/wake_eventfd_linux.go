package poller

import (
	"encoding/binary"
	"fmt"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// waker wakes a Wait through an eventfd. pending coalesces a burst of wakes
// into one write: it is set by the first wake and cleared by drain, which
// the engine calls when Wait sees the eventfd readable.
type waker struct {
	fd      int
	pending atomic.Bool
}

func newWaker() (*waker, error) {
	fd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	return &waker{fd: fd}, nil
}

func (w *waker) wake() error {
	if !w.pending.CompareAndSwap(false, true) {
		return nil
	}
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	for {
		_, err := unix.Write(w.fd, one[:])
		switch err {
		case nil, unix.EAGAIN: // EAGAIN: the counter is full, a wake is pending anyway
			return nil
		case unix.EINTR:
			continue
		default:
			return fmt.Errorf("wake eventfd: %w", err)
		}
	}
}

// drain consumes the wake-up, then clears pending, so that a wake racing
// with it writes again rather than being lost.
func (w *waker) drain() {
	var buf [8]byte
	for {
		if _, err := unix.Read(w.fd, buf[:]); err != unix.EINTR {
			break
		}
	}
	w.pending.Store(false)
}

// close leaves pending set, so that a late wake does nothing rather than
// write to a descriptor number that may have been reused.
func (w *waker) close() {
	w.pending.Store(true)
	unix.Close(w.fd)
}
