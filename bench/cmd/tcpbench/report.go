package main

import (
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
	commit  string
	ser2net string
}

// describe describes this machine and the servers under test; given is the
// iogate binary of -iogate, rev the commit of -iogate-rev, if any.
func describe(t tools, given, rev string) env {
	m := env{Machine: machine.Describe(), commit: build.Describe(given, rev), ser2net: "unknown"}
	// "ser2net version 4.3.11"
	if t.ser2net != "" {
		if out, err := exec.Command(t.ser2net, "-v").Output(); err == nil {
			if _, v, ok := strings.Cut(string(out), "ser2net version "); ok {
				m.ser2net = strings.TrimSpace(v)
			}
		}
	}
	return m
}

// summary is the medians of one server in one case over the rounds.
type summary struct {
	n                      int
	rate, rateLo, rateHi   float64
	cpuPerK, cpuLo, cpuHi  float64
	sched, share           float64
	syscalls, switches     float64
	p50, p99, p99Lo, p99Hi [2]time.Duration
	rss, hwm               int64
	writer, reader         float64
	other                  float64
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
	median := func(f func(sample) float64) (m, lo, hi float64) { return report.MedianOf(ss, f) }
	med := func(f func(sample) float64) float64 { m, _, _ := median(f); return m }
	var sum summary
	sum.n = len(ss)
	sum.rate, sum.rateLo, sum.rateHi = median(sample.rate)
	sum.cpuPerK, sum.cpuLo, sum.cpuHi = median(sample.cpuPerK)
	sum.sched = med(sample.schedPerK)
	sum.share = med(sample.cpuShare)
	sum.syscalls = med(func(s sample) float64 { return s.perFrame(s.server.Syscalls) })
	sum.switches = med(func(s sample) float64 { return s.perFrame(s.server.Switches) })
	for d := range 2 {
		sum.p50[d] = time.Duration(med(func(s sample) float64 { return float64(s.p50[d]) }))
		p99, lo, hi := median(func(s sample) float64 { return float64(s.p99[d]) })
		sum.p99[d], sum.p99Lo[d], sum.p99Hi[d] = time.Duration(p99), time.Duration(lo), time.Duration(hi)
	}
	sum.rss = int64(med(func(s sample) float64 { return float64(s.server.RSS) }))
	sum.hwm = int64(med(func(s sample) float64 { return float64(s.server.HWM) }))
	sum.writer = med(func(s sample) float64 { return s.share(s.writer) })
	sum.reader = med(func(s sample) float64 { return s.share(s.reader) })
	sum.other = med(func(s sample) float64 { return s.other })
	return sum, true
}

// ref is the server the ratios are taken against.
const ref = implSer2net

// render writes the section, markers included.
func render(cfg config, m env, samples, profiled []sample) string {
	var b strings.Builder
	fmt.Fprintf(&b, "<!-- bench:%s -->\n", section)
	fmt.Fprintf(&b, `## Serial ↔ TCP: iogate against ser2net

Raw TCP access to serial devices, ser2net's job: a TCP client per device gets every byte the
device sends and what it writes goes to the device. iogate runs as the real binary (`+"`iogate run`"+`,
`+"`broker = \"none\"`"+`: no MQTT, TCP only) and ser2net %s as Debian packages it, one process each, each
with a generated config of one device per pty. The driver (bench/cmd/tcpbench) makes the ptys
with `+"`serial.OpenPTY`"+`, connects one TCP client per device, and both writes and reads lines of
%d bytes that carry their sequence number and the time of their write: into the pty's device
side and out of the client (rx, device → client), into the client and out of the device side
(tx, client → device). Its reader checks that every line arrives whole and in order; a line
lost fails the run.

`, m.ser2net, cfg.line)
	fmt.Fprintf(&b, "- Date: %s\n", m.Started.Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&b, "- Machine: %d CPUs, %s, %s, %s (shared virtual machine)\n", m.CPUs, m.Model, m.Kernel, m.Go)
	fmt.Fprintf(&b, "- iogate commit %s; ser2net %s\n", m.commit, m.ser2net)
	args := ""
	if len(cfg.args) > 0 {
		args = " " + strings.Join(cfg.args, " ")
	}
	fmt.Fprintf(&b, "- Command: `cd bench && go run ./cmd/tcpbench%s` — `make bench` runs it with the others\n", args)
	fmt.Fprintf(&b, "- %d rounds; in each, every server runs once per case, in an order rotated every round and\n", cfg.Rounds)
	fmt.Fprintf(&b, "  case; a run is fresh ptys, a fresh server and fresh clients, %v of writing before a\n", cfg.Warmup)
	fmt.Fprintf(&b, "  measured window of %v, then the writer stops and the run waits for every line. Figures\n", cfg.Duration)
	b.WriteString("  are medians over the rounds, ranges the lowest and highest run.\n")
	fmt.Fprintf(&b, "- Before each run the driver waits up to %v for the machine's background load to fall below\n", cfg.Settle)
	fmt.Fprintf(&b, "  %.2f CPUs; a run with more than %.2f CPUs of other load is run again, up to %d more times,\n", cfg.Quiet, cfg.Disturbed, cfg.Retries)
	b.WriteString("  and the least disturbed kept.\n")

	b.WriteString("\nThe commands, as run (/dev/pts/N a fresh pty, PORT a free loopback port):\n\n```sh\n")
	b.WriteString("iogate run -c iogate.toml\n")
	b.WriteString("ser2net " + strings.Join(ser2netArgs("ser2net.yaml", "ser2net.pid"), " ") + "\n")
	b.WriteString("```\n\n```toml\n")
	b.WriteString(iogateConf("/tmp/tcpbenchNNN", []string{"/dev/pts/N"}, []string{"PORT"}))
	b.WriteString("```\n\n```yaml\n")
	b.WriteString(ser2netConf([]string{"/dev/pts/N"}, []string{"PORT"}, false))
	b.WriteString("```\n\n")
	b.WriteString("ser2net is set to do iogate's work: `chardelay: false` forwards every read at once, as\n" +
		"iogate does (by default ser2net waits after a read for up to two character times, at least\n" +
		"1 ms, for more); `readbuf=65536` on both gensios and the two `bufsize` options read up to\n" +
		"64 KiB at a time, iogate's read buffer (ser2net reads a device 1 KiB at a time by default);\n" +
		"`tcp(nodelay)` sets TCP_NODELAY on its clients, as iogate does. `-u` leaves out UUCP lock\n" +
		"files. The driver's clients set TCP_NODELAY too.\n")
	if slices.Contains(cfg.impls, implSer2netDefault) {
		b.WriteString("\n`ser2net-defaults` is ser2net with its defaults for all that: `accepter: tcp,127.0.0.1,PORT`,\n" +
			"`connector: serialdev,/dev/pts/N,115200n81,local`, and only `kickolduser` in the options.\n")
	}

	for _, c := range cfg.cases {
		switch c {
		case caseFullRx, caseFullTx:
			renderFull(&b, cfg, samples, c)
		case casePaced:
			renderPaced(&b, cfg, samples)
		}
	}
	b.WriteString(`
Columns: frames are lines read whole and in order by the driver during the window; CPU is the
utime+stime of the server's process (/proc/PID/stat) over the window, as a share of one CPU
and per 1000 frames; schedstat is the same from its threads' run time in nanoseconds
(/proc/PID/task/*/schedstat), a cross-check of the 10 ms ticks; syscalls are the read- and
write-like system calls of /proc/PID/io (syscr + syscw: read(2), write(2) and their like, but
not sendmsg(2), with which ser2net writes to its clients, nor epoll, futex, ioctl or signals:
"Under perf" counts them all, when run); switches are the context switches of all the
server's threads, voluntary and not; RSS is VmRSS at the end of the window and peak its VmHWM.
Writer and reader are the CPU time of the driver's two threads over wall time: near 100%, the
driver, not the server, set the pace. Other load is the machine's busy time (/proc/stat) that
is neither the server, the driver nor the kernel's workers (which move pty writes into the
terminal's line discipline), in CPUs. Ratios are iogate's (or the other's) over ser2net's
median: above 1 is faster for frames/s, more costly for CPU, latency and memory.
`)
	renderAim(&b, cfg, samples)
	if len(profiled) > 0 {
		b.WriteString("\n### Under perf\n\nOne more run per server and case with `perf stat` (system calls by name, context switches)\n")
		b.WriteString("and `perf record -g` attached to the server for the window; counts per frame carried:\n\n```\n")
		for _, s := range profiled {
			fmt.Fprintf(&b, "%-7s %-16s %s\n", s.kase, s.impl, s.perf.perFrame(s.total()))
		}
		b.WriteString("```\n")
	}
	b.WriteString("\n<details><summary>Every run, in the order run</summary>\n\n```\n")
	for _, s := range samples {
		b.WriteString(s.String())
		b.WriteByte('\n')
	}
	b.WriteString("```\n\n</details>\n")
	fmt.Fprintf(&b, "<!-- /bench:%s -->\n", section)
	return b.String()
}

func renderFull(b *strings.Builder, cfg config, samples []sample, kase string) {
	title, what := "device → client", "into the pty's device side and the client reads them"
	if kase == caseFullTx {
		title, what = "client → device", "into the client's socket and the driver reads them from the pty's device side"
	}
	fmt.Fprintf(b, "\n### 1 device at full speed, %s (%s)\n\n", title, kase)
	fmt.Fprintf(b, "The writer puts %d lines at a time %s as fast as they go.\n\n", cfg.chunk, what)
	b.WriteString("| server | frames/s | range | vs ser2net | server CPU | CPU ms / 1k frames | range | vs ser2net | schedstat ms / 1k | syscalls / frame | switches / frame | RSS | peak RSS | writer | reader | other load |\n")
	b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	r, _ := summarize(samples, kase, ref)
	for _, impl := range cfg.impls {
		s, ok := summarize(samples, kase, impl)
		if !ok {
			continue
		}
		fmt.Fprintf(b, "| %s | %s | %s–%s | %s | %.0f%% | %.2f | %.2f–%.2f | %s | %.2f | %.2f | %.2f | %.1f MiB | %.1f MiB | %.0f%% | %.0f%% | %.0f%% |\n",
			impl, report.Thousands(int64(s.rate)), report.Thousands(int64(s.rateLo)), report.Thousands(int64(s.rateHi)), report.Ratio(s.rate, r.rate),
			100*s.share, s.cpuPerK, s.cpuLo, s.cpuHi, report.Ratio(s.cpuPerK, r.cpuPerK), s.sched, s.syscalls, s.switches,
			mib(s.rss), mib(s.hwm), 100*s.writer, 100*s.reader, 100*s.other)
	}
}

func renderPaced(b *strings.Builder, cfg config, samples []sample) {
	fmt.Fprintf(b, "\n### %d devices at %g lines/s each way (%s)\n\n", cfg.devices, cfg.rate, casePaced)
	fmt.Fprintf(b, "Every device is written %g lines a second and its client %g, the %d streams taking turns\n", cfg.rate, cfg.rate, 2*cfg.devices)
	b.WriteString("evenly. Latency is from the write to the read of every line written in the window, in a\n")
	b.WriteString("histogram of 1.6% buckets; frames are those of both ways.\n\n")
	b.WriteString("| server | rx p50 | rx p99 | rx p99 range | tx p50 | tx p99 | tx p99 range | p99 vs ser2net (rx / tx) | CPU ms / 1k frames | range | vs ser2net | schedstat ms / 1k | syscalls / frame | switches / frame | RSS | peak RSS | vs ser2net | other load |\n")
	b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	r, _ := summarize(samples, casePaced, ref)
	for _, impl := range cfg.impls {
		s, ok := summarize(samples, casePaced, impl)
		if !ok {
			continue
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s–%s | %s | %s | %s–%s | %s / %s | %.2f | %.2f–%.2f | %s | %.2f | %.2f | %.2f | %.1f MiB | %.1f MiB | %s | %.0f%% |\n",
			impl, ms(s.p50[rx]), ms(s.p99[rx]), ms(s.p99Lo[rx]), ms(s.p99Hi[rx]), ms(s.p50[tx]), ms(s.p99[tx]), ms(s.p99Lo[tx]), ms(s.p99Hi[tx]),
			report.Ratio(float64(s.p99[rx]), float64(r.p99[rx])), report.Ratio(float64(s.p99[tx]), float64(r.p99[tx])),
			s.cpuPerK, s.cpuLo, s.cpuHi, report.Ratio(s.cpuPerK, r.cpuPerK), s.sched, s.syscalls, s.switches,
			mib(s.rss), mib(s.hwm), report.Ratio(float64(s.rss), float64(r.rss)), 100*s.other)
	}
}

// renderAim says whether iogate met the aim against ser2net.
func renderAim(b *strings.Builder, cfg config, samples []sample) {
	b.WriteString("\n### Against the aim\n\nThe issue asks of iogate at least ser2net's throughput, no more CPU per frame, and no worse\np99 latency.\n\n")
	for _, c := range cfg.cases {
		io, ok1 := summarize(samples, c, implIogate)
		r, ok2 := summarize(samples, c, ref)
		if !ok1 || !ok2 {
			continue
		}
		if c != casePaced {
			fmt.Fprintf(b, "- Throughput (%s): %s frames/s against %s, %s ser2net's: %s.\n",
				c, report.Thousands(int64(io.rate)), report.Thousands(int64(r.rate)), report.Ratio(io.rate, r.rate), verdict(io.rate >= r.rate))
		}
		fmt.Fprintf(b, "- CPU per frame (%s): %.2f ms / 1k frames against %.2f, %s ser2net's: %s.\n",
			c, io.cpuPerK, r.cpuPerK, report.Ratio(io.cpuPerK, r.cpuPerK), verdict(io.cpuPerK <= r.cpuPerK))
		if c == casePaced {
			for d := range 2 {
				fmt.Fprintf(b, "- p99 latency (%s, %s): %s against %s: %s.\n",
					c, dirNames[d], ms(io.p99[d]), ms(r.p99[d]), verdict(io.p99[d] <= r.p99[d]))
			}
		}
	}
}

func verdict(met bool) string {
	if met {
		return "met"
	}
	return "**not met**"
}
