package unix

import (
	"io"
	"net"
	"os"

	"github.com/iogate/iogate/reactor"
	"golang.org/x/sys/unix"
)

// Conn is a connection a Listener accepted: a reactor.Transport. Conns
// come from Accept only; the zero value is not usable.
type Conn struct {
	fd   int
	path string // the listener's, for errors
}

var _ reactor.Transport = (*Conn)(nil)

// Cred is who is at the other end of a connection, as the kernel saw it
// when the peer connected. A field the system does not report is -1.
type Cred struct {
	PID int // the peer's process; -1 on FreeBSD, which does not say
	UID int // its effective user
	GID int // its effective group
}

// Read reads what the socket holds, up to len(p) bytes. It returns
// reactor.ErrWouldBlock when nothing is there yet and io.EOF once the peer
// has closed.
func (c *Conn) Read(p []byte) (int, error) {
	if c.fd < 0 {
		return 0, c.opError("read", net.ErrClosed)
	}
	n, err := reactor.ReadFd(c.fd, p)
	if err != nil && err != reactor.ErrWouldBlock && err != io.EOF {
		return 0, c.opError("read", err)
	}
	return n, err
}

// Write writes as much of p as the socket takes now, and returns how much
// that was. It returns reactor.ErrWouldBlock when it takes nothing.
func (c *Conn) Write(p []byte) (int, error) {
	if c.fd < 0 {
		return 0, c.opError("write", net.ErrClosed)
	}
	n, err := reactor.WriteFd(c.fd, p)
	if err != nil && err != reactor.ErrWouldBlock {
		return 0, c.opError("write", err)
	}
	return n, err
}

// Fd is the socket, or -1 once the connection is closed, so that a closed
// Conn never names a descriptor that has been reused since.
func (c *Conn) Fd() int { return c.fd }

// Close closes the connection. Closing it again returns an error wrapping
// net.ErrClosed, and closes nothing.
func (c *Conn) Close() error {
	if c.fd < 0 {
		return c.opError("close", net.ErrClosed)
	}
	fd := c.fd
	c.fd = -1
	if err := unix.Close(fd); err != nil {
		return c.opError("close", os.NewSyscallError("close", err))
	}
	return nil
}

// CloseWrite shuts the sending half down: the peer reads end-of-file once
// it has read what was written before, and can still send.
func (c *Conn) CloseWrite() error {
	if c.fd < 0 {
		return c.opError("close write", net.ErrClosed)
	}
	if err := unix.Shutdown(c.fd, unix.SHUT_WR); err != nil {
		return c.opError("close write", os.NewSyscallError("shutdown", err))
	}
	return nil
}

// Peer returns the credentials of the process that connected. On NetBSD,
// OpenBSD and DragonFly it returns an error wrapping
// errors.ErrUnsupported.
func (c *Conn) Peer() (Cred, error) {
	if c.fd < 0 {
		return Cred{}, c.opError("peer credentials", net.ErrClosed)
	}
	cred, err := peer(c.fd)
	if err != nil {
		return Cred{}, c.opError("peer credentials", err)
	}
	return cred, nil
}

func (c *Conn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: "unix", Addr: unixAddr(c.path), Err: err}
}
