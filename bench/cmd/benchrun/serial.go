package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/iogate/iogate/bench/internal/machine"
	"github.com/iogate/iogate/bench/internal/proc"
	"github.com/iogate/iogate/resources/serial"
	"golang.org/x/sys/unix"
)

// The serial benchmark: this process makes pty pairs, writes lines into
// their device side with a writer of its own, and a serialreader process
// reads their terminal side, through iogate's reactor or a goroutine per
// port. It measures the reader's CPU time, context switches and memory
// from /proc, and checks at the end that the reader read every byte.

// serialSection names the part of BENCHMARKS.md this benchmark owns.
const serialSection = "serial"

// serialCase is one load: ptys terminals, each sent rate lines a second,
// or as many as the writer can push when rate is 0.
type serialCase struct {
	name string
	ptys int
	rate float64
}

func (c serialCase) title() string {
	if c.rate == 0 {
		return fmt.Sprintf("%d %s at full speed", c.ptys, plural(c.ptys, "pty", "ptys"))
	}
	return fmt.Sprintf("%d %s at %g lines/s each", c.ptys, plural(c.ptys, "pty", "ptys"), c.rate)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func serialCases(cfg config) []serialCase {
	all := map[string]serialCase{
		"paced": {name: "paced", ptys: cfg.serialPTYs, rate: cfg.serialRate},
		"full":  {name: "full", ptys: 1},
	}
	var cs []serialCase
	for _, name := range cfg.serialCases {
		cs = append(cs, all[name])
	}
	return cs
}

// serialSample is what one run of one reader measured over its window.
type serialSample struct {
	kase      string
	impl      string
	round     int
	elapsed   time.Duration
	bytes     int64         // read by the reader in the window
	lines     int64         // read by the reader in the window
	cpu       proc.Times    // the reader's utime and stime in the window
	schedCPU  time.Duration // the same from its threads' schedstat, to the nanosecond
	switches  int64         // the reader's context switches in the window, all threads
	threads   int           // the reader's threads at the end of the window
	rss       int64         // the reader's VmRSS at the end of the window
	written   int64         // lines the writer wrote in the window
	ptys      int
	writerCPU float64 // the writer thread's CPU time over wall time
	kworkers  float64 // CPUs kept busy by the kernel's workers (pty flushes among them)
	otherCPU  float64 // CPUs kept busy by neither the reader, this process nor the kernel's workers
	tries     int
}

func (s serialSample) seconds() float64 { return s.elapsed.Seconds() }
func (s serialSample) mb() float64      { return float64(s.bytes) / 1e6 }
func (s serialSample) mbps() float64    { return s.mb() / s.seconds() }
func (s serialSample) linesps() float64 { return float64(s.lines) / s.seconds() }
func (s serialSample) cpuShare() float64 {
	return s.cpu.Total().Seconds() / s.seconds()
}

// cpuPerMB is the reader's CPU milliseconds per MB read.
func (s serialSample) cpuPerMB() float64 {
	if s.bytes == 0 {
		return 0
	}
	return 1000 * s.cpu.Total().Seconds() / s.mb()
}

// schedPerMB is cpuPerMB from the nanosecond account of the reader's
// threads: a cross-check of the 10 ms ticks of /proc/PID/stat when the
// reader uses little CPU. A thread that exits in the window takes its time
// with it.
func (s serialSample) schedPerMB() float64 {
	if s.bytes == 0 {
		return 0
	}
	return 1000 * s.schedCPU.Seconds() / s.mb()
}

func (s serialSample) switchesPerS() float64 { return float64(s.switches) / s.seconds() }

func (s serialSample) switchesPerMB() float64 {
	if s.bytes == 0 {
		return 0
	}
	return float64(s.switches) / s.mb()
}

// writerRate is the lines a second the writer wrote to each pty.
func (s serialSample) writerRate() float64 {
	return float64(s.written) / float64(s.ptys) / s.seconds()
}

// String is the sample on one line, as the progress and the report's record
// of every run show it.
func (s serialSample) String() string {
	return fmt.Sprintf("round %d %-5s %-13s %8.3f MB/s %8.0f lines/s  cpu %5.1f%% %7.2f ms/MB (schedstat %7.2f)  sys %3.0f%%  wake-ups %6.0f/s %8.0f/MB  threads %2d  rss %4.1f MiB  writer %6.1f lines/s/pty cpu %3.0f%%  kworkers %3.0f%%  other %3.0f%%  tries %d",
		s.round+1, s.kase, s.impl, s.mbps(), s.linesps(), 100*s.cpuShare(), s.cpuPerMB(), s.schedPerMB(), 100*sysShare(s.cpu),
		s.switchesPerS(), s.switchesPerMB(), s.threads, mib(s.rss), s.writerRate(), 100*s.writerCPU, 100*s.kworkers, 100*s.otherCPU, s.tries)
}

func sysShare(c proc.Times) float64 {
	if c.Total() == 0 {
		return 0
	}
	return float64(c.System) / float64(c.Total())
}

// runSerial runs every case with every reader, round after round, and
// returns the section of BENCHMARKS.md.
func runSerial(cfg config, dir string) (string, error) {
	bin := filepath.Join(dir, "serialreader")
	build := exec.Command("go", "build", "-o", bin, "github.com/iogate/iogate/bench/cmd/serialreader")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return "", fmt.Errorf("build serialreader (run benchrun inside the bench module): %w", err)
	}
	m := describe(bin)
	cases := serialCases(cfg)
	var samples []serialSample
	for round := range cfg.rounds {
		for ci, c := range cases {
			k := (round + ci) % len(cfg.serialImpls)
			order := append(append([]string(nil), cfg.serialImpls[k:]...), cfg.serialImpls[:k]...)
			for _, impl := range order {
				s, err := measureSerialQuiet(cfg, bin, c, impl, round)
				if err != nil {
					return "", fmt.Errorf("serial round %d, %s, %s: %w", round+1, c.name, impl, err)
				}
				fmt.Fprintln(os.Stderr, s)
				samples = append(samples, s)
			}
		}
	}
	return renderSerial(cfg, m, cases, samples), nil
}

// measureSerialQuiet is measureQuiet for the serial benchmark.
func measureSerialQuiet(cfg config, bin string, c serialCase, impl string, round int) (serialSample, error) {
	s, runs, err := machine.LeastDisturbed(cfg.policy(), func(int) (serialSample, error) { return measureSerial(cfg, bin, c, impl, round) },
		func(s serialSample) float64 { return s.otherCPU }, os.Stderr)
	s.tries = runs
	return s, err
}

// measureSerial makes fresh ptys, starts a reader on their terminals and
// the writer on their device sides, and measures one window. A reader that
// did not read every byte written fails the run.
func measureSerial(cfg config, bin string, c serialCase, impl string, round int) (serialSample, error) {
	s := serialSample{kase: c.name, impl: impl, round: round, ptys: c.ptys}
	ptys := make([]*serial.PTY, 0, c.ptys)
	defer func() {
		for _, p := range ptys {
			p.Close()
		}
	}()
	paths := make([]string, c.ptys)
	for i := range paths {
		p, err := serial.OpenPTY()
		if err != nil {
			return s, err
		}
		ptys = append(ptys, p)
		paths[i] = p.SlavePath()
	}
	profile := ""
	if cfg.profileDir != "" {
		profile = filepath.Join(cfg.profileDir, fmt.Sprintf("serial-%s-%s-r%d.prof", c.name, impl, round+1))
	}
	rd, err := startReader(bin, impl, paths, cfg.serialDeadline, cfg.serialBuffer, profile)
	if err != nil {
		return s, err
	}
	defer rd.kill()
	pid := rd.cmd.Process.Pid

	w := startWriter(ptys, c.rate, cfg.serialLine, cfg.serialChunk)
	defer w.halt()
	time.Sleep(cfg.warmup) // the unmeasured warm-up, not a synchronisation

	type mark struct {
		at       time.Time
		read     readerTotals
		cpu      proc.Times
		self     proc.Times
		busy     time.Duration
		threads  map[int]proc.Thread
		kworkers map[int]time.Duration
		written  int64
		writer   time.Duration
	}
	take := func() (mark, error) {
		var m mark
		var err error
		if m.read, err = rd.request("stats"); err != nil {
			return m, err
		}
		m.at = time.Now()
		m.written = w.written.Load()
		errs := make([]error, 6)
		m.cpu, errs[0] = proc.CPU(pid)
		m.threads, errs[1] = proc.Threads(pid)
		m.self, errs[2] = proc.CPU(os.Getpid())
		m.kworkers, errs[3] = proc.Kworkers()
		m.busy, errs[4] = proc.Busy()
		m.writer, errs[5] = proc.ThreadCPU(os.Getpid(), w.tid)
		return m, errors.Join(errs...)
	}
	m0, err := take()
	if err != nil {
		return s, err
	}
	time.Sleep(cfg.serialDuration) // the measured window
	m1, err := take()
	if err != nil {
		return s, err
	}
	if s.rss, err = proc.RSS(pid); err != nil {
		return s, err
	}
	s.threads = len(m1.threads)
	s.elapsed = m1.at.Sub(m0.at)
	s.bytes = m1.read.Bytes - m0.read.Bytes
	s.lines = m1.read.Lines - m0.read.Lines
	s.cpu = m1.cpu.Sub(m0.cpu)
	for tid, t := range m1.threads {
		// A thread born in the window counts whole.
		s.switches += t.Switches - m0.threads[tid].Switches
		s.schedCPU += t.CPU - m0.threads[tid].CPU
	}
	s.written = (m1.written - m0.written) / int64(cfg.serialLine)
	s.writerCPU = float64(m1.writer-m0.writer) / float64(s.elapsed)
	var kworkers time.Duration
	for pid, t := range m1.kworkers {
		kworkers += t - m0.kworkers[pid] // a worker born in the window counts whole
	}
	s.kworkers = float64(kworkers) / float64(s.elapsed)
	self := m1.self.Sub(m0.self)
	s.otherCPU = max(float64(m1.busy-m0.busy-s.cpu.Total()-self.Total()-kworkers)/float64(s.elapsed), 0)

	written, err := w.halt()
	if err != nil {
		return s, fmt.Errorf("writer: %w", err)
	}
	return s, rd.check(written, cfg.serialLine)
}

// readerProc is a running serialreader and the lines it prints.
type readerProc struct {
	cmd    *exec.Cmd
	impl   string
	stdin  io.WriteCloser
	lines  chan string
	stderr bytes.Buffer
	exited chan error
	waited bool
}

// readerTotals is the JSON a serialreader answers with.
type readerTotals struct {
	Bytes int64 `json:"bytes"`
	Lines int64 `json:"lines"`
	Final bool  `json:"final"`
	Paths []struct {
		Path  string `json:"path"`
		Bytes int64  `json:"bytes"`
		Lines int64  `json:"lines"`
		Err   string `json:"err"`
	} `json:"paths"`
}

// readerTimeout bounds every wait for a line from the reader.
const readerTimeout = 15 * time.Second

// startReader starts serialreader on paths and returns once it is ready.
// Like the echo servers, it is started from the locked main thread, so that
// it dies with this process.
func startReader(bin, impl string, paths []string, deadline time.Duration, buffer int, profile string) (*readerProc, error) {
	rd := &readerProc{impl: impl, lines: make(chan string), exited: make(chan error, 1)}
	args := []string{"-impl", impl, "-paths", strings.Join(paths, ","), "-deadline", deadline.String(), "-buffer", strconv.Itoa(buffer)}
	if profile != "" {
		args = append(args, "-cpuprofile", profile)
	}
	rd.cmd = exec.Command(bin, args...)
	rd.cmd.Stderr = &rd.stderr
	rd.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var err error
	if rd.stdin, err = rd.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	out, err := rd.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := rd.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			rd.lines <- sc.Text()
		}
		close(rd.lines)
		io.Copy(io.Discard, out)
		rd.exited <- rd.cmd.Wait()
	}()
	line, err := rd.next()
	if err == nil && line != "ready" {
		err = fmt.Errorf("want a ready line, got %q", line)
	}
	if err != nil {
		rd.kill()
		return nil, fmt.Errorf("serialreader -impl %s: %w; stderr: %s", impl, err, strings.TrimSpace(rd.stderr.String()))
	}
	return rd, nil
}

// next is the reader's next line of output.
func (rd *readerProc) next() (string, error) {
	select {
	case line, ok := <-rd.lines:
		if !ok {
			return "", errors.New("exited")
		}
		return line, nil
	case <-time.After(readerTimeout):
		return "", fmt.Errorf("no answer after %v", readerTimeout)
	}
}

// request sends one command and decodes the answer.
func (rd *readerProc) request(cmd string) (readerTotals, error) {
	var t readerTotals
	if _, err := fmt.Fprintln(rd.stdin, cmd); err != nil {
		return t, fmt.Errorf("serialreader -impl %s: %s: %w", rd.impl, cmd, err)
	}
	line, err := rd.next()
	if err == nil {
		err = json.Unmarshal([]byte(line), &t)
	}
	if err != nil {
		return t, fmt.Errorf("serialreader -impl %s: %s: %w; stderr: %s", rd.impl, cmd, err, strings.TrimSpace(rd.stderr.String()))
	}
	return t, nil
}

// check tells the reader how many bytes were written to each path, waits
// for its final counts, and fails unless it read them all, in whole lines,
// without an error.
func (rd *readerProc) check(written []int64, lineSize int) error {
	f := make([]string, len(written))
	for i, n := range written {
		f[i] = strconv.FormatInt(n, 10)
	}
	t, err := rd.request("expect " + strings.Join(f, ","))
	if err != nil {
		return err
	}
	if err := rd.wait(); err != nil {
		return fmt.Errorf("serialreader -impl %s: %w; stderr: %s", rd.impl, err, strings.TrimSpace(rd.stderr.String()))
	}
	if !t.Final || len(t.Paths) != len(written) {
		return fmt.Errorf("serialreader -impl %s: final counts for %d paths, want %d", rd.impl, len(t.Paths), len(written))
	}
	var bad []string
	for i, p := range t.Paths {
		lines := written[i] / int64(lineSize)
		if p.Bytes != written[i] || p.Lines != lines || p.Err != "" {
			bad = append(bad, fmt.Sprintf("%s: read %d bytes, %d lines of %d, %d written (%s)", p.Path, p.Bytes, p.Lines, written[i], lines, p.Err))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("serialreader -impl %s lost bytes: %s", rd.impl, strings.Join(bad, "; "))
	}
	return nil
}

// wait waits, bounded, for the reader to exit after its final answer.
func (rd *readerProc) wait() error {
	select {
	case err := <-rd.exited:
		rd.waited = true
		return err
	case <-time.After(readerTimeout):
		return errors.New("did not exit after its final counts")
	}
}

// kill ends a reader that is still running.
func (rd *readerProc) kill() {
	if rd.waited {
		return
	}
	rd.cmd.Process.Kill()
	go func() {
		for range rd.lines {
		}
	}()
	<-rd.exited
	rd.waited = true
}

// writer writes lines into the device side of ptys from one goroutine on
// one locked thread.
type writer struct {
	ptys    []*serial.PTY
	written atomic.Int64 // bytes, all ptys
	stop    atomic.Bool
	tid     int
	done    chan error
	perPTY  []int64 // bytes written to each pty; the writer's until done
	halted  bool
	err     error
}

// writerTick is the paced writer's period: at 100 lines/s, one line per pty
// per tick.
const writerTick = 10 * time.Millisecond

// startWriter starts writing lineSize-byte lines to every pty, rate lines a
// second to each, or as fast as they take them, chunk lines a write, when
// rate is 0.
func startWriter(ptys []*serial.PTY, rate float64, lineSize, chunk int) *writer {
	w := &writer{ptys: ptys, done: make(chan error, 1), perPTY: make([]int64, len(ptys))}
	line := bytes.Repeat([]byte{'x'}, lineSize)
	line[lineSize-1] = '\n'
	copy(line, "$SENSOR,")
	buf := bytes.Repeat(line, chunk)
	tid := make(chan int)
	go func() {
		runtime.LockOSThread() // its CPU time is the thread's
		tid <- unix.Gettid()
		if rate > 0 {
			w.done <- w.paced(buf, rate, lineSize)
		} else {
			w.done <- w.full(buf, lineSize)
		}
	}()
	w.tid = <-tid
	return w
}

// write writes to pty i what is owed of the line stream, from buf, which
// holds whole lines: the stream goes on where the last write left it, even
// in the middle of a line. It reports whether the pty took everything.
func (w *writer) write(i int, buf []byte, lineSize int, owed int64) (bool, error) {
	for owed > 0 {
		off := int(w.perPTY[i] % int64(lineSize))
		b := buf[off:]
		if int64(len(b)) > owed {
			b = b[:owed]
		}
		n, err := w.ptys[i].Write(b)
		w.perPTY[i] += int64(n)
		w.written.Add(int64(n))
		owed -= int64(n)
		if errors.Is(err, unix.EAGAIN) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
	}
	return true, nil
}

// paced writes, every tick, the lines due since the start to each pty: a
// tick late or a pty full is made up for at the next tick.
func (w *writer) paced(buf []byte, rate float64, lineSize int) error {
	t := time.NewTicker(writerTick)
	defer t.Stop()
	start := time.Now()
	for !w.stop.Load() {
		<-t.C
		due := int64(time.Since(start).Seconds()*rate) * int64(lineSize)
		for i := range w.ptys {
			if _, err := w.write(i, buf, lineSize, due-w.perPTY[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

// full writes a buffer to each pty as fast as it takes it, and waits in
// poll(2) for room when none does.
func (w *writer) full(buf []byte, lineSize int) error {
	fds := make([]unix.PollFd, 0, len(w.ptys))
	for !w.stop.Load() {
		fds = fds[:0]
		for i, p := range w.ptys {
			ok, err := w.write(i, buf, lineSize, int64(len(buf)))
			if err != nil {
				return err
			}
			if !ok {
				fds = append(fds, unix.PollFd{Fd: int32(p.Fd()), Events: unix.POLLOUT})
			}
		}
		if len(fds) < len(w.ptys) {
			continue
		}
		// A timeout rechecks the stop flag should no room ever come.
		if _, err := unix.Poll(fds, 100); err != nil && err != unix.EINTR {
			return fmt.Errorf("poll: %w", err)
		}
	}
	return nil
}

// halt stops the writer and returns the bytes it wrote to each pty.
func (w *writer) halt() ([]int64, error) {
	if !w.halted {
		w.stop.Store(true)
		w.err = <-w.done
		w.halted = true
	}
	return w.perPTY, w.err
}
