// Command soak is the gateway's reliability soak: many devices at a steady
// rate for a long time, with the link to the broker cut at intervals, and
// writes the soak section of BENCHMARKS.md.
//
// The driver makes the ptys and writes "dN SEQ ..." lines into them, runs
// the real iogate binary (QoS 1, its on-disk spool in a temporary
// state_dir) against mosquitto through a TCP proxy of its own, and every
// -cut-every closes every proxied connection and refuses new ones for
// -cut-for. Its subscriber connects to mosquitto directly, so it sees
// everything the broker got, and counts per device the frames lost (every
// sequence number from 1 must arrive), duplicated and reordered. It samples
// iogate's VmRSS and utime+stime every 10 s and the spool's size on disk
// every second. After the writer stops it waits, boundedly, for every frame.
//
//	soak [-out FILE] [-devices 32] [-rate 100] [-duration 10m] [-cut-every 1m] [-cut-for 5s]
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/iogate/iogate/bench/internal/build"
	"github.com/iogate/iogate/bench/internal/machine"
	"github.com/iogate/iogate/bench/internal/proc"
	"github.com/iogate/iogate/bench/internal/report"

	"github.com/iogate/iogate/resources/serial"
)

// Programs are started from the main thread: their Pdeathsig is tied to
// the thread that started them.
func init() { runtime.LockOSThread() }

const section = "soak"

type config struct {
	out      string
	devices  int
	rate     float64
	duration time.Duration
	cutEvery time.Duration
	cutFor   time.Duration
	line     int
	drain    time.Duration
	args     []string
}

func main() {
	cfg := config{args: os.Args[1:]}
	fs := flag.NewFlagSet("soak", flag.ExitOnError)
	fs.StringVar(&cfg.out, "out", "", "markdown `file` whose "+section+" section is rewritten; empty prints it")
	fs.IntVar(&cfg.devices, "devices", 32, "devices (ptys)")
	fs.Float64Var(&cfg.rate, "rate", 100, "lines per second to each device")
	fs.DurationVar(&cfg.duration, "duration", 10*time.Minute, "how long the devices are written")
	fs.DurationVar(&cfg.cutEvery, "cut-every", time.Minute, "period of the broker link cuts, the first at half a period; 0 never cuts")
	fs.DurationVar(&cfg.cutFor, "cut-for", 5*time.Second, "how long each cut lasts")
	fs.IntVar(&cfg.line, "line", 64, "line size in bytes, the newline included")
	fs.DurationVar(&cfg.drain, "drain", 2*time.Minute, "after the writer stops, how long the frames may take to arrive without any progress before those missing are counted lost")
	fs.Parse(cfg.args)
	if fs.NArg() > 0 || cfg.devices < 1 || cfg.rate <= 0 || cfg.duration <= 0 || cfg.line < 24 || (cfg.cutEvery > 0 && cfg.cutFor >= cfg.cutEvery) {
		fmt.Fprintln(os.Stderr, "soak: bad arguments: devices ≥ 1, rate > 0, duration > 0, line ≥ 24, cut-for < cut-every")
		os.Exit(2)
	}
	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}

// rssSample is iogate's VmRSS at a time since the writer started.
type rssSample struct {
	at  time.Duration
	rss int64
}

type result struct {
	written, received, lost, dups, lateDups, reordered int64
	bad                                                int64
	badText                                            string
	rss                                                []rssSample
	cpu                                                time.Duration
	spoolMax                                           int64
	cuts, conns                                        int
	stallMax                                           time.Duration
	pauses                                             int
	drained                                            time.Duration
	started                                            time.Time
}

func run(cfg config) error {
	dir, err := os.MkdirTemp("", "soak")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	mosq, err := proc.Find("mosquitto", "mosquitto", "/usr/sbin/mosquitto")
	if err != nil {
		return err
	}
	bin, _, err := build.Iogate(dir, "")
	if err != nil {
		return err
	}
	m := describe(mosq)

	broker, addr, err := startBroker(dir, mosq)
	if err != nil {
		return err
	}
	defer broker.Stop(5 * time.Second)
	px, err := startProxy(addr)
	if err != nil {
		return err
	}
	defer px.close()
	const prefix = "soak"
	sub, err := dialSubscriber(addr, prefix, cfg.devices)
	if err != nil {
		return err
	}
	defer sub.close()

	ptys := make([]*serial.PTY, cfg.devices)
	paths := make([]string, cfg.devices)
	for i := range ptys {
		if ptys[i], err = serial.OpenPTY(); err != nil {
			return err
		}
		defer ptys[i].Close()
		paths[i] = ptys[i].SlavePath()
	}
	state := filepath.Join(dir, "state")
	conf := filepath.Join(dir, "iogate.toml")
	if err := os.WriteFile(conf, []byte(iogateConf(state, px.addr, prefix, paths)), 0o644); err != nil {
		return err
	}
	var pauses atomic.Int64
	gw, err := proc.Start("iogate", exec.Command(bin, "run", "-c", conf), func(line string) {
		if strings.Contains(line, "devices paused") {
			pauses.Add(1)
		}
	})
	if err != nil {
		return err
	}
	defer gw.Stop(10 * time.Second)
	select {
	case <-sub.ready:
	case <-gw.Exited():
		return gw.Failed("did not start")
	case <-time.After(15 * time.Second):
		return gw.Failed("did not publish its devices online within 15s")
	}

	r, err := soak(cfg, gw, px, sub, ptys, filepath.Join(state, "spool"))
	if err != nil {
		return err
	}
	r.pauses = int(pauses.Load())
	text := render(cfg, m, r)
	if cfg.out == "" {
		fmt.Print(text)
	} else if err := report.WriteSection(cfg.out, section, text); err != nil {
		return err
	}
	if r.lost > 0 || r.bad > 0 {
		return fmt.Errorf("%d frames lost, %d malformed (first: %s)", r.lost, r.bad, r.badText)
	}
	return nil
}

// soak writes for the duration, cutting the link on schedule and sampling
// iogate, then waits for every frame.
func soak(cfg config, gw *proc.Process, px *proxy, sub *subscriber, ptys []*serial.PTY, spool string) (result, error) {
	r := result{started: time.Now().UTC()}
	pid := gw.Pid()
	cpu0, err := proc.CPU(pid)
	if err != nil {
		return r, err
	}
	sample := func(at time.Duration) error {
		rss, err := proc.RSS(pid)
		if err == nil {
			r.rss = append(r.rss, rssSample{at, rss})
		}
		return err
	}
	if err := sample(0); err != nil {
		return r, err
	}
	w := startWriter(ptys, cfg.line, cfg.rate)
	start := time.Now()
	nextCut := cfg.cutEvery / 2
	var cutUntil time.Duration          // > 0 while cut
	tick := time.NewTicker(time.Second) // sampling and cut schedule
	defer tick.Stop()
	for writing := true; writing; {
		select {
		case err := <-w.done:
			return r, fmt.Errorf("writer: %w", err)
		case <-gw.Exited():
			w.halt()
			return r, gw.Failed("ended during the soak")
		case <-tick.C:
		}
		el := time.Since(start)
		r.spoolMax = max(r.spoolMax, diskUsage(spool))
		if cutUntil > 0 && el >= cutUntil {
			if err := px.resume(); err != nil {
				w.halt()
				return r, err
			}
			cutUntil = 0
		}
		if cfg.cutEvery > 0 && cutUntil == 0 && el >= nextCut && el+cfg.cutFor < cfg.duration {
			px.cut()
			r.cuts++
			cutUntil = el + cfg.cutFor
			nextCut += cfg.cutEvery
		}
		if el.Round(time.Second)%(10*time.Second) == 0 {
			if err := sample(el); err != nil {
				w.halt()
				return r, err
			}
		}
		if el.Round(time.Second)%time.Minute == 0 {
			rec, dups, _, _, _, _ := sub.totals()
			fmt.Fprintf(os.Stderr, "soak: %v: %d written, %d received (%d dup), spool %.1f MiB, RSS %.1f MiB, %d cuts\n",
				el.Round(time.Second), w.total(), rec, dups, mib(r.spoolMax), mib(r.rss[len(r.rss)-1].rss), r.cuts)
		}
		writing = el < cfg.duration
	}
	written, err := w.halt()
	if err != nil {
		return r, fmt.Errorf("writer: %w", err)
	}
	if cutUntil > 0 {
		if err := px.resume(); err != nil {
			return r, err
		}
	}
	stopped := time.Now()
	// Every frame arrives, or nothing arrives for cfg.drain.
	var miss []int64
	last, progress := int64(-1), time.Now()
	drain := time.NewTicker(200 * time.Millisecond)
	defer drain.Stop()
	for {
		miss = sub.missing(written)
		rec, _, _, _, _, _ := sub.totals()
		if rec != last {
			last, progress = rec, time.Now()
		}
		if sum(miss) == 0 || time.Since(progress) > cfg.drain {
			break
		}
		select {
		case <-gw.Exited():
			return r, gw.Failed("ended while the frames drained")
		case <-drain.C:
		}
		r.spoolMax = max(r.spoolMax, diskUsage(spool))
	}
	r.drained = time.Since(stopped)
	cpu1, err := proc.CPU(pid)
	if err != nil {
		return r, err
	}
	if err := sample(time.Since(start)); err != nil {
		return r, err
	}
	r.cpu = cpu1.Sub(cpu0).Total()
	r.written = sum(written)
	r.lost = sum(miss)
	r.received, r.dups, r.lateDups, r.reordered, r.bad, r.badText = sub.totals()
	r.conns = px.connections()
	r.stallMax = time.Duration(w.stallMax.Load())
	return r, nil
}

func sum(v []int64) int64 {
	var t int64
	for _, x := range v {
		t += x
	}
	return t
}

// iogateConf is what a user writes: the broker (here the proxy), QoS 1,
// a state_dir for the spool, one line-framed text device per pty.
func iogateConf(state, brokerAddr, prefix string, paths []string) string {
	var c strings.Builder
	fmt.Fprintf(&c, "[gateway]\nid = \"soak\"\nstate_dir = %q\n\n", state)
	fmt.Fprintf(&c, "[mqtt]\nbroker = \"tcp://%s\"\nqos = 1\ntopic_prefix = %q\n", brokerAddr, prefix)
	for i, p := range paths {
		fmt.Fprintf(&c, "\n[[device]]\nname = \"d%d\"\npath = %q\nbaud = 115200\nframing = \"line\"\nencoding = \"text\"\n", i, p)
	}
	return c.String()
}

// mosquittoConf: anonymous clients on loopback, nothing on disk, no cap on
// what is queued for the subscriber, so that a lost frame is the gateway's
// doing and not the broker's.
const mosquittoConf = "listener %d 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 0\n"

// startBroker starts mosquitto on a free loopback port and returns once it
// takes connections.
func startBroker(dir, bin string) (*proc.Process, string, error) {
	var last error
	for range 3 { // the free port may be taken before mosquitto binds it
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, "", err
		}
		addr := ln.Addr().String()
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		conf := filepath.Join(dir, "mosquitto.conf")
		if err := os.WriteFile(conf, fmt.Appendf(nil, mosquittoConf, port), 0o644); err != nil {
			return nil, "", err
		}
		p, err := proc.Start("mosquitto", exec.Command(bin, "-c", conf), nil)
		if err != nil {
			return nil, "", err
		}
		for range 100 {
			if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
				c.Close()
				return p, addr, nil
			}
			select {
			case <-p.Exited():
			case <-time.After(100 * time.Millisecond): // retry pacing
				continue
			}
			break
		}
		last = p.Failed("did not take connections")
		p.Stop(time.Second)
	}
	return nil, "", last
}

// env is where and with what the soak ran.
type env struct {
	machine.Machine
	commit, mosquitto string
}

func describe(mosq string) env {
	m := env{Machine: machine.Describe(), commit: build.Describe("", ""), mosquitto: "unknown"}
	// "mosquitto version 2.0.11" (and the usage, with exit status 3)
	if out, _ := exec.Command(mosq, "-h").Output(); len(out) > 0 {
		if _, v, ok := strings.Cut(string(out), "mosquitto version "); ok {
			m.mosquitto = strings.TrimSpace(strings.SplitN(v, "\n", 2)[0])
		}
	}
	return m
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// medianRSS is the median of the samples taken in [from, to].
func medianRSS(s []rssSample, from, to time.Duration) int64 {
	var v []int64
	for _, x := range s {
		if x.at >= from && x.at <= to {
			v = append(v, x.rss)
		}
	}
	if len(v) == 0 {
		return 0
	}
	slices.Sort(v)
	return v[len(v)/2]
}

func render(cfg config, m env, r result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "<!-- bench:%s -->\n## Soak: %d devices × %g lines/s for %v, broker link cut for %v every %v\n\n",
		section, cfg.devices, cfg.rate, cfg.duration, cfg.cutFor, cfg.cutEvery)
	fmt.Fprintf(&b, "Machine: %d CPUs, %s, %s; %s; mosquitto %s; iogate %s. Run %s.\n\n",
		m.CPUs, m.Model, m.Kernel, m.Go, m.mosquitto, m.commit, r.started.Format("2006-01-02 15:04 UTC"))
	cmd := "cd bench && go run ./cmd/soak"
	if len(cfg.args) > 0 {
		cmd += " " + strings.Join(cfg.args, " ")
	}
	fmt.Fprintf(&b, "Command: `%s`\n\n", cmd)
	b.WriteString("The real iogate binary (QoS 1, on-disk spool in a temporary state_dir) reads " +
		fmt.Sprintf("%d-byte lines `dN SEQ ...` from ptys and publishes to mosquitto through a TCP proxy in the driver, ", cfg.line) +
		"which closes every proxied connection and closes its listener for the cut, then listens again on the same port. " +
		"The driver's subscriber is connected to mosquitto directly, never cut, at QoS 1. Lost: sequence numbers 1..N " +
		"written to a device that never arrived, after the writer stopped and the backlog drained. Reordered: frames " +
		"that arrived for the first time after a higher sequence number of their device. Device stall: the longest time " +
		"a pty with lines due took no byte because its buffer was full, that is after the gateway had read nothing from it " +
		"for as long as the pty's buffer holds (a real serial port without flow control overruns there and loses lines; " +
		"the pty only holds the writer back). " +
		"RSS is iogate's VmRSS sampled every 10 s (medians of the first and last minute of writing); CPU is its " +
		"utime+stime from the first line written until the last frame arrived; the spool is `du` of state_dir/spool, sampled every second.\n\n")
	b.WriteString("| frames written | lost | duplicates | reordered | device stall | RSS first minute | RSS last minute | RSS max | CPU ms / 1000 frames | spool max on disk |\n")
	b.WriteString("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	var maxRSS int64
	for _, s := range r.rss {
		maxRSS = max(maxRSS, s.rss)
	}
	perK := 0.0
	if r.written > 0 {
		perK = float64(r.cpu.Milliseconds()) / float64(r.written) * 1000
	}
	fmt.Fprintf(&b, "| %d | %d | %d | %d | %.1f s | %.1f MiB | %.1f MiB | %.1f MiB | %.2f | %.2f MiB |\n\n",
		r.written, r.lost, r.dups, r.reordered, r.stallMax.Seconds(),
		mib(medianRSS(r.rss, 0, time.Minute)), mib(medianRSS(r.rss, max(cfg.duration-time.Minute, 0), cfg.duration)),
		mib(maxRSS), perK, mib(r.spoolMax))
	fmt.Fprintf(&b, "%d cuts; the proxy relayed %d gateway connections; %d frames received in all; "+
		"%d of the duplicates came after a higher sequence number (sent again after a reconnect); "+
		"the last frame arrived %.1f s after the writer stopped; iogate's CPU time %.1f s in all; "+
		"RSS %.1f MiB before the first line; iogate logged \"devices paused\" (at most once per 10 s) %d times.\n\n",
		r.cuts, r.conns, r.received, r.lateDups, r.drained.Seconds(), r.cpu.Seconds(), mib(r.rss[0].rss), r.pauses)
	b.WriteString("RSS by minute (median of the samples in each minute, MiB):")
	for from := time.Duration(0); from < cfg.duration; from += time.Minute {
		fmt.Fprintf(&b, " %.1f", mib(medianRSS(r.rss, from, from+time.Minute-time.Nanosecond)))
	}
	b.WriteString("\n<!-- /bench:" + section + " -->\n")
	return b.String()
}
