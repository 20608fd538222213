package main

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/iogate/iogate/resources/serial"
	"golang.org/x/sys/unix"
)

// appendLine appends line seq of device d, size bytes with the newline:
// "dD SEQ " and filler.
func appendLine(b []byte, d int, seq int64, size int) []byte {
	start := len(b)
	b = fmt.Appendf(b, "d%d %010d ", d, seq)
	for i := len(b) - start; i < size-1; i++ {
		b = append(b, 'a'+byte(i%26))
	}
	return append(b, '\n')
}

// writer plays the devices from one goroutine on one locked thread: every
// 10 ms it writes to each pty the lines due since the start at rate lines a
// second, sequence numbers from 1; a late tick is made up at the next.
type writer struct {
	ptys    []*serial.PTY
	size    int
	rate    float64
	written []atomic.Int64
	stop    chan struct{}
	done    chan error
}

func startWriter(ptys []*serial.PTY, size int, rate float64) *writer {
	w := &writer{ptys: ptys, size: size, rate: rate, written: make([]atomic.Int64, len(ptys)),
		stop: make(chan struct{}), done: make(chan error, 1)}
	go func() {
		runtime.LockOSThread()
		w.done <- w.run()
	}()
	return w
}

func (w *writer) run() error {
	start := time.Now()
	tick := time.NewTicker(10 * time.Millisecond) // pacing
	defer tick.Stop()
	var line []byte
	for {
		select {
		case <-w.stop:
			return nil
		case <-tick.C:
		}
		due := int64(time.Since(start).Seconds() * w.rate)
		for d, p := range w.ptys {
			for seq := w.written[d].Load() + 1; seq <= due; seq++ {
				line = appendLine(line[:0], d, seq, w.size)
				if err := writeAll(p, line); err != nil {
					return err
				}
				w.written[d].Store(seq)
			}
		}
	}
}

// halt stops the writer and returns the lines written to each pty.
func (w *writer) halt() ([]int64, error) {
	close(w.stop)
	err := <-w.done
	n := make([]int64, len(w.written))
	for i := range n {
		n[i] = w.written[i].Load()
	}
	return n, err
}

func (w *writer) total() int64 {
	var t int64
	for i := range w.written {
		t += w.written[i].Load()
	}
	return t
}

// writeAll writes b to a pty that is expected to have room: a gateway that
// leaves the pty's buffer full for 5 s has stopped reading.
func writeAll(p *serial.PTY, b []byte) error {
	deadline := time.Now().Add(5 * time.Second)
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
			return fmt.Errorf("write to pty %s: full for 5s: the gateway does not read", p.SlavePath())
		}
		fds := []unix.PollFd{{Fd: int32(p.Fd()), Events: unix.POLLOUT}}
		unix.Poll(fds, 100)
	}
	return nil
}
