package main

import (
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/iogate/iogate/resources/serial"
	"golang.org/x/sys/unix"
)

// seqDigits is the width of the sequence number that starts every line.
const seqDigits = 10

// appendLine appends line seq of size bytes: the sequence number in
// seqDigits decimal digits, filler, and a newline.
func appendLine(b []byte, seq int64, size int) []byte {
	b = fmt.Appendf(b, "%0*d", seqDigits, seq)
	for i := seqDigits; i < size-1; i++ {
		b = append(b, 'a'+byte(i%26))
	}
	return append(b, '\n')
}

// writer plays the devices: it writes lines into the device side of the
// ptys from one goroutine on one locked thread, either paced (rate lines a
// second to each, spread evenly over the ptys) or as fast as the ptys take
// them (rate 0). It counts the whole lines written per pty and, paced,
// notes the time of each line's write in sent.
type writer struct {
	ptys    []*serial.PTY
	size    int
	written []atomic.Int64
	sent    [][]atomic.Int64
	stop    atomic.Bool
	done    chan error
}

// newWriter prepares a writer; paced, sent has room for capacity lines
// per pty.
func newWriter(ptys []*serial.PTY, size int, rate float64, capacity int) *writer {
	w := &writer{ptys: ptys, size: size, written: make([]atomic.Int64, len(ptys)), done: make(chan error, 1)}
	if rate > 0 {
		w.sent = make([][]atomic.Int64, len(ptys))
		for i := range w.sent {
			w.sent[i] = make([]atomic.Int64, capacity)
		}
	}
	return w
}

func (w *writer) start(rate float64) {
	go func() {
		runtime.LockOSThread()
		if rate > 0 {
			w.done <- w.paced(rate)
		} else {
			w.done <- w.full()
		}
	}()
}

// halt stops the writer and returns the lines written to each pty.
func (w *writer) halt() ([]int64, error) {
	w.stop.Store(true)
	err := <-w.done
	n := make([]int64, len(w.written))
	for i := range n {
		n[i] = w.written[i].Load()
	}
	return n, err
}

// full writes chunks of 64 lines to each pty in turn, and waits in poll(2)
// when none takes more. A line cut by a full pty is completed before the
// writer stops, so that only whole lines are counted and sent.
func (w *writer) full() error {
	const chunkLines = 64
	type state struct {
		fd      int
		pending []byte
		buf     []byte
		next    int64 // sequence number of the next chunk's first line
		bytes   int64
	}
	st := make([]state, len(w.ptys))
	fds := make([]unix.PollFd, len(w.ptys))
	for i, p := range w.ptys {
		st[i].fd = p.Fd()
		fds[i] = unix.PollFd{Fd: int32(p.Fd()), Events: unix.POLLOUT}
	}
	stopping := false
	var deadline time.Time
	for {
		if !stopping && w.stop.Load() {
			stopping, deadline = true, time.Now().Add(5*time.Second)
			for i := range st {
				s := &st[i]
				if cut := s.bytes % int64(w.size); cut == 0 {
					s.pending = nil
				} else {
					s.pending = s.pending[:int64(w.size)-cut]
				}
			}
		}
		progress, busy := false, false
		for i := range st {
			s := &st[i]
			if len(s.pending) == 0 {
				if stopping {
					continue
				}
				s.buf = s.buf[:0]
				for k := range int64(chunkLines) {
					s.buf = appendLine(s.buf, s.next+k, w.size)
				}
				s.next += chunkLines
				s.pending = s.buf
			}
			n, err := unix.Write(s.fd, s.pending)
			if n > 0 {
				s.pending = s.pending[n:]
				s.bytes += int64(n)
				w.written[i].Store(s.bytes / int64(w.size))
				progress = true
			}
			if err != nil && err != unix.EAGAIN && err != unix.EINTR {
				return fmt.Errorf("write to pty %s: %w", w.ptys[i].SlavePath(), err)
			}
			busy = busy || len(s.pending) > 0
		}
		if stopping && !busy {
			return nil
		}
		if !progress {
			if stopping && time.Now().After(deadline) {
				return errors.New("full-speed writer: the ptys took nothing for 5s while it finished its lines")
			}
			// Every pty is full: wait for room, and look at the stop flag
			// every 100 ms.
			for i := range fds {
				fds[i].Revents = 0
			}
			if _, err := unix.Poll(fds, 100); err != nil && err != unix.EINTR {
				return fmt.Errorf("poll: %w", err)
			}
		}
	}
}

// paced writes line k of pty d at k/rate + d/(rate*ptys) seconds after the
// start: every pty gets rate lines a second, and the ptys take turns. A late
// wake-up writes what is due at once; the send time noted is the time of
// the write, so lateness does not count as latency.
func (w *writer) paced(rate float64) error {
	n := len(w.ptys)
	step := time.Duration(float64(time.Second) / rate / float64(n))
	start := time.Now()
	line := make([]byte, 0, w.size)
	for i := int64(0); !w.stop.Load(); i++ {
		k, d := i/int64(n), int(i%int64(n))
		if k >= int64(len(w.sent[d])) {
			return errors.New("paced writer: the table of send times is full; the run went on too long")
		}
		if wait := time.Until(start.Add(time.Duration(i) * step)); wait > 0 {
			time.Sleep(wait) // pacing, not synchronisation
		}
		line = appendLine(line[:0], k, w.size)
		w.sent[d][k].Store(clock())
		if err := writeAll(w.ptys[d], line); err != nil {
			return err
		}
		w.written[d].Store(k + 1)
	}
	return nil
}

// writeAll writes b to a pty that is expected to have room: a paced
// bridge that leaves 4 KiB unread for a second is stuck.
func writeAll(p *serial.PTY, b []byte) error {
	deadline := time.Now().Add(time.Second)
	for len(b) > 0 {
		n, err := unix.Write(p.Fd(), b)
		if n > 0 {
			b = b[n:]
		}
		switch {
		case err == nil || err == unix.EINTR:
			continue
		case err != unix.EAGAIN:
			return fmt.Errorf("write to pty %s: %w", p.SlavePath(), err)
		case time.Now().After(deadline):
			return fmt.Errorf("write to pty %s: full for 1s: the bridge does not read", p.SlavePath())
		}
		fds := []unix.PollFd{{Fd: int32(p.Fd()), Events: unix.POLLOUT}}
		unix.Poll(fds, 100)
	}
	return nil
}
