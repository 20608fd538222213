package reactor_test

import (
	"errors"
	"fmt"
	"io"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// fdTransport is the smallest real transport: a non-blocking descriptor
// (one end of a socketpair or a pipe).
type fdTransport struct {
	fd     int
	closed bool
}

func (t *fdTransport) Fd() int { return t.fd }

func (t *fdTransport) Read(p []byte) (int, error) {
	n, err := unix.Read(t.fd, p)
	if err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}

func (t *fdTransport) Write(p []byte) (int, error) {
	n, err := unix.Write(t.fd, p)
	if n < 0 {
		n = 0
	}
	return n, err
}

func (t *fdTransport) Close() error {
	if t.closed {
		return errors.New("already closed")
	}
	t.closed = true
	return unix.Close(t.fd)
}

// socketpair returns a non-blocking transport and the blocking peer fd the
// test drives.
func socketpair(t *testing.T) (*fdTransport, int) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.SetNonblock(fds[0], true); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fds[1]) })
	return &fdTransport{fd: fds[0]}, fds[1]
}

// hangUp closes the socket behind a peer descriptor the test's cleanup will
// close: /dev/null takes the number over, so the cleanup cannot close a
// descriptor that something else got since.
func hangUp(t *testing.T, fd int) {
	t.Helper()
	null, err := unix.Open("/dev/null", unix.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(null)
	if err := unix.Dup2(null, fd); err != nil {
		t.Fatal(err)
	}
}

func writeAll(t *testing.T, fd int, data []byte) {
	t.Helper()
	for len(data) > 0 {
		n, err := unix.Write(fd, data)
		if err != nil {
			t.Fatal(err)
		}
		data = data[n:]
	}
}

func readFull(t *testing.T, fd int, n int) []byte {
	t.Helper()
	buf := make([]byte, n)
	for got := 0; got < n; {
		m, err := unix.Read(fd, buf[got:])
		if err != nil || m == 0 {
			t.Fatalf("read after %d of %d bytes: %v", got, n, err)
		}
		got += m
	}
	return buf
}

func fmtSscan(s string, a, b *int) (int, error) { return fmt.Sscanf(s, "[%d %d]", a, b) }

// dialing is a socket after a non-blocking connect.
type dialing struct{ fdTransport }

func (d *dialing) FinishConnect() error {
	v, err := unix.GetsockoptInt(d.fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil {
		return err
	}
	if v != 0 {
		return syscall.Errno(v)
	}
	return nil
}

// listenLoopback returns a blocking listening socket on 127.0.0.1 and its port.
func listenLoopback(t *testing.T) (int, int) {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 16); err != nil {
		t.Fatal(err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd, sa.(*unix.SockaddrInet4).Port
}

func dialNonblocking(t *testing.T, port int) *dialing {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		t.Fatal(err)
	}
	err = unix.Connect(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}, Port: port})
	if err != nil && err != unix.EINPROGRESS {
		t.Fatalf("connect: %v", err)
	}
	d := &dialing{fdTransport{fd: fd}}
	t.Cleanup(func() { unix.Close(fd) })
	return d
}

func acceptBlocking(t *testing.T, ln int) int {
	t.Helper()
	fd, _, err := unix.Accept(ln)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}
