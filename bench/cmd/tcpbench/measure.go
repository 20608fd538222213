package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/iogate/iogate/bench/internal/proc"
	"github.com/iogate/iogate/resources/serial"
)

// Cases.
const (
	caseFullRx = "full-rx" // 1 device, device → client as fast as it goes
	caseFullTx = "full-tx" // 1 device, client → device as fast as it goes
	casePaced  = "paced"   // -devices, -rate lines a second each way
)

var allCases = []string{caseFullRx, caseFullTx, casePaced}

// sample is what one run of one server measured over its window.
type sample struct {
	kase    string
	impl    string
	round   int
	tries   int
	devices int

	elapsed time.Duration
	frames  [2]int64 // lines read in the window, by direction
	wrote   [2]int64 // lines written in the window, by direction

	server   proc.Usage    // the server over the window; memory at its end
	driver   time.Duration // this process: the writer and the reader
	writer   time.Duration // the writer thread alone
	reader   time.Duration // the reader thread alone
	kworkers time.Duration // the kernel's workers, which move pty writes into the line discipline
	other    float64       // CPUs busy with neither the server, this driver nor the workers

	p50, p99, max [2]time.Duration // paced: latency of the lines written in the window, by direction
	latencies     [2]uint64        // lines in those histograms

	perf *perfCounts // with -perf: the server's system calls by name and its context switches
}

func (s sample) total() int64 { return s.frames[rx] + s.frames[tx] }

func (s sample) rate() float64 { return float64(s.total()) / s.elapsed.Seconds() }

// perK is a CPU time in ms per 1000 frames carried in the window.
func (s sample) perK(d time.Duration) float64 {
	if s.total() == 0 {
		return 0
	}
	return float64(d) / 1e6 / (float64(s.total()) / 1000)
}

func (s sample) cpuPerK() float64   { return s.perK(s.server.CPU) }
func (s sample) schedPerK() float64 { return s.perK(s.server.Sched) }
func (s sample) cpuShare() float64  { return s.server.CPU.Seconds() / s.elapsed.Seconds() }
func (s sample) share(d time.Duration) float64 {
	return d.Seconds() / s.elapsed.Seconds()
}

func (s sample) perFrame(n int64) float64 {
	if s.total() == 0 {
		return 0
	}
	return float64(n) / float64(s.total())
}

// String is the sample on one line, as the progress and the report's record
// of every run show it.
func (s sample) String() string {
	lat := ""
	if s.kase == casePaced {
		lat = fmt.Sprintf("  rx p50 %-7s p99 %-7s max %-7s  tx p50 %-7s p99 %-7s max %-7s",
			ms(s.p50[rx]), ms(s.p99[rx]), ms(s.max[rx]), ms(s.p50[tx]), ms(s.p99[tx]), ms(s.max[tx]))
	}
	return fmt.Sprintf("round %d %-7s %-16s %8.0f frames/s (wrote %8.0f/s)%s  cpu %4.0f%% %6.2f ms/1k (schedstat %6.2f)  syscalls %5.2f/frame  switches %5.2f/frame  rss %5.1f MiB peak %5.1f MiB  writer %3.0f%%  reader %3.0f%%  kworkers %3.0f%%  other %3.0f%%  tries %d",
		s.round+1, s.kase, s.impl, s.rate(), float64(s.wrote[rx]+s.wrote[tx])/s.elapsed.Seconds(), lat,
		100*s.cpuShare(), s.cpuPerK(), s.schedPerK(), s.perFrame(s.server.Syscalls), s.perFrame(s.server.Switches),
		mib(s.server.RSS), mib(s.server.HWM), 100*s.share(s.writer), 100*s.share(s.reader), 100*s.share(s.kworkers), 100*s.other, s.tries)
}

// point is the state of a run at one end of the measured window.
type point struct {
	at       int64 // clock()
	server   proc.Usage
	self     proc.Times
	writer   time.Duration
	reader   time.Duration
	kworkers map[int]time.Duration
	busy     time.Duration
	read     [2]int64
	written  [2]int64
}

// bench is one server on fresh ptys with its clients connected.
type bench struct {
	server  *proc.Process
	ptys    []*serial.PTY
	conns   []int
	streams []*stream // the case's: rx, tx or both per device
	r       *reader
	w       *writer
}

// close ends what open made, the server last: its clients hang up first,
// as users do.
func (u *bench) close() error {
	for _, fd := range u.conns {
		unix.Close(fd)
	}
	var err error
	if u.server != nil {
		err = u.server.Stop(10 * time.Second)
	}
	for _, p := range u.ptys {
		p.Close()
	}
	return err
}

// open makes fresh ptys, starts impl on them, connects one client per
// device, and proves that every stream of the case carries data.
func open(cfg config, t tools, kase, impl string) (*bench, error) {
	devices, dirs := 1, []int{rx}
	switch kase {
	case caseFullTx:
		dirs = []int{tx}
	case casePaced:
		devices, dirs = cfg.devices, []int{rx, tx}
	}
	u := &bench{}
	paths := make([]string, devices)
	for i := range paths {
		p, err := serial.OpenPTY()
		if err != nil {
			u.close()
			return nil, err
		}
		u.ptys = append(u.ptys, p)
		paths[i] = p.SlavePath()
	}
	ports, err := freePorts(devices)
	if err != nil {
		u.close()
		return nil, err
	}
	if u.server, err = startServer(t, impl, paths, ports); err != nil {
		u.close()
		return nil, err
	}
	deadline := time.Now().Add(startLimit)
	for i, port := range ports {
		fd, err := dial(u.server, port, deadline)
		if err != nil {
			u.close()
			return nil, err
		}
		u.conns = append(u.conns, fd)
		for _, d := range dirs {
			name := fmt.Sprintf("d%d %s", i, dirNames[d])
			if d == rx {
				u.streams = append(u.streams, newStream(name, rx, u.ptys[i].Fd(), fd, cfg.line))
			} else {
				u.streams = append(u.streams, newStream(name, tx, fd, u.ptys[i].Fd(), cfg.line))
			}
		}
	}
	if err := probe(u.streams, deadline); err != nil {
		u.close()
		return nil, fmt.Errorf("%s: %w", impl, err)
	}
	return u, nil
}

// probe writes a short line into every stream until it comes out at the
// far end: ser2net opens a device only when its client connects, and
// either server may drop what comes before; then it reads what is left,
// until nothing has come for 50 ms, so the measured lines start clean.
func probe(streams []*stream, deadline time.Time) error {
	buf := make([]byte, 64<<10)
	for _, s := range streams {
		for {
			if _, err := unix.Write(s.wfd, []byte("probe\n")); err != nil && err != unix.EAGAIN {
				return fmt.Errorf("%s: probe: %w", s.name, err)
			}
			fds := []unix.PollFd{{Fd: int32(s.rfd), Events: unix.POLLIN}}
			if n, _ := unix.Poll(fds, 100); n > 0 {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s: nothing carried within %v", s.name, startLimit)
			}
		}
	}
	for quiet := false; !quiet; {
		time.Sleep(50 * time.Millisecond) // the time a probe takes is far less
		quiet = true
		for _, s := range streams {
			for {
				n, err := unix.Read(s.rfd, buf)
				if n <= 0 || err != nil {
					break
				}
				quiet = false
			}
		}
	}
	return nil
}

// measure runs one server for one case: it opens the run, writes for the
// warm-up and the measured window, reads /proc at both ends of the window,
// stops the writer, and waits until every line written has been read,
// checked and in order; a line lost, cut or late by more than cfg.drain
// fails the run. With perfDir set, perf samples the server in the window.
func measure(cfg config, t tools, kase, impl string, round int, perfDir string) (sample, error) {
	s := sample{kase: kase, impl: impl, round: round, devices: 1}
	rate := 0.0
	if kase == casePaced {
		s.devices, rate = cfg.devices, cfg.rate
	}
	u, err := open(cfg, t, kase, impl)
	if err != nil {
		return s, err
	}
	defer u.close()
	if u.r, err = newReader(u.streams, cfg.line); err != nil {
		return s, err
	}
	u.w = newWriter(u.streams, cfg.line, cfg.chunk)
	u.r.start()
	u.w.start(rate)
	halted := false
	defer func() {
		if !halted {
			u.w.halt()
			u.r.halt()
		}
	}()
	time.Sleep(cfg.Warmup) // the warm-up is a length of time, not a wait for an event

	a, err := snapshot(u)
	if err != nil {
		return s, err
	}
	u.r.window(a.at, 1<<62)
	var pr *perfRun
	if perfDir != "" {
		if pr, err = startPerf(perfDir, impl, kase, u.server.Pid()); err != nil {
			return s, err
		}
	}
	time.Sleep(cfg.Duration) // the measured window
	z, err := snapshot(u)
	if err != nil {
		return s, err
	}
	u.r.window(a.at, z.at)
	if pr != nil {
		if s.perf, err = pr.finish(); err != nil {
			return s, err
		}
	}

	halted = true
	werr := u.w.halt()
	derr := drain(u, cfg.drain)
	rerr := u.r.halt()
	if err := errors.Join(werr, derr, rerr, u.r.check()); err != nil {
		return s, err
	}
	select {
	case <-u.server.Exited():
		return s, u.server.Failed("ended during the run")
	default:
	}

	s.elapsed = time.Duration(z.at - a.at)
	for d := range 2 {
		s.frames[d] = z.read[d] - a.read[d]
		s.wrote[d] = z.written[d] - a.written[d]
		h := &u.r.hist[d]
		s.p50[d], s.p99[d], s.max[d], s.latencies[d] = h.Quantile(.5), h.Quantile(.99), h.Quantile(1), h.Count()
	}
	s.server = z.server.Sub(a.server)
	s.driver = z.self.Sub(a.self).Total()
	s.writer, s.reader = z.writer-a.writer, z.reader-a.reader
	for pid, c := range z.kworkers {
		s.kworkers += c - a.kworkers[pid] // a worker born in the window counts whole
	}
	s.other = max(float64(z.busy-a.busy-s.server.CPU-s.driver-s.kworkers)/float64(s.elapsed), 0)
	if kase == casePaced && (s.latencies[rx] == 0 || s.latencies[tx] == 0) {
		return s, errors.New("no latency measured: no line written in the window arrived")
	}
	return s, nil
}

func snapshot(u *bench) (point, error) {
	var p point
	select {
	case <-u.server.Exited():
		return p, u.server.Failed("ended during the run")
	default:
	}
	p.at = clock()
	for _, s := range u.streams {
		p.read[s.dir] += s.read.Load()
		p.written[s.dir] += s.written.Load()
	}
	self := os.Getpid()
	var errs [6]error
	p.server, errs[0] = proc.ReadUsage(u.server.Pid())
	p.self, errs[1] = proc.CPU(self)
	p.writer, errs[2] = proc.ThreadCPU(self, int(u.w.tid.Load()))
	p.reader, errs[3] = proc.ThreadCPU(self, int(u.r.tid.Load()))
	p.kworkers, errs[4] = proc.Kworkers()
	p.busy, errs[5] = proc.Busy()
	return p, errors.Join(errs[:]...)
}

// drain waits until the reader has read every line written, or fails when
// it read nothing more for limit.
func drain(u *bench, limit time.Duration) error {
	var last int64 = -1
	progress := time.Now()
	for {
		var read, written int64
		var behind []string
		for _, s := range u.streams {
			r, w := s.read.Load(), s.written.Load()
			read, written = read+r, written+w
			if r < w {
				behind = append(behind, fmt.Sprintf("%s: %d of %d lines", s.name, r, w))
			}
		}
		if len(behind) == 0 {
			return nil
		}
		if read != last {
			last, progress = read, time.Now()
		}
		if time.Since(progress) > limit {
			return fmt.Errorf("lines lost: nothing more read for %v; read %s", limit, strings.Join(behind, ", "))
		}
		time.Sleep(10 * time.Millisecond) // polling the reader's counters
	}
}

func ms(d time.Duration) string {
	switch {
	case d >= 100*time.Millisecond:
		return fmt.Sprintf("%.0f ms", float64(d)/1e6)
	case d >= 10*time.Millisecond:
		return fmt.Sprintf("%.1f ms", float64(d)/1e6)
	}
	return fmt.Sprintf("%.2f ms", float64(d)/1e6)
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }
