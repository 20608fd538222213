package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

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
