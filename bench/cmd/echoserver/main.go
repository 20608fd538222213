// Command echoserver is a TCP echo server built on one of the I/O stacks the
// benchmarks compare: iogate's reactor, gnet, or Go's net package. It prints
// "ready ADDR" on stdout once it listens, echoes every byte back until it is
// sent SIGTERM or SIGINT, and is meant to be started by benchrun.
//
//	echoserver -impl iogate|gnet|net [-addr 127.0.0.1:0] [-cpuprofile FILE]
package main

import (
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"runtime/pprof"
	"sort"
	"syscall"

	"golang.org/x/sys/unix"
)

// servers are the implementations by name. serve listens on addr, calls
// ready with the address it got, and serves until the process ends.
var servers = map[string]func(addr string, ready func(netip.AddrPort)) error{
	"iogate": serveIogate,
	"gnet":   serveGnet,
	"net":    serveNet,
}

func main() {
	impl := flag.String("impl", "", "server implementation: "+fmt.Sprint(names()))
	addr := flag.String("addr", "127.0.0.1:0", "listen address; port 0 picks a free one")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile to `file` until stopped")
	flag.Parse()
	serve := servers[*impl]
	if serve == nil || flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "echoserver: want -impl one of %v\n", names())
		os.Exit(2)
	}
	if err := raiseFileLimit(); err != nil {
		fmt.Fprintln(os.Stderr, "echoserver:", err)
		os.Exit(1)
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "echoserver:", err)
			os.Exit(1)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "echoserver:", err)
			os.Exit(1)
		}
	}
	// The servers have no graceful stop worth measuring: a signal ends the
	// profile and the process.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-sig
		pprof.StopCPUProfile()
		os.Exit(0)
	}()
	ready := func(a netip.AddrPort) { fmt.Printf("ready %s\n", a) }
	if err := serve(*addr, ready); err != nil {
		pprof.StopCPUProfile()
		fmt.Fprintf(os.Stderr, "echoserver %s: %v\n", *impl, err)
		os.Exit(1)
	}
}

func names() []string {
	var n []string
	for name := range servers {
		n = append(n, name)
	}
	sort.Strings(n)
	return n
}

// raiseFileLimit lifts the soft descriptor limit to the hard one: ten
// thousand connections need ten thousand descriptors.
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
