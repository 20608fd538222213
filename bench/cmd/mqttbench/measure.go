package main

import (
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/iogate/iogate/resources/serial"

	"github.com/iogate/iogate/bench/internal/proc"
)

// sample is what one run of one bridge measured.
type sample struct {
	kase    string
	impl    string
	round   int
	tries   int
	devices int

	elapsed   time.Duration // the measured window
	frames    int64         // received by the subscriber in the window
	wrote     int64         // lines written in the window
	written   int64         // lines written in the whole run
	backlog   int64         // lines written and not yet received at the end of the window
	drainTime time.Duration // from the writer's stop until the last frame arrived
	missing   int64         // lines written and never received
	dups      int64
	reordered int64

	bridge proc.Usage    // the bridge's processes over the window; rss at its end
	mosq   time.Duration // mosquitto's utime+stime over the window
	driver time.Duration // this process's: the writer and the subscriber
	other  float64       // CPUs busy with neither the bridge, the broker nor this driver

	latencies []int64 // paced: ns, sorted, of the lines sent in the window
}

func (s sample) rate() float64 { return float64(s.frames) / s.elapsed.Seconds() }

// perK is a CPU time in ms per 1000 frames received in the window.
func (s sample) perK(d time.Duration) float64 {
	if s.frames == 0 {
		return 0
	}
	return float64(d) / 1e6 / (float64(s.frames) / 1000)
}

func (s sample) cpuPerK() float64   { return s.perK(s.bridge.CPU) }
func (s sample) schedPerK() float64 { return s.perK(s.bridge.Sched) }
func (s sample) mosqPerK() float64  { return s.perK(s.mosq) }
func (s sample) cpuShare() float64  { return s.bridge.CPU.Seconds() / s.elapsed.Seconds() }

func (s sample) perFrame(n int64) float64 {
	if s.frames == 0 {
		return 0
	}
	return float64(n) / float64(s.frames)
}

// quantile of the latencies, q in [0, 1].
func (s sample) quantile(q float64) time.Duration {
	if len(s.latencies) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(s.latencies)))) - 1
	return time.Duration(s.latencies[max(i, 0)])
}

// String is the sample on one line, as the progress and the report's record
// of every run show it.
func (s sample) String() string {
	lat := ""
	if s.kase == casePaced {
		lat = fmt.Sprintf("  p50 %-7s p99 %-7s max %-7s", ms(s.quantile(.5)), ms(s.quantile(.99)), ms(s.quantile(1)))
	}
	return fmt.Sprintf("round %d %-5s %-8s %8.0f frames/s (wrote %8.0f/s)%s  cpu %4.0f%% %6.2f ms/1k (schedstat %6.2f)  syscalls %5.2f/frame  switches %5.2f/frame  rss %6.1f MiB  mosquitto %5.2f ms/1k (%3.0f%%)  driver %3.0f%%  backlog %7d  drained in %-6s missing %d dups %d reordered %d  other %3.0f%%  tries %d",
		s.round+1, s.kase, s.impl, s.rate(), float64(s.wrote)/s.elapsed.Seconds(), lat,
		100*s.cpuShare(), s.cpuPerK(), s.schedPerK(), s.perFrame(s.bridge.Syscalls), s.perFrame(s.bridge.Switches),
		mib(s.bridge.RSS), s.mosqPerK(), 100*s.mosq.Seconds()/s.elapsed.Seconds(), 100*s.driver.Seconds()/s.elapsed.Seconds(), s.backlog, s.drainTime.Round(time.Millisecond), s.missing, s.dups, s.reordered, 100*s.other, s.tries)
}

// measure runs one bridge on fresh ptys for one case: it starts the bridge,
// writes for the warm-up and the measured window, reads /proc at both ends
// of the window, stops the writer, and waits until every line written has
// arrived or the arrivals stall for cfg.drain. With perfData set, perf
// record samples the bridge's processes during the window.
func measure(cfg config, t tools, sub *subscriber, kase, impl string, round, try int, perfData string) (sample, error) {
	s := sample{kase: kase, impl: impl, round: round, devices: 1}
	rate := 0.0
	if kase == casePaced {
		s.devices, rate = cfg.devices, cfg.rate
	}
	var ptys []*serial.PTY
	var paths []string
	defer func() {
		for _, p := range ptys {
			p.Close()
		}
	}()
	for range s.devices {
		p, err := serial.OpenPTY()
		if err != nil {
			return s, err
		}
		ptys = append(ptys, p)
		paths = append(paths, p.SlavePath())
	}
	capacity := int(rate*(cfg.Warmup+cfg.Duration).Seconds()) + int(5*rate)
	w := newWriter(ptys, cfg.line, rate, capacity)
	prefix := fmt.Sprintf("bench/r%d-%s-%s-%d", round+1, kase, impl, try+1)
	if perfData != "" {
		prefix += "-perf"
	}
	rx := sub.begin(prefix, s.devices, w.sent)
	defer sub.end()
	b, err := startBridge(t, impl, prefix, paths, rx)
	if err != nil {
		return s, err
	}
	stopped := false
	defer func() {
		if !stopped {
			b.stop()
		}
	}()
	w.start(rate)
	halted := false
	defer func() {
		if !halted {
			w.halt()
		}
	}()
	time.Sleep(cfg.Warmup) // the warm-up is a length of time, not a wait for an event

	a, err := snapshot(b, t, sub, w)
	if err != nil {
		return s, err
	}
	sub.window(a.at)
	var perf *proc.Process
	if perfData != "" {
		pids := strings.Trim(strings.Join(strings.Fields(fmt.Sprint(b.pids())), ","), "[]")
		if perf, err = proc.Start("perf", exec.Command("perf", "record", "-g", "-o", perfData, "-p", pids), nil); err != nil {
			return s, err
		}
	}
	time.Sleep(cfg.Duration) // the measured window
	z, err := snapshot(b, t, sub, w)
	if err != nil {
		return s, err
	}
	if perf != nil {
		perf.Signal(syscall.SIGINT)
		select {
		case <-perf.Exited():
		case <-time.After(30 * time.Second):
			perf.Stop(time.Second)
		}
		// perf record ends on SIGINT by the signal, its profile written.
		if !strings.Contains(perf.Output(), "Captured and wrote") {
			return s, perf.Failed("failed")
		}
	}

	written, err := w.halt()
	halted = true
	if err != nil {
		return s, err
	}
	stoppedAt := time.Now()
	unique, err := drain(sub, rx, written, cfg.drain)
	if err != nil {
		return s, err
	}
	s.drainTime = time.Since(stoppedAt)
	if err := b.check(); err != nil {
		return s, err
	}
	stopped = true
	if err := b.stop(); err != nil {
		return s, err
	}

	s.elapsed = time.Duration(z.at - a.at)
	s.frames = z.received - a.received
	s.wrote = z.written - a.written
	s.backlog = z.written - z.received
	for i := range written {
		s.written += written[i]
		s.missing += max(written[i]-unique[i], 0)
	}
	s.bridge = z.bridge.Sub(a.bridge)
	s.mosq = z.mosq - a.mosq
	s.driver = z.self - a.self
	s.other = max(float64(z.busy-a.busy-s.bridge.CPU-s.mosq-s.driver)/float64(s.elapsed), 0)
	var lat [][2]int64
	s.dups, s.reordered, lat = sub.result()
	for _, l := range lat {
		if l[0] < z.at {
			s.latencies = append(s.latencies, l[1])
		}
	}
	slices.Sort(s.latencies)
	if kase == casePaced && len(s.latencies) == 0 {
		return s, errors.New("no latency measured: no line sent in the window arrived")
	}
	return s, nil
}

// point is the state of a run at one end of the measured window.
type point struct {
	at       int64 // clock()
	bridge   proc.Usage
	mosq     time.Duration
	self     time.Duration
	busy     time.Duration
	received int64
	written  int64
}

func snapshot(b *bridgeRun, t tools, sub *subscriber, w *writer) (point, error) {
	var p point
	if err := b.check(); err != nil {
		return p, err
	}
	p.at = clock()
	received, _, err := sub.counts()
	if err != nil {
		return p, err
	}
	p.received = received
	for i := range w.written {
		p.written += w.written[i].Load()
	}
	if p.bridge, err = proc.ReadUsage(b.pids()...); err != nil {
		return p, err
	}
	mosq, err := proc.CPU(t.broker.Pid())
	if err != nil {
		return p, err
	}
	p.mosq = mosq.Total()
	self, err := proc.CPU(os.Getpid())
	if err != nil {
		return p, err
	}
	p.self = self.Total()
	if p.busy, err = proc.Busy(); err != nil {
		return p, err
	}
	return p, nil
}

// drain waits until every line written has arrived, or until no frame has
// arrived for limit, and returns the distinct frames received per device.
func drain(sub *subscriber, rx *reception, written []int64, limit time.Duration) ([]int64, error) {
	for {
		_, unique, err := sub.counts()
		if err != nil {
			return nil, err
		}
		complete := true
		for i := range written {
			complete = complete && unique[i] >= written[i]
		}
		if complete {
			return unique, nil
		}
		select {
		case <-rx.changed:
		case <-time.After(limit):
			return unique, nil
		}
	}
}

func ms(d time.Duration) string {
	switch {
	case d >= 100*time.Millisecond:
		return strconv.FormatFloat(float64(d)/1e6, 'f', 0, 64) + " ms"
	case d >= 10*time.Millisecond:
		return strconv.FormatFloat(float64(d)/1e6, 'f', 1, 64) + " ms"
	}
	return strconv.FormatFloat(float64(d)/1e6, 'f', 2, 64) + " ms"
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }
