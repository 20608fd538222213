package mqtt

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"sync/atomic"
	"time"

	"github.com/iogate/iogate/reactor"
	"golang.org/x/sys/unix"
)

const (
	// handshakeTimeout bounds the TCP connect and TLS handshake, which
	// would otherwise wait forever on a broker that accepts and says
	// nothing.
	handshakeTimeout = 30 * time.Second
	// closeGrace is how long a broker that does not read has to take what
	// was written before Close.
	closeGrace = 5 * time.Second
	// plugBuffer is the send buffer the reactor's end has during the
	// handshake, which bounds the filler (see plug).
	plugBuffer = 4096
)

// Keep-alive on the real connection, as package tcp has it on its own.
var keepAlive = net.KeepAliveConfig{Enable: true, Idle: 30 * time.Second, Interval: 10 * time.Second, Count: 3}

// filler is what plug writes; its content is never read.
var filler [plugBuffer]byte

// tlsConn is the reactor's end of a TLS connection to the broker: one end
// of a socketpair whose other end a pump carries to and from crypto/tls.
// crypto/tls only blocks, so it gets goroutines of its own, and the reactor
// polls a descriptor as for any other resource.
type tlsConn struct {
	fd      int
	remote  netip.AddrPort
	sndbuf  int // the socket's send buffer before plug shrank it
	dialing bool
	failed  error
	stop    context.CancelFunc // asks the pump to end
	pump    *pump
}

var _ reactor.Connector = (*tlsConn)(nil)

// pump carries bytes between the socketpair's other end and the broker.
type pump struct {
	remote  netip.AddrPort
	conf    *tls.Config
	peer    *net.UnixConn
	plugged int64 // bytes of filler plug wrote

	handshook chan struct{} // closed once the handshake is over, its error in err
	err       error
	lost      atomic.Pointer[error] // why the connection to the broker failed, first cause only
}

func dialTLS(ap netip.AddrPort, conf *tls.Config) (*tlsConn, error) {
	fds, err := socketpair()
	if err != nil {
		return nil, dialError(ap, err)
	}
	c := &tlsConn{fd: fds[0], remote: ap, dialing: true}
	n, err := c.plug()
	if err != nil {
		unix.Close(fds[0])
		unix.Close(fds[1])
		return nil, dialError(ap, err)
	}
	f := os.NewFile(uintptr(fds[1]), "mqtt tls pump")
	peer, err := net.FileConn(f)
	f.Close()
	if err != nil {
		unix.Close(fds[0])
		return nil, dialError(ap, err)
	}
	p := &pump{remote: ap, conf: conf, peer: peer.(*net.UnixConn), plugged: n, handshook: make(chan struct{})}
	ctx, stop := context.WithCancel(context.Background())
	c.stop, c.pump = stop, p
	go p.run(ctx)
	return c, nil
}

// plug makes the reactor's end unwritable until the handshake is over. The
// reactor waits for a connecting transport to turn writable, and a
// socketpair is writable at once: unplugged, the reactor would spin
// through the handshake. So plug fills the send buffer, shrunk first to
// keep the filler to a few KiB, and the pump takes the filler out once the
// handshake is over; the socket turns writable then, or hangs up when the
// handshake failed and the pump closed its end.
func (c *tlsConn) plug() (int64, error) {
	var err error
	c.sndbuf, err = unix.GetsockoptInt(c.fd, unix.SOL_SOCKET, unix.SO_SNDBUF)
	if err != nil {
		return 0, os.NewSyscallError("getsockopt SO_SNDBUF", err)
	}
	if err := unix.SetsockoptInt(c.fd, unix.SOL_SOCKET, unix.SO_SNDBUF, plugBuffer); err != nil {
		return 0, os.NewSyscallError("setsockopt SO_SNDBUF", err)
	}
	var n int64
	for {
		w, err := unix.Write(c.fd, filler[:])
		n += int64(max(w, 0))
		switch err {
		case nil, unix.EINTR:
		case unix.EAGAIN:
			return n, nil
		default:
			return n, os.NewSyscallError("write", err)
		}
	}
}

func (p *pump) run(ctx context.Context) {
	defer p.peer.Close() // wakes the reactor if the handshake failed
	conn, err := p.handshake(ctx)
	p.err = err
	close(p.handshook)
	if err != nil {
		return
	}
	if _, err := io.CopyN(io.Discard, p.peer, p.plugged); err != nil {
		conn.Close()
		return
	}
	// A broker that does not read gets closeGrace after Close to take what
	// the reactor wrote before; then the writes fail and the pump ends.
	release := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now().Add(closeGrace)) })
	defer release()
	down := make(chan struct{})
	go func() {
		defer close(down)
		// A deadline is the pump's own doing (see below, and closeGrace),
		// never the broker's reason.
		if _, err := io.Copy(p.peer, conn); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			p.fail(err)
		}
		// The reactor reads end-of-file, then err from Read.
		p.peer.CloseWrite()
	}()
	// Up to the broker until the reactor closes its end, or the broker goes.
	if _, err := io.Copy(conn, p.peer); err != nil {
		// A broker that refuses us says why in a TLS alert before it hangs
		// up, and a write usually meets the reset first: let the reader
		// decode the alert, briefly, so the reason logged is the broker's.
		conn.SetReadDeadline(time.Now().Add(alertGrace))
		<-down
		p.fail(err)
	}
	conn.Close()
	<-down
}

// fail keeps the first error: the others follow from it, as reading from a
// connection closed because writing to it failed.
// fail records why the connection was lost; the first reason stays.
func (p *pump) fail(err error) { p.lost.CompareAndSwap(nil, &err) }

// alertGrace is how long a pump whose write failed waits for the broker's
// alert on the read side.
const alertGrace = time.Second

func (p *pump) handshake(ctx context.Context) (*tls.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, handshakeTimeout)
	defer cancel()
	d := net.Dialer{KeepAliveConfig: keepAlive}
	raw, err := d.DialContext(ctx, "tcp", p.remote.String())
	if err != nil {
		return nil, err
	}
	conn := tls.Client(raw, p.conf)
	if err := conn.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, &net.OpError{Op: "handshake", Net: "tls", Source: raw.LocalAddr(), Addr: raw.RemoteAddr(), Err: err}
	}
	return conn, nil
}

// FinishConnect reports the TLS handshake: reactor.ErrWouldBlock while it
// is going on, then nil, or why it failed.
func (c *tlsConn) FinishConnect() error {
	if !c.dialing {
		return c.failed
	}
	if c.fd < 0 {
		return dialError(c.remote, net.ErrClosed)
	}
	select {
	case <-c.pump.handshook:
	default:
		return reactor.ErrWouldBlock
	}
	c.dialing = false
	if c.failed = c.pump.err; c.failed != nil {
		return c.failed
	}
	// Unplugged: the buffer goes back to its size. Failing that, the
	// connection works with a small one.
	unix.SetsockoptInt(c.fd, unix.SOL_SOCKET, unix.SO_SNDBUF, c.sndbuf)
	return nil
}

// Read reads what the pump brought from the broker. It returns
// reactor.ErrWouldBlock when nothing is there, io.EOF when the broker
// closed the connection, or why the connection failed when it did.
func (c *tlsConn) Read(p []byte) (int, error) {
	if c.fd < 0 {
		return 0, c.opError("read", net.ErrClosed)
	}
	n, err := reactor.ReadFd(c.fd, p)
	switch {
	case err == io.EOF:
		if lost := c.pump.lost.Load(); lost != nil {
			return 0, c.opError("read", *lost)
		}
	case err != nil && err != reactor.ErrWouldBlock:
		return 0, c.opError("read", err)
	}
	return n, err
}

// Write hands p to the pump, as much as the socket takes now. It returns
// reactor.ErrWouldBlock when it takes nothing.
func (c *tlsConn) Write(p []byte) (int, error) {
	if c.fd < 0 {
		return 0, c.opError("write", net.ErrClosed)
	}
	n, err := reactor.WriteFd(c.fd, p)
	if err != nil && err != reactor.ErrWouldBlock {
		// The pump has gone; what it knows says more than EPIPE.
		if lost := c.pump.lost.Load(); lost != nil {
			return 0, c.opError("write", *lost)
		}
		return 0, c.opError("write", err)
	}
	return n, err
}

// Fd is the reactor's end of the socketpair, or -1 once closed.
func (c *tlsConn) Fd() int { return c.fd }

// Close closes the reactor's end and asks the pump to end; it does not
// wait for it. Closing again returns an error wrapping net.ErrClosed.
func (c *tlsConn) Close() error {
	if c.fd < 0 {
		return c.opError("close", net.ErrClosed)
	}
	fd := c.fd
	c.fd = -1
	c.stop()
	if err := unix.Close(fd); err != nil {
		return c.opError("close", os.NewSyscallError("close", err))
	}
	return nil
}

// opError names the broker, unless err is a network error naming it already.
func (c *tlsConn) opError(op string, err error) error {
	var named *net.OpError
	if errors.As(err, &named) {
		return err
	}
	return &net.OpError{Op: op, Net: "tls", Addr: net.TCPAddrFromAddrPort(c.remote), Err: err}
}

func dialError(ap netip.AddrPort, err error) error {
	return &net.OpError{Op: "dial", Net: "tls", Addr: net.TCPAddrFromAddrPort(ap), Err: err}
}
