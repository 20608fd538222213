package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// userHZ is the unit of the CPU times in /proc/PID/stat: USER_HZ, which the
// kernel fixes at 100 for user space on every architecture.
const userHZ = 100

// server is one running echoserver process.
type server struct {
	cmd    *exec.Cmd
	addr   netip.AddrPort
	stderr bytes.Buffer
	exited chan error
}

// startServer starts the echoserver binary with the given implementation and
// returns once it has printed its "ready ADDR" line.
func startServer(bin, impl, profile string) (*server, error) {
	s := &server{exited: make(chan error, 1)}
	args := []string{"-impl", impl, "-addr", "127.0.0.1:0"}
	if profile != "" {
		args = append(args, "-cpuprofile", profile)
	}
	s.cmd = exec.Command(bin, args...)
	s.cmd.Stderr = &s.stderr
	// The server dies with the driver even if the driver is killed; the
	// driver starts servers from its locked main thread, which lives as
	// long as the process.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := s.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	lines := make(chan string, 1)
	go func() {
		// Libraries may print banners before the ready line.
		sc := bufio.NewScanner(out)
		line := ""
		for sc.Scan() {
			if line = sc.Text(); strings.HasPrefix(line, "ready ") {
				break
			}
		}
		lines <- line
		io.Copy(io.Discard, out)
		s.exited <- s.cmd.Wait()
	}()
	select {
	case line := <-lines:
		addr, ok := strings.CutPrefix(strings.TrimSpace(line), "ready ")
		if !ok {
			return nil, fmt.Errorf("echoserver -impl %s: want a ready line, got %q; stderr: %s", impl, line, s.abort())
		}
		s.addr, err = netip.ParseAddrPort(addr)
		if err != nil {
			return nil, fmt.Errorf("echoserver -impl %s: ready line %q: %w; stderr: %s", impl, line, err, s.abort())
		}
		return s, nil
	case <-time.After(10 * time.Second):
		return nil, fmt.Errorf("echoserver -impl %s: not ready after 10s; stderr: %s", impl, s.abort())
	}
}

// abort kills a server that failed to start and returns what it printed on
// stderr; Wait has finished copying it once exited is sent.
func (s *server) abort() string {
	s.kill()
	<-s.exited
	return strings.TrimSpace(s.stderr.String())
}

func (s *server) pid() int { return s.cmd.Process.Pid }

// stop asks the server to end (so a CPU profile is written) and kills it
// if it has not within 10 s.
func (s *server) stop() error {
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.exited:
		return err
	case <-time.After(10 * time.Second):
		s.kill()
		return errors.New("echoserver did not stop on SIGTERM; killed")
	}
}

func (s *server) kill() {
	s.cmd.Process.Kill()
}

// cpuTime is the user and system CPU time of all of a process's threads,
// the dead ones included.
type cpuTime struct{ user, sys time.Duration }

func (c cpuTime) total() time.Duration { return c.user + c.sys }

func (c cpuTime) sub(d cpuTime) cpuTime { return cpuTime{c.user - d.user, c.sys - d.sys} }

func readCPU(pid int) (cpuTime, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return cpuTime{}, err
	}
	// The command name may hold spaces and parentheses; the fields after
	// the last ')' start with the state, field 3.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return cpuTime{}, fmt.Errorf("/proc/%d/stat: no ')'", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return cpuTime{}, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64) // field 14
	stime, err2 := strconv.ParseInt(f[12], 10, 64) // field 15
	if err := errors.Join(err1, err2); err != nil {
		return cpuTime{}, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	tick := time.Second / userHZ
	return cpuTime{time.Duration(utime) * tick, time.Duration(stime) * tick}, nil
}

// readRSS is the resident set size of a process in bytes (VmRSS).
func readRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		v, ok := strings.CutPrefix(line, "VmRSS:")
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/status: VmRSS: %w", pid, err)
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("/proc/%d/status: no VmRSS", pid)
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
