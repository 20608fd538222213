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

// client is a raw TCP connection to a device, the way ser2net serves one:
// it gets every byte the device sends, and, if the device is writable,
// what it sends goes to the device.
type client struct {
	id   reactor.ID
	dev  *device
	addr netip.AddrPort
	last time.Time // the last traffic either way, for the idle timeout
	idle reactor.TimerID

	tn       *rfc2217.Server // tcp_protocol = "rfc2217"; nil for raw
	notified bool            // told the modem lines since it agreed to COM-PORT-OPTION
}

// remoteAddr is what the bridge needs of an accepted connection.
type remoteAddr interface{ RemoteAddr() netip.AddrPort }

// listen opens the device's TCP listener, if it has one.
func (s *Service) listen(d *device) error {
	if d.cfg.TCPListen == "" || d.listener != 0 {
		return nil
	}
	l, err := tcp.Listen(d.cfg.TCPListen)
	if err != nil {
		return err
	}
	id, err := s.r.RegisterListener(l, s)
	if err != nil {
		l.Close()
		return err
	}
	d.listener = id
	s.byListener[id] = d
	d.log.WithField("listen", l.Addr().String()).Info("tcp: listening")
	return nil
}

// accept takes or refuses a client of a device.
func (s *Service) accept(d *device, t reactor.Transport) {
	var addr netip.AddrPort
	if ra, ok := t.(remoteAddr); ok {
		addr = ra.RemoteAddr()
	}
	e := d.log.WithField("client", addr.String())
	if !allowed(d.cfg.TCPAllow, addr.Addr()) {
		t.Close()
		d.stats.TCPRefused++
		s.logLimited(e, d.cfg.Name+"/tcp-allow", logrus.WarnLevel, "tcp: client refused: address not in tcp_allow", nil)
		return
	}
	if len(d.clients) >= d.cfg.TCPMaxClients {
		if d.cfg.TCPOverflow != "kick-oldest" {
			t.Close()
			d.stats.TCPRefused++
			s.logLimited(e, d.cfg.Name+"/tcp-full", logrus.WarnLevel, "tcp: client refused: tcp_max_clients reached", nil)
			return
		}
		s.dropClient(d.clients[0], "replaced by a newer client (tcp_overflow = kick-oldest)")
	}
	id, err := s.r.RegisterTransport(t, s)
	if err != nil {
		t.Close()
		s.logLimited(e, d.cfg.Name+"/tcp-register", logrus.ErrorLevel, "tcp: client not registered", err)
		return
	}
	s.r.SetLimits(id, clientLimits)
	c := &client{id: id, dev: d, addr: addr, last: s.r.Now()}
	if d.cfg.TCPIdleTimeout > 0 {
		c.idle = s.afterClient(d.cfg.TCPIdleTimeout, c)
	}
	d.clients = append(d.clients, c)
	s.byClient[id] = c
	if d.paused {
		s.r.Pause(id)
	}
	e.Info("tcp: client connected")
	if d.cfg.TCPProtocol == "rfc2217" {
		s.telnetGreeting(c)
	}
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

func (s *Service) afterClient(d time.Duration, c *client) reactor.TimerID {
	var id reactor.TimerID
	id = s.r.SetTimer(d, func() { s.fire(id) })
	s.timers[id] = timerTask{kind: timerClientIdle, client: c}
	return id
}

// fanout sends what a device read to every client, dropping those too
// slow to take it.
func (s *Service) fanout(d *device, data []byte) {
	now := s.r.Now()
	s.escaped = s.escaped[:0]
	for i := 0; i < len(d.clients); {
		c := d.clients[i]
		out := data
		if c.tn != nil {
			if len(s.escaped) == 0 {
				s.escaped = rfc2217.Escape(s.escaped, data)
			}
			out = s.escaped
		}
		if !s.sendClient(c, out) {
			continue // c is gone from d.clients
		}
		c.last = now
		i++
	}
}

// sendClient sends data to a client. It reports false when the client is
// gone: dropped for being too slow, or its connection failed.
func (s *Service) sendClient(c *client, data []byte) bool {
	err := s.r.Send(c.id, data)
	switch {
	case err == nil:
		return true
	case errors.Is(err, reactor.ErrOverflow):
		s.dropClient(c, "too slow: it did not read what the device sent")
	default:
		s.forgetClient(c) // the write failed: Disconnected follows and closes it
	}
	return false
}

// fromClient takes what a client sent, in arrival order.
func (s *Service) fromClient(c *client, data []byte) {
	c.last = s.r.Now()
	if c.tn != nil {
		s.fromTelnet(c, data)
		return
	}
	s.toDevice(c, data)
}

// toDevice writes a client's data to its device, or discards it.
func (s *Service) toDevice(c *client, data []byte) {
	d := c.dev
	switch {
	case !d.cfg.Writable:
		d.stats.TCPDiscarded += uint64(len(data))
		s.logLimited(c.logger(), d.cfg.Name+"/tcp-ro", logrus.WarnLevel,
			"tcp: client data discarded: the device is not writable", nil)
	case d.id == 0:
		d.stats.TCPDiscarded += uint64(len(data))
		s.logLimited(c.logger(), d.cfg.Name+"/tcp-offline", logrus.WarnLevel,
			"tcp: client data discarded: the device is offline", nil)
	default:
		// The clients are paused when the device's buffer passes its
		// high-water mark, far below where Send refuses.
		if err := s.r.Send(d.id, data); err != nil {
			d.stats.TCPDiscarded += uint64(len(data))
			s.logLimited(d.log, d.cfg.Name+"/tcp-write", logrus.WarnLevel, "tcp: client data not written", err)
			return
		}
		d.stats.TxBytes += uint64(len(data))
	}
}

// pauseClients stops or restarts reading a device's clients while the
// device's output is congested.
func (s *Service) pauseClients(d *device, pause bool) {
	d.paused = pause
	for _, c := range d.clients {
		if pause {
			s.r.Pause(c.id)
		} else {
			s.r.Resume(c.id)
		}
	}
}

// clientIdle closes a client that was silent for tcp_idle_timeout, or
// waits for the rest of it.
func (s *Service) clientIdle(c *client) {
	c.idle = 0
	if s.byClient[c.id] != c {
		return
	}
	left := c.dev.cfg.TCPIdleTimeout - s.r.Now().Sub(c.last)
	if left > 0 {
		c.idle = s.afterClient(left, c)
		return
	}
	s.dropClient(c, "idle for tcp_idle_timeout")
}

// dropClient closes a client on the bridge's own decision.
func (s *Service) dropClient(c *client, why string) {
	if res, err := s.r.Unregister(c.id); err == nil {
		res.Close()
	}
	c.dev.stats.TCPDropped++
	s.logLimited(c.logger(), c.dev.cfg.Name+"/tcp-drop", logrus.WarnLevel, "tcp: client dropped: "+why, nil)
	s.forgetClient(c)
}

// forgetClient removes a client that is gone.
func (s *Service) forgetClient(c *client) {
	s.releasePort(c)
	s.cancel(&c.idle)
	delete(s.byClient, c.id)
	c.dev.clients = slices.DeleteFunc(c.dev.clients, func(x *client) bool { return x == c })
}

// closeTCP closes a device's listener and clients: the device is being
// removed or reconfigured.
func (s *Service) closeTCP(d *device) {
	for _, c := range slices.Clone(d.clients) {
		if res, err := s.r.Unregister(c.id); err == nil {
			res.Close()
		}
		s.forgetClient(c)
	}
	if d.listener != 0 {
		if res, err := s.r.Unregister(d.listener); err == nil {
			res.Close()
		}
		delete(s.byListener, d.listener)
		d.listener = 0
	}
}

// closeAllTCP closes every listener and client.
func (s *Service) closeAllTCP() {
	for _, d := range s.devices {
		s.closeTCP(d)
	}
}

// logger is the device's logger with the client's address.
func (c *client) logger() *logrus.Entry {
	return c.dev.log.WithField("client", c.addr.String())
}
