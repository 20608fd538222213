// Package proc is the benchmark drivers' view of processes: the programs
// they start for a run (Start), and what Linux's /proc says of a process,
// its threads and the machine: CPU time, context switches, system calls
// and memory. It is not a supervisor: nothing is restarted, and a driver
// stops what it started at the end of its run.
package proc

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// tailLines is how many lines of a program's output an error quotes.
const tailLines = 20

// Process is a program a driver started. Its output is read line by line:
// a watch function sees every line, and the last ones are kept for error
// messages.
type Process struct {
	name   string
	cmd    *exec.Cmd
	exited chan struct{} // closed once the process is gone and its output read
	err    error         // Wait's result, set before exited is closed

	mu   sync.Mutex
	tail []string
}

// Start starts cmd, whose Stderr must be unset, and whose Stdout too unless
// the caller connects it elsewhere; watch, if not nil, is called with each
// line of output from the goroutine that reads it. The program gets
// SIGKILL if the thread that started it ends, so a driver that dies takes
// its programs with it: start them from a thread that lives as long as the
// driver (a locked main thread).
func Start(name string, cmd *exec.Cmd, watch func(line string)) (*Process, error) {
	p := &Process{name: name, cmd: cmd, exited: make(chan struct{})}
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

// Pid is the program's process ID.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Exited is closed once the program has exited and its output is read.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Signal sends sig to the program.
func (p *Process) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Output is the last lines the program printed.
func (p *Process) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.tail, "\n")
}

// Stop sends SIGTERM and waits for the exit, killing the program after
// limit.
func (p *Process) Stop(limit time.Duration) error {
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

// Failed describes a program that ended or misbehaved, with its output.
func (p *Process) Failed(what string) error {
	select {
	case <-p.exited:
		return fmt.Errorf("%s %s: exited (%v); its output:\n%s", p.name, what, p.err, p.Output())
	default:
		return fmt.Errorf("%s %s; its output:\n%s", p.name, what, p.Output())
	}
}

// Find looks a program up in PATH, then at the places given (daemons live
// in /usr/sbin, which is not always in PATH); the error names pkg, the
// Debian package to install.
func Find(name, pkg string, also ...string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, p := range also {
		if st, err := os.Stat(p); err == nil && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found: install it (Debian: apt-get install %s), or run make bench as root", name, pkg)
}
