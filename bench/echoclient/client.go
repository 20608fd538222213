// Package echoclient is a closed-loop load generator for TCP echo servers.
//
// A Client holds many connections to one server and drives them all from the
// calling OS thread through one epoll instance: each connection sends a
// fixed-size message, waits for the whole echo, records the round trip in a
// fixed-size histogram and sends again. Nothing is allocated per message, so
// the client costs about what the server does per message (a read and a
// write), and the measurements say something about the server.
//
// It is not a general client: it knows nothing of protocols, and a Client
// must be used from one goroutine locked to its OS thread
// (runtime.LockOSThread), since it measures that thread's CPU time.
package echoclient

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"
)

// dialBatch bounds the connections in the middle of their handshake, so the
// server's accept queue does not overflow (a dropped SYN costs a second).
const dialBatch = 256

// stallTimeout is how long the client waits without any event before it
// declares the server stuck.
const stallTimeout = 10 * time.Second

type conn struct {
	fd       int
	sent     time.Duration // when the message in flight was sent, since Client.base
	got      int           // bytes of the echo received so far
	inFlight bool
	dialing  bool // connect in progress
}

// Client is a set of connections to one echo server.
type Client struct {
	addr   netip.AddrPort
	size   int
	epfd   int
	conns  []conn
	msg    []byte
	buf    []byte
	events []unix.EpollEvent
	base   time.Time
	hist   Histogram
}

// Result is what one Run measured.
type Result struct {
	Messages  uint64        // echoes completed
	Elapsed   time.Duration // wall time of the run
	P50, P99  time.Duration // round-trip times
	ClientCPU time.Duration // CPU time of the client's thread during the run
}

// Rate is the messages per second.
func (r Result) Rate() float64 { return float64(r.Messages) / r.Elapsed.Seconds() }

// Dial opens n connections to addr that exchange messages of size bytes,
// and has each of them echo one message, so that when it returns the server
// has accepted every connection and they are all idle.
func Dial(addr netip.AddrPort, n, size int) (*Client, error) {
	if n <= 0 || size <= 0 {
		return nil, fmt.Errorf("echoclient: want connections and size > 0, have %d and %d", n, size)
	}
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	c := &Client{
		addr:   addr,
		size:   size,
		epfd:   epfd,
		conns:  make([]conn, 0, n),
		msg:    make([]byte, size),
		buf:    make([]byte, 64<<10),
		events: make([]unix.EpollEvent, 512),
		base:   time.Now(),
	}
	for i := range c.msg {
		c.msg[i] = byte('a' + i%26)
	}
	for len(c.conns) < n {
		if err := c.dialBatch(min(dialBatch, n-len(c.conns))); err != nil {
			c.Close()
			return nil, fmt.Errorf("dial %s (connection %d of %d): %w", addr, len(c.conns), n, err)
		}
	}
	return c, nil
}

// Len is the number of connections.
func (c *Client) Len() int { return len(c.conns) }

func (c *Client) dialBatch(k int) error {
	first := len(c.conns)
	sa, err := sockaddr(c.addr)
	if err != nil {
		return err
	}
	for range k {
		fd, err := unix.Socket(family(c.addr), unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("socket: %w", err)
		}
		// Appended before anything can fail, so Close releases it.
		c.conns = append(c.conns, conn{fd: fd, dialing: true})
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1); err != nil {
			return fmt.Errorf("set TCP_NODELAY: %w", err)
		}
		if err := unix.Connect(fd, sa); err != nil && err != unix.EINPROGRESS {
			return fmt.Errorf("connect: %w", err)
		}
		ev := unix.EpollEvent{Events: unix.EPOLLOUT, Fd: int32(len(c.conns) - 1)}
		if err := unix.EpollCtl(c.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
			return fmt.Errorf("epoll_ctl add: %w", err)
		}
	}
	// Each connection goes connecting -> one echo -> idle.
	left := k
	for left > 0 {
		n, err := c.wait()
		if err != nil {
			return err
		}
		for _, ev := range c.events[:n] {
			i := int(ev.Fd)
			cn := &c.conns[i]
			if i < first || (!cn.dialing && !cn.inFlight) {
				return fmt.Errorf("unexpected event on idle connection %d", i)
			}
			if cn.dialing {
				if err := c.connected(i); err != nil {
					return err
				}
				continue
			}
			done, err := c.receive(cn)
			if err != nil {
				return err
			}
			if done {
				cn.inFlight = false
				left--
			}
		}
	}
	return nil
}

// connected finishes the handshake of connection i and sends its first
// message.
func (c *Client) connected(i int) error {
	cn := &c.conns[i]
	cn.dialing = false
	soerr, err := unix.GetsockoptInt(cn.fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil {
		return fmt.Errorf("get SO_ERROR: %w", err)
	}
	if soerr != 0 {
		return fmt.Errorf("connect: %w", unix.Errno(soerr))
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(i)}
	if err := unix.EpollCtl(c.epfd, unix.EPOLL_CTL_MOD, cn.fd, &ev); err != nil {
		return fmt.Errorf("epoll_ctl mod: %w", err)
	}
	return c.send(cn, time.Since(c.base))
}

// wait returns the next batch of events, or an error when none came for
// stallTimeout.
func (c *Client) wait() (int, error) {
	deadline := time.Now().Add(stallTimeout)
	for time.Now().Before(deadline) {
		n, err := unix.EpollWait(c.epfd, c.events, 100)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("epoll_wait: %w", err)
		}
		if n > 0 {
			return n, nil
		}
	}
	return 0, fmt.Errorf("no event for %v: server stuck", stallTimeout)
}

func (c *Client) send(cn *conn, now time.Duration) error {
	n, err := unix.Write(cn.fd, c.msg)
	if err != nil {
		return fmt.Errorf("write: %w", err)
	}
	// A closed loop never has more than one message in a socket buffer of
	// kilobytes, so a short write means something is badly wrong.
	if n != len(c.msg) {
		return fmt.Errorf("short write: %d of %d bytes", n, len(c.msg))
	}
	cn.sent, cn.got, cn.inFlight = now, 0, true
	return nil
}

// receive reads what the server echoed on cn and reports whether the whole
// message is back.
func (c *Client) receive(cn *conn) (bool, error) {
	n, err := unix.Read(cn.fd, c.buf)
	if err == unix.EAGAIN || err == unix.EINTR {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read: %w", err)
	}
	if n == 0 {
		return false, errors.New("read: server closed the connection")
	}
	cn.got += n
	if cn.got > c.size {
		return false, fmt.Errorf("server echoed %d bytes for a %d-byte message", cn.got, c.size)
	}
	return cn.got == c.size, nil
}

// Run drives every connection in a closed loop for d and returns what it
// measured. Messages still in flight when d is over stay in flight: the
// next Run receives them and counts them.
func (c *Client) Run(d time.Duration) (Result, error) {
	c.hist.Reset()
	cpu0 := threadCPU()
	start := time.Since(c.base)
	end := start + d
	for i := range c.conns {
		if cn := &c.conns[i]; !cn.inFlight {
			if err := c.send(cn, start); err != nil {
				return Result{}, err
			}
		}
	}
	now := start
	for now < end {
		n, err := c.wait()
		if err != nil {
			return Result{}, err
		}
		for _, ev := range c.events[:n] {
			cn := &c.conns[ev.Fd]
			done, err := c.receive(cn)
			if err != nil {
				return Result{}, err
			}
			if !done {
				continue
			}
			now = time.Since(c.base)
			c.hist.Record(now - cn.sent)
			cn.inFlight = false
			if now < end {
				if err := c.send(cn, now); err != nil {
					return Result{}, err
				}
			}
		}
		now = time.Since(c.base)
	}
	return Result{
		Messages:  c.hist.Count(),
		Elapsed:   now - start,
		P50:       c.hist.Quantile(0.50),
		P99:       c.hist.Quantile(0.99),
		ClientCPU: threadCPU() - cpu0,
	}, nil
}

// Close resets every connection (no TIME_WAIT left behind) and releases
// the epoll instance.
func (c *Client) Close() error {
	linger := unix.Linger{Onoff: 1, Linger: 0}
	for _, cn := range c.conns {
		unix.SetsockoptLinger(cn.fd, unix.SOL_SOCKET, unix.SO_LINGER, &linger)
		unix.Close(cn.fd)
	}
	c.conns = nil
	return unix.Close(c.epfd)
}

func threadCPU() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

func family(a netip.AddrPort) int {
	if a.Addr().Is4() {
		return unix.AF_INET
	}
	return unix.AF_INET6
}

func sockaddr(a netip.AddrPort) (unix.Sockaddr, error) {
	switch ip := a.Addr(); {
	case ip.Is4():
		return &unix.SockaddrInet4{Port: int(a.Port()), Addr: ip.As4()}, nil
	case ip.Is6():
		return &unix.SockaddrInet6{Port: int(a.Port()), Addr: ip.As16()}, nil
	}
	return nil, fmt.Errorf("address %s is not IPv4 or IPv6", a)
}
