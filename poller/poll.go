//go:build unix

package poller

import (
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

func init() { openers["poll"] = openPoll }

// poll is the portable engine over poll(2). The kernel forgets everything
// between calls, so the table of watched descriptors lives here: slot 0 is
// the waker, and tokens[i] names fds[i].
type poll struct {
	fds    []unix.PollFd
	tokens []uint64
	slot   map[int]int // fd -> index in fds
	next   int         // slot where the next Wait starts reporting
	wake   *waker
}

func openPoll() (Poller, error) {
	w, err := newWaker()
	if err != nil {
		return nil, err
	}
	return &poll{
		fds:    []unix.PollFd{{Fd: int32(w.fd), Events: unix.POLLIN}},
		tokens: []uint64{wakeToken},
		slot:   map[int]int{},
		wake:   w,
	}, nil
}

// setInterest works on the PollFd rather than returning events because the
// type of Events differs (uint16 on AIX).
func setInterest(pfd *unix.PollFd, in Interest) {
	pfd.Events = 0
	if in&PeerClosed == 0 {
		pfd.Events = pollPeerClosed
	}
	if in&Read != 0 {
		pfd.Events |= unix.POLLIN
	}
	if in&Write != 0 {
		pfd.Events |= unix.POLLOUT
	}
}

func (p *poll) Add(fd int, token uint64, in Interest) error {
	if token == wakeToken {
		return fmt.Errorf("poll add fd %d: token %#x is reserved", fd, token)
	}
	if _, ok := p.slot[fd]; ok {
		return fmt.Errorf("poll add fd %d: %w", fd, unix.EEXIST)
	}
	if err := checkPollable(fd); err != nil {
		return fmt.Errorf("poll add: %w", err)
	}
	pfd := unix.PollFd{Fd: int32(fd)}
	setInterest(&pfd, in)
	p.slot[fd] = len(p.fds)
	p.fds = append(p.fds, pfd)
	p.tokens = append(p.tokens, token)
	return nil
}

func (p *poll) Modify(fd int, token uint64, in Interest) error {
	if token == wakeToken {
		return fmt.Errorf("poll modify fd %d: token %#x is reserved", fd, token)
	}
	i, ok := p.slot[fd]
	if !ok {
		return fmt.Errorf("poll modify fd %d: %w", fd, unix.ENOENT)
	}
	setInterest(&p.fds[i], in)
	p.tokens[i] = token
	return nil
}

// Remove moves the last slot into the freed one, so the table stays dense
// and poll(2) never scans holes.
func (p *poll) Remove(fd int) error {
	i, ok := p.slot[fd]
	if !ok {
		return fmt.Errorf("poll remove fd %d: %w", fd, unix.ENOENT)
	}
	last := len(p.fds) - 1
	p.fds[i], p.tokens[i] = p.fds[last], p.tokens[last]
	p.slot[int(p.fds[i].Fd)] = i
	p.fds, p.tokens = p.fds[:last], p.tokens[:last]
	delete(p.slot, fd)
	return nil
}

func (p *poll) Wait(events []Event, timeout time.Duration) (int, error) {
	if len(events) == 0 {
		return 0, errors.New("poll wait: empty event slice")
	}
	deadline := time.Now().Add(timeout)
	for {
		n, err := unix.Poll(p.fds, millis(timeout))
		if err == unix.EINTR {
			if timeout > 0 {
				timeout = max(time.Until(deadline), 0)
			}
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("poll: %w", err)
		}
		if p.fds[0].Revents != 0 {
			p.wake.drain()
			n--
		}
		return p.collect(events, n), nil
	}
}

// collect copies the n ready slots into events. When they do not all fit, it
// starts the next Wait where this one stopped, so the slots at the end of the
// table are not starved; epoll does the same by rotating its ready list.
func (p *poll) collect(events []Event, n int) int {
	watched := len(p.fds) - 1
	if p.next < 1 || p.next > watched {
		p.next = 1
	}
	out := 0
	for k := 0; k < watched && n > 0 && out < len(events); k++ {
		i := 1 + (p.next-1+k)%watched
		if p.fds[i].Revents == 0 {
			continue
		}
		n--
		events[out] = Event{Token: p.tokens[i], Flags: pollFlags(&p.fds[i])}
		out++
		if out == len(events) {
			p.next = i + 1
		}
	}
	return out
}

func pollFlags(pfd *unix.PollFd) Flags {
	re := pfd.Revents
	var f Flags
	if re&unix.POLLIN != 0 {
		f |= Readable
	}
	if re&unix.POLLOUT != 0 {
		f |= Writable
	}
	if re&(unix.POLLHUP|pollPeerClosed) != 0 {
		f |= Hangup
	}
	if re&(unix.POLLERR|unix.POLLNVAL) != 0 {
		f |= Error
	}
	return f
}

func (p *poll) Wake() error { return p.wake.wake() }

func (p *poll) Close() error {
	p.wake.close()
	return nil
}

func (p *poll) Name() string { return "poll" }
