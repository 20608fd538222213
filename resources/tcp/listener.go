package tcp

import (
	"context"
	"net"
	"net/netip"
	"os"
	"runtime"
	"syscall"

	"github.com/iogate/iogate/reactor"
	"golang.org/x/sys/unix"
)

// dualStack tells whether an IPv6 wildcard socket can take IPv4 clients
// too; OpenBSD keeps IPv6 sockets to IPv6.
const dualStack = runtime.GOOS != "openbsd"

// Listener is a listening TCP socket: a reactor.Listener whose Accept hands
// out *Conn transports. Listeners come from Listen only; the zero value is
// not usable.
type Listener struct {
	fd   int
	addr netip.AddrPort
}

var _ reactor.Listener = (*Listener)(nil)

// Listen opens a non-blocking socket listening on addr, "host:port". The
// host is an IP address, IPv6 in brackets, or a name looked up as Resolve
// does; it may not be empty, so that nothing listens on every interface by
// omission: "0.0.0.0" or "[::]" say so, and "[::]" takes IPv4 clients too
// where the system allows. Port 0 picks a free port; Addr tells which.
func Listen(addr string) (*Listener, error) {
	ap, err := Resolve(context.Background(), addr)
	if err != nil {
		return nil, &net.OpError{Op: "listen", Net: "tcp", Err: err}
	}
	return ListenAddr(ap)
}

// ListenAddr is Listen on an address already looked up: it never blocks,
// so a reactor handler may call it.
func ListenAddr(ap netip.AddrPort) (*Listener, error) {
	l, err := listen(ap)
	if err != nil {
		return nil, &net.OpError{Op: "listen", Net: "tcp", Addr: netAddr(ap), Err: err}
	}
	return l, nil
}

func listen(ap netip.AddrPort) (*Listener, error) {
	sa, family, err := sockaddr(ap)
	if err != nil {
		return nil, err
	}
	fd, err := socket(family)
	if err != nil {
		return nil, err
	}
	l := &Listener{fd: fd}
	if err := l.bind(ap, sa); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return l, nil
}

func (l *Listener) bind(ap netip.AddrPort, sa syscall.Sockaddr) error {
	// A restarted gateway must get its port back while connections of the
	// previous run linger in TIME_WAIT.
	if err := setInt(l.fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, "SO_REUSEADDR", 1); err != nil {
		return err
	}
	if dualStack && ap.Addr().Is6() && ap.Addr().IsUnspecified() {
		if err := setInt(l.fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, "IPV6_V6ONLY", 0); err != nil {
			return err
		}
	}
	if err := syscall.Bind(l.fd, sa); err != nil {
		return os.NewSyscallError("bind", err)
	}
	if err := unix.Listen(l.fd, unix.SOMAXCONN); err != nil {
		return os.NewSyscallError("listen", err)
	}
	bound, err := localAddr(l.fd)
	if err != nil {
		return err
	}
	l.addr = bound
	return nil
}

// Addr is the address the listener is bound to, with the port the system
// picked when Listen was given port 0.
func (l *Listener) Addr() netip.AddrPort { return l.addr }

// Fd is the listening socket, or -1 once the listener is closed, so that a
// closed listener never names a descriptor that has been reused since.
func (l *Listener) Fd() int { return l.fd }

// Close closes the listening socket. Connections it accepted stay open.
// Closing it again returns an error wrapping net.ErrClosed.
func (l *Listener) Close() error {
	if l.fd < 0 {
		return l.opError("close", net.ErrClosed)
	}
	fd := l.fd
	l.fd = -1
	if err := unix.Close(fd); err != nil {
		return l.opError("close", os.NewSyscallError("close", err))
	}
	return nil
}

// Accept returns the next pending connection as a *Conn, with TCP_NODELAY
// and keep-alive on. It returns reactor.ErrWouldBlock when none is pending,
// and an error wrapping net.ErrClosed once the listener is closed.
func (l *Listener) Accept() (reactor.Transport, error) {
	if l.fd < 0 {
		return nil, l.opError("accept", net.ErrClosed)
	}
	for {
		fd, sa, err := accept(l.fd)
		switch err {
		case nil:
			return l.conn(fd, sa), nil
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return nil, reactor.ErrWouldBlock
		default:
			return nil, l.opError("accept", err)
		}
	}
}

// conn wraps an accepted socket. What can fail here fails only for a
// connection reset before it was accepted (the BSDs then refuse
// setsockopt); its first Read tells the service, and the listener goes on
// accepting rather than failing for one departed client.
func (l *Listener) conn(fd int, sa syscall.Sockaddr) *Conn {
	c := &Conn{fd: fd, local: l.addr, remote: addrPort(sa)}
	if l.addr.Addr().IsUnspecified() {
		if local, err := localAddr(fd); err == nil {
			c.local = local
		}
	}
	tune(fd)
	return c
}

func (l *Listener) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Addr: netAddr(l.addr), Err: err}
}
