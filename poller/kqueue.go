//go:build darwin || freebsd || netbsd || openbsd

package poller

import (
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

func init() { openers["kqueue"] = openKqueue }

// kqueue is the engine of darwin and the BSDs. It keeps each descriptor's
// token and interest itself: Kevent_t.Udata has a different type on each
// system, and Modify must know which filters are registered to change only
// those. Its wake-up, kqueueWake, depends on the system.
//
// kqueue reports a hangup only through a read or write filter, so a
// descriptor watched with no interest has none and reports nothing until it
// is given one.
type kqueue struct {
	kq      int
	watched map[int]watch
	seen    map[int]int // fd -> index in events, during one Wait
	raw     []unix.Kevent_t
	change  [1]unix.Kevent_t
	ts      unix.Timespec
	wake    *kqueueWake
}

type watch struct {
	token uint64
	in    Interest
}

// filters pairs each interest with the kqueue filter that watches it.
var filters = [...]struct {
	in     Interest
	filter int
}{{Read, unix.EVFILT_READ}, {Write, unix.EVFILT_WRITE}}

func openKqueue() (Poller, error) {
	kq, err := unix.Kqueue()
	if err != nil {
		return nil, fmt.Errorf("kqueue: %w", err)
	}
	unix.CloseOnExec(kq)
	w, err := newKqueueWake(kq)
	if err != nil {
		unix.Close(kq)
		return nil, err
	}
	return &kqueue{
		kq:      kq,
		watched: map[int]watch{},
		seen:    map[int]int{},
		raw:     make([]unix.Kevent_t, 256),
		wake:    w,
	}, nil
}

// apply adds and deletes fd's filters to go from its recorded interest to
// want, one filter per kevent call so that, if one fails, the recorded
// interest still tells which filters the kernel has.
func (p *kqueue) apply(fd int, want Interest) error {
	w := p.watched[fd]
	for _, f := range filters {
		var flags int
		switch {
		case want&f.in != 0 && w.in&f.in == 0:
			flags = unix.EV_ADD
		case want&f.in == 0 && w.in&f.in != 0:
			flags = unix.EV_DELETE
		default:
			continue
		}
		unix.SetKevent(&p.change[0], fd, f.filter, flags)
		if _, err := unix.Kevent(p.kq, p.change[:], nil, nil); err != nil {
			return err
		}
		w.in ^= f.in
		p.watched[fd] = w
	}
	return nil
}

func (p *kqueue) Add(fd int, token uint64, in Interest) error {
	if token == wakeToken {
		return fmt.Errorf("kqueue add fd %d: token %#x is reserved", fd, token)
	}
	if _, ok := p.watched[fd]; ok {
		return fmt.Errorf("kqueue add fd %d: %w", fd, unix.EEXIST)
	}
	if err := checkPollable(fd); err != nil {
		return fmt.Errorf("kqueue add: %w", err)
	}
	p.watched[fd] = watch{token: token}
	if err := p.apply(fd, in); err != nil {
		p.apply(fd, 0) // undo a filter added before the failure
		delete(p.watched, fd)
		return fmt.Errorf("kqueue add fd %d: %w", fd, err)
	}
	return nil
}

func (p *kqueue) Modify(fd int, token uint64, in Interest) error {
	if token == wakeToken {
		return fmt.Errorf("kqueue modify fd %d: token %#x is reserved", fd, token)
	}
	if _, ok := p.watched[fd]; !ok {
		return fmt.Errorf("kqueue modify fd %d: %w", fd, unix.ENOENT)
	}
	if err := p.apply(fd, in); err != nil {
		return fmt.Errorf("kqueue modify fd %d: %w", fd, err)
	}
	w := p.watched[fd]
	w.token = token
	p.watched[fd] = w
	return nil
}

// Remove forgets fd even when deleting its filters fails: the usual cause is
// that fd was closed already, and closing removed them.
func (p *kqueue) Remove(fd int) error {
	if _, ok := p.watched[fd]; !ok {
		return fmt.Errorf("kqueue remove fd %d: %w", fd, unix.ENOENT)
	}
	err := p.apply(fd, 0)
	delete(p.watched, fd)
	if err != nil {
		return fmt.Errorf("kqueue remove fd %d: %w", fd, err)
	}
	return nil
}

func (p *kqueue) Wait(events []Event, timeout time.Duration) (int, error) {
	if len(events) == 0 {
		return 0, errors.New("kqueue wait: empty event slice")
	}
	if len(p.raw) < len(events) {
		p.raw = make([]unix.Kevent_t, len(events))
	}
	raw := p.raw[:len(events)]
	deadline := time.Now().Add(timeout)
	for {
		var ts *unix.Timespec
		if timeout >= 0 {
			p.ts = unix.NsecToTimespec(int64(min(timeout, maxWait)))
			ts = &p.ts
		}
		n, err := unix.Kevent(p.kq, nil, raw, ts)
		if err == unix.EINTR {
			if timeout > 0 {
				timeout = max(time.Until(deadline), 0)
			}
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("kevent: %w", err)
		}
		return p.collect(events, raw[:n]), nil
	}
}

// collect turns kevents into events. kqueue reports the read and the write
// filter of a descriptor separately; they are merged into one Event, as the
// other engines report them.
func (p *kqueue) collect(events []Event, raw []unix.Kevent_t) int {
	clear(p.seen)
	out := 0
	for i := range raw {
		ev := &raw[i]
		if p.wake.isWake(ev) {
			p.wake.drain()
			continue
		}
		fd := int(ev.Ident)
		w, ok := p.watched[fd]
		if !ok {
			continue // a filter whose deletion failed in Add or Remove
		}
		j, ok := p.seen[fd]
		if !ok {
			j = out
			p.seen[fd] = j
			events[j] = Event{Token: w.token}
			out++
		}
		events[j].Flags |= kqueueFlags(ev)
	}
	return out
}

func kqueueFlags(ev *unix.Kevent_t) Flags {
	var f Flags
	switch ev.Filter {
	case unix.EVFILT_READ:
		f |= Readable
	case unix.EVFILT_WRITE:
		f |= Writable
	}
	if ev.Flags&unix.EV_EOF != 0 {
		f |= Hangup
		if ev.Fflags != 0 { // the socket error that ended the connection
			f |= Error
		}
	}
	if ev.Flags&unix.EV_ERROR != 0 {
		f |= Error
	}
	return f
}

func (p *kqueue) Wake() error { return p.wake.wake() }

func (p *kqueue) Close() error {
	p.wake.close()
	return unix.Close(p.kq)
}

func (p *kqueue) Name() string { return "kqueue" }
