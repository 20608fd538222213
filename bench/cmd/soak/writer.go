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
// second, sequence numbers from 1; a late tick is made up at the next. A
// pty that takes nothing holds back its own lines only, and the longest
// such stall is noted: a real serial port without flow control would have
// overrun there.
type writer struct {
	ptys     []*serial.PTY
	size     int
	rate     float64
	written  []atomic.Int64
	stallMax atomic.Int64 // ns: the longest time a pty with lines due took no byte
	stop     chan struct{}
	done     chan error
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
	n := len(w.ptys)
	pending := make([][]byte, n) // the rest of the line being written
	bufs := make([][]byte, n)
	fullSince := make([]time.Time, n)
	start := time.Now()
	tick := time.NewTicker(10 * time.Millisecond) // pacing
	defer tick.Stop()
	for {
		select {
		case <-w.stop:
			for d := range fullSince {
				w.stalled(fullSince[d])
			}
			return nil
		case <-tick.C:
		}
		due := int64(time.Since(start).Seconds() * w.rate)
		for d, p := range w.ptys {
			for {
				seq := w.written[d].Load() + 1
				if len(pending[d]) == 0 {
					if seq > due {
						break
					}
					bufs[d] = appendLine(bufs[d][:0], d, seq, w.size)
					pending[d] = bufs[d]
				}
				k, err := unix.Write(p.Fd(), pending[d])
				if k > 0 {
					pending[d] = pending[d][k:]
					w.stalled(fullSince[d])
					fullSince[d] = time.Time{}
					if len(pending[d]) == 0 {
						w.written[d].Store(seq)
					}
				}
				if err == unix.EAGAIN {
					if fullSince[d].IsZero() {
						fullSince[d] = time.Now()
					}
					break
				}
				if err != nil && err != unix.EINTR {
					return fmt.Errorf("write to pty %s: %w", p.SlavePath(), err)
				}
			}
		}
	}
}

// stalled notes a stall that began at since, if any.
func (w *writer) stalled(since time.Time) {
	if !since.IsZero() {
		d := int64(time.Since(since))
		if d > w.stallMax.Load() {
			w.stallMax.Store(d)
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
