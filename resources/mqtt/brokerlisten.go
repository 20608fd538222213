package mqtt

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// connectTimeout is how long a new connection has to finish its TLS
// handshake and send CONNECT. mochi waits forever: a client that opens a
// connection and says nothing would hold its goroutine and descriptor.
// Once connected, the client's keepalive sets the deadline. A variable
// for the tests.
var connectTimeout = 10 * time.Second

// spareConns are connections a listener takes beyond MaxClients: clients
// on their way in or being refused. Past them, a new connection is closed
// at once, before it costs a goroutine.
const spareConns = 32

// guard is a listener that bounds the connections open through it, gives
// each a deadline for its CONNECT, and keeps accepting when accept fails
// for a moment (no descriptor free): mochi stops serving a listener for
// good at the first error.
//
// It also counts the connections handed to mochi that mochi has not read
// yet: the broker's Close waits for them (see settle), since mochi's Close
// races with a connection it is still setting up.
type guard struct {
	net.Listener
	max     int64
	open    atomic.Int64
	busy    *atomic.Uint64
	handing sync.WaitGroup // connections accepted, not yet read nor closed
}

func (g *guard) Accept() (net.Conn, error) {
	delay := 5 * time.Millisecond
	for {
		c, err := g.Listener.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil, err
			}
			time.Sleep(delay) // EMFILE and the like: wait for a descriptor, as net/http does
			delay = min(2*delay, time.Second)
			continue
		}
		delay = 5 * time.Millisecond
		if g.open.Add(1) > g.max {
			g.open.Add(-1)
			g.busy.Add(1)
			c.Close()
			continue
		}
		c.SetDeadline(time.Now().Add(connectTimeout))
		g.handing.Add(1)
		return &guardedConn{Conn: c, g: g}, nil
	}
}

// settle stops accepting and waits until every connection accepted is in
// mochi's hands (it read from it) or closed.
func (g *guard) settle() {
	g.Listener.Close()
	g.handing.Wait()
}

// guardedConn gives its listener's slot back when it is closed.
type guardedConn struct {
	net.Conn
	g      *guard
	closed atomic.Bool
	handed sync.Once
}

func (c *guardedConn) Read(p []byte) (int, error) {
	c.handed.Do(c.g.handing.Done)
	return c.Conn.Read(p)
}

func (c *guardedConn) Close() error {
	c.handed.Do(c.g.handing.Done)
	if c.closed.CompareAndSwap(false, true) {
		c.g.open.Add(-1)
	}
	return c.Conn.Close()
}
