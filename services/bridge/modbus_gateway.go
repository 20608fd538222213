package bridge

import (
	"errors"
	"net/netip"
	"slices"

	"github.com/sirupsen/logrus"

	"github.com/iogate/iogate/modbus"
	"github.com/iogate/iogate/reactor"
	"github.com/iogate/iogate/resources/tcp"
)

// gateway is a Modbus device's modbus_tcp_listen: a Modbus TCP server, as
// mbusd is, whose masters' requests wait in the device's queue with the
// gateway's own and go to the slave their unit id names. A slave that does
// not answer is answered for with exception 0x0B; a master that sends
// what is not Modbus TCP is closed and counted.
type gateway struct {
	m        *modbusMaster
	listener reactor.ID
	clients  []*gwClient
	refused  uint64 // masters refused: too many
	garbage  uint64 // masters closed for sending what is not Modbus TCP
}

// gwMaxClients bounds the masters connected at once.
const gwMaxClients = 8

// gwClient is one Modbus TCP master.
type gwClient struct {
	g       *gateway
	id      reactor.ID
	addr    netip.AddrPort
	dec     modbus.TCPRequestDecoder
	out     []byte
	waiting int // its requests in the queue or on the line
	gone    bool
}

// gwRequest is a master's request on its way.
type gwRequest struct {
	c    *gwClient
	tid  uint16
	unit uint8
	fn   modbus.Function
}

// serveModbus opens the device's Modbus TCP server on l.
func (m *modbusMaster) serveModbus(l *tcp.Listener) error {
	g := &gateway{m: m}
	id, err := m.d.s.r.RegisterListener(l, g)
	if err != nil {
		return err
	}
	g.listener, m.gateway = id, g
	m.d.log.WithField("listen", l.Addr().String()).Info("modbus: TCP server listening")
	return nil
}

// Accepted takes a master, or refuses it beyond gwMaxClients.
func (g *gateway) Accepted(r *reactor.Reactor, _ reactor.ID, t reactor.Transport) {
	var addr netip.AddrPort
	if ra, ok := t.(remoteAddr); ok {
		addr = ra.RemoteAddr()
	}
	if len(g.clients) >= gwMaxClients {
		t.Close()
		g.refused++
		g.m.d.logLimited("modbus-tcp-full", logrus.WarnLevel, "modbus: TCP master refused: too many connected", nil, "client", addr.String())
		return
	}
	c := &gwClient{g: g, addr: addr}
	id, err := r.RegisterTransport(t, c)
	if err != nil {
		t.Close()
		return
	}
	c.id = id
	r.SetLimits(id, clientLimits)
	g.clients = append(g.clients, c)
	g.m.d.log.WithField("client", addr.String()).Info("modbus: TCP master connected")
}

// Failed: out of descriptors; the listener rests, as a TCP access's does.
func (g *gateway) Failed(r *reactor.Reactor, id reactor.ID, err error) {
	g.m.d.logLimited("modbus-tcp-accept", logrus.ErrorLevel, "modbus: cannot accept TCP masters now", err)
	r.SetTimer(listenerPause, func() { r.Resume(id) })
}

// Disconnected: the listener failed for good.
func (g *gateway) Disconnected(_ *reactor.Reactor, _ reactor.ID, res reactor.Resource, cause error) {
	res.Close()
	g.listener = 0
	g.m.d.log.WithError(cause).Error("modbus: TCP server failed; it is off until a reload")
}

// Received cuts the master's requests out of its stream and queues them.
func (c *gwClient) Received(_ *reactor.Reactor, _ reactor.ID, data []byte) {
	m := c.g.m
	for len(data) > 0 && !c.gone {
		n, done, err := c.dec.Feed(data)
		data = data[n:]
		if !done {
			return
		}
		req := c.dec.Request()
		var exc modbus.Exception
		switch {
		case errors.As(err, &exc):
			c.except(c.dec.Transaction(), req.Slave, req.Function, exc)
			continue
		case err != nil:
			c.g.garbage++
			m.d.logLimited("modbus-tcp-garbage", logrus.WarnLevel, "modbus: TCP master closed: it sent what is not Modbus TCP", err, "client", c.addr.String())
			c.close()
			return
		case req.Slave == 0 || req.Slave > modbus.MaxSlave:
			c.except(c.dec.Transaction(), req.Slave, req.Function, modbus.GatewayPathUnavailable)
			continue
		}
		unit := req.Slave
		req.Values = slices.Clone(req.Values) // the decoder's, until its next Feed
		t := &mtxn{req: req, slave: m.byID[unit], gw: &gwRequest{c: c, tid: c.dec.Transaction(), unit: unit, fn: req.Function}, lane: urgent}
		if !m.enqueue(t) {
			c.except(t.gw.tid, unit, req.Function, modbus.ServerDeviceBusy)
			continue
		}
		c.waiting++
	}
}

// answer forwards the slave's reply to the master.
func (r *gwRequest) answer(pdu []byte) {
	c := r.c
	c.waiting--
	if c.gone {
		return
	}
	c.out = modbus.AppendTCPFrame(c.out[:0], r.tid, r.unit, pdu)
	c.send()
}

// fail answers for a slave that did not: its exception, or 0x0B.
func (r *gwRequest) fail(err error) {
	r.c.waiting--
	var exc modbus.Exception
	if !errors.As(err, &exc) {
		exc = modbus.GatewayTargetNoReply
	}
	r.c.except(r.tid, r.unit, r.fn, exc)
}

func (c *gwClient) except(tid uint16, unit uint8, fn modbus.Function, e modbus.Exception) {
	if c.gone {
		return
	}
	c.out = modbus.AppendTCPException(c.out[:0], tid, unit, fn, e)
	c.send()
}

func (c *gwClient) send() {
	if err := c.g.m.d.s.r.Send(c.id, c.out); err != nil {
		c.close() // a master that does not read its answers
	}
}

// Congested and Drained: a master is answered one request at a time;
// clientLimits drop one that does not read.
func (c *gwClient) Congested(*reactor.Reactor, reactor.ID) {}

// Drained: see Congested.
func (c *gwClient) Drained(*reactor.Reactor, reactor.ID) {}

// Disconnected: the master went away; its requests still on their way are
// answered into the void.
func (c *gwClient) Disconnected(_ *reactor.Reactor, _ reactor.ID, res reactor.Resource, _ error) {
	res.Close()
	c.forget()
}

func (c *gwClient) close() {
	if res, err := c.g.m.d.s.r.Unregister(c.id); err == nil {
		res.Close()
	}
	c.forget()
}

func (c *gwClient) forget() {
	c.gone = true
	c.g.clients = slices.DeleteFunc(c.g.clients, func(x *gwClient) bool { return x == c })
}

// close closes the server and its masters: the device is being removed or
// reconfigured.
func (g *gateway) close() {
	for _, c := range slices.Clone(g.clients) {
		c.close()
	}
	if g.listener != 0 {
		if res, err := g.m.d.s.r.Unregister(g.listener); err == nil {
			res.Close()
		}
		g.listener = 0
	}
}
