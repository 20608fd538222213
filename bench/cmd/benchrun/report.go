package main

import (
	"debug/buildinfo"
	"fmt"
	"strings"
	"time"

	"github.com/iogate/iogate/bench/internal/machine"
	"github.com/iogate/iogate/bench/internal/report"
)

// tcpEchoSection names the part of BENCHMARKS.md this benchmark owns.
const tcpEchoSection = "tcp-echo"

// env is where the numbers were taken: the machine, iogate's commit and
// the peers' versions.
type env struct {
	machine.Machine
	gnet   string
	commit string
}

func describe(serverBin string) env {
	m := env{Machine: machine.Describe(), gnet: "unknown"}
	if bi, err := buildinfo.ReadFile(serverBin); err == nil {
		for _, d := range bi.Deps {
			if d.Path == "github.com/panjf2000/gnet/v2" {
				m.gnet = d.Version
			}
		}
	}
	hash, dirty := machine.Commit("poller", "reactor", "resources")
	m.commit = hash
	if dirty {
		m.commit += " with uncommitted changes in poller/, reactor/ or resources/"
	}
	return m
}

// renderTCPEcho writes the tcp-echo section, markers included.
func renderTCPEcho(cfg config, m env, samples []sample) string {
	var b strings.Builder
	fmt.Fprintf(&b, "<!-- bench:%s -->\n", tcpEchoSection)
	b.WriteString("## TCP echo\n\n")
	fmt.Fprintf(&b, "%d-byte messages over loopback, closed loop: every connection sends a message, waits for\n", cfg.size)
	b.WriteString("the whole echo, and sends the next. Servers: iogate's reactor (one locked thread,\n")
	b.WriteString("resources/tcp), gnet v2 with one event loop (`WithMulticore(false)`, `WithNumEventLoop(1)`,\n")
	b.WriteString("locked thread; gnet adds its own acceptor loop), and Go's net package (a goroutine per\n")
	b.WriteString("connection copying through a 64-byte buffer). Each server is its own process with the\n")
	b.WriteString("default GOMAXPROCS; one client, an epoll loop on one locked thread (bench/echoclient), drives\n")
	b.WriteString("them all.\n\n")
	if cfg.quick {
		b.WriteString("**Quick smoke run: one short round, not a measurement.**\n\n")
	}
	fmt.Fprintf(&b, "- Date: %s\n", m.Started.Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "- Machine: %d CPUs, %s, %s, %s (shared virtual machine)\n", m.CPUs, m.Model, m.Kernel, m.Go)
	fmt.Fprintf(&b, "- iogate commit %s; gnet %s\n", m.commit, m.gnet)
	fmt.Fprintf(&b, "- Command: `cd bench && go run ./cmd/benchrun %s` — regenerate with `make bench`\n", strings.Join(cfg.args, " "))
	fmt.Fprintf(&b, "- %d rounds; in each, every server runs once per connection count, in an order rotated\n", cfg.rounds)
	fmt.Fprintf(&b, "  every time; a run is a fresh server, connect and one echo per connection, %v warm-up, %v\n", cfg.warmup, cfg.duration)
	b.WriteString("  measured. Every figure is the median over the rounds; the range is the lowest and\n")
	b.WriteString("  highest msgs/s seen.\n")
	if cfg.settle > 0 {
		fmt.Fprintf(&b, "- Before each run the driver waits up to %v for the machine's background load to fall\n", cfg.settle)
		fmt.Fprintf(&b, "  below %.2f CPUs (other sessions share this machine); the other-load column shows what it got.\n", cfg.quiet)
	}
	if cfg.retries > 0 {
		retried := 0
		for _, s := range samples {
			if s.tries > 1 {
				retried++
			}
		}
		fmt.Fprintf(&b, "- A run with more than %.2f CPUs of background load in its window is run again, up to %d\n", cfg.disturbed, cfg.retries)
		fmt.Fprintf(&b, "  more times, and the least disturbed one kept: %d of %d runs were.\n", retried, len(samples))
	}
	b.WriteString("\n")

	for _, n := range cfg.conns {
		fmt.Fprintf(&b, "### %s connections\n\n", report.Thousands(int64(n)))
		b.WriteString("| server | msgs/s | range | vs gnet | p50 RTT | p99 RTT | server CPU s / M msgs | vs gnet | kernel share | server RSS | client CPU | other load |\n")
		b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
		ref, hasRef := summarize(samples, "gnet", n)
		for _, impl := range cfg.impls {
			s, ok := summarize(samples, impl, n)
			if !ok {
				continue
			}
			rate, cpu := "", ""
			if hasRef {
				rate = report.Ratio(s.rate, ref.rate)
				cpu = report.Ratio(s.cpuPerM, ref.cpuPerM)
			}
			lo, hi := rateRange(samples, impl, n)
			fmt.Fprintf(&b, "| %s | %s | %s–%s | %s | %s | %s | %.2f | %s | %.0f%% | %.1f MiB | %.0f%% | %.0f%% |\n",
				impl, report.Thousands(int64(s.rate)), report.Thousands(int64(lo)), report.Thousands(int64(hi)), rate,
				rtt(s.p50), rtt(s.p99), s.cpuPerM, cpu, 100*s.sysShare, mib(s.rss), 100*s.clientCPU, 100*s.otherCPU)
		}
		b.WriteString("\n")
	}

	b.WriteString("### Memory per idle connection\n\n")
	b.WriteString("Server VmRSS after every connection is accepted and has echoed one message, less VmRSS\n")
	b.WriteString("before the first connection, divided by the connections. Kernel socket buffers are not in it.\n\n")
	b.WriteString("| server | baseline RSS |")
	for _, n := range cfg.conns {
		fmt.Fprintf(&b, " per conn at %s | vs gnet |", report.Thousands(int64(n)))
	}
	b.WriteString("\n|---|--:|")
	for range cfg.conns {
		b.WriteString("--:|--:|")
	}
	b.WriteString("\n")
	for _, impl := range cfg.impls {
		first, ok := summarize(samples, impl, cfg.conns[0])
		if !ok {
			continue
		}
		fmt.Fprintf(&b, "| %s | %.1f MiB |", impl, mib(first.baseRSS))
		for _, n := range cfg.conns {
			s, _ := summarize(samples, impl, n)
			r := ""
			if ref, ok := summarize(samples, "gnet", n); ok {
				r = report.Ratio(s.idleConn, ref.idleConn)
			}
			fmt.Fprintf(&b, " %s | %s |", bytesPerConn(s.idleConn), r)
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
	b.WriteString("Columns: msgs/s is echoes completed per second over all connections; RTT is measured by the\n")
	b.WriteString("client with the monotonic clock (histogram buckets of 1.6%); server CPU is utime+stime of\n")
	b.WriteString("the server process from /proc/PID/stat over the measured window (10 ms ticks), its kernel\n")
	b.WriteString("share the stime part; server RSS is VmRSS at the end of the window; client CPU is the\n")
	b.WriteString("client thread's CPU time over wall time: near 100% means the client, not the server, set\n")
	b.WriteString("the pace; other load is the machine's busy time (/proc/stat) that is neither server nor\n")
	b.WriteString("client, in CPUs over wall time (other programs on the shared machine, interrupts): high\n")
	b.WriteString("values mark a disturbed run. \"vs gnet\" is the ratio to gnet's median: above 1 is faster for\n")
	b.WriteString("msgs/s, more costly for CPU and memory.\n\n")
	b.WriteString("<details><summary>Every run, in the order run</summary>\n\n```\n")
	for _, s := range samples {
		b.WriteString(s.String())
		b.WriteString("\n")
	}
	b.WriteString("```\n\n</details>\n")
	fmt.Fprintf(&b, "<!-- /bench:%s -->\n", tcpEchoSection)
	return b.String()
}

// summarize is the median of every figure over the rounds of one server at
// one connection count.
func summarize(samples []sample, impl string, conns int) (sample, bool) {
	var ss []sample
	for _, s := range samples {
		if s.impl == impl && s.conns == conns {
			ss = append(ss, s)
		}
	}
	if len(ss) == 0 {
		return sample{}, false
	}
	f := func(get func(sample) float64) float64 { m, _, _ := report.MedianOf(ss, get); return m }
	return sample{
		impl:      impl,
		conns:     conns,
		rate:      f(func(s sample) float64 { return s.rate }),
		p50:       time.Duration(f(func(s sample) float64 { return float64(s.p50) })),
		p99:       time.Duration(f(func(s sample) float64 { return float64(s.p99) })),
		cpuPerM:   f(func(s sample) float64 { return s.cpuPerM }),
		sysShare:  f(func(s sample) float64 { return s.sysShare }),
		rss:       int64(f(func(s sample) float64 { return float64(s.rss) })),
		baseRSS:   int64(f(func(s sample) float64 { return float64(s.baseRSS) })),
		idleConn:  f(func(s sample) float64 { return s.idleConn }),
		clientCPU: f(func(s sample) float64 { return s.clientCPU }),
		otherCPU:  f(func(s sample) float64 { return s.otherCPU }),
	}, true
}

func rateRange(samples []sample, impl string, conns int) (lo, hi float64) {
	first := true
	for _, s := range samples {
		if s.impl != impl || s.conns != conns {
			continue
		}
		if first || s.rate < lo {
			lo = s.rate
		}
		if first || s.rate > hi {
			hi = s.rate
		}
		first = false
	}
	return lo, hi
}

// rtt prints a round trip with three significant digits at most.
func rtt(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
	case d < 100*time.Millisecond:
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
}

func bytesPerConn(b float64) string {
	if b >= 10<<10 {
		return fmt.Sprintf("%.1f KiB", b/(1<<10))
	}
	return fmt.Sprintf("%.0f B", b)
}
