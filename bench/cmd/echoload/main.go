// Command echoload drives a running echo server with the benchmark client,
// for profiling a server by hand (perf, strace, pprof) while it is loaded:
//
//	echoserver -impl iogate -cpuprofile iogate.prof &   # prints "ready 127.0.0.1:PORT"
//	echoload -addr 127.0.0.1:PORT -conns 1000 -duration 10s
//
// benchrun does the same for every server and writes the report; this only
// prints what one run measured.
package main

import (
	"flag"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"time"

	"github.com/iogate/iogate/bench/echoclient"
	"golang.org/x/sys/unix"
)

func init() { runtime.LockOSThread() }

func main() {
	addr := flag.String("addr", "", "server address, ip:port")
	conns := flag.Int("conns", 1000, "connections")
	size := flag.Int("size", 64, "message size in bytes")
	duration := flag.Duration("duration", 10*time.Second, "measured time")
	warmup := flag.Duration("warmup", time.Second, "unmeasured load before it")
	flag.Parse()
	ap, err := netip.ParseAddrPort(*addr)
	if err != nil || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "echoload: want -addr ip:port")
		os.Exit(2)
	}
	var lim unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &lim) == nil {
		lim.Cur = lim.Max
		unix.Setrlimit(unix.RLIMIT_NOFILE, &lim)
	}
	c, err := echoclient.Dial(ap, *conns, *size)
	if err != nil {
		fmt.Fprintln(os.Stderr, "echoload:", err)
		os.Exit(1)
	}
	defer c.Close()
	fmt.Printf("connected %d\n", c.Len())
	if *warmup > 0 {
		if _, err := c.Run(*warmup); err != nil {
			fmt.Fprintln(os.Stderr, "echoload:", err)
			os.Exit(1)
		}
	}
	fmt.Println("measuring")
	res, err := c.Run(*duration)
	if err != nil {
		fmt.Fprintln(os.Stderr, "echoload:", err)
		os.Exit(1)
	}
	fmt.Printf("%d messages in %v: %.0f msg/s, p50 %v, p99 %v, client CPU %.0f%%\n",
		res.Messages, res.Elapsed.Round(time.Millisecond), res.Rate(), res.P50, res.P99,
		100*float64(res.ClientCPU)/float64(res.Elapsed))
}
