package main

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iogate/iogate/resources/serial"
	"golang.org/x/sys/unix"
)

// readBuffer is the goroutine reader's buffer: a tty never returns more
// than its line discipline's 4 KiB buffer holds in one read.
const readBuffer = 4096

// portReader is one port of the goroutine design and its counts, which
// its goroutine updates and any goroutine may read.
type portReader struct {
	path   string
	port   *serial.Port // holds the raw mode and the exclusive lock
	f      *os.File     // a duplicate of port's descriptor, in the runtime poller
	bytes  atomic.Int64
	lines  atomic.Int64
	target atomic.Int64
	once   sync.Once
	done   chan struct{} // closed once target is reached or reading ended
	err    error         // set before done is closed by a failed read
}

type goroutineReader struct {
	ports    []*portReader
	stopping atomic.Bool
}

// openGoroutine is what a Go programmer writes without iogate: a goroutine
// per port, blocking reads on an *os.File, a read deadline re-armed before
// each read so that a silent device is noticed. The ports are opened with
// serial.Open, for the same raw mode as iogate's; the *os.File wraps a
// duplicate of the descriptor, which is non-blocking, so os.NewFile hands
// it to the runtime poller and SetReadDeadline works.
func openGoroutine(paths []string, o options) (reader, error) {
	g := &goroutineReader{}
	for _, p := range paths {
		pr, err := openPort(p)
		if err != nil {
			for _, pr := range g.ports {
				pr.f.Close()
				pr.port.Close()
			}
			return nil, err
		}
		g.ports = append(g.ports, pr)
	}
	size := o.buffer
	if size == 0 {
		size = readBuffer
	}
	for _, pr := range g.ports {
		go g.read(pr, size, o.deadline)
	}
	return g, nil
}

func openPort(path string) (*portReader, error) {
	port, err := serial.Open(path, mode)
	if err != nil {
		return nil, err
	}
	fd, err := unix.FcntlInt(uintptr(port.Fd()), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		port.Close()
		return nil, fmt.Errorf("dup %s: %w", path, err)
	}
	pr := &portReader{path: path, port: port, f: os.NewFile(uintptr(fd), path), done: make(chan struct{})}
	pr.target.Store(math.MaxInt64)
	return pr, nil
}

func (g *goroutineReader) read(pr *portReader, size int, deadline time.Duration) {
	buf := make([]byte, size)
	for {
		if deadline > 0 {
			if err := pr.f.SetReadDeadline(time.Now().Add(deadline)); err != nil {
				pr.end(err)
				return
			}
		}
		n, err := pr.f.Read(buf)
		if n > 0 {
			b := pr.bytes.Add(int64(n))
			pr.lines.Add(int64(bytes.Count(buf[:n], newline)))
			if b >= pr.target.Load() {
				pr.end(nil)
			}
		}
		switch {
		case err == nil:
		case errors.Is(err, os.ErrDeadlineExceeded):
			// A silent second; a real program would check on its device.
		case g.stopping.Load() && errors.Is(err, os.ErrClosed):
			return
		default:
			pr.end(err)
			return
		}
	}
}

// end closes done, once: the target is reached, or the goroutine can read
// no more (err).
func (pr *portReader) end(err error) {
	pr.once.Do(func() {
		pr.err = err
		close(pr.done)
	})
}

func (g *goroutineReader) counts() []count {
	out := make([]count, len(g.ports))
	for i, pr := range g.ports {
		out[i] = count{Path: pr.path, Bytes: pr.bytes.Load(), Lines: pr.lines.Load()}
	}
	return out
}

func (g *goroutineReader) finish(targets []int64, drain time.Duration) []count {
	if targets != nil {
		timeout := time.NewTimer(drain)
		defer timeout.Stop()
		for i, pr := range g.ports {
			pr.target.Store(targets[i])
			if pr.bytes.Load() >= targets[i] {
				pr.end(nil)
			}
		}
	wait:
		for _, pr := range g.ports {
			select {
			case <-pr.done:
			case <-timeout.C:
				break wait
			}
		}
	}
	out := g.counts()
	for i, pr := range g.ports {
		select {
		case <-pr.done:
			if pr.err != nil {
				out[i].Err = pr.err.Error()
			}
		default:
		}
	}
	g.stopping.Store(true)
	for _, pr := range g.ports {
		pr.f.Close() // wakes its goroutine with ErrClosed
		pr.port.Close()
	}
	return out
}
