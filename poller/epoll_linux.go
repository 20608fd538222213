package poller

import (
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

func init() { openers["epoll"] = openEpoll }

// epoll is the Linux engine. Its wake-up is an eventfd registered under
// wakeToken, whose events never reach the caller.
type epoll struct {
	epfd int
	wake *waker
	raw  []unix.EpollEvent
}

func openEpoll() (Poller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	w, err := newWaker()
	if err != nil {
		unix.Close(epfd)
		return nil, err
	}
	p := &epoll{epfd: epfd, wake: w, raw: make([]unix.EpollEvent, 256)}
	ev := unix.EpollEvent{Events: unix.EPOLLIN}
	setEpollToken(&ev, wakeToken)
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, w.fd, &ev); err != nil {
		w.close()
		unix.Close(epfd)
		return nil, fmt.Errorf("epoll_ctl add eventfd: %w", err)
	}
	return p, nil
}

func setEpollToken(ev *unix.EpollEvent, token uint64) {
	ev.Fd = int32(uint32(token))
	ev.Pad = int32(uint32(token >> 32))
}

func epollToken(ev *unix.EpollEvent) uint64 {
	return uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
}

func epollEvents(in Interest) uint32 {
	var ev uint32
	if in&PeerClosed == 0 {
		ev |= unix.EPOLLRDHUP
	}
	if in&Read != 0 {
		ev |= unix.EPOLLIN
	}
	if in&Write != 0 {
		ev |= unix.EPOLLOUT
	}
	return ev
}

func (p *epoll) ctl(op, fd int, token uint64, in Interest) error {
	if token == wakeToken {
		return fmt.Errorf("fd %d: token %#x is reserved", fd, token)
	}
	ev := unix.EpollEvent{Events: epollEvents(in)}
	setEpollToken(&ev, token)
	return unix.EpollCtl(p.epfd, op, fd, &ev)
}

func (p *epoll) Add(fd int, token uint64, in Interest) error {
	err := p.ctl(unix.EPOLL_CTL_ADD, fd, token, in)
	if errors.Is(err, unix.EPERM) {
		return fmt.Errorf("epoll add fd %d: %w", fd, ErrNotPollable)
	}
	if err != nil {
		return fmt.Errorf("epoll add fd %d: %w", fd, err)
	}
	return nil
}

func (p *epoll) Modify(fd int, token uint64, in Interest) error {
	if err := p.ctl(unix.EPOLL_CTL_MOD, fd, token, in); err != nil {
		return fmt.Errorf("epoll modify fd %d: %w", fd, err)
	}
	return nil
}

func (p *epoll) Remove(fd int) error {
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, fd, nil); err != nil {
		return fmt.Errorf("epoll remove fd %d: %w", fd, err)
	}
	return nil
}

func (p *epoll) Wait(events []Event, timeout time.Duration) (int, error) {
	if len(events) == 0 {
		return 0, errors.New("epoll wait: empty event slice")
	}
	if len(p.raw) < len(events) {
		p.raw = make([]unix.EpollEvent, len(events))
	}
	raw := p.raw[:len(events)]
	deadline := time.Now().Add(timeout)
	for {
		n, err := unix.EpollWait(p.epfd, raw, millis(timeout))
		if err == unix.EINTR {
			if timeout > 0 {
				timeout = max(time.Until(deadline), 0)
			}
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("epoll_wait: %w", err)
		}
		out := 0
		for i := range n {
			e := &raw[i]
			token := epollToken(e)
			if token == wakeToken {
				p.wake.drain()
				continue
			}
			events[out] = Event{Token: token, Flags: epollFlags(e.Events)}
			out++
		}
		return out, nil
	}
}

func epollFlags(ev uint32) Flags {
	var f Flags
	if ev&unix.EPOLLIN != 0 {
		f |= Readable
	}
	if ev&unix.EPOLLOUT != 0 {
		f |= Writable
	}
	if ev&(unix.EPOLLHUP|unix.EPOLLRDHUP) != 0 {
		f |= Hangup
	}
	if ev&unix.EPOLLERR != 0 {
		f |= Error
	}
	return f
}

func (p *epoll) Wake() error { return p.wake.wake() }

func (p *epoll) Close() error {
	p.wake.close()
	return unix.Close(p.epfd)
}

func (p *epoll) Name() string { return "epoll" }
