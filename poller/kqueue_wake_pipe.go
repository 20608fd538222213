//go:build netbsd || openbsd

package poller

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// kqueueWake wakes a kqueue Wait through the pipe waker, since these systems
// have no EVFILT_USER. Its read end is a filter of the kqueue that carries no
// token; wake, drain and close are the waker's.
type kqueueWake struct{ *waker }

func newKqueueWake(kq int) (*kqueueWake, error) {
	w, err := newWaker()
	if err != nil {
		return nil, err
	}
	var ev [1]unix.Kevent_t
	unix.SetKevent(&ev[0], w.fd, unix.EVFILT_READ, unix.EV_ADD)
	if _, err := unix.Kevent(kq, ev[:], nil, nil); err != nil {
		w.close()
		return nil, fmt.Errorf("kevent add wake pipe: %w", err)
	}
	return &kqueueWake{w}, nil
}

func (w *kqueueWake) isWake(ev *unix.Kevent_t) bool {
	return ev.Filter == unix.EVFILT_READ && int(ev.Ident) == w.fd
}
