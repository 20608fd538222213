package bridge

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/iogate/iogate/config"
	"github.com/iogate/iogate/reactor"
	"github.com/iogate/iogate/resources/mqtt"
	"github.com/iogate/iogate/resources/tcp"
)

// connectTimeout bounds TCP and TLS, before CONNECT is sent.
const connectTimeout = 10 * time.Second

// The broker socket's output limits: delivery publishes only below
// linkHigh, so a Send never passes Max when Max leaves room for the
// largest publish on top (see brokerSettings.limits).
const (
	linkLow  = 64 << 10
	linkHigh = 256 << 10
)

type linkState uint8

const (
	linkIdle       linkState = iota // waiting to retry, or stopped
	linkResolving                   // looking the broker's name up
	linkConnecting                  // TCP (and TLS) under way
	linkHandshake                   // CONNECT sent, waiting for CONNACK
	linkUp                          // CONNACK accepted
)

// linkEvents is what the link tells the bridge: the connection's life and
// what the broker says.
type linkEvents interface {
	linkUp()
	linkDown()
	// linkWritable: the socket took what was pending; publish more.
	linkWritable()
	Message(topic string, payload []byte, retain bool)
	Acked(id uint16)
}

// brokerSettings are the link's settings, made from a configuration off
// the loop: the TLS files were parsed when it was loaded.
type brokerSettings struct {
	broker  string // as configured, for the log
	address string // host:port
	tls     *tls.Config
	session mqtt.Options
	limits  reactor.Limits
	retry   backoff
}

func newBrokerSettings(c *config.Config) brokerSettings {
	m := c.MQTT
	bs := brokerSettings{
		broker:  m.Broker,
		address: m.Address,
		session: mqtt.Options{
			ClientID:     m.ClientID,
			Username:     m.Username,
			Password:     string(m.Password),
			Keepalive:    m.Keepalive,
			CleanSession: true,
			Will:         &mqtt.Message{Topic: m.TopicPrefix + "/status", Payload: []byte("offline"), QoS: 1, Retain: true},
			// A command may be as large as a frame; a larger one from the
			// broker ends the connection.
			MaxPacket: max(mqtt.DefaultMaxPacket, int(c.Spool.SegmentBytes)+64<<10),
		},
		// The largest PUBLISH: a spool record's payload, its topic and
		// MQTT's header.
		limits: reactor.Limits{Low: linkLow, High: linkHigh, Max: linkHigh + int(c.Spool.SegmentBytes) + 64<<10},
		retry:  backoff{min: m.ReconnectMin, max: m.ReconnectMax, jitter: true},
	}
	if m.TLS {
		host, _, _ := net.SplitHostPort(m.Address)
		bs.tls = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12, InsecureSkipVerify: m.InsecureSkipVerify, RootCAs: m.CA}
		if m.Certificate != nil {
			bs.tls.Certificates = []tls.Certificate{*m.Certificate}
		}
	}
	return bs
}

// link is the broker connection: a reactor resource of its own, spoken to
// through an mqtt.Session. It connects (looking the broker's name up off
// the loop), keeps the connection alive, notices a dead broker, and
// reconnects with a backoff that starts again only after the connection
// stayed up. It publishes what delivery hands it and knows nothing of
// frames or statuses.
type link struct {
	r      *reactor.Reactor
	log    *logrus.Entry
	limit  *limiter
	events linkEvents
	set    brokerSettings

	session *mqtt.Session
	handler mqtt.Handler // the link, for the session
	state   linkState
	conn    reactor.ID
	// congested: the socket passed linkHigh; delivery waits for Drained.
	congested bool

	connTimer, tickTimer, retryTimer reactor.TimerID
	onConnTimeout, onTick, onRetry   func()

	retry    backoff
	dials    uint64 // connection attempts; a name lookup answers for one
	connects uint64 // CONNACKs accepted
	upAt     time.Time
	since    time.Time // when the connection last came up or went down
	err      error     // why it is down
	stopped  bool      // no more reconnects: the gateway is stopping
}

// resolvedCommand is a name lookup's answer, carried to the loop.
type resolvedCommand struct {
	dial uint64 // the attempt it answers
	addr netip.AddrPort
	err  error
}

func newLink(r *reactor.Reactor, log *logrus.Entry, limit *limiter, set brokerSettings, events linkEvents) *link {
	l := &link{r: r, log: log, limit: limit, events: events, since: time.Now()}
	l.onConnTimeout, l.onTick, l.onRetry = l.connectTimedOut, l.tick, l.connect
	l.handler = sessionHandler{l}
	l.configure(set)
	return l
}

// configure takes new settings; they apply from the next connection.
func (l *link) configure(set brokerSettings) {
	l.set = set
	l.session = mqtt.NewSession(set.session)
	l.retry = set.retry
}

// connect starts a connection attempt, looking the broker's name up off
// the loop if it is not an address.
func (l *link) connect() {
	l.retryTimer = 0
	if l.stopped || l.state != linkIdle {
		return
	}
	l.dials++
	addr, err := netip.ParseAddrPort(l.set.address)
	if err == nil {
		l.dial(addr)
		return
	}
	l.state = linkResolving
	l.log.WithField("broker", l.set.address).Debug("mqtt: looking the broker up")
	ctl, name, dial := l.r.Controller(), l.set.address, l.dials
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
		defer cancel()
		ap, err := tcp.Resolve(ctx, name)
		ctl.Send(resolvedCommand{dial, ap, err})
	}()
}

// resolved continues a connection attempt with the broker's address,
// unless the attempt was given up since (a reload, a stop).
func (l *link) resolved(c resolvedCommand) {
	if l.state != linkResolving || c.dial != l.dials {
		return
	}
	if c.err != nil {
		l.down(c.err)
		return
	}
	l.dial(c.addr)
}

func (l *link) dial(addr netip.AddrPort) {
	l.log.WithField("address", addr.String()).WithField("tls", l.set.tls != nil).Debug("mqtt: dialling the broker")
	c, err := mqtt.Dial(context.Background(), addr.String(), l.set.tls)
	if err == nil {
		if l.conn, err = l.r.Connect(c, l); err != nil {
			c.Close()
		}
	}
	if err != nil {
		l.conn = 0
		l.down(err)
		return
	}
	l.r.SetLimits(l.conn, l.set.limits)
	l.state = linkConnecting
	l.connTimer = l.r.SetTimer(connectTimeout, l.onConnTimeout)
}

func (l *link) connectTimedOut() {
	l.connTimer = 0
	l.drop(fmt.Errorf("no connection to %s within %s", l.set.address, connectTimeout))
}

// Connected: TCP (and TLS) is up; MQTT starts.
func (l *link) Connected(_ *reactor.Reactor, id reactor.ID) {
	l.cancel(&l.connTimer)
	l.state = linkHandshake
	now := l.r.Now()
	if err := l.r.Send(id, l.session.Start(now)); err != nil {
		return // Disconnected follows
	}
	l.keepalive(now)
}

// Received feeds the broker's bytes to the session.
func (l *link) Received(_ *reactor.Reactor, _ reactor.ID, data []byte) {
	if err := l.session.Feed(l.r.Now(), data, l.handler); err != nil {
		l.drop(err)
		return
	}
	l.flushSession()
}

// Congested: the socket is backed up; publishing waits.
func (l *link) Congested(*reactor.Reactor, reactor.ID) { l.congested = true }

// Drained: the socket took its backlog.
func (l *link) Drained(*reactor.Reactor, reactor.ID) {
	l.congested = false
	l.events.linkWritable()
}

// Disconnected: the connection failed or the broker closed it.
func (l *link) Disconnected(_ *reactor.Reactor, _ reactor.ID, res reactor.Resource, cause error) {
	res.Close()
	l.conn = 0
	l.down(cause)
}

// mqtt.Handler: what the broker says, from inside Session.Feed.

// Connected is the broker's CONNACK.
func (l *link) connected() {
	l.state = linkUp
	l.connects++
	l.upAt, l.since, l.err = l.r.Now(), l.r.Now(), nil
	l.log.WithField("broker", l.set.broker).Info("mqtt: connected")
	l.events.linkUp()
}

// Message delivers an inbound PUBLISH.
func (l *link) Message(topic string, payload []byte, retain bool) {
	l.events.Message(topic, payload, retain)
}

// Acked is a PUBACK.
func (l *link) Acked(id uint16) { l.events.Acked(id) }

// Subscribed is a SUBACK.
func (l *link) Subscribed(_ uint16, granted []byte) {
	for _, g := range granted {
		if g == 0x80 {
			l.log.Error("mqtt: the broker refused a subscription: commands on those topics will not arrive")
			return
		}
	}
}

// up reports whether the broker has accepted the connection.
func (l *link) up() bool { return l.state == linkUp }

// room tells delivery whether n more bytes may be written now.
func (l *link) room(n int) bool {
	return l.state == linkUp && !l.congested && l.r.Pending(l.conn)+n < linkHigh
}

func (l *link) publish(now time.Time, m mqtt.Message) (uint16, []byte, error) {
	return l.session.Publish(now, m)
}

func (l *link) send(packets []byte) error { return l.r.Send(l.conn, packets) }

// subscribe subscribes to filters, at QoS 1.
func (l *link) subscribe(filters []string) {
	if len(filters) == 0 || l.state != linkUp {
		return
	}
	l.log.WithField("topics", len(filters)).Debug("mqtt: subscribing")
	_, pkt, err := l.session.Subscribe(l.r.Now(), filters, 1)
	if err == nil {
		err = l.r.Send(l.conn, pkt)
	}
	if err != nil {
		l.drop(err)
	}
}

// keepalive lets the session ping or time out, and arms the next tick.
func (l *link) keepalive(now time.Time) {
	next, err := l.session.Tick(now)
	if err != nil {
		l.drop(err)
		return
	}
	l.flushSession()
	l.cancel(&l.tickTimer)
	if !next.IsZero() {
		l.tickTimer = l.r.SetTimer(max(next.Sub(now), time.Millisecond), l.onTick)
	}
}

func (l *link) tick() {
	l.tickTimer = 0
	l.keepalive(l.r.Now())
}

// flushSession sends what the session queued (acknowledgements, pings).
func (l *link) flushSession() {
	if out := l.session.Output(); len(out) > 0 && l.conn != 0 {
		l.r.Send(l.conn, out)
	}
}

// drop closes the connection on the bridge's own decision.
func (l *link) drop(cause error) {
	if l.conn != 0 {
		if res, err := l.r.Unregister(l.conn); err == nil {
			res.Close()
		}
		l.conn = 0
	}
	l.down(cause)
}

// down is the end of a connection or an attempt: a reconnect follows,
// with backoff and jitter so a fleet of gateways does not come back in
// step.
func (l *link) down(cause error) {
	if l.state == linkIdle && l.conn == 0 && l.retryTimer != 0 {
		return // already down
	}
	wasUp := l.state == linkUp
	l.state = linkIdle
	l.congested = false
	l.err = cause
	l.cancel(&l.connTimer)
	l.cancel(&l.tickTimer)
	var upFor time.Duration
	if wasUp {
		l.since = l.r.Now()
		upFor = l.r.Now().Sub(l.upAt)
	}
	l.events.linkDown()
	if l.stopped {
		return
	}
	wait := l.retry.next(upFor)
	e := l.log.WithField("broker", l.set.broker).WithField("retry_in", wait.Round(time.Millisecond).String())
	switch {
	case errors.Is(cause, errReconfigured):
		e.Info("mqtt: reconnecting with the new settings")
	case wasUp:
		e.WithError(cause).Warn("mqtt: connection lost")
	default:
		logLimited(l.limit, l.r.Now(), e, "broker", logrus.WarnLevel, "mqtt: cannot connect", cause)
	}
	l.retryTimer = l.r.SetTimer(wait, l.onRetry)
}

// errReconfigured ends a connection whose settings a reload changed.
var errReconfigured = errors.New("configuration changed")

// disconnect ends the connection politely: DISCONNECT, so the broker
// drops the will, then close. With stop, no reconnect follows.
func (l *link) disconnect(cause error, stop bool) {
	l.stopped = stop
	if l.state == linkUp {
		l.r.Send(l.conn, l.session.Disconnect())
	}
	l.cancel(&l.retryTimer)
	l.drop(cause)
	if !stop {
		l.cancel(&l.retryTimer)
		l.connect() // at once: this is not a failure
	}
}

func (l *link) cancel(id *reactor.TimerID) {
	if *id != 0 {
		l.r.CancelTimer(*id)
		*id = 0
	}
}

// sessionHandler adapts the link to mqtt.Handler, whose Connected takes the
// session-present flag.
type sessionHandler struct{ *link }

func (h sessionHandler) Connected(bool) { h.link.connected() }
