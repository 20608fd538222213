// Command serialreader reads serial ports and counts what they send: bytes,
// and lines split on '\n'. It is the reading side of benchrun's serial
// benchmark, built on one of the two designs it compares: iogate's reactor
// (-impl iogate, or -impl iogate-nolock for a reactor without
// Options.LockThread) or a goroutine per port reading an *os.File through
// Go's runtime poller (-impl goroutine).
//
//	serialreader -impl iogate|iogate-nolock|goroutine -paths P1,P2,... [-deadline 1s] [-buffer N] [-cpuprofile FILE]
//
// It opens every path, prints "ready" on stdout, and then answers commands,
// one per line on stdin, each with one JSON line on stdout:
//
//	stats              the counts so far
//	expect B1,B2,...   wait until path i has read Bi bytes (at most -drain), then
//	                   print the final counts and exit
//
// The end of stdin, SIGTERM or SIGINT print the final counts and exit too.
// The final line carries the counts per path and the read errors, so that
// the driver can tell a run that lost bytes.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/iogate/iogate/resources/serial"
)

// options are the settings of a reader.
type options struct {
	deadline time.Duration // goroutine: the read deadline re-armed before every read
	buffer   int           // bytes read at most per read; 0 is the design's default
}

// mode is what both designs open their ports with: the same raw mode, the
// same exclusive hold, so that they read the same stream the same way.
var mode = serial.Mode{Baud: 115200}

// count is what has been read from one path.
type count struct {
	Path  string `json:"path"`
	Bytes int64  `json:"bytes"`
	Lines int64  `json:"lines"`
	Err   string `json:"err,omitempty"`
}

// totals is the answer to a command: the sums, and on the final answer the
// count of every path.
type totals struct {
	Bytes int64   `json:"bytes"`
	Lines int64   `json:"lines"`
	Final bool    `json:"final,omitempty"`
	Paths []count `json:"paths,omitempty"`
}

func sum(counts []count, final bool) totals {
	t := totals{Final: final}
	for _, c := range counts {
		t.Bytes += c.Bytes
		t.Lines += c.Lines
	}
	if final {
		t.Paths = counts
	}
	return t
}

// reader is one of the designs under test.
type reader interface {
	// counts is what each path has read so far; any goroutine may call it.
	counts() []count
	// finish stops reading, once path i has read targets[i] bytes or drain
	// has passed when targets is not nil, at once when it is, and returns
	// the final counts. It is called once.
	finish(targets []int64, drain time.Duration) []count
}

// readers are the designs by name. Each opens every path and starts
// reading before it returns.
var readers = map[string]func(paths []string, o options) (reader, error){
	"iogate":        openIogate,
	"iogate-nolock": openIogateNoLock,
	"goroutine":     openGoroutine,
}

func main() {
	impl := flag.String("impl", "", "reader design: iogate, iogate-nolock or goroutine")
	paths := flag.String("paths", "", "comma-separated serial ports (pty terminals) to read")
	var o options
	flag.DurationVar(&o.deadline, "deadline", time.Second, "goroutine: the read deadline set before every read; 0 sets none")
	flag.IntVar(&o.buffer, "buffer", 0, "read buffer in bytes; 0 is the design's default: the reactor's 64 KiB, the goroutine's 4 KiB")
	drain := flag.Duration("drain", 10*time.Second, "expect: how long to wait for the expected bytes at most")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile to `file` until the end")
	flag.Parse()
	open := readers[*impl]
	if open == nil || *paths == "" || o.buffer < 0 || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "serialreader: want -impl iogate|iogate-nolock|goroutine -paths P1,P2,...")
		os.Exit(2)
	}
	if err := run(open, strings.Split(*paths, ","), o, *drain, *cpuprofile); err != nil {
		fmt.Fprintf(os.Stderr, "serialreader %s: %v\n", *impl, err)
		os.Exit(1)
	}
}

func run(open func([]string, options) (reader, error), paths []string, o options, drain time.Duration, profile string) error {
	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	r, err := open(paths, o)
	if err != nil {
		return err
	}
	cmds := make(chan string)
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			cmds <- sc.Text()
		}
		close(cmds)
	}()
	out := json.NewEncoder(os.Stdout)
	fmt.Println("ready")
	for {
		var (
			cmd string
			ok  bool
		)
		select {
		case cmd, ok = <-cmds:
		case <-sig:
		}
		if !ok {
			return out.Encode(sum(r.finish(nil, 0), true))
		}
		verb, arg, _ := strings.Cut(cmd, " ")
		switch verb {
		case "stats":
			if err := out.Encode(sum(r.counts(), false)); err != nil {
				return err
			}
		case "expect":
			targets, err := parseTargets(arg, len(paths))
			if err != nil {
				r.finish(nil, 0)
				return err
			}
			return out.Encode(sum(r.finish(targets, drain), true))
		default:
			r.finish(nil, 0)
			return fmt.Errorf("unknown command %q", cmd)
		}
	}
}

func parseTargets(arg string, n int) ([]int64, error) {
	f := strings.Split(arg, ",")
	if len(f) != n {
		return nil, fmt.Errorf("expect: %d counts for %d paths", len(f), n)
	}
	targets := make([]int64, n)
	for i, s := range f {
		v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil || v < 0 {
			return nil, fmt.Errorf("expect: %q is not a byte count", s)
		}
		targets[i] = v
	}
	return targets, nil
}
