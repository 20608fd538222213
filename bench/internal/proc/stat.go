package proc

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// userHZ is the unit of the CPU times in /proc/PID/stat and /proc/stat:
// USER_HZ, which the kernel fixes at 100 for user space on every
// architecture.
const userHZ = 100

const tick = time.Second / userHZ

// Times are a process's CPU times, all its threads, the dead ones
// included, in 10 ms ticks.
type Times struct{ User, System time.Duration }

// Total is user and system time together.
func (t Times) Total() time.Duration { return t.User + t.System }

// Sub is t less u: the CPU time spent between two readings.
func (t Times) Sub(u Times) Times { return Times{t.User - u.User, t.System - u.System} }

// CPU is the utime and stime of a process, from /proc/PID/stat.
func CPU(pid int) (Times, error) {
	path := fmt.Sprintf("/proc/%d/stat", pid)
	b, err := os.ReadFile(path)
	if err != nil {
		return Times{}, err
	}
	t, err := parseStat(b)
	if err != nil {
		return t, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

func parseStat(b []byte) (Times, error) {
	// The command name may hold spaces and parentheses; the fields after
	// the last ')' start with the state, field 3.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return Times{}, errors.New("no ')'")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return Times{}, fmt.Errorf("%d fields", len(f))
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64) // field 14
	stime, err2 := strconv.ParseInt(f[12], 10, 64) // field 15
	if err := errors.Join(err1, err2); err != nil {
		return Times{}, err
	}
	return Times{time.Duration(utime) * tick, time.Duration(stime) * tick}, nil
}

// Status is the number in field key of /proc/PID/status ("VmRSS",
// "VmHWM", "voluntary_ctxt_switches"), in bytes for the fields the kernel
// counts in kB.
func Status(pid int, key string) (int64, error) {
	return statusField(fmt.Sprintf("/proc/%d/status", pid), key)
}

// RSS is a process's resident set size in bytes, VmRSS.
func RSS(pid int) (int64, error) { return Status(pid, "VmRSS") }

func statusField(path, key string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	n, err := parseStatus(b, key)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return n, nil
}

func parseStatus(b []byte, key string) (int64, error) {
	for line := range strings.Lines(string(b)) {
		v, ok := strings.CutPrefix(line, key+":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		v, kB := strings.CutSuffix(v, " kB")
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", key, err)
		}
		if kB {
			n <<= 10
		}
		return n, nil
	}
	return 0, fmt.Errorf("no %s", key)
}

// Thread is what the kernel counts of one thread: its context switches,
// voluntary and not, and its CPU time to the nanosecond (schedstat).
type Thread struct {
	Switches int64
	CPU      time.Duration
}

// Threads reads every live thread of a process, by thread ID. A thread
// that exits while they are read is left out.
func Threads(pid int) (map[int]Thread, error) {
	dir := fmt.Sprintf("/proc/%d/task", pid)
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	out := make(map[int]Thread, len(tasks))
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		th, err := thread(pid, tid)
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ESRCH) {
			continue // exited since the listing
		}
		if err != nil {
			return nil, err
		}
		out[tid] = th
	}
	return out, nil
}

func thread(pid, tid int) (Thread, error) {
	var th Thread
	path := fmt.Sprintf("/proc/%d/task/%d/status", pid, tid)
	b, err := os.ReadFile(path)
	if err != nil {
		return th, err
	}
	for _, k := range []string{"voluntary_ctxt_switches", "nonvoluntary_ctxt_switches"} {
		n, err := parseStatus(b, k)
		if err != nil {
			return th, fmt.Errorf("%s: %w", path, err)
		}
		th.Switches += n
	}
	th.CPU, err = ThreadCPU(pid, tid)
	return th, err
}

// ThreadCPU is a thread's CPU time from the scheduler's nanosecond
// account, the first field of /proc/PID/task/TID/schedstat.
func ThreadCPU(pid, tid int) (time.Duration, error) {
	path := fmt.Sprintf("/proc/%d/task/%d/schedstat", pid, tid)
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0, fmt.Errorf("%s: empty", path)
	}
	ns, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return time.Duration(ns), nil
}

// Usage is what /proc says of a set of processes at one moment; the
// difference of two readings (Sub) is what they did in between.
type Usage struct {
	CPU      time.Duration // utime+stime, /proc/PID/stat, in 10 ms ticks
	Sched    time.Duration // run time of the live threads, schedstat, in ns
	Syscalls int64         // read-like and write-like system calls, /proc/PID/io syscr+syscw
	Switches int64         // context switches of the live threads, voluntary and not
	RSS      int64         // VmRSS in bytes
	HWM      int64         // VmHWM, the peak of VmRSS, in bytes
}

// Sub is u less v, except for the memory, which is u's.
func (u Usage) Sub(v Usage) Usage {
	return Usage{u.CPU - v.CPU, u.Sched - v.Sched, u.Syscalls - v.Syscalls, u.Switches - v.Switches, u.RSS, u.HWM}
}

// ReadUsage sums the usage of processes. A thread that exits between two
// readings takes its switches and schedstat time with it; the CPU time
// stays in the process's account.
func ReadUsage(pids ...int) (Usage, error) {
	var total Usage
	for _, pid := range pids {
		u, err := readUsage(pid)
		if err != nil {
			return total, err
		}
		total.CPU += u.CPU
		total.Sched += u.Sched
		total.Syscalls += u.Syscalls
		total.Switches += u.Switches
		total.RSS += u.RSS
		total.HWM += u.HWM
	}
	return total, nil
}

func readUsage(pid int) (Usage, error) {
	var u Usage
	t, err := CPU(pid)
	if err != nil {
		return u, err
	}
	u.CPU = t.Total()
	if u.RSS, err = RSS(pid); err != nil {
		return u, err
	}
	if u.HWM, err = Status(pid, "VmHWM"); err != nil {
		return u, err
	}
	path := fmt.Sprintf("/proc/%d/io", pid)
	b, err := os.ReadFile(path)
	if err != nil {
		return u, err
	}
	for _, k := range []string{"syscr", "syscw"} {
		n, err := parseStatus(b, k)
		if err != nil {
			return u, fmt.Errorf("%s: %w", path, err)
		}
		u.Syscalls += n
	}
	threads, err := Threads(pid)
	if err != nil {
		return u, err
	}
	for _, th := range threads {
		u.Sched += th.CPU
		u.Switches += th.Switches
	}
	return u, nil
}

// Kworkers is the CPU time of every kernel worker thread (kworker/*), by
// PID: what a program writes into a pty reaches the terminal's line
// discipline in one of them.
func Kworkers() (map[int]time.Duration, error) {
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	out := make(map[int]time.Duration)
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		comm, err := os.ReadFile(filepath.Join("/proc", d.Name(), "comm"))
		if err != nil || !bytes.HasPrefix(comm, []byte("kworker")) {
			continue // gone since the listing, or not a worker
		}
		t, err := CPU(pid)
		if err != nil {
			continue
		}
		out[pid] = t.Total()
	}
	return out, nil
}

// Busy is the CPU time all CPUs of the machine have spent on anything but
// idling, from the first line of /proc/stat.
func Busy() (time.Duration, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	d, err := parseBusy(b)
	if err != nil {
		return 0, fmt.Errorf("/proc/stat: %w", err)
	}
	return d, nil
}

func parseBusy(b []byte) (time.Duration, error) {
	line, _, _ := bytes.Cut(b, []byte{'\n'})
	f := strings.Fields(string(line))
	if len(f) < 9 || f[0] != "cpu" {
		return 0, fmt.Errorf("unexpected first line %q", line)
	}
	var busy int64
	// user nice system idle iowait irq softirq steal; guest time is already
	// in user.
	for i, v := range f[1:9] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, err
		}
		if i != 3 && i != 4 {
			busy += n
		}
	}
	return time.Duration(busy) * tick, nil
}
