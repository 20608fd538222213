//go:build darwin || freebsd

package poller

import (
	"fmt"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// kqueueWake wakes a kqueue Wait by triggering an EVFILT_USER event on the
// kqueue itself, which costs no descriptor. pending coalesces a burst of
// wakes into one trigger, as waker does: set by the first wake, cleared by
// drain when Wait sees the event, which EV_CLEAR has already reset.
type kqueueWake struct {
	kq      int
	pending atomic.Bool
}

func newKqueueWake(kq int) (*kqueueWake, error) {
	var ev [1]unix.Kevent_t
	unix.SetKevent(&ev[0], 0, unix.EVFILT_USER, unix.EV_ADD|unix.EV_CLEAR)
	if _, err := unix.Kevent(kq, ev[:], nil, nil); err != nil {
		return nil, fmt.Errorf("kevent add EVFILT_USER: %w", err)
	}
	return &kqueueWake{kq: kq}, nil
}

func (w *kqueueWake) wake() error {
	if !w.pending.CompareAndSwap(false, true) {
		return nil
	}
	var ev [1]unix.Kevent_t
	unix.SetKevent(&ev[0], 0, unix.EVFILT_USER, 0)
	ev[0].Fflags = unix.NOTE_TRIGGER
	for {
		_, err := unix.Kevent(w.kq, ev[:], nil, nil)
		switch err {
		case nil:
			return nil
		case unix.EINTR:
			continue
		default:
			return fmt.Errorf("kevent trigger EVFILT_USER: %w", err)
		}
	}
}

func (w *kqueueWake) isWake(ev *unix.Kevent_t) bool { return ev.Filter == unix.EVFILT_USER }

// drain only clears pending: the event itself was consumed when Wait
// received it. A wake racing with it triggers again rather than being lost.
func (w *kqueueWake) drain() { w.pending.Store(false) }

// close leaves pending set, so that a late wake does nothing rather than
// trigger on a descriptor number that may have been reused; the event itself
// goes with the kqueue.
func (w *kqueueWake) close() { w.pending.Store(true) }
