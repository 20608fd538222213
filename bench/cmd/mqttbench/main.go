// Command mqttbench measures serial-to-MQTT bridges end to end, through a
// real mosquitto, and writes the serial-mqtt section of BENCHMARKS.md.
//
// Three bridges carry 64-byte lines from ptys to the broker at QoS 1: iogate
// (the real binary, iogate run, with a generated config), the pipeline a
// user writes instead (socat reading the terminal into mosquitto_pub -l,
// one per device), and a goroutine per device in Go with go.bug.st/serial
// and the paho client (cmd/gobridge). This process makes the ptys, writes
// into their device side, and receives the frames with an MQTT subscriber
// of its own. Two cases: one device written as fast as it takes lines
// (frames per second delivered), and 8 devices at 100 lines a second each
// (latency from the write into the pty to the subscriber, CPU time per
// frame, memory). Bridges run in turn, in an order rotated every round; the
// report gives medians and ranges over the rounds.
//
//	mqttbench [-out FILE] [-rounds 5] [-duration 5s] [-quick] [-perf DIR]
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/iogate/iogate/bench/internal/build"
	"github.com/iogate/iogate/bench/internal/machine"
	"github.com/iogate/iogate/bench/internal/proc"
	"github.com/iogate/iogate/bench/internal/report"
	"github.com/iogate/iogate/bench/internal/runs"
)

// The programs are started from the main goroutine, locked to the main
// thread: their Pdeathsig is tied to the thread that started them, and this
// one lives as long as the process (the writer's locked thread does not).
func init() { runtime.LockOSThread() }

// section names the part of BENCHMARKS.md this benchmark owns.
const section = "serial-mqtt"

// Cases.
const (
	caseFull  = "full"
	casePaced = "paced"
)

type config struct {
	runs.Flags
	out      string
	impls    []string
	cases    []string
	devices  int
	rate     float64
	line     int
	subQoS   int
	inflight int
	drain    time.Duration
	perfDir  string
	args     []string
}

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "mqttbench:", err)
		os.Exit(2)
	}
	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "mqttbench:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (config, error) {
	cfg := config{args: args}
	fs := flag.NewFlagSet("mqttbench", flag.ContinueOnError)
	cfg.Register(fs, "bridge")
	fs.StringVar(&cfg.out, "out", "", "markdown `file` whose "+section+" section is rewritten; empty prints it")
	impls := fs.String("impls", strings.Join(allImpls, ","), "comma-separated bridges: "+strings.Join(allImpls, ", "))
	cases := fs.String("cases", caseFull+","+casePaced, "comma-separated cases: full (1 device at full speed), paced (-devices at -rate)")
	fs.IntVar(&cfg.devices, "devices", 8, "paced: devices")
	fs.Float64Var(&cfg.rate, "rate", 100, "paced: lines per second to each device")
	fs.IntVar(&cfg.line, "line", 64, "line size in bytes, the newline included")
	fs.IntVar(&cfg.subQoS, "sub-qos", 0, "QoS of the subscriber's subscription (the bridges publish at QoS 1)")
	fs.IntVar(&cfg.inflight, "inflight", 64, "gobridge: publishes per port awaiting their PUBACK (iogate's window is 64)")
	fs.DurationVar(&cfg.drain, "drain", 20*time.Second, "after the writer stops, how long the frames may take to arrive without any progress before those missing are counted lost")
	fs.StringVar(&cfg.perfDir, "perf", "", "after the rounds, run every bridge once more per case under perf record -g, and leave the profiles and perf report's summaries in `dir`")
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
	if cfg.impls, err = runs.Choose("impls", *impls, allImpls, "bridge"); err != nil {
		return cfg, err
	}
	if cfg.cases, err = runs.Choose("cases", *cases, []string{caseFull, casePaced}, "case"); err != nil {
		return cfg, err
	}
	switch {
	case cfg.drain <= 0:
		return cfg, errors.New("-drain must be positive")
	case cfg.devices <= 0 || cfg.rate <= 0 || cfg.inflight <= 0:
		return cfg, errors.New("-devices, -rate and -inflight must be positive")
	case cfg.line < seqDigits+2:
		return cfg, fmt.Errorf("-line %d: want at least %d", cfg.line, seqDigits+2)
	case cfg.subQoS < 0 || cfg.subQoS > 1:
		return cfg, errors.New("-sub-qos: 0 or 1")
	}
	return cfg, nil
}

func run(cfg config) error {
	dir, err := os.MkdirTemp("", "mqttbench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	t := tools{dir: dir, inflight: cfg.inflight}
	const peers = "socat mosquitto mosquitto-clients"
	if t.socat, err = proc.Find("socat", peers); err != nil {
		return err
	}
	if t.pub, err = proc.Find("mosquitto_pub", peers); err != nil {
		return err
	}
	if t.brokerBin, err = proc.Find("mosquitto", peers, "/usr/sbin/mosquitto"); err != nil {
		return err
	}
	commit := ""
	if cfg.Iogate != "" {
		t.iogate = cfg.Iogate
	} else if t.iogate, commit, err = build.Iogate(dir, cfg.Rev); err != nil {
		return err
	}
	t.gobridge = filepath.Join(dir, "gobridge")
	gb := exec.Command("go", "build", "-o", t.gobridge, "github.com/iogate/iogate/bench/cmd/gobridge")
	gb.Stdout, gb.Stderr = os.Stderr, os.Stderr
	if err := gb.Run(); err != nil {
		return fmt.Errorf("build gobridge: %w", err)
	}
	m := describe(t, cfg.Iogate, commit)
	if t.broker, err = startBroker(dir, t.brokerBin); err != nil {
		return err
	}
	defer t.broker.Stop(5 * time.Second)
	sub, err := dialSubscriber(t.broker.addr(), byte(cfg.subQoS))
	if err != nil {
		return err
	}
	defer sub.close()

	var samples []sample
	for round := range cfg.Rounds {
		for ci, c := range cfg.cases {
			// Rotate the order every round and case, so that every bridge
			// runs first, middle and last as often.
			k := (round + ci) % len(cfg.impls)
			order := append(append([]string(nil), cfg.impls[k:]...), cfg.impls[:k]...)
			for _, impl := range order {
				s, err := measureQuiet(cfg, t, sub, c, impl, round)
				if err != nil {
					return fmt.Errorf("round %d, %s, %s: %w", round+1, c, impl, err)
				}
				fmt.Fprintln(os.Stderr, s)
				samples = append(samples, s)
			}
		}
	}
	if cfg.perfDir != "" {
		if err := profile(cfg, t, sub); err != nil {
			return err
		}
	}
	text := render(cfg, m, samples)
	if cfg.out == "" {
		fmt.Print(text)
		return nil
	}
	return report.WriteSection(cfg.out, section, text)
}

// measureQuiet measures one bridge once the machine is quiet, and again
// while disturbed (machine.LeastDisturbed).
func measureQuiet(cfg config, t tools, sub *subscriber, kase, impl string, round int) (sample, error) {
	policy := machine.Policy{Settle: cfg.Settle, Quiet: cfg.Quiet, Disturbed: cfg.Disturbed, Retries: cfg.Retries}
	s, runs, err := machine.LeastDisturbed(policy, func(try int) (sample, error) { return measure(cfg, t, sub, kase, impl, round, try, "") },
		func(s sample) float64 { return s.other }, os.Stderr)
	s.tries = runs
	return s, err
}

// profile runs every bridge once more per case with perf record on its
// processes during the measured window, and writes perf report's summary
// next to each profile.
func profile(cfg config, t tools, sub *subscriber) error {
	if _, err := exec.LookPath("perf"); err != nil {
		return fmt.Errorf("-perf: %w (Debian: apt-get install linux-perf)", err)
	}
	if err := os.MkdirAll(cfg.perfDir, 0o755); err != nil {
		return err
	}
	for _, c := range cfg.cases {
		for _, impl := range cfg.impls {
			data := filepath.Join(cfg.perfDir, fmt.Sprintf("%s-%s.data", impl, c))
			s, err := measure(cfg, t, sub, c, impl, cfg.Rounds, 0, data)
			if err != nil {
				return fmt.Errorf("profile %s, %s: %w", c, impl, err)
			}
			fmt.Fprintf(os.Stderr, "%s (under perf)\n", s)
			out, err := exec.Command("perf", "report", "-i", data, "--stdio", "--no-children", "--sort", "comm,dso,sym", "--percent-limit", "0.5", "-g", "none").Output()
			if err != nil {
				return fmt.Errorf("perf report %s: %w", data, err)
			}
			if err := os.WriteFile(strings.TrimSuffix(data, ".data")+".txt", out, 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}
