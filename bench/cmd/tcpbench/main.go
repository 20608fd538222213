// Command tcpbench measures raw TCP access to serial devices, iogate
// against ser2net, and writes the serial-tcp section of BENCHMARKS.md.
//
// Both servers run as a user runs them: iogate (the real binary, iogate
// run, with a generated config: broker = "none", one [[device]] per pty
// with tcp_listen, publish = false, writable = true) and ser2net 4 (one
// connection per pty, raw TCP, its own YAML config). This process makes the
// ptys, connects one TCP client per device, and both writes and reads
// 64-byte lines that carry a sequence number and the time of their write:
// into the pty's device side and out of the client (rx), into the client
// and out of the device side (tx). Three cases: one device written as fast
// as it takes lines each way (frames per second), and 8 devices at 100
// lines a second each way (latency both ways, CPU time per frame, memory).
// Servers run in turn, in an order rotated every round; the report gives
// medians and ranges over the rounds.
//
//	tcpbench [-out FILE] [-rounds 5] [-duration 5s] [-quick] [-perf DIR]
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/iogate/iogate/bench/internal/build"
	"github.com/iogate/iogate/bench/internal/machine"
	"github.com/iogate/iogate/bench/internal/proc"
	"github.com/iogate/iogate/bench/internal/report"
	"github.com/iogate/iogate/bench/internal/runs"
)

// The servers are started from the main goroutine, locked to the main
// thread: their Pdeathsig is tied to the thread that started them, and this
// one lives as long as the process.
func init() { runtime.LockOSThread() }

// section names the part of BENCHMARKS.md this benchmark owns.
const section = "serial-tcp"

type config struct {
	runs.Flags
	out     string
	impls   []string
	cases   []string
	devices int
	rate    float64
	line    int
	chunk   int
	drain   time.Duration
	perfDir string
	args    []string
}

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "tcpbench:", err)
		os.Exit(2)
	}
	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "tcpbench:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (config, error) {
	cfg := config{args: args}
	fs := flag.NewFlagSet("tcpbench", flag.ContinueOnError)
	cfg.Register(fs, "server")
	fs.StringVar(&cfg.out, "out", "", "markdown `file` whose "+section+" section is rewritten; empty prints it")
	impls := fs.String("impls", implIogate+","+implSer2net, "comma-separated servers: "+strings.Join(allImpls, ", "))
	cases := fs.String("cases", strings.Join(allCases, ","), "comma-separated cases: full-rx (1 device → its client at full speed), full-tx (1 client → its device at full speed), paced (-devices at -rate each way)")
	fs.IntVar(&cfg.devices, "devices", 8, "paced: devices")
	fs.Float64Var(&cfg.rate, "rate", 100, "paced: lines per second to each device and from each client")
	fs.IntVar(&cfg.line, "line", 64, "line size in bytes, the newline included")
	fs.IntVar(&cfg.chunk, "chunk", 64, "full speed: lines per write")
	fs.DurationVar(&cfg.drain, "drain", 10*time.Second, "after the writer stops, how long the lines may take to arrive without any progress before the run fails")
	fs.StringVar(&cfg.perfDir, "perf", "", "after the rounds, run every server once more per case under perf stat (system calls by name, context switches) and perf record -g, and leave the counts, profiles and perf report's summaries in `dir`")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if err := cfg.Finish(fs); err != nil {
		return cfg, err
	}
	var err error
	if cfg.impls, err = runs.Choose("impls", *impls, allImpls, "server"); err != nil {
		return cfg, err
	}
	if cfg.cases, err = runs.Choose("cases", *cases, allCases, "case"); err != nil {
		return cfg, err
	}
	switch {
	case cfg.drain <= 0:
		return cfg, errors.New("-drain must be positive")
	case cfg.devices <= 0 || cfg.rate <= 0 || cfg.chunk <= 0:
		return cfg, errors.New("-devices, -rate and -chunk must be positive")
	case cfg.line < minLine:
		return cfg, fmt.Errorf("-line %d: want at least %d", cfg.line, minLine)
	}
	return cfg, nil
}

func run(cfg config) error {
	dir, err := os.MkdirTemp("", "tcpbench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	t := tools{dir: dir}
	if slices.Contains(cfg.impls, implSer2net) || slices.Contains(cfg.impls, implSer2netDefault) {
		if t.ser2net, err = proc.Find("ser2net", "ser2net", "/usr/sbin/ser2net"); err != nil {
			return err
		}
	}
	commit := ""
	if cfg.Iogate != "" {
		t.iogate = cfg.Iogate
	} else if t.iogate, commit, err = build.Iogate(dir, cfg.Rev); err != nil {
		return err
	}
	m := describe(t, cfg.Iogate, commit)
	policy := machine.Policy{Settle: cfg.Settle, Quiet: cfg.Quiet, Disturbed: cfg.Disturbed, Retries: cfg.Retries}

	var samples []sample
	for round := range cfg.Rounds {
		for ci, c := range cfg.cases {
			// Rotate the order every round and case, so that every server
			// runs first and last as often.
			k := (round + ci) % len(cfg.impls)
			order := append(append([]string(nil), cfg.impls[k:]...), cfg.impls[:k]...)
			for _, impl := range order {
				s, runs, err := machine.LeastDisturbed(policy, func(int) (sample, error) { return measure(cfg, t, c, impl, round, "") },
					func(s sample) float64 { return s.other }, os.Stderr)
				if err != nil {
					return fmt.Errorf("round %d, %s, %s: %w", round+1, c, impl, err)
				}
				s.tries = runs
				fmt.Fprintln(os.Stderr, s)
				samples = append(samples, s)
			}
		}
	}
	var profiled []sample
	if cfg.perfDir != "" {
		if profiled, err = profile(cfg, t); err != nil {
			return err
		}
	}
	text := render(cfg, m, samples, profiled)
	if cfg.out == "" {
		fmt.Print(text)
		return nil
	}
	return report.WriteSection(cfg.out, section, text)
}

// profile runs every server once more per case with perf attached during
// the measured window.
func profile(cfg config, t tools) ([]sample, error) {
	if _, err := proc.Find("perf", "linux-perf"); err != nil {
		return nil, fmt.Errorf("-perf: %w", err)
	}
	if err := os.MkdirAll(cfg.perfDir, 0o755); err != nil {
		return nil, err
	}
	var out []sample
	for _, c := range cfg.cases {
		for _, impl := range cfg.impls {
			s, err := measure(cfg, t, c, impl, cfg.Rounds, cfg.perfDir)
			if err != nil {
				return nil, fmt.Errorf("profile %s, %s: %w", c, impl, err)
			}
			s.tries = 1
			fmt.Fprintf(os.Stderr, "%s (under perf)\n  %s\n", s, s.perf.perFrame(s.total()))
			out = append(out, s)
		}
	}
	return out, nil
}
