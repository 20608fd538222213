package main

import (
	"debug/buildinfo"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/iogate/iogate/bench/internal/build"
	"github.com/iogate/iogate/bench/internal/machine"
	"github.com/iogate/iogate/bench/internal/report"
)

// env is where and with what the numbers were taken.
type env struct {
	machine.Machine
	commit    string
	broker    string
	mosquitto string
	socat     string
	paho      string
	serial    string
}

// describe describes this machine and the programs under test; given is
// the iogate binary of -iogate, rev the commit of -iogate-rev, if any.
func describe(t tools, given, rev string) env {
	m := env{
		Machine:   machine.Describe(),
		commit:    build.Describe(given, rev),
		broker:    "unknown",
		mosquitto: "unknown",
		socat:     "unknown",
		paho:      "unknown",
		serial:    "unknown",
	}
	if bi, err := buildinfo.ReadFile(t.gobridge); err == nil {
		for _, d := range bi.Deps {
			switch d.Path {
			case "github.com/eclipse/paho.mqtt.golang":
				m.paho = d.Version
			case "go.bug.st/serial":
				m.serial = d.Version
			}
		}
	}
	// "mosquitto_pub version 2.0.11 running on libmosquitto 2.0.11."
	if out, _ := exec.Command(t.pub, "--help").Output(); len(out) > 0 {
		for line := range strings.Lines(string(out)) {
			if _, v, ok := strings.Cut(line, "mosquitto_pub version "); ok {
				m.mosquitto, _, _ = strings.Cut(v, " ")
				break
			}
		}
	}
	// "mosquitto version 2.0.11" (and the usage, with exit status 3)
	if out, _ := exec.Command(t.brokerBin, "-h").Output(); len(out) > 0 {
		if _, v, ok := strings.Cut(string(out), "mosquitto version "); ok {
			m.broker = strings.TrimSpace(strings.SplitN(v, "\n", 2)[0])
		}
	}
	// "socat version 1.7.4.4 on 06 Nov 2022 08:15:51"
	if out, err := exec.Command(t.socat, "-V").Output(); err == nil {
		for line := range strings.Lines(string(out)) {
			if _, v, ok := strings.Cut(line, "socat version "); ok {
				m.socat, _, _ = strings.Cut(v, " ")
				break
			}
		}
	}
	return m
}

// summary is the medians of one bridge in one case over the rounds.
type summary struct {
	n                            int
	rate, rateLo, rateHi         float64
	p50, p99, p99Lo, p99Hi       time.Duration
	cpuPerK, cpuLo, cpuHi, sched float64
	share                        float64
	mosqPerK                     float64
	syscalls, switches           float64
	rss                          int64
	backlog                      float64
	other                        float64
	missing, dups, reordered     int64
	written                      int64
}

func summarize(samples []sample, kase, impl string) (summary, bool) {
	var ss []sample
	for _, s := range samples {
		if s.kase == kase && s.impl == impl {
			ss = append(ss, s)
		}
	}
	if len(ss) == 0 {
		return summary{}, false
	}
	med := func(f func(sample) float64) (m, lo, hi float64) { return report.MedianOf(ss, f) }
	var sum summary
	sum.n = len(ss)
	sum.rate, sum.rateLo, sum.rateHi = med(sample.rate)
	p50, _, _ := med(func(s sample) float64 { return float64(s.quantile(.5)) })
	p99, p99Lo, p99Hi := med(func(s sample) float64 { return float64(s.quantile(.99)) })
	sum.p50, sum.p99, sum.p99Lo, sum.p99Hi = time.Duration(p50), time.Duration(p99), time.Duration(p99Lo), time.Duration(p99Hi)
	sum.cpuPerK, sum.cpuLo, sum.cpuHi = med(sample.cpuPerK)
	sum.sched, _, _ = med(sample.schedPerK)
	sum.share, _, _ = med(sample.cpuShare)
	sum.mosqPerK, _, _ = med(sample.mosqPerK)
	sum.syscalls, _, _ = med(func(s sample) float64 { return s.perFrame(s.bridge.Syscalls) })
	sum.switches, _, _ = med(func(s sample) float64 { return s.perFrame(s.bridge.Switches) })
	rss, _, _ := med(func(s sample) float64 { return float64(s.bridge.RSS) })
	sum.rss = int64(rss)
	sum.backlog, _, _ = med(func(s sample) float64 { return float64(s.backlog) })
	sum.other, _, _ = med(func(s sample) float64 { return s.other })
	for _, s := range ss {
		sum.missing += s.missing
		sum.dups += s.dups
		sum.reordered += s.reordered
		sum.written += s.written
	}
	return sum, true
}

// render writes the section, markers included.
func render(cfg config, m env, samples []sample) string {
	var b strings.Builder
	fmt.Fprintf(&b, "<!-- bench:%s -->\n", section)
	fmt.Fprintf(&b, `## Serial → MQTT through mosquitto

Lines of %d bytes written into ptys, carried by a bridge to a real mosquitto at QoS 1, and
received by a subscriber: iogate (the real binary, `+"`iogate run`"+` with a generated config:
one [[device]] per pty, `+"`framing = \"line\"`, `encoding = \"text\"`, `qos = 1`"+`), the
pipeline a user writes instead (socat into mosquitto_pub, one per device), and a goroutine
per device in Go (bench/cmd/gobridge: go.bug.st/serial, bufio.Scanner, the paho client
publishing every line at QoS 1 with up to %d publishes per port awaiting their PUBACK, as
iogate's window of 64). All publish the line without its newline on PREFIX/dN/rx.

`, cfg.line, cfg.inflight)
	fmt.Fprintf(&b, "- Date: %s\n", m.Started.Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&b, "- Machine: %d CPUs, %s, %s, %s (shared virtual machine)\n", m.CPUs, m.Model, m.Kernel, m.Go)
	fmt.Fprintf(&b, "- iogate commit %s; mosquitto %s, mosquitto_pub %s, socat %s, paho.mqtt.golang %s, go.bug.st/serial %s\n",
		m.commit, m.broker, m.mosquitto, m.socat, m.paho, m.serial)
	args := ""
	if len(cfg.args) > 0 {
		args = " " + strings.Join(cfg.args, " ")
	}
	fmt.Fprintf(&b, "- Command: `cd bench && go run ./cmd/mqttbench%s` — regenerate with `make bench`\n", args)
	fmt.Fprintf(&b, "- %d rounds; in each, every bridge runs once per case, in an order rotated every round and\n", cfg.Rounds)
	fmt.Fprintf(&b, "  case; a run is fresh ptys, a fresh bridge, %v of writing before a measured window of %v,\n", cfg.Warmup, cfg.Duration)
	fmt.Fprintf(&b, "  then the writer stops and the run waits for every line to arrive (a line still missing\n")
	fmt.Fprintf(&b, "  after %v without any arrival is lost). Figures are medians over the rounds, ranges the\n", cfg.drain)
	fmt.Fprintf(&b, "  lowest and highest run.\n")
	fmt.Fprintf(&b, "- Before each run the driver waits up to %v for the machine's background load to fall below\n", cfg.Settle)
	fmt.Fprintf(&b, "  %.2f CPUs; a run with more than %.2f CPUs of other load is run again, up to %d more times,\n", cfg.Quiet, cfg.Disturbed, cfg.Retries)
	fmt.Fprintf(&b, "  and the least disturbed kept.\n")

	b.WriteString("\nThe commands, as run (PORT is the broker's, /dev/pts/N a fresh pty, PREFIX `bench/<run>`):\n\n```sh\n")
	conf := strings.Replace(fmt.Sprintf(mosquittoConf, 0), "listener 0 ", "listener PORT ", 1)
	b.WriteString("mosquitto -c mosquitto.conf    # " + strings.ReplaceAll(strings.TrimSpace(conf), "\n", "; ") + "\n")
	b.WriteString("iogate run -c iogate.toml      # below, one [[device]] per pty\n")
	b.WriteString("# the pipeline, per device:\n")
	b.WriteString("socat " + strings.Join(socatArgs("/dev/pts/N"), " ") + " | mosquitto_pub -h 127.0.0.1 -p PORT -l -t PREFIX/dN/rx -q 1 -i ID\n")
	b.WriteString("gobridge -broker tcp://127.0.0.1:PORT -prefix PREFIX -qos 1 -inflight " + fmt.Sprint(cfg.inflight) + " d0=/dev/pts/N d1=/dev/pts/M ...\n")
	b.WriteString("```\n\n```toml\n")
	b.WriteString(iogateConf("/tmp/mqttbenchNNN", "127.0.0.1:PORT", "PREFIX", []string{"/dev/pts/N"}))
	b.WriteString("```\n\n")
	b.WriteString("socat's `-d -d` only makes it say when it has the terminal open, and `-i` names the client\n")
	b.WriteString("so that the broker's log tells when it is connected: that is how the driver knows the\n")
	b.WriteString("pipeline is ready. iogate is ready when its devices' retained statuses say online, gobridge\n")
	b.WriteString("when it prints `ready`. mosquitto_pub keeps its default window of 20 QoS 1 messages in\n")
	fmt.Fprintf(&b, "flight. The subscriber is the driver's own MQTT connection (QoS %d subscription to\n", cfg.subQoS)
	b.WriteString("`bench/#`, a hand-written PUBLISH decoder on one goroutine), the same for every bridge.\n")

	var pipe summary
	if slices.Contains(cfg.cases, caseFull) {
		pipe, _ = summarize(samples, caseFull, implPipeline)
		b.WriteString("\n### 1 device at full speed\n\n")
		b.WriteString("The writer puts 64 lines (4 KiB) at a time into the pty as fast as it takes them; frames/s\n")
		b.WriteString("is what the subscriber received during the window.\n\n")
		b.WriteString("| bridge | frames/s | range | vs pipeline | bridge CPU | CPU ms / 1k frames | vs pipeline | mosquitto ms / 1k | backlog at end | bridge RSS | lost | other load |\n")
		b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
		for _, impl := range cfg.impls {
			s, ok := summarize(samples, caseFull, impl)
			if !ok {
				continue
			}
			fmt.Fprintf(&b, "| %s | %s | %s–%s | %s | %.0f%% | %.2f | %s | %.2f | %s | %.1f MiB | %s | %.0f%% |\n",
				impl, report.Thousands(int64(s.rate)), report.Thousands(int64(s.rateLo)), report.Thousands(int64(s.rateHi)), report.Ratio(s.rate, pipe.rate),
				100*s.share, s.cpuPerK, report.Ratio(s.cpuPerK, pipe.cpuPerK), s.mosqPerK, report.Thousands(int64(s.backlog)),
				mib(s.rss), lost(s), 100*s.other)
		}
	}
	var pipeP summary
	if slices.Contains(cfg.cases, casePaced) {
		pipeP, _ = summarize(samples, casePaced, implPipeline)
		fmt.Fprintf(&b, "\n### %d devices at %g lines/s each\n\n", cfg.devices, cfg.rate)
		b.WriteString("Latency is from the write into the pty to the subscriber's receipt, for every line sent in\n")
		b.WriteString("the window (the writer notes the time of each write; the subscriber looks it up by device\n")
		b.WriteString("and sequence number).\n\n")
		b.WriteString("| bridge | p50 | p99 | p99 range | p99 vs pipeline | CPU ms / 1k frames | range | vs pipeline | schedstat ms / 1k | syscalls / frame | switches / frame | bridge RSS | mosquitto ms / 1k | lost | other load |\n")
		b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
		for _, impl := range cfg.impls {
			s, ok := summarize(samples, casePaced, impl)
			if !ok {
				continue
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s–%s | %s | %.2f | %.2f–%.2f | %s | %.2f | %.2f | %.2f | %.1f MiB | %.2f | %s | %.0f%% |\n",
				impl, ms(s.p50), ms(s.p99), ms(s.p99Lo), ms(s.p99Hi), report.Ratio(float64(s.p99), float64(pipeP.p99)),
				s.cpuPerK, s.cpuLo, s.cpuHi, report.Ratio(s.cpuPerK, pipeP.cpuPerK), s.sched, s.syscalls, s.switches,
				mib(s.rss), s.mosqPerK, lost(s), 100*s.other)
		}
	}
	b.WriteString(`
Columns: bridge CPU is the utime+stime of the bridge's processes (/proc/PID/stat; for the
pipeline every socat and mosquitto_pub summed) over the window, as a share of one CPU; CPU
ms / 1k frames divides it by the frames the subscriber received in the window; schedstat is
the same from the threads' run time in nanoseconds (/proc/PID/task/*/schedstat), a cross-check
of the 10 ms ticks; syscalls are the read- and write-like system calls of /proc/PID/io (syscr
+ syscw; poll, epoll and futex calls are not in it); switches are the context switches of
all the bridge's threads; bridge RSS is VmRSS at the end of the window, summed over the
processes; mosquitto's CPU is the broker's, over the same window; backlog is the lines
written and not yet received when the window ended (what the bridge and the kernel's
buffers hold); lost is lines never received over all rounds, duplicates and reorderings
noted when there are any; other load is the machine's busy time that is neither the bridge,
the broker nor this driver, in CPUs.
`)

	b.WriteString("\n### Against the aim\n\n")
	b.WriteString("The gateway issue asks of iogate at least 1.5× the pipeline's throughput, at most half its\n")
	b.WriteString("CPU per frame, and a lower p99.\n\n")
	if io, ok := summarize(samples, caseFull, implIogate); ok && pipe.rate > 0 {
		fmt.Fprintf(&b, "- Throughput: %s frames/s against %s, %s the pipeline's: %s.\n",
			report.Thousands(int64(io.rate)), report.Thousands(int64(pipe.rate)), report.Ratio(io.rate, pipe.rate), verdict(io.rate >= 1.5*pipe.rate))
	}
	if io, ok := summarize(samples, casePaced, implIogate); ok && pipeP.cpuPerK > 0 {
		fmt.Fprintf(&b, "- CPU per frame (paced): %.2f ms / 1k frames against %.2f, %s the pipeline's: %s.\n",
			io.cpuPerK, pipeP.cpuPerK, report.Ratio(io.cpuPerK, pipeP.cpuPerK), verdict(io.cpuPerK <= 0.5*pipeP.cpuPerK))
		fmt.Fprintf(&b, "- p99 latency (paced): %s against %s: %s.\n", ms(io.p99), ms(pipeP.p99), verdict(io.p99 < pipeP.p99))
	}
	var iogateLost, iogateWritten int64
	for _, s := range samples {
		if s.impl == implIogate {
			iogateLost += s.missing
			iogateWritten += s.written
		}
	}
	fmt.Fprintf(&b, "- Frames lost by iogate: %s of %s written over all its runs.\n", report.Thousands(iogateLost), report.Thousands(iogateWritten))

	b.WriteString("\n<details><summary>Every run, in the order run</summary>\n\n```\n")
	for _, s := range samples {
		b.WriteString(s.String())
		b.WriteByte('\n')
	}
	b.WriteString("```\n\n</details>\n")
	fmt.Fprintf(&b, "<!-- /bench:%s -->\n", section)
	return b.String()
}

func verdict(met bool) string {
	if met {
		return "met"
	}
	return "**not met**"
}

func lost(s summary) string {
	t := report.Thousands(s.missing)
	if s.dups > 0 || s.reordered > 0 {
		t += fmt.Sprintf(" (%d dup, %d reordered)", s.dups, s.reordered)
	}
	return t
}
