package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// userHZ is the unit of the CPU times in /proc/PID/stat: USER_HZ, which the
// kernel fixes at 100 for user space on every architecture.
const userHZ = 100

// proc is a program the driver started: the bridge under test, one of its
// parts, or the broker. Its output is read line by line: watch sees every
// line, and the last lines are kept for error messages.
type proc struct {
	name   string
	cmd    *exec.Cmd
	exited chan struct{} // closed once the process is gone and its output read
	err    error         // Wait's result, set before exited is closed

	mu   sync.Mutex
	tail []string
}

// tailLines is how many lines of a program's output an error quotes.
const tailLines = 20

// startProc starts cmd, whose Stdout and Stderr must be unset unless stdout
// is given; watch, if not nil, is called with each line of output from the
// goroutine that reads it.
func startProc(name string, cmd *exec.Cmd, watch func(line string)) (*proc, error) {
	p := &proc{name: name, cmd: cmd, exited: make(chan struct{})}
	// The programs die with the driver even if the driver is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	if cmd.Stdout == nil {
		cmd.Stdout = w
	}
	cmd.Stderr = w
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	w.Close()
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			if len(p.tail) == tailLines {
				p.tail = p.tail[1:]
			}
			p.tail = append(p.tail, line)
			p.mu.Unlock()
			if watch != nil {
				watch(line)
			}
		}
		io.Copy(io.Discard, r)
		r.Close()
		p.err = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// output is the last lines the program printed.
func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.tail, "\n")
}

// stop sends SIGTERM and waits for the exit, killing the program after
// limit.
func (p *proc) stop(limit time.Duration) error {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return nil
	case <-time.After(limit):
		p.cmd.Process.Kill()
		<-p.exited
		return fmt.Errorf("%s did not stop within %v of SIGTERM; killed", p.name, limit)
	}
}

// failed describes a program that ended or misbehaved, with its output.
func (p *proc) failed(what string) error {
	select {
	case <-p.exited:
		return fmt.Errorf("%s %s: exited (%v); its output:\n%s", p.name, what, p.err, p.output())
	default:
		return fmt.Errorf("%s %s; its output:\n%s", p.name, what, p.output())
	}
}

// usage is what /proc says of a set of processes at one moment.
type usage struct {
	cpu      time.Duration // utime+stime, /proc/PID/stat, in 10 ms ticks
	sched    time.Duration // run time of the live threads, /proc/PID/task/*/schedstat, in ns
	syscalls int64         // read-like and write-like system calls, /proc/PID/io syscr+syscw
	switches int64         // context switches of the live threads, voluntary and not
	rss      int64         // VmRSS in bytes
}

func (u usage) sub(v usage) usage {
	return usage{u.cpu - v.cpu, u.sched - v.sched, u.syscalls - v.syscalls, u.switches - v.switches, u.rss}
}

// readUsage sums the usage of processes.
func readUsage(pids ...int) (usage, error) {
	var total usage
	for _, pid := range pids {
		u, err := readOne(pid)
		if err != nil {
			return total, err
		}
		total.cpu += u.cpu
		total.sched += u.sched
		total.syscalls += u.syscalls
		total.switches += u.switches
		total.rss += u.rss
	}
	return total, nil
}

func readOne(pid int) (usage, error) {
	var u usage
	var err error
	if u.cpu, err = readCPU(pid); err != nil {
		return u, err
	}
	if u.rss, err = statusField(fmt.Sprintf("/proc/%d/status", pid), "VmRSS:"); err != nil {
		return u, err
	}
	u.rss <<= 10
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return u, err
	}
	for line := range strings.Lines(string(b)) {
		k, v, _ := strings.Cut(strings.TrimSpace(line), ": ")
		if k == "syscr" || k == "syscw" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return u, fmt.Errorf("/proc/%d/io: %s: %w", pid, k, err)
			}
			u.syscalls += n
		}
	}
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*", pid))
	if err != nil {
		return u, err
	}
	for _, t := range tasks {
		// A thread may end between the listing and the reads: skip it.
		b, err := os.ReadFile(t + "/schedstat")
		if err != nil {
			continue
		}
		f := strings.Fields(string(b))
		if len(f) == 0 {
			continue
		}
		ns, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return u, fmt.Errorf("%s/schedstat: %w", t, err)
		}
		u.sched += time.Duration(ns)
		for _, k := range []string{"voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:"} {
			if n, err := statusField(t+"/status", k); err == nil {
				u.switches += n
			}
		}
	}
	return u, nil
}

// readCPU is the utime+stime of a process, all its threads, the dead ones
// included.
func readCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name may hold spaces and parentheses; the fields after
	// the last ')' start with the state, field 3.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no ')'", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64) // field 14
	stime, err2 := strconv.ParseInt(f[12], 10, 64) // field 15
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return time.Duration(utime+stime) * (time.Second / userHZ), nil
}

// statusField is the number after key in a /proc status file.
func statusField(path, key string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		v, ok := strings.CutPrefix(line, key)
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %s %w", path, key, err)
		}
		return n, nil
	}
	return 0, fmt.Errorf("%s: no %s", path, key)
}

// readBusy is the CPU time all CPUs of the machine have spent on anything
// but idling, from the first line of /proc/stat.
func readBusy() (time.Duration, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, fmt.Errorf("/proc/stat: unexpected first line %q", line)
	}
	var busy int64
	// user nice system idle iowait irq softirq steal; guest time is already
	// in user.
	for i, v := range f[1:9] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/stat: %w", err)
		}
		if i != 3 && i != 4 {
			busy += n
		}
	}
	return time.Duration(busy) * (time.Second / userHZ), nil
}

// settle waits, up to limit, until the machine's busy time over a probe of
// half a second is below quiet CPUs: on a shared machine other sessions'
// builds come and go, and a run started in a lull is a run less disturbed.
// It gives up silently at the limit; the report's other-load column tells.
func settle(limit time.Duration, quiet float64) error {
	const probe = 500 * time.Millisecond
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); {
		b0, err := readBusy()
		if err != nil {
			return err
		}
		time.Sleep(probe) // the measurement window of the probe
		b1, err := readBusy()
		if err != nil {
			return err
		}
		if float64(b1-b0)/float64(probe) < quiet {
			return nil
		}
	}
	return nil
}
