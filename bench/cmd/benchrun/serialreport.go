package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/iogate/iogate/bench/internal/report"
)

// serialBaseline is the reader the others are compared with.
const serialBaseline = "goroutine"

// serialSummary is the median of every figure of one reader in one case
// over the rounds, and the range of the main ones.
type serialSummary struct {
	mbps, mbpsLo, mbpsHi   float64
	linesps                float64
	cpuShare, sys          float64
	cpuPerMB, cpuLo, cpuHi float64
	wakeS, wakeMB          float64
	threads                float64
	rss                    float64
	writerRate, writerCPU  float64
	kworkers               float64
	other                  float64
	runs                   int
}

func summarizeSerial(samples []serialSample, kase, impl string) (serialSummary, bool) {
	var ss []serialSample
	for _, s := range samples {
		if s.kase == kase && s.impl == impl {
			ss = append(ss, s)
		}
	}
	if len(ss) == 0 {
		return serialSummary{}, false
	}
	f := func(get func(serialSample) float64) float64 { m, _, _ := report.MedianOf(ss, get); return m }
	mbps, mbpsLo, mbpsHi := report.MedianOf(ss, serialSample.mbps)
	cpu, cpuLo, cpuHi := report.MedianOf(ss, serialSample.cpuPerMB)
	return serialSummary{
		mbps:       mbps,
		mbpsLo:     mbpsLo,
		mbpsHi:     mbpsHi,
		linesps:    f(serialSample.linesps),
		cpuShare:   f(serialSample.cpuShare),
		sys:        f(func(s serialSample) float64 { return sysShare(s.cpu) }),
		cpuPerMB:   cpu,
		cpuLo:      cpuLo,
		cpuHi:      cpuHi,
		wakeS:      f(serialSample.switchesPerS),
		wakeMB:     f(serialSample.switchesPerMB),
		threads:    f(func(s serialSample) float64 { return float64(s.threads) }),
		rss:        f(func(s serialSample) float64 { return float64(s.rss) }),
		writerRate: f(serialSample.writerRate),
		writerCPU:  f(func(s serialSample) float64 { return s.writerCPU }),
		kworkers:   f(func(s serialSample) float64 { return s.kworkers }),
		other:      f(func(s serialSample) float64 { return s.otherCPU }),
		runs:       len(ss),
	}, true
}

// renderSerial writes the serial section, markers included.
func renderSerial(cfg config, m env, cases []serialCase, samples []serialSample) string {
	var b strings.Builder
	fmt.Fprintf(&b, "<!-- bench:%s -->\n", serialSection)
	b.WriteString("## Serial reading\n\n")
	fmt.Fprintf(&b, "Reading serial devices, pty pairs here, and counting their bytes and %d-byte lines (split\n", cfg.serialLine)
	fmt.Fprintf(&b, "on `\\n`), with %d %s, each its own process (bench/cmd/serialreader) with the default\n", len(cfg.serialImpls), plural(len(cfg.serialImpls), "reader", "readers"))
	b.WriteString("GOMAXPROCS:\n\n")
	b.WriteString("- **iogate**: every port a `serial.Port` registered with one reactor on one locked thread\n")
	b.WriteString("  (`reactor.Options{LockThread: true}`, as the gateway runs it, 64 KiB read buffer); the\n")
	b.WriteString("  service counts in `Received`.\n")
	if slices.Contains(cfg.serialImpls, "iogate-nolock") {
		b.WriteString("- **iogate-nolock**: the same reactor with `LockThread: false`: the runtime may run its\n")
		b.WriteString("  goroutine on any thread.\n")
	}
	b.WriteString("- **goroutine**: what a Go programmer writes without iogate: a goroutine per port reading an\n")
	b.WriteString("  `*os.File` through Go's runtime poller into a 4 KiB buffer (bufio's default; a bigger one\n")
	if cfg.serialDeadline > 0 {
		fmt.Fprintf(&b, "  changes nothing measurable), with a read deadline of %v re-armed before every read.\n", cfg.serialDeadline)
	} else {
		b.WriteString("  changes nothing measurable), without read deadlines.\n")
	}
	b.WriteString("\nEvery reader opens the ports with `serial.Open(path, serial.Mode{Baud: 115200})`, so they\n")
	b.WriteString("all read in the same raw mode; the goroutine reader then wraps a `dup` of the non-blocking\n")
	b.WriteString("descriptor in `os.NewFile`, which puts it in the runtime poller.")
	if cfg.serialBuffer > 0 {
		fmt.Fprintf(&b, " In this run every reader reads\ninto a buffer of %d bytes (`-serial-buffer`).", cfg.serialBuffer)
	}
	b.WriteString("\n\n")
	b.WriteString("The driver (bench/cmd/benchrun) makes fresh ptys for every run with `serial.OpenPTY` and\n")
	b.WriteString("writes into their device side from one goroutine on one locked thread: paced, every 10 ms\n")
	b.WriteString("it writes each pty the lines due since the start; at full speed, a chunk of lines per write\n")
	fmt.Fprintf(&b, "(%d lines, %d bytes), waiting in poll(2) when the pty is full. After the window it stops\n", cfg.serialChunk, cfg.serialChunk*cfg.serialLine)
	b.WriteString("writing, tells the reader how many bytes each pty was sent, and fails the run unless the\n")
	b.WriteString("reader read every one of them, in whole lines, without an error.\n\n")
	if cfg.quick {
		b.WriteString("**Quick smoke run: one short round, not a measurement.**\n\n")
	}
	fmt.Fprintf(&b, "- Date: %s\n", m.Started.Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "- Machine: %d CPUs, %s, %s, %s (shared virtual machine)\n", m.CPUs, m.Model, m.Kernel, m.Go)
	fmt.Fprintf(&b, "- iogate commit %s\n", m.commit)
	fmt.Fprintf(&b, "- Command: `cd bench && go run ./cmd/benchrun %s` — `make bench` runs it with the others\n", strings.Join(cfg.args, " "))
	fmt.Fprintf(&b, "- %d rounds; in each, every reader runs once per case, in an order rotated every time; a run\n", cfg.rounds)
	fmt.Fprintf(&b, "  is fresh ptys and a fresh reader, %v of writing before, %v measured. Every figure is the\n", cfg.warmup, cfg.serialDuration)
	b.WriteString("  median over the rounds; ranges are the lowest and highest seen.\n")
	if cfg.settle > 0 {
		fmt.Fprintf(&b, "- Before each run the driver waits up to %v for the machine's background load to fall\n", cfg.settle)
		fmt.Fprintf(&b, "  below %.2f CPUs; a run with more than %.2f CPUs of it in its window is run again, up to %d\n", cfg.quiet, cfg.disturbed, cfg.retries)
		retried := 0
		for _, s := range samples {
			if s.tries > 1 {
				retried++
			}
		}
		fmt.Fprintf(&b, "  more times, and the least disturbed one kept: %d of %d runs were.\n", retried, len(samples))
	}
	b.WriteString("\n")

	for _, c := range cases {
		fmt.Fprintf(&b, "### %s\n\n", c.title())
		ref, hasRef := summarizeSerial(samples, c.name, serialBaseline)
		vs := func(a, b float64) string {
			if !hasRef {
				return ""
			}
			return report.Ratio(a, b)
		}
		if c.rate > 0 {
			b.WriteString("| reader | lines/s read | reader CPU | CPU ms / MB | range | vs goroutine | wake-ups/s | wake-ups / MB | vs goroutine | threads | RSS | vs goroutine | writer lines/s per pty | kernel workers | other load |\n")
			b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
		} else {
			b.WriteString("| reader | MB/s read | range | lines/s read | vs goroutine | reader CPU | CPU ms / MB | range | vs goroutine | wake-ups/s | wake-ups / MB | vs goroutine | threads | RSS | vs goroutine | writer CPU | kernel workers | other load |\n")
			b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
		}
		for _, impl := range cfg.serialImpls {
			s, ok := summarizeSerial(samples, c.name, impl)
			if !ok {
				continue
			}
			if c.rate > 0 {
				fmt.Fprintf(&b, "| %s | %s | %.1f%% | %.0f | %.0f–%.0f | %s | %s | %s | %s | %.0f | %.1f MiB | %s | %.1f | %.0f%% | %.0f%% |\n",
					impl, report.Thousands(int64(s.linesps)), 100*s.cpuShare, s.cpuPerMB, s.cpuLo, s.cpuHi, vs(s.cpuPerMB, ref.cpuPerMB),
					report.Thousands(int64(s.wakeS)), report.Thousands(int64(s.wakeMB)), vs(s.wakeMB, ref.wakeMB),
					s.threads, mib(int64(s.rss)), vs(s.rss, ref.rss), s.writerRate, 100*s.kworkers, 100*s.other)
				continue
			}
			fmt.Fprintf(&b, "| %s | %.1f | %.1f–%.1f | %s | %s | %.0f%% | %.1f | %.1f–%.1f | %s | %s | %s | %s | %.0f | %.1f MiB | %s | %.0f%% | %.0f%% | %.0f%% |\n",
				impl, s.mbps, s.mbpsLo, s.mbpsHi, report.Thousands(int64(s.linesps)), vs(s.mbps, ref.mbps),
				100*s.cpuShare, s.cpuPerMB, s.cpuLo, s.cpuHi, vs(s.cpuPerMB, ref.cpuPerMB),
				report.Thousands(int64(s.wakeS)), report.Thousands(int64(s.wakeMB)), vs(s.wakeMB, ref.wakeMB),
				s.threads, mib(int64(s.rss)), vs(s.rss, ref.rss), 100*s.writerCPU, 100*s.kworkers, 100*s.other)
		}
		b.WriteString("\n")
	}

	b.WriteString("Columns: MB is 10^6 bytes read by the reader in the window (its own counts, asked for at\n")
	b.WriteString("both ends); reader CPU is utime+stime of the reader process from /proc/PID/stat over the\n")
	b.WriteString("window (10 ms ticks), as a share of one CPU and per MB read; wake-ups are the context\n")
	b.WriteString("switches of the reader, voluntary and not, summed over /proc/PID/task/*/status (a thread that\n")
	b.WriteString("exits in the window takes its own with it); threads are the reader's at the end of the\n")
	b.WriteString("window; RSS is its VmRSS then. The writer column is what the writer achieved: lines a\n")
	b.WriteString("second to each pty when paced, its thread's CPU time over wall time at full speed (near\n")
	b.WriteString("100% means the writer, not the reader, set the pace). Kernel workers is the CPU time of the\n")
	b.WriteString("kworker threads, which move what the writer wrote into the terminal's line discipline (and\n")
	b.WriteString("do anything else the kernel defers); other load is the machine's busy time (/proc/stat)\n")
	b.WriteString("that is neither the reader, the driver nor those workers: other programs, interrupts. Both\n")
	b.WriteString("are in CPUs over wall time. \"vs goroutine\"\n")
	b.WriteString("is the ratio to the goroutine reader's median: above 1 is faster for MB/s, more costly for\n")
	b.WriteString("CPU, wake-ups and memory.\n\n")
	b.WriteString("<details><summary>Every run, in the order run</summary>\n\n```\n")
	for _, s := range samples {
		b.WriteString(s.String())
		b.WriteString("\n")
	}
	b.WriteString("```\n\n</details>\n")
	fmt.Fprintf(&b, "<!-- /bench:%s -->\n", serialSection)
	return b.String()
}
