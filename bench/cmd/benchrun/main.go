// Command benchrun runs iogate's benchmarks against their peers and writes
// the results into BENCHMARKS.md.
//
// The TCP echo benchmark starts each echo server (cmd/echoserver) as its own
// process, drives it with the closed-loop epoll client of package echoclient
// from this process's locked main thread, and reads the server's CPU time
// and memory from /proc. The serial benchmark makes pty pairs, writes lines
// into them from this process, and reads them in a serialreader process
// (cmd/serialreader), through iogate's reactor or a goroutine per port.
// Implementations are interleaved, in an order rotated every round, so that
// the drift of a shared machine falls on all of them alike, and the report
// gives the median of the rounds.
//
//	benchrun [-out FILE] [-bench tcp-echo,serial] [-rounds 5] [-duration 5s] [-conns 1000,10000] [-quick]
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/iogate/iogate/bench/echoclient"
	"github.com/iogate/iogate/bench/internal/machine"
	"github.com/iogate/iogate/bench/internal/proc"
	"github.com/iogate/iogate/bench/internal/report"
	"golang.org/x/sys/unix"
)

// The client runs on the main thread, which also starts the servers: their
// Pdeathsig is tied to the thread that started them, and this one lives as
// long as the process.
func init() { runtime.LockOSThread() }

type config struct {
	out        string
	rounds     int
	duration   time.Duration
	warmup     time.Duration
	conns      []int
	impls      []string
	size       int
	server     string
	profileDir string
	settle     time.Duration
	quiet      float64
	disturbed  float64
	retries    int
	quick      bool
	args       []string
	benches    []string

	serialImpls    []string
	serialCases    []string
	serialPTYs     int
	serialRate     float64
	serialLine     int
	serialChunk    int
	serialBuffer   int
	serialDuration time.Duration
	serialDeadline time.Duration
}

// benchmarks are the benchmarks benchrun knows, in the order it runs them.
var benchmarks = []string{tcpEchoSection, serialSection}

// sample is what one run of one server measured.
type sample struct {
	impl      string
	conns     int
	round     int
	rate      float64       // messages per second
	p50, p99  time.Duration // round trip
	cpuPerM   float64       // server CPU seconds per million messages
	sysShare  float64       // the part of the server's CPU spent in the kernel
	rss       int64         // server VmRSS at the end of the loaded run
	baseRSS   int64         // server VmRSS before any connection
	idleConn  float64       // bytes of VmRSS per idle connection
	clientCPU float64       // the client thread's CPU time over wall time
	otherCPU  float64       // CPUs kept busy by neither: other programs, interrupts
	tries     int           // runs made to get this one, the disturbed ones included
}

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchrun:", err)
		os.Exit(2)
	}
	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "benchrun:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (config, error) {
	cfg := config{args: args}
	fs := flag.NewFlagSet("benchrun", flag.ContinueOnError)
	fs.StringVar(&cfg.out, "out", "", "markdown `file` whose sections of the benchmarks run are rewritten; empty prints them")
	benches := fs.String("bench", strings.Join(benchmarks, ","), "comma-separated benchmarks to run: "+strings.Join(benchmarks, ", "))
	fs.IntVar(&cfg.rounds, "rounds", 5, "rounds; each runs every server once per connection count, every serial reader once per case")
	fs.DurationVar(&cfg.duration, "duration", 5*time.Second, "tcp-echo: measured time of one run")
	fs.DurationVar(&cfg.warmup, "warmup", time.Second, "unmeasured load before each run")
	conns := fs.String("conns", "1000,10000", "comma-separated connection counts")
	impls := fs.String("impls", "iogate,gnet,net", "comma-separated server implementations")
	fs.IntVar(&cfg.size, "size", 64, "message size in bytes")
	fs.StringVar(&cfg.server, "server", "", "echoserver `binary`; empty builds ./cmd/echoserver")
	fs.StringVar(&cfg.profileDir, "cpuprofile", "", "`dir` for a CPU profile of every server run")
	fs.DurationVar(&cfg.settle, "settle", 20*time.Second, "before each run, wait up to this long for the machine to be quiet; 0 does not wait")
	fs.Float64Var(&cfg.quiet, "quiet", 0.25, "CPUs of background load below which the machine counts as quiet")
	fs.Float64Var(&cfg.disturbed, "disturbed", 0.5, "CPUs of background load during a run above which it is run again")
	fs.IntVar(&cfg.retries, "retries", 1, "runs made again at most, per server and round, when disturbed")
	fs.BoolVar(&cfg.quick, "quick", false, "smoke run: 1 round of 1 s at 100 and 1000 connections, unless flags say otherwise")
	serialImpls := fs.String("serial-impls", "iogate,goroutine", "serial: comma-separated readers: iogate, goroutine, iogate-nolock (the reactor without LockThread)")
	serialCases := fs.String("serial-cases", "paced,full", "serial: comma-separated cases: paced (-serial-ptys at -serial-rate), full (1 pty at full speed)")
	fs.IntVar(&cfg.serialPTYs, "serial-ptys", 32, "serial: ptys of the paced case")
	fs.Float64Var(&cfg.serialRate, "serial-rate", 100, "serial: lines per second to each pty in the paced case")
	fs.IntVar(&cfg.serialLine, "serial-line", 64, "serial: line size in bytes, the newline included")
	fs.IntVar(&cfg.serialChunk, "serial-chunk", 64, "serial: lines per write at full speed")
	fs.IntVar(&cfg.serialBuffer, "serial-buffer", 0, "serial: the readers' read buffer in bytes; 0 keeps each one's default (iogate 64 KiB, goroutine 4 KiB)")
	fs.DurationVar(&cfg.serialDuration, "serial-duration", 8*time.Second, "serial: measured time of one run")
	fs.DurationVar(&cfg.serialDeadline, "serial-deadline", time.Second, "serial: the read deadline the goroutine reader sets before every read; 0 sets none")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if cfg.quick {
		// Quick changes the defaults only: flags given explicitly stand.
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if !set["rounds"] {
			cfg.rounds = 1
		}
		if !set["duration"] {
			cfg.duration = time.Second
		}
		if !set["warmup"] {
			cfg.warmup = 250 * time.Millisecond
		}
		if !set["conns"] {
			*conns = "100,1000"
		}
		if !set["settle"] {
			cfg.settle = 0
		}
		if !set["retries"] {
			cfg.retries = 0
		}
		if !set["serial-duration"] {
			cfg.serialDuration = time.Second
		}
	}
	for f := range strings.SplitSeq(*benches, ",") {
		f = strings.TrimSpace(f)
		if !slices.Contains(benchmarks, f) {
			return cfg, fmt.Errorf("-bench: no benchmark %q; there are %s", f, strings.Join(benchmarks, ", "))
		}
		cfg.benches = append(cfg.benches, f)
	}
	for f := range strings.SplitSeq(*serialImpls, ",") {
		f = strings.TrimSpace(f)
		if f != "iogate" && f != "goroutine" && f != "iogate-nolock" {
			return cfg, fmt.Errorf("-serial-impls: no reader %q; there are iogate, goroutine, iogate-nolock", f)
		}
		cfg.serialImpls = append(cfg.serialImpls, f)
	}
	for f := range strings.SplitSeq(*serialCases, ",") {
		f = strings.TrimSpace(f)
		if f != "paced" && f != "full" {
			return cfg, fmt.Errorf("-serial-cases: no case %q; there are paced, full", f)
		}
		cfg.serialCases = append(cfg.serialCases, f)
	}
	if cfg.serialPTYs <= 0 || cfg.serialRate <= 0 || cfg.serialLine <= 0 || cfg.serialChunk <= 0 || cfg.serialDuration <= 0 || cfg.serialDeadline < 0 || cfg.serialBuffer < 0 {
		return cfg, errors.New("-serial-ptys, -serial-rate, -serial-line, -serial-chunk and -serial-duration must be positive, -serial-deadline and -serial-buffer not negative")
	}
	for f := range strings.SplitSeq(*conns, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return cfg, fmt.Errorf("-conns: %q is not a positive count", f)
		}
		cfg.conns = append(cfg.conns, n)
	}
	for f := range strings.SplitSeq(*impls, ",") {
		cfg.impls = append(cfg.impls, strings.TrimSpace(f))
	}
	if cfg.rounds <= 0 || cfg.duration <= 0 || cfg.warmup < 0 || cfg.size <= 0 || cfg.retries < 0 || cfg.settle < 0 {
		return cfg, errors.New("-rounds, -duration and -size must be positive, -warmup, -retries and -settle not negative")
	}
	return cfg, nil
}

func run(cfg config) error {
	if err := raiseFileLimit(); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "benchrun")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if cfg.profileDir != "" {
		if err := os.MkdirAll(cfg.profileDir, 0o755); err != nil {
			return err
		}
	}
	// Each section is written as soon as its benchmark is done: a later
	// one that fails does not lose it.
	for _, name := range cfg.benches {
		var section string
		switch name {
		case tcpEchoSection:
			section, err = runTCPEcho(cfg, dir)
		case serialSection:
			section, err = runSerial(cfg, dir)
		}
		if err != nil {
			return err
		}
		if cfg.out == "" {
			fmt.Print(section)
			continue
		}
		if err := report.WriteSection(cfg.out, name, section); err != nil {
			return err
		}
	}
	return nil
}

// runTCPEcho runs every echo server at every connection count, round after
// round, and returns the section of BENCHMARKS.md.
func runTCPEcho(cfg config, dir string) (string, error) {
	bin := cfg.server
	if bin == "" {
		bin = filepath.Join(dir, "echoserver")
		build := exec.Command("go", "build", "-o", bin, "github.com/iogate/iogate/bench/cmd/echoserver")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return "", fmt.Errorf("build echoserver (run benchrun inside the bench module): %w", err)
		}
	}
	m := describe(bin)
	var samples []sample
	for round := range cfg.rounds {
		for ci, n := range cfg.conns {
			// Rotate the order every round and connection count, so that
			// every server runs first, middle and last as often.
			k := (round + ci) % len(cfg.impls)
			order := append(append([]string(nil), cfg.impls[k:]...), cfg.impls[:k]...)
			for _, impl := range order {
				s, err := measureQuiet(cfg, bin, impl, n, round)
				if err != nil {
					return "", fmt.Errorf("round %d, %s, %d connections: %w", round+1, impl, n, err)
				}
				fmt.Fprintln(os.Stderr, s)
				samples = append(samples, s)
			}
		}
	}
	return renderTCPEcho(cfg, m, samples), nil
}

// measureQuiet measures one server once the machine is quiet, and again
// while disturbed (machine.LeastDisturbed).
func measureQuiet(cfg config, bin, impl string, n, round int) (sample, error) {
	s, runs, err := machine.LeastDisturbed(cfg.policy(), func(int) (sample, error) { return measure(cfg, bin, impl, n, round) },
		func(s sample) float64 { return s.otherCPU }, os.Stderr)
	s.tries = runs
	return s, err
}

// policy is how the runs cope with a shared machine.
func (cfg config) policy() machine.Policy {
	return machine.Policy{Settle: cfg.settle, Quiet: cfg.quiet, Disturbed: cfg.disturbed, Retries: cfg.retries}
}

// measure starts a fresh server, connects n idle clients to it, measures
// its memory, then loads it in a closed loop and measures the rest.
func measure(cfg config, bin, impl string, n, round int) (sample, error) {
	s := sample{impl: impl, conns: n, round: round}
	profile := ""
	if cfg.profileDir != "" {
		profile = filepath.Join(cfg.profileDir, fmt.Sprintf("%s-%d-r%d.prof", impl, n, round+1))
	}
	srv, err := startServer(bin, impl, profile)
	if err != nil {
		return s, err
	}
	defer srv.stop()
	pid := srv.pid()
	if s.baseRSS, err = proc.RSS(pid); err != nil {
		return s, err
	}
	c, err := echoclient.Dial(srv.addr, n, cfg.size)
	if err != nil {
		return s, err
	}
	defer c.Close()
	idle, err := proc.RSS(pid)
	if err != nil {
		return s, err
	}
	s.idleConn = float64(idle-s.baseRSS) / float64(n)
	if cfg.warmup > 0 {
		if _, err := c.Run(cfg.warmup); err != nil {
			return s, err
		}
	}
	cpu0, err := proc.CPU(pid)
	if err != nil {
		return s, err
	}
	busy0, err := proc.Busy()
	if err != nil {
		return s, err
	}
	res, err := c.Run(cfg.duration)
	if err != nil {
		return s, err
	}
	cpu1, err := proc.CPU(pid)
	if err != nil {
		return s, err
	}
	busy1, err := proc.Busy()
	if err != nil {
		return s, err
	}
	if s.rss, err = proc.RSS(pid); err != nil {
		return s, err
	}
	cpu := cpu1.Sub(cpu0)
	s.rate = res.Rate()
	s.p50, s.p99 = res.P50, res.P99
	if res.Messages > 0 {
		s.cpuPerM = cpu.Total().Seconds() / (float64(res.Messages) / 1e6)
	}
	if cpu.Total() > 0 {
		s.sysShare = float64(cpu.System) / float64(cpu.Total())
	}
	s.clientCPU = float64(res.ClientCPU) / float64(res.Elapsed)
	s.otherCPU = max(float64(busy1-busy0-cpu.Total()-res.ClientCPU)/float64(res.Elapsed), 0)
	return s, nil
}

// String is the sample on one line, as the progress and the report's
// record of every run show it.
func (s sample) String() string {
	return fmt.Sprintf("round %d %6d conns %-6s %7.0f msg/s  p50 %-7s p99 %-7s  %.2f CPU s/M  sys %2.0f%%  rss %4.1f MiB  idle %4.0f B/conn  client %3.0f%%  other %3.0f%%  tries %d",
		s.round+1, s.conns, s.impl, s.rate, rtt(s.p50), rtt(s.p99), s.cpuPerM, 100*s.sysShare, mib(s.rss), s.idleConn, 100*s.clientCPU, 100*s.otherCPU, s.tries)
}

// raiseFileLimit lifts the soft descriptor limit to the hard one: the client
// holds one descriptor per connection.
func raiseFileLimit() error {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("getrlimit: %w", err)
	}
	lim.Cur = lim.Max
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("setrlimit: %w", err)
	}
	return nil
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }
