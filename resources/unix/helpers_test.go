package unix_test

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/iogate/iogate/reactor"
	"github.com/iogate/iogate/reactor/reactortest"
	iounix "github.com/iogate/iogate/resources/unix"
	"golang.org/x/sys/unix"
)

// deadline bounds every wait for something that must happen.
const deadline = 15 * time.Second

// sockDir is a new directory for a test's sockets, short enough for
// sun_path and open to other users, for the tests that connect as one.
func sockDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "iogate-unix-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "iogate.sock")
}

// listen is iounix.Listen that fails the test, and closes the listener
// when it ends.
func listen(t *testing.T, path string, mode os.FileMode, gid int) *iounix.Listener {
	t.Helper()
	l, err := iounix.Listen(path, mode, gid)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// dial connects with package net, and closes the client when the test
// ends. Its reads and writes wait at most the deadline.
func dial(t *testing.T, path string) net.Conn {
	t.Helper()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(deadline))
	return c
}

// wait blocks in poll(2), with no reactor, until fd is readable.
func wait(t *testing.T, fd int) {
	t.Helper()
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds, int(deadline/time.Millisecond))
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			t.Fatal(err)
		case n == 0:
			t.Fatalf("fd %d not readable within %v", fd, deadline)
		}
		return
	}
}

// accept waits for the next connection on l.
func accept(t *testing.T, l *iounix.Listener) *iounix.Conn {
	t.Helper()
	wait(t, l.Fd())
	tr, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	c := tr.(*iounix.Conn)
	t.Cleanup(func() { c.Close() })
	return c
}

// read waits for what c has, up to n bytes, and fails the test on an
// error.
func read(t *testing.T, c *iounix.Conn, n int) (string, error) {
	t.Helper()
	wait(t, c.Fd())
	buf := make([]byte, n)
	n, err := c.Read(buf)
	if errors.Is(err, reactor.ErrWouldBlock) {
		t.Fatal("readable, but Read would block")
	}
	return string(buf[:n]), err
}

// need returns the path of a program the test needs, skipping the test if
// it is missing, or failing it under CI.
func need(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing; CI must have it (apt-get install %s)", name, name)
		}
		t.Skipf("%s is not installed (apt-get install %s)", name, name)
	}
	return path
}

// serve runs l in a reactor whose service echoes every connection and
// closes what it is handed back. It is the tests' one use of the reactor.
func serve(t *testing.T, l *iounix.Listener) {
	t.Helper()
	svc := reactortest.NewRecorder()
	svc.OnDisconnected = reactor.Base{}.Disconnected
	svc.OnShutdown = reactor.Base{}.Shutdown
	svc.OnAccepted = func(r *reactor.Reactor, _ reactor.ID, tr reactor.Transport) {
		if _, err := r.RegisterTransport(tr, svc); err != nil {
			t.Errorf("service: %v", err)
			tr.Close()
		}
	}
	svc.OnReceived = func(r *reactor.Reactor, id reactor.ID, data []byte) { r.Send(id, data) }
	loop := reactortest.Start(t, svc, reactor.Options{})
	loop.RegisterListener(l)
}
