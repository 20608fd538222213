package main

import (
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/iogate/iogate/bench/echoclient"
)

// A line is "SEQUENCE TIMESTAMP filler\n": the sequence number of the line
// in its stream and the time it was written (ns on clock), both in fixed
// decimal digits, so that writing and checking one neither allocates nor
// formats.
const (
	seqDigits  = 10
	timeDigits = 16
	headerLen  = seqDigits + 1 + timeDigits + 1
	minLine    = headerLen + 1
)

// clockBase is the origin of the times in the lines: the writer and the
// reader are both in this process, on its monotonic clock.
var clockBase = time.Now()

func clock() int64 { return int64(time.Since(clockBase)) }

// newLine returns a line of size bytes with a zero header.
func newLine(size int) []byte {
	b := make([]byte, size)
	for i := range b {
		switch {
		case i < headerLen:
			b[i] = '0'
		default:
			b[i] = 'a' + byte(i%26)
		}
	}
	b[seqDigits], b[headerLen-1], b[size-1] = ' ', ' ', '\n'
	return b
}

// stamp writes a sequence number and a time into a line's header.
func stamp(line []byte, seq, at int64) {
	putDigits(line[:seqDigits], seq)
	putDigits(line[seqDigits+1:headerLen-1], at)
}

func putDigits(b []byte, v int64) {
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = '0' + byte(v%10)
		v /= 10
	}
}

func parseDigits(b []byte) (int64, bool) {
	var v int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	return v, true
}

// Directions of a stream.
const (
	rx = iota // device → client: written into the pty's device side, read from the TCP client
	tx        // client → device: written by the TCP client, read from the pty's device side
)

var dirNames = [2]string{"rx", "tx"}

// stream is one direction of one device: lines written into one
// descriptor that the server under test must carry, in order and intact,
// to another.
type stream struct {
	name string // "d0 rx"
	dir  int
	wfd  int // non-blocking
	rfd  int // non-blocking

	written atomic.Int64 // whole lines written
	read    atomic.Int64 // lines read, checked and in order
	bytes   atomic.Int64 // bytes read

	// The reader's own.
	carry []byte // the start of a line cut by a read
	bad   error  // the first line that was not the next one, intact
}

func newStream(name string, dir, wfd, rfd, size int) *stream {
	return &stream{name: name, dir: dir, wfd: wfd, rfd: rfd, carry: make([]byte, 0, size)}
}

// reader reads every stream's far end from one goroutine on one locked
// thread, through one epoll instance: it checks each line against the
// next sequence number of its stream and records, for the lines written
// within the window, the time from their write to their arrival in a
// fixed histogram per direction. Nothing is allocated per line.
type reader struct {
	streams []*stream
	size    int
	epfd    int
	buf     []byte
	events  []unix.EpollEvent
	from    atomic.Int64 // latencies are recorded for lines written in [from, to)
	to      atomic.Int64
	hist    [2]echoclient.Histogram
	stop    atomic.Bool
	done    chan error
	tid     atomic.Int64
}

func newReader(streams []*stream, size int) (*reader, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	r := &reader{streams: streams, size: size, epfd: epfd, buf: make([]byte, 64<<10),
		events: make([]unix.EpollEvent, len(streams)), done: make(chan error, 1)}
	r.to.Store(-1)
	for i, s := range streams {
		ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(i)}
		if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, s.rfd, &ev); err != nil {
			unix.Close(epfd)
			return nil, fmt.Errorf("epoll_ctl %s: %w", s.name, err)
		}
	}
	return r, nil
}

// window sets the time span whose lines' latencies are recorded.
func (r *reader) window(from, to int64) {
	r.from.Store(from)
	r.to.Store(to)
}

func (r *reader) start() {
	go func() {
		runtime.LockOSThread()
		r.tid.Store(int64(unix.Gettid()))
		r.done <- r.run()
	}()
}

// halt stops the reader and closes its epoll instance.
func (r *reader) halt() error {
	r.stop.Store(true)
	err := <-r.done
	unix.Close(r.epfd)
	return err
}

func (r *reader) run() error {
	for !r.stop.Load() {
		// The timeout looks at the stop flag when nothing comes.
		n, err := unix.EpollWait(r.epfd, r.events, 50)
		if err != nil && err != unix.EINTR {
			return fmt.Errorf("epoll_wait: %w", err)
		}
		for _, ev := range r.events[:max(n, 0)] {
			s := r.streams[ev.Fd]
			k, err := unix.Read(s.rfd, r.buf)
			if err == unix.EAGAIN || err == unix.EINTR {
				continue
			}
			if err != nil {
				return fmt.Errorf("%s: read: %w", s.name, err)
			}
			if k == 0 {
				return fmt.Errorf("%s: the server closed the connection", s.name)
			}
			r.take(s, r.buf[:k], clock())
		}
	}
	return nil
}

// take checks the lines in what a read returned, which arrived at now.
func (r *reader) take(s *stream, b []byte, now int64) {
	s.bytes.Add(int64(len(b)))
	if len(s.carry) > 0 {
		k := min(r.size-len(s.carry), len(b))
		s.carry = append(s.carry, b[:k]...)
		b = b[k:]
		if len(s.carry) < r.size {
			return
		}
		r.line(s, s.carry, now)
		s.carry = s.carry[:0]
	}
	for len(b) >= r.size {
		r.line(s, b[:r.size], now)
		b = b[r.size:]
	}
	s.carry = append(s.carry, b...)
}

func (r *reader) line(s *stream, l []byte, now int64) {
	if s.bad != nil {
		return
	}
	next := s.read.Load()
	seq, ok1 := parseDigits(l[:seqDigits])
	at, ok2 := parseDigits(l[seqDigits+1 : headerLen-1])
	if !ok1 || !ok2 || l[seqDigits] != ' ' || l[headerLen-1] != ' ' || l[r.size-1] != '\n' || seq != next {
		s.bad = fmt.Errorf("%s: line %d: got %q", s.name, next, l)
		return
	}
	if at >= r.from.Load() && at < r.to.Load() {
		r.hist[s.dir].Record(time.Duration(now - at))
	}
	s.read.Store(next + 1)
}

// check returns the first stream that went wrong, after the reader halted.
func (r *reader) check() error {
	var errs []error
	for _, s := range r.streams {
		if s.bad != nil {
			errs = append(errs, s.bad)
		}
	}
	return errors.Join(errs...)
}

// writer writes lines into the near end of streams from one goroutine on
// one locked thread: paced, rate lines a second into each stream, the
// streams taking turns evenly; at full speed, chunk lines per write into
// each stream as fast as it takes them, waiting in poll(2) when none does.
type writer struct {
	streams []*stream
	size    int
	chunk   int
	stop    atomic.Bool
	done    chan error
	tid     atomic.Int64
}

func newWriter(streams []*stream, size, chunk int) *writer {
	return &writer{streams: streams, size: size, chunk: chunk, done: make(chan error, 1)}
}

// start writes paced at rate lines a second per stream, or at full speed
// when rate is 0.
func (w *writer) start(rate float64) {
	go func() {
		runtime.LockOSThread()
		w.tid.Store(int64(unix.Gettid()))
		if rate > 0 {
			w.done <- w.paced(rate)
		} else {
			w.done <- w.full()
		}
	}()
}

// halt stops the writer once every stream ends with a whole line.
func (w *writer) halt() error {
	w.stop.Store(true)
	return <-w.done
}

// paced writes line k of stream i at (k*n + i)/(rate*n) seconds from the
// start, n streams in all. A late wake-up writes what is due at once; the
// time in a line is that of its write, so the writer's lateness is not
// counted as the server's latency.
func (w *writer) paced(rate float64) error {
	n := int64(len(w.streams))
	step := time.Duration(float64(time.Second) / rate / float64(n))
	start := time.Now()
	line := newLine(w.size)
	for i := int64(0); !w.stop.Load(); i++ {
		s := w.streams[i%n]
		if wait := time.Until(start.Add(time.Duration(i) * step)); wait > 0 {
			time.Sleep(wait) // pacing, not synchronisation
		}
		k := s.written.Load()
		stamp(line, k, clock())
		if err := writeAll(s, line); err != nil {
			return err
		}
		s.written.Store(k + 1)
	}
	return nil
}

// writeAll writes a line into a stream that is expected to have room: a
// server that leaves a line unread for a second at 100 lines a second is
// stuck.
func writeAll(s *stream, b []byte) error {
	deadline := time.Now().Add(time.Second)
	for len(b) > 0 {
		n, err := unix.Write(s.wfd, b)
		if n > 0 {
			b = b[n:]
		}
		switch {
		case err == nil || err == unix.EINTR:
			continue
		case err != unix.EAGAIN:
			return fmt.Errorf("%s: write: %w", s.name, err)
		case time.Now().After(deadline):
			return fmt.Errorf("%s: full for 1s: the server does not read", s.name)
		}
		unix.Poll([]unix.PollFd{{Fd: int32(s.wfd), Events: unix.POLLOUT}}, 100)
	}
	return nil
}

// full writes chunks of lines into every stream as fast as they take them.
// On stop, a stream whose last write cut a line gets the rest of it.
func (w *writer) full() error {
	type state struct {
		buf     []byte // chunk lines
		pending []byte // what of buf is still to be written
		next    int64  // sequence number of the next chunk's first line
		bytes   int64
	}
	st := make([]state, len(w.streams))
	fds := make([]unix.PollFd, len(w.streams))
	for i, s := range w.streams {
		st[i].buf = make([]byte, 0, w.chunk*w.size)
		for range w.chunk {
			st[i].buf = append(st[i].buf, newLine(w.size)...)
		}
		fds[i] = unix.PollFd{Fd: int32(s.wfd), Events: unix.POLLOUT}
	}
	stopping := false
	var deadline time.Time
	for {
		if !stopping && w.stop.Load() {
			stopping, deadline = true, time.Now().Add(5*time.Second)
			for i := range st {
				t := &st[i]
				cut := t.bytes % int64(w.size)
				t.pending = t.pending[:min(int64(len(t.pending)), (int64(w.size)-cut)%int64(w.size))]
			}
		}
		progress, busy := false, false
		for i, s := range w.streams {
			t := &st[i]
			if len(t.pending) == 0 {
				if stopping {
					continue
				}
				now := clock()
				for k := range w.chunk {
					stamp(t.buf[k*w.size:], t.next+int64(k), now)
				}
				t.next += int64(w.chunk)
				t.pending = t.buf
			}
			n, err := unix.Write(s.wfd, t.pending)
			if n > 0 {
				t.pending = t.pending[n:]
				t.bytes += int64(n)
				s.written.Store(t.bytes / int64(w.size))
				progress = true
			}
			if err != nil && err != unix.EAGAIN && err != unix.EINTR {
				return fmt.Errorf("%s: write: %w", s.name, err)
			}
			busy = busy || len(t.pending) > 0
		}
		if stopping && !busy {
			return nil
		}
		if !progress {
			if stopping && time.Now().After(deadline) {
				return errors.New("full-speed writer: the server took nothing for 5s while the writer finished its lines")
			}
			// Every stream is full: wait for room, and look at the stop
			// flag every 100 ms.
			for i := range fds {
				fds[i].Revents = 0
			}
			if _, err := unix.Poll(fds, 100); err != nil && err != unix.EINTR {
				return fmt.Errorf("poll: %w", err)
			}
		}
	}
}
