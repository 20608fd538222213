package unix_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/iogate/iogate/reactor"
	iounix "github.com/iogate/iogate/resources/unix"
	"golang.org/x/sys/unix"
)

func TestListenAcceptReadWrite(t *testing.T) {
	path := sockDir(t)
	l := listen(t, path, 0o660, -1)
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode() != fs.ModeSocket|0o660 {
		t.Errorf("socket file mode %v, want %v", fi.Mode(), fs.ModeSocket|0o660)
	}
	if l.Path() != path || l.GID() != int(fi.Sys().(*syscall.Stat_t).Gid) {
		t.Errorf("Path() %q, GID() %d; the file's group is %d", l.Path(), l.GID(), fi.Sys().(*syscall.Stat_t).Gid)
	}
	if _, err := l.Accept(); !errors.Is(err, reactor.ErrWouldBlock) {
		t.Fatalf("Accept with nobody connecting: %v", err)
	}

	client := dial(t, path)
	c := accept(t, l)
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, reactor.ErrWouldBlock) {
		t.Fatalf("Read with nothing sent: %v", err)
	}
	fmt.Fprint(client, "ping")
	if got, err := read(t, c, 16); got != "ping" || err != nil {
		t.Fatalf("Read = %q, %v", got, err)
	}
	if n, err := c.Write([]byte("pong")); n != 4 || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(client); string(got) != "pong" || err != nil {
		t.Fatalf("the client read %q, %v", got, err)
	}
	client.Close()
	if got, err := read(t, c, 16); got != "" || err != io.EOF {
		t.Fatalf("Read after the client closed = %q, %v", got, err)
	}

	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) || c.Fd() != -1 {
		t.Fatalf("Read after Close: %v, Fd %d", err, c.Fd())
	}
	if err := c.Close(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the socket file outlived Close: %v", err)
	}
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) || l.Fd() != -1 {
		t.Fatalf("Accept after Close: %v, Fd %d", err, l.Fd())
	}
	if err := l.Close(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
}

// The descriptors are close-on-exec, and non-blocking (which the
// ErrWouldBlock above shows).
func TestCloseOnExec(t *testing.T) {
	path := sockDir(t)
	l := listen(t, path, 0o600, -1)
	dial(t, path)
	c := accept(t, l)
	for _, fd := range []int{l.Fd(), c.Fd()} {
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if err != nil || flags&unix.FD_CLOEXEC == 0 {
			t.Errorf("fd %d: flags %#x, %v: not close-on-exec", fd, flags, err)
		}
	}
}

func TestListenGroup(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("changing a file's group to another needs root")
	}
	path := sockDir(t)
	l := listen(t, path, 0o660, 65534)
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if gid := fi.Sys().(*syscall.Stat_t).Gid; gid != 65534 || l.GID() != 65534 {
		t.Fatalf("the socket's group is %d, GID() %d, want 65534", gid, l.GID())
	}
}

// A socket file left by a gateway that crashed is taken over.
func TestListenReplacesStale(t *testing.T) {
	path := sockDir(t)
	stale, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	stale.SetUnlinkOnClose(false)
	stale.Close()
	if _, err := os.Lstat(path); err != nil {
		t.Fatalf("no stale socket to test with: %v", err)
	}
	l := listen(t, path, 0o660, -1)
	dial(t, path)
	accept(t, l)
}

// A socket another gateway answers on is left alone.
func TestListenRefusesLive(t *testing.T) {
	path := sockDir(t)
	live, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	_, err = iounix.Listen(path, 0o660, -1)
	if !errors.Is(err, iounix.ErrInUse) || !strings.Contains(err.Error(), path) {
		t.Fatalf("Listen on a live socket: %v", err)
	}
	c := dial(t, path) // still the other's
	s, err := live.Accept()
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	c.Close()
}

// Whatever is at the path and is not a socket stays as it is.
func TestListenRefusesOtherFiles(t *testing.T) {
	for _, tc := range []struct {
		kind string
		make func(path string) error
	}{
		{"regular file", func(p string) error { return os.WriteFile(p, []byte("keep me"), 0o600) }},
		{"directory", func(p string) error { return os.Mkdir(p, 0o700) }},
		{"symbolic link", func(p string) error { return os.Symlink("/nonexistent", p) }},
		{"named pipe", func(p string) error { return syscall.Mkfifo(p, 0o600) }},
	} {
		path := sockDir(t)
		if err := tc.make(path); err != nil {
			t.Fatal(err)
		}
		before, _ := os.Lstat(path)
		_, err := iounix.Listen(path, 0o660, -1)
		if err == nil || !strings.Contains(err.Error(), "is a "+tc.kind+", not a socket: not removing it") {
			t.Errorf("%s: Listen = %v", tc.kind, err)
		}
		if after, err := os.Lstat(path); err != nil || after.Mode() != before.Mode() {
			t.Errorf("%s: the file changed: %v, %v", tc.kind, after, err)
		}
	}
}

// Close removes only the socket file Listen made: not one that another
// process made at the path since.
func TestCloseLeavesSuccessor(t *testing.T) {
	path := sockDir(t)
	l := listen(t, path, 0o660, -1)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	next, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer next.Close()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(path); err != nil {
		t.Fatalf("Close removed its successor's socket: %v", err)
	}
}

func TestListenErrors(t *testing.T) {
	long := "/tmp/" + strings.Repeat("x", 200) + ".sock"
	if _, err := iounix.Listen(long, 0o660, -1); err == nil || !strings.Contains(err.Error(), "bytes long") {
		t.Errorf("a path of %d bytes: %v", len(long), err)
	}
	if _, err := iounix.Listen(sockDir(t), fs.ModeSetuid|0o660, -1); err == nil {
		t.Error("a setuid mode was taken")
	}
	if _, err := iounix.Listen("/nonexistent/dir/iogate.sock", 0o660, -1); !errors.Is(err, syscall.ENOENT) ||
		!strings.Contains(err.Error(), "listen unix /nonexistent/dir/iogate.sock: bind:") {
		t.Errorf("in a missing directory: %v", err)
	}
}

// A connection from this process names this process.
func TestPeer(t *testing.T) {
	path := sockDir(t)
	l := listen(t, path, 0o660, -1)
	dial(t, path)
	c := accept(t, l)
	cred, err := c.Peer()
	if errors.Is(err, errors.ErrUnsupported) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	want := iounix.Cred{PID: os.Getpid(), UID: os.Getuid(), GID: os.Getgid()}
	if cred.PID == -1 {
		want.PID = -1
	}
	if cred != want {
		t.Fatalf("Peer() = %+v, want %+v", cred, want)
	}
	if got, err := l.Admit(c); err != nil || got != cred {
		t.Fatalf("Admit = %+v, %v", got, err)
	}
}

// The listener as a reactor resource: an echo through a reactor.
func TestReactor(t *testing.T) {
	path := sockDir(t)
	serve(t, listen(t, path, 0o660, -1))
	for i := range 3 {
		client := dial(t, path)
		fmt.Fprintf(client, "hello %d\n", i)
		line, err := bufio.NewReader(client).ReadString('\n')
		if err != nil || line != fmt.Sprintf("hello %d\n", i) {
			t.Fatalf("echo %q, %v", line, err)
		}
	}
}
