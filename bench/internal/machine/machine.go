// Package machine says where a benchmark ran (the CPUs, the kernel, the Go
// version, iogate's commit) and waits, before each run, for the shared
// machine to be quiet. It reads; it tunes nothing.
package machine

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/iogate/iogate/bench/internal/proc"
)

// Machine describes the machine a benchmark runs on.
type Machine struct {
	CPUs    int
	Model   string // the first CPU's model name, "unknown" if /proc/cpuinfo has none
	Kernel  string // "Linux 6.1.0 x86_64"
	Go      string // the Go version of the driver
	Started time.Time
}

// Describe describes this machine now.
func Describe() Machine {
	m := Machine{CPUs: runtime.NumCPU(), Model: "unknown", Kernel: "unknown", Go: runtime.Version(), Started: time.Now().UTC()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		m.Model = cpuModel(b)
	}
	var u unix.Utsname
	if err := unix.Uname(&u); err == nil {
		m.Kernel = unix.ByteSliceToString(u.Sysname[:]) + " " + unix.ByteSliceToString(u.Release[:]) + " " + unix.ByteSliceToString(u.Machine[:])
	}
	return m
}

func cpuModel(cpuinfo []byte) string {
	for line := range strings.Lines(string(cpuinfo)) {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// Commit is the short hash of HEAD of the checkout the driver runs in,
// "unknown" outside one, and whether any of dirs (directories of iogate's
// packages, from the top of the repository) has uncommitted changes,
// which a binary built from the work tree then includes.
func Commit(dirs ...string) (hash string, dirty bool) {
	out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown", false
	}
	args := []string{"status", "--porcelain", "--"}
	for _, d := range dirs {
		args = append(args, ":/"+d) // a pathspec from the top
	}
	status, err := exec.Command("git", args...).Output()
	return strings.TrimSpace(string(out)), err == nil && len(bytes.TrimSpace(status)) > 0
}

// Settle waits, up to limit, until the machine's busy time over a probe of
// half a second is below quiet CPUs: on a shared machine other sessions'
// builds come and go, and a run started in a lull is a run less disturbed.
// It gives up silently at the limit; the reports' other-load columns tell.
func Settle(limit time.Duration, quiet float64) error {
	const probe = 500 * time.Millisecond
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); {
		b0, err := proc.Busy()
		if err != nil {
			return err
		}
		time.Sleep(probe) // the measurement window of the probe
		b1, err := proc.Busy()
		if err != nil {
			return err
		}
		if float64(b1-b0)/float64(probe) < quiet {
			return nil
		}
	}
	return nil
}

// Policy is how a driver copes with the load other programs put on a
// shared machine.
type Policy struct {
	Settle    time.Duration // before each run, wait up to this long for the machine to be quiet
	Quiet     float64       // CPUs of background load below which it is
	Disturbed float64       // CPUs of background load during a run above which it is run again
	Retries   int           // runs made again at most
}

// LeastDisturbed runs measure once the machine has settled, and again, up
// to p.Retries more times, while the background load the run saw,
// other(sample), passed p.Disturbed; it notes each run made again on log.
// It returns the least disturbed sample and the number of runs made: a
// neighbour's build says nothing about the program measured.
func LeastDisturbed[S any](p Policy, measure func(try int) (S, error), other func(S) float64, log io.Writer) (S, int, error) {
	var best S
	for try := range p.Retries + 1 {
		if err := Settle(p.Settle, p.Quiet); err != nil {
			return best, try, err
		}
		s, err := measure(try)
		if err != nil {
			return s, try + 1, err
		}
		if try == 0 || other(s) < other(best) {
			best = s
		}
		if other(s) <= p.Disturbed {
			return best, try + 1, nil
		}
		if try < p.Retries {
			fmt.Fprintf(log, "%v: disturbed, running again\n", s)
		}
	}
	return best, p.Retries + 1, nil
}
