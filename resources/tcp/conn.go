package tcp

import (
	"io"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"

	"github.com/iogate/iogate/reactor"
	"golang.org/x/sys/unix"
)

// Conn is a TCP connection, accepted by a Listener or started by Dial. It is
// a reactor.Connector, so a dialed Conn can be registered with
// reactor.Connect and an accepted one with reactor.RegisterTransport. Conns
// come from Dial and Accept only; the zero value is not usable.
type Conn struct {
	fd      int
	local   netip.AddrPort
	remote  netip.AddrPort
	dialing bool  // Dial's connect is not over yet
	failed  error // why Dial's connect failed, once FinishConnect knows
}

var _ reactor.Connector = (*Conn)(nil)

// Dial starts connecting to addr, "ip:port" with IPv6 in brackets, and
// returns at once: the connection completes in the background, and
// FinishConnect, which reactor.Connect calls, reports how it went. Dial takes
// no host names, as a lookup could block the reactor; Resolve them first.
// It fails when the connection cannot start, and also when the system knows
// at once that it cannot succeed, as some do for a refused loopback port.
// The connection has TCP_NODELAY and keep-alive on.
func Dial(addr string) (*Conn, error) {
	ap, err := parseIP(addr)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: err}
	}
	c, err := dial(ap)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: netAddr(ap), Err: err}
	}
	return c, nil
}

func dial(ap netip.AddrPort) (*Conn, error) {
	sa, family, err := sockaddr(ap)
	if err != nil {
		return nil, err
	}
	fd, err := socket(family)
	if err != nil {
		return nil, err
	}
	c := &Conn{fd: fd, remote: ap, dialing: true}
	if err := c.connect(sa); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return c, nil
}

func (c *Conn) connect(sa syscall.Sockaddr) error {
	if err := tune(c.fd); err != nil {
		return err
	}
	switch err := syscall.Connect(c.fd, sa); err {
	case nil, syscall.EINPROGRESS, syscall.EINTR:
		// An interrupted connect goes on in the background like one in
		// progress.
	default:
		return os.NewSyscallError("connect", err)
	}
	// connect bound the socket to a local port, even if still in progress.
	local, err := localAddr(c.fd)
	if err != nil {
		return err
	}
	c.local = local
	return nil
}

// FinishConnect reports on the connection Dial started: nil once it is up,
// reactor.ErrWouldBlock while it is in progress, or why it failed, as an
// error wrapping the errno (syscall.ECONNREFUSED, syscall.ETIMEDOUT, ...).
// The reactor calls it when the socket becomes writable. On an accepted
// Conn it returns nil.
func (c *Conn) FinishConnect() error {
	if !c.dialing {
		return c.failed
	}
	if c.fd < 0 {
		return c.dialError(net.ErrClosed)
	}
	errno, err := unix.GetsockoptInt(c.fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil {
		return c.dialError(os.NewSyscallError("getsockopt SO_ERROR", err))
	}
	switch err := syscall.Errno(errno); err {
	case 0:
		c.dialing = false
		return nil
	case syscall.EINPROGRESS, syscall.EALREADY, syscall.EINTR:
		return reactor.ErrWouldBlock
	default:
		// SO_ERROR is cleared by reading it: keep the answer for a
		// second question.
		c.dialing = false
		c.failed = c.dialError(os.NewSyscallError("connect", err))
		return c.failed
	}
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

// CloseWrite shuts the sending half down: the peer reads end-of-file once it
// has read what was written before, and can still send.
func (c *Conn) CloseWrite() error {
	if c.fd < 0 {
		return c.opError("close write", net.ErrClosed)
	}
	if err := unix.Shutdown(c.fd, unix.SHUT_WR); err != nil {
		return c.opError("close write", os.NewSyscallError("shutdown", err))
	}
	return nil
}

// LocalAddr is the connection's address on this host.
func (c *Conn) LocalAddr() netip.AddrPort { return c.local }

// RemoteAddr is the peer's address.
func (c *Conn) RemoteAddr() netip.AddrPort { return c.remote }

// SetNoDelay turns Nagle's algorithm off (true, the default here: frames go
// out as they are written) or on (false: small writes are coalesced).
func (c *Conn) SetNoDelay(on bool) error {
	if c.fd < 0 {
		return c.opError("set", net.ErrClosed)
	}
	if err := setNoDelay(c.fd, on); err != nil {
		return c.opError("set", err)
	}
	return nil
}

// SetKeepAlive turns keep-alive on: after idle without traffic a probe goes
// out every interval, and count unanswered probes end the connection, so
// that reads fail with syscall.ETIMEDOUT. The kernel counts whole seconds,
// so durations round up. An idle of zero or less turns keep-alive off. On
// OpenBSD, where the timing is system-wide, it turns keep-alive on and
// returns an error wrapping errors.ErrUnsupported.
func (c *Conn) SetKeepAlive(idle, interval time.Duration, count int) error {
	if c.fd < 0 {
		return c.opError("set", net.ErrClosed)
	}
	if err := setKeepAlive(c.fd, idle, interval, count); err != nil {
		return c.opError("set", err)
	}
	return nil
}

func (c *Conn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Source: netAddr(c.local), Addr: netAddr(c.remote), Err: err}
}

// dialError leaves out the local address, which only matters once
// connected.
func (c *Conn) dialError(err error) error {
	return &net.OpError{Op: "dial", Net: "tcp", Addr: netAddr(c.remote), Err: err}
}
