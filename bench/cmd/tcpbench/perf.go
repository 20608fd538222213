package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/iogate/iogate/bench/internal/proc"
)

// perfSyscalls are the system calls counted one by one under -perf: the
// data path's reads and writes, the waits, and the runtime's and gensio's
// wake-ups. raw_syscalls:sys_enter counts them all.
var perfSyscalls = []string{
	"read", "write", "readv", "writev", "sendmsg", "recvmsg", "sendto", "recvfrom",
	"epoll_pwait", "epoll_pwait2", "epoll_wait", "epoll_ctl", "ppoll", "pselect6",
	"futex", "nanosleep", "clock_nanosleep", "sched_yield", "tgkill", "getpid", "gettid",
	"rt_sigprocmask", "rt_sigreturn", "ioctl", "madvise", "mmap", "munmap",
}

// perfRun is perf stat and perf record attached to a server for the
// measured window.
type perfRun struct {
	stat, record *proc.Process
	statFile     string
	data         string
}

// perfCounts is what perf stat counted of the server in the window.
type perfCounts struct {
	syscalls map[string]int64 // by name
	total    int64            // every system call
	switches int64            // context switches
}

// startPerf attaches perf to the server pid. Its output goes to dir, named
// after the server and the case.
func startPerf(dir, impl, kase string, pid int) (*perfRun, error) {
	base := filepath.Join(dir, impl+"-"+kase)
	pr := &perfRun{statFile: base + ".stat.csv", data: base + ".data"}
	events := []string{"context-switches", "raw_syscalls:sys_enter"}
	for _, s := range perfSyscalls {
		events = append(events, "syscalls:sys_enter_"+s)
	}
	var err error
	pr.stat, err = proc.Start("perf stat", exec.Command("perf", "stat", "-x", ",", "-o", pr.statFile,
		"-e", strings.Join(events, ","), "-p", strconv.Itoa(pid)), nil)
	if err != nil {
		return nil, err
	}
	pr.record, err = proc.Start("perf record", exec.Command("perf", "record", "-g", "-o", pr.data, "-p", strconv.Itoa(pid)), nil)
	if err != nil {
		pr.stat.Stop(time.Second)
		return nil, err
	}
	return pr, nil
}

// finish stops perf, which writes its counts and profile, and writes perf
// report's summary of the profile beside it.
func (pr *perfRun) finish() (*perfCounts, error) {
	var errs []error
	for _, p := range []*proc.Process{pr.stat, pr.record} {
		p.Signal(syscall.SIGINT) // perf ends on SIGINT and writes what it has
		select {
		case <-p.Exited():
		case <-time.After(30 * time.Second):
			errs = append(errs, p.Stop(time.Second))
		}
	}
	if !strings.Contains(pr.record.Output(), "Captured and wrote") {
		errs = append(errs, pr.record.Failed("failed"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	out, err := exec.Command("perf", "report", "-i", pr.data, "--stdio", "--no-children", "--sort", "comm,dso,sym", "--percent-limit", "0.5", "-g", "none").Output()
	if err != nil {
		return nil, fmt.Errorf("perf report %s: %w", pr.data, err)
	}
	if err := os.WriteFile(strings.TrimSuffix(pr.data, ".data")+".report.txt", out, 0o644); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(pr.statFile)
	if err != nil {
		return nil, err
	}
	return parsePerfStat(b)
}

// parsePerfStat reads perf stat -x, output: "count,unit,event,...".
func parsePerfStat(b []byte) (*perfCounts, error) {
	c := &perfCounts{syscalls: map[string]int64{}}
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		f := strings.Split(sc.Text(), ",")
		if len(f) < 3 || strings.HasPrefix(f[0], "#") {
			continue
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			continue // "<not counted>", "<not supported>"
		}
		switch ev := f[2]; {
		case ev == "context-switches":
			c.switches = n
		case ev == "raw_syscalls:sys_enter":
			c.total = n
		case strings.HasPrefix(ev, "syscalls:sys_enter_"):
			c.syscalls[strings.TrimPrefix(ev, "syscalls:sys_enter_")] = n
		}
	}
	if c.total == 0 {
		return nil, fmt.Errorf("perf stat counted no system call: %q", b)
	}
	return c, nil
}

// perFrame lists the counts per frame, the most frequent first.
func (c *perfCounts) perFrame(frames int64) string {
	if c == nil || frames == 0 {
		return ""
	}
	names := make([]string, 0, len(c.syscalls))
	var named int64
	for k, n := range c.syscalls {
		if n > 0 {
			names = append(names, k)
			named += n
		}
	}
	slices.SortFunc(names, func(a, b string) int { return int(c.syscalls[b] - c.syscalls[a]) })
	f := float64(frames)
	parts := []string{fmt.Sprintf("syscalls %.2f/frame", float64(c.total)/f), fmt.Sprintf("switches %.2f/frame", float64(c.switches)/f)}
	for _, k := range names {
		parts = append(parts, fmt.Sprintf("%s %.3f", k, float64(c.syscalls[k])/f))
	}
	if other := c.total - named; other > 0 {
		parts = append(parts, fmt.Sprintf("other %.3f", float64(other)/f))
	}
	return strings.Join(parts, ", ")
}
