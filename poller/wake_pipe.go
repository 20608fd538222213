//go:build unix && !linux

package poller

import (
	"fmt"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// waker wakes a Wait through a pipe, where there is no eventfd: the engine
// watches fd, the read end, and wake writes a byte to wfd. pending coalesces
// a burst of wakes into one write: it is set by the first wake and cleared by
// drain, which the engine calls when Wait sees fd readable.
type waker struct {
	fd      int
	wfd     int
	pending atomic.Bool
}

func newWaker() (*waker, error) {
	var p [2]int
	// darwin has no pipe2, so pipe and mark close-on-exec under ForkLock,
	// as package os does, lest a fork in between leak the pipe.
	syscall.ForkLock.RLock()
	err := unix.Pipe(p[:])
	if err == nil {
		unix.CloseOnExec(p[0])
		unix.CloseOnExec(p[1])
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return nil, fmt.Errorf("wake pipe: %w", err)
	}
	for _, fd := range p {
		if err := unix.SetNonblock(fd, true); err != nil {
			unix.Close(p[0])
			unix.Close(p[1])
			return nil, fmt.Errorf("wake pipe: set non-blocking: %w", err)
		}
	}
	return &waker{fd: p[0], wfd: p[1]}, nil
}

func (w *waker) wake() error {
	if !w.pending.CompareAndSwap(false, true) {
		return nil
	}
	one := []byte{1}
	for {
		_, err := unix.Write(w.wfd, one)
		switch err {
		case nil, unix.EAGAIN: // EAGAIN: the pipe is full, a wake is pending anyway
			return nil
		case unix.EINTR:
			continue
		default:
			return fmt.Errorf("wake pipe: %w", err)
		}
	}
}

// drain consumes the wake-up, then clears pending, so that a wake racing
// with it writes again rather than being lost.
func (w *waker) drain() {
	var buf [64]byte
	for {
		n, err := unix.Read(w.fd, buf[:])
		if err == unix.EINTR || n == len(buf) {
			continue
		}
		break
	}
	w.pending.Store(false)
}

// close leaves pending set, so that a late wake does nothing rather than
// write to a descriptor number that may have been reused.
func (w *waker) close() {
	w.pending.Store(true)
	unix.Close(w.fd)
	unix.Close(w.wfd)
}
