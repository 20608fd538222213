package bridge

import (
	"errors"
	"net/netip"
	"slices"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/iogate/iogate/reactor"
	"github.com/iogate/iogate/resources/tcp"
	"github.com/iogate/iogate/rfc2217"
)

// clientLimits bound what a raw TCP client may have waiting: past Max it is
// too slow, and is dropped rather than allowed to slow the device, the
// other clients or MQTT.
var clientLimits = reactor.Limits{Low: 16 << 10, High: 64 << 10, Max: 256 << 10}

// Timings of TCP access.
const (
	// listenerPause is how long a listener that ran out of descriptors
	// or memory rests before accepting again.
	listenerPause = time.Second
	// halfCloseLinger is how long a client that closed its sending side
	// (nc -N) keeps getting what the device sends after it last got
	// something: the device's answer to what it sent last.
	halfCloseLinger = time.Second
)

// access is a device's TCP access, the way ser2net serves a port: a
// listener on tcp_listen, whose clients get every byte the device sends
// and, if the device is writable, write to it; raw, or RFC 2217 with
// tcp_protocol = "rfc2217". It is the reactor handler of the listener.
type access struct {
	d        *device
	listener reactor.ID
	addr     netip.AddrPort
	clients  []*client // oldest first
	paused   bool      // the clients are paused: the device's output is congested
	resume   reactor.TimerID
	onResume func()

	escaped []byte // a device's read, escaped for RFC 2217 clients
	tnData  []byte // what an RFC 2217 client sent for the device
	tnReply []byte // the answers to an RFC 2217 client
}

// client is a TCP connection to a device. It is the reactor handler of its
// connection, and keeps it open after the peer's half-close.
type client struct {
	a      *access
	id     reactor.ID
	addr   netip.AddrPort
	last   time.Time // the last traffic either way, for the idle timeout
	idle   reactor.TimerID
	onIdle func()
	closed bool // the peer closed its side: it lingers, then goes

	tn       *rfc2217.Server // tcp_protocol = "rfc2217"; nil for raw
	notified bool            // told the modem lines since it agreed to COM-PORT-OPTION
}

// remoteAddr is what the bridge needs of an accepted connection.
type remoteAddr interface{ RemoteAddr() netip.AddrPort }

// serve gives the device TCP access on l.
func (d *device) serve(l *tcp.Listener) error {
	a := &access{d: d, addr: l.Addr()}
	a.onResume = a.resumeAccepting
	id, err := d.s.r.RegisterListener(l, a)
	if err != nil {
		return err
	}
	a.listener, d.tcp = id, a
	d.log.WithField("listen", l.Addr().String()).Info("tcp: listening")
	return nil
}

// Accepted takes or refuses a client of the device.
func (a *access) Accepted(r *reactor.Reactor, _ reactor.ID, t reactor.Transport) {
	d := a.d
	var addr netip.AddrPort
	if ra, ok := t.(remoteAddr); ok {
		addr = ra.RemoteAddr()
	}
	if !allowed(d.cfg.TCPAllow, addr.Addr()) {
		t.Close()
		d.stats.TCPRefused++
		d.logLimited("tcp-allow", logrus.WarnLevel, "tcp: client refused: address not in tcp_allow", nil, "client", addr.String())
		return
	}
	if len(a.clients) >= d.cfg.TCPMaxClients {
		if d.cfg.TCPOverflow != "kick-oldest" {
			t.Close()
			d.stats.TCPRefused++
			d.logLimited("tcp-full", logrus.WarnLevel, "tcp: client refused: tcp_max_clients reached", nil, "client", addr.String())
			return
		}
		a.clients[0].drop("replaced by a newer client (tcp_overflow = kick-oldest)")
	}
	c := &client{a: a, addr: addr, last: r.Now()}
	c.onIdle = c.idleCheck
	id, err := r.RegisterTransport(t, c)
	if err != nil {
		t.Close()
		d.logLimited("tcp-register", logrus.ErrorLevel, "tcp: client not registered", err, "client", addr.String())
		return
	}
	c.id = id
	r.SetLimits(id, clientLimits)
	if d.cfg.TCPIdleTimeout > 0 {
		c.idle = r.SetTimer(d.cfg.TCPIdleTimeout, c.onIdle)
	}
	a.clients = append(a.clients, c)
	if a.paused {
		r.Pause(id)
	}
	c.logger().Info("tcp: client connected")
	if d.cfg.TCPProtocol == "rfc2217" {
		c.tn = rfc2217.NewServer("iogate " + d.cfg.Name)
		c.send(c.tn.Greeting(a.tnReply[:0]))
	}
}

// Failed: the listener could not accept (out of descriptors or memory);
// the reactor paused it, and it resumes after a pause.
func (a *access) Failed(r *reactor.Reactor, _ reactor.ID, err error) {
	a.d.logLimited("tcp-accept", logrus.ErrorLevel, "tcp: cannot accept clients now", err)
	if a.resume == 0 {
		a.resume = r.SetTimer(listenerPause, a.onResume)
	}
}

func (a *access) resumeAccepting() {
	a.resume = 0
	if a.listener != 0 {
		a.d.s.r.Resume(a.listener)
	}
}

// Disconnected: the listener failed for good.
func (a *access) Disconnected(_ *reactor.Reactor, _ reactor.ID, res reactor.Resource, cause error) {
	res.Close()
	a.listener = 0
	a.d.log.WithError(cause).Error("tcp: listener failed; TCP access is off until a reload")
}

func allowed(allow []netip.Prefix, a netip.Addr) bool {
	if len(allow) == 0 {
		return true
	}
	a = a.Unmap()
	for _, p := range allow {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// fanout sends what the device read to every client, dropping those too
// slow to take it.
func (a *access) fanout(data []byte) {
	now := a.d.s.r.Now()
	a.escaped = a.escaped[:0]
	for i := 0; i < len(a.clients); {
		c := a.clients[i]
		out := data
		if c.tn != nil {
			if len(a.escaped) == 0 {
				a.escaped = rfc2217.Escape(a.escaped, data)
			}
			out = a.escaped
		}
		if !c.send(out) {
			continue // c is gone from a.clients
		}
		c.last = now
		if c.closed {
			c.linger()
		}
		i++
	}
}

// send sends data to the client. It reports false when the client is
// gone: dropped for being too slow, or its connection failed.
func (c *client) send(data []byte) bool {
	err := c.a.d.s.r.Send(c.id, data)
	switch {
	case err == nil:
		return true
	case errors.Is(err, reactor.ErrOverflow):
		c.drop("too slow: it did not read what the device sent")
	default:
		c.forget() // the write failed: Disconnected follows and closes it
	}
	return false
}

// Received takes what the client sent, in arrival order.
func (c *client) Received(r *reactor.Reactor, _ reactor.ID, data []byte) {
	c.last = r.Now()
	if c.tn != nil {
		c.fromTelnet(data)
		return
	}
	c.toDevice(data)
}

// Congested and Drained: the reactor's limits drop a client that stays
// behind (see send); nothing to do at the watermarks.
func (c *client) Congested(*reactor.Reactor, reactor.ID) {}

// Drained: see Congested.
func (c *client) Drained(*reactor.Reactor, reactor.ID) {}

// Disconnected: the client went away.
func (c *client) Disconnected(_ *reactor.Reactor, _ reactor.ID, res reactor.Resource, _ error) {
	res.Close()
	c.logger().Info("tcp: client disconnected")
	c.forget()
}

// PeerClosed: the client closed its sending side (printf 'AT\r' | nc -N):
// it still gets what the device answers, for a while.
func (c *client) PeerClosed(*reactor.Reactor, reactor.ID) {
	c.closed = true
	c.logger().Debug("tcp: client closed its side; it gets the device's answer, then it is closed")
	c.linger()
}

// linger (re)arms the timer that closes a half-closed client.
func (c *client) linger() {
	r := c.a.d.s.r
	if c.idle != 0 {
		r.CancelTimer(c.idle)
	}
	c.idle = r.SetTimer(halfCloseLinger, c.onIdle)
}

// toDevice writes the client's data to the device, or discards it.
func (c *client) toDevice(data []byte) {
	d := c.a.d
	var why string
	switch {
	case !d.cfg.Writable:
		why = "the device is not writable"
	case d.id == 0:
		why = "the device is offline"
	default:
		// The clients are paused when the device's buffer passes its
		// high-water mark, far below where Send refuses.
		if err := d.write(data); err != nil {
			d.stats.TCPDiscarded += uint64(len(data))
			d.logLimited("tcp-write", logrus.WarnLevel, "tcp: client data not written", err)
		}
		return
	}
	d.stats.TCPDiscarded += uint64(len(data))
	d.logLimited("tcp-discard", logrus.WarnLevel, "tcp: client data discarded: "+why, nil, "client", c.addr.String())
}

// pauseClients stops or restarts reading the clients while the device's
// output is congested.
func (a *access) pauseClients(pause bool) {
	a.paused = pause
	for _, c := range a.clients {
		if pause {
			a.d.s.r.Pause(c.id)
		} else {
			a.d.s.r.Resume(c.id)
		}
	}
}

// idleCheck closes a client that was silent for tcp_idle_timeout, or a
// half-closed one that got nothing for halfCloseLinger; or waits for the
// rest of the time.
func (c *client) idleCheck() {
	c.idle = 0
	r := c.a.d.s.r
	if c.closed {
		if r.Pending(c.id) > 0 {
			c.linger() // its last bytes are still on their way
			return
		}
		c.close("half-closed, and the device said nothing more")
		return
	}
	left := c.a.d.cfg.TCPIdleTimeout - r.Now().Sub(c.last)
	if left > 0 {
		c.idle = r.SetTimer(left, c.onIdle)
		return
	}
	c.drop("idle for tcp_idle_timeout")
}

// drop closes the client on the bridge's own decision, and counts it.
func (c *client) drop(why string) {
	c.a.d.stats.TCPDropped++
	c.a.d.logLimited("tcp-drop", logrus.WarnLevel, "tcp: client dropped: "+why, nil, "client", c.addr.String())
	c.close("")
}

// close closes the client's connection.
func (c *client) close(why string) {
	if res, err := c.a.d.s.r.Unregister(c.id); err == nil {
		res.Close()
	}
	if why != "" {
		c.logger().WithField("why", why).Info("tcp: client closed")
	}
	c.forget()
}

// forget removes a client that is gone.
func (c *client) forget() {
	c.releasePort()
	if c.idle != 0 {
		c.a.d.s.r.CancelTimer(c.idle)
		c.idle = 0
	}
	c.a.clients = slices.DeleteFunc(c.a.clients, func(x *client) bool { return x == c })
}

// close closes the listener and the clients: the device is being removed
// or reconfigured.
func (a *access) close() {
	for _, c := range slices.Clone(a.clients) {
		c.close("")
	}
	r := a.d.s.r
	if a.resume != 0 {
		r.CancelTimer(a.resume)
		a.resume = 0
	}
	if a.listener != 0 {
		if res, err := r.Unregister(a.listener); err == nil {
			res.Close()
		}
		a.listener = 0
	}
}

// logger is the device's logger with the client's address.
func (c *client) logger() *logrus.Entry {
	return c.a.d.log.WithField("client", c.addr.String())
}
