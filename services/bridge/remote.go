package bridge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/iogate/iogate/reactor"
	"github.com/iogate/iogate/resources/tcp"
	"github.com/iogate/iogate/rfc2217"
)

// A kind = "tcp" device is reached over a connection the gateway dials: to
// a serial server (ser2net, a Moxa NPort, a USR-TCP232, an ESP-Link) or to
// a sensor that speaks TCP. It is the same device part as a serial port:
// framing, delivery, TCP access and whatever protocol the device has see
// the same bytes, through device.Received and device.write, and the same
// life, through device.opened and device.Disconnected. What differs is
// here: the address is looked up off the loop at every dial, the dial does
// not block, silence past tcp_idle_timeout ends the connection, and with
// tcp_protocol = "rfc2217" the RFC 2217 client sets the remote port's line
// and takes the telnet out of the data both ways.

// lineWait is how long an RFC 2217 server is given to agree to
// COM-PORT-OPTION and then to answer the line settings, before the log
// says what it left unanswered. The data does not wait for it.
const lineWait = 3 * time.Second

type remoteState uint8

const (
	remoteIdle       remoteState = iota // waiting to retry, or closed
	remoteResolving                     // looking the address up
	remoteConnecting                    // the dial is under way
	remoteUp                            // connected: the device is online
)

// remote is the connection of a kind = "tcp" device. It is the reactor
// handler of the connection, and hands the device what the server sent.
type remote struct {
	d     *device
	state remoteState
	conn  reactor.ID     // while connecting or up; once up, d.id too
	dials uint64         // attempts; a lookup answers for one
	addr  netip.AddrPort // dialled last

	last                                time.Time // the server last sent something
	connTimer, idleTimer, lineTimer     reactor.TimerID
	onConnTimeout, onIdle, onLineReport func()

	// tcp_protocol = "rfc2217": the client of this connection, and what
	// the server answered to each of the line settings.
	tn       *rfc2217.Client
	answers  [rfc2217.OpSetControl - rfc2217.OpSetBaudRate + 1]rfc2217.Command
	reported bool // the outcome of the line settings is logged

	tnData, tnReply, escaped []byte
}

// remoteResolved is a lookup's answer, carried to the loop.
type remoteResolved struct {
	rm   *remote
	dial uint64 // the attempt it answers
	addr netip.AddrPort
	err  error
}

// errTimedOut ends a dial that took longer than connectTimeout.
var errTimedOut = errors.New("no connection within " + connectTimeout.String())

// dialRemote starts a connection attempt to the device's address; its
// Connected or its failure carries on.
func (d *device) dialRemote() {
	if d.remote == nil {
		rm := &remote{d: d}
		rm.onConnTimeout, rm.onIdle, rm.onLineReport = rm.connectTimedOut, rm.idleCheck, rm.reportLine
		d.remote = rm
	}
	d.remote.dial()
}

// dial dials an IP address at once, and looks a host name up off the loop
// first, again at every attempt: a name that moves is followed.
func (rm *remote) dial() {
	if rm.state != remoteIdle {
		return
	}
	d := rm.d
	rm.dials++
	if ap, err := netip.ParseAddrPort(d.cfg.Remote.Address); err == nil {
		rm.connect(ap)
		return
	}
	rm.state = remoteResolving
	ctl, name, dial := d.s.r.Controller(), d.cfg.Remote.Address, rm.dials
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
		defer cancel()
		ap, err := tcp.Resolve(ctx, name)
		ctl.Send(remoteResolved{rm, dial, ap, err})
	}()
}

// resolved carries an attempt on with the address looked up, unless it was
// given up since: the device closed, or the gateway is stopping.
func (rm *remote) resolved(c remoteResolved) {
	if rm.state != remoteResolving || c.dial != rm.dials || rm.d.gone || rm.d.s.stopping {
		return
	}
	rm.state = remoteIdle
	if c.err != nil {
		rm.failed(c.err)
		return
	}
	rm.connect(c.addr)
}

// connect dials ap without blocking.
func (rm *remote) connect(ap netip.AddrPort) {
	r := rm.d.s.r
	rm.addr = ap
	c, err := tcp.Dial(ap.String())
	if err == nil {
		if rm.conn, err = r.Connect(c, rm); err != nil {
			c.Close()
		}
	}
	if err != nil {
		rm.conn = 0
		rm.failed(err)
		return
	}
	rm.state = remoteConnecting
	rm.connTimer = r.SetTimer(connectTimeout, rm.onConnTimeout)
}

func (rm *remote) connectTimedOut() {
	rm.connTimer = 0
	if res, err := rm.d.s.r.Unregister(rm.conn); err == nil {
		res.Close()
	}
	rm.end()
	rm.failed(fmt.Errorf("dial tcp %s: %w", rm.addr, errTimedOut))
}

// failed schedules the next attempt after one that never came up, with
// the backoff of a device that does not open.
func (rm *remote) failed(cause error) {
	d := rm.d
	if d.gone || d.s.stopping {
		return
	}
	wait := d.retry.next(0)
	d.logLimited("open", logrus.WarnLevel, "device not available", cause, "address", d.cfg.Remote.Address, "retry_in", wait.String())
	d.reopen = d.s.r.SetTimer(wait, d.onReopen)
}

// Connected: the device is online. An RFC 2217 client greets the server;
// nothing waits for the answer, and what is written to the device goes out
// escaped from the start.
func (rm *remote) Connected(r *reactor.Reactor, id reactor.ID) {
	d := rm.d
	d.cancel(&rm.connTimer)
	if d.gone || d.s.stopping {
		if res, err := r.Unregister(id); err == nil {
			res.Close()
		}
		rm.end()
		return
	}
	rm.state, rm.last = remoteUp, r.Now()
	if idle := d.cfg.Remote.IdleTimeout; idle > 0 {
		rm.idleTimer = r.SetTimer(idle, rm.onIdle)
	}
	d.id = id
	d.log.WithField("address", rm.addr.String()).Debug("tcp: connected to the device")
	if d.cfg.Remote.Protocol != "rfc2217" {
		d.opened()
		return
	}
	rm.tn = rfc2217.NewClient("iogate "+d.cfg.Name, d.configMode())
	rm.answers, rm.reported = [len(rm.answers)]rfc2217.Command{}, false
	rm.lineTimer = r.SetTimer(lineWait, rm.onLineReport)
	d.opened()
	rm.send(rm.tn.Greeting(rm.tnReply[:0])) // if it fails, Disconnected follows
}

// Received hands what the server sent to the device, out of the telnet
// stream first for an RFC 2217 server.
func (rm *remote) Received(r *reactor.Reactor, id reactor.ID, data []byte) {
	rm.last = r.Now()
	if rm.tn == nil {
		rm.d.Received(r, id, data)
		return
	}
	rm.fromTelnet(r, id, data)
}

// Congested: the device's output is backed up.
func (rm *remote) Congested(r *reactor.Reactor, id reactor.ID) { rm.d.Congested(r, id) }

// Drained undoes Congested.
func (rm *remote) Drained(r *reactor.Reactor, id reactor.ID) { rm.d.Drained(r, id) }

// Disconnected: the dial failed, or the connection was refused, reset or
// closed by the server. A connection that was up ends as an unplug does.
func (rm *remote) Disconnected(r *reactor.Reactor, id reactor.ID, res reactor.Resource, cause error) {
	up := rm.state == remoteUp
	rm.end()
	if !up {
		res.Close()
		rm.failed(cause)
		return
	}
	if errors.Is(cause, io.EOF) || errors.Is(cause, reactor.ErrHangup) {
		// Not a clean end of the device's stream, as a FIFO's is: the
		// frame under way is cut, and the next connection starts anew.
		cause = fmt.Errorf("%s closed the connection", rm.addr)
	}
	rm.d.Disconnected(r, id, res, cause)
}

// drop ends the connection on the gateway's own decision; it is dialled
// again as after a failure.
func (rm *remote) drop(cause error) {
	r := rm.d.s.r
	if res, err := r.Unregister(rm.conn); err == nil {
		rm.Disconnected(r, rm.conn, res, cause)
	}
}

// idleCheck drops a connection silent for tcp_idle_timeout, or waits for
// the rest of the time.
func (rm *remote) idleCheck() {
	rm.idleTimer = 0
	d := rm.d
	idle := d.cfg.Remote.IdleTimeout
	if left := idle - d.s.r.Now().Sub(rm.last); left > 0 {
		rm.idleTimer = d.s.r.SetTimer(left, rm.onIdle)
		return
	}
	rm.drop(fmt.Errorf("%s sent nothing for %s (tcp_idle_timeout)", rm.addr, idle))
}

// end forgets the connection and its timers.
func (rm *remote) end() {
	d := rm.d
	rm.state, rm.conn, rm.tn = remoteIdle, 0, nil
	d.cancel(&rm.connTimer)
	d.cancel(&rm.idleTimer)
	d.cancel(&rm.lineTimer)
}

// stop gives the connection up for good: the device is closing, and
// unregisters a connection that is up itself.
func (rm *remote) stop() {
	if rm.state == remoteConnecting {
		if res, err := rm.d.s.r.Unregister(rm.conn); err == nil {
			res.Close()
		}
	}
	rm.end()
}

// send sends the client's own bytes (its greeting, its answers) to the
// server. A server that floods the client with requests and never reads
// the answers is dropped once the connection's buffer is full.
func (rm *remote) send(p []byte) bool {
	if len(p) == 0 {
		return true
	}
	err := rm.d.s.r.Send(rm.conn, p)
	if errors.Is(err, reactor.ErrOverflow) {
		rm.drop(errors.New("the server does not read what the gateway sends"))
	}
	return err == nil
}

// escape is what goes on the wire for data written to the device.
func (rm *remote) escape(data []byte) []byte {
	if rm.tn == nil {
		return data
	}
	if cap(rm.escaped) > 1<<20 {
		rm.escaped = nil // a burst's buffer is not kept
	}
	rm.escaped = rfc2217.Escape(rm.escaped[:0], data)
	return rm.escaped
}

// fromTelnet hands the device its data out of what an RFC 2217 server
// sent, sends the client's answers, and notes what the server said, in
// the order it came.
func (rm *remote) fromTelnet(r *reactor.Reactor, id reactor.ID, in []byte) {
	d := rm.d
	before := rm.tn.Stats()
	for len(in) > 0 && rm.state == remoteUp {
		var n int
		var said rfc2217.Command
		rm.tnData, rm.tnReply, n, said = rm.tn.Decode(rm.tnData[:0], rm.tnReply[:0], in)
		in = in[n:]
		if len(rm.tnData) > 0 {
			d.Received(r, id, rm.tnData)
		}
		if rm.state != remoteUp || !rm.send(rm.tnReply) {
			return
		}
		if said.Op != rfc2217.OpNone {
			rm.heard(said)
		}
		if n == 0 {
			break
		}
	}
	if rm.tn != nil {
		rm.telnetProblems(before)
	}
	if cap(rm.tnData) > 1<<20 {
		rm.tnData = nil
	}
}

// telnetProblems counts and logs the telnet the server sent that the
// client could not make sense of. It counts as the device's malformed
// input: either way the device's bytes were garbled on their way.
func (rm *remote) telnetProblems(before rfc2217.Stats) {
	d := rm.d
	after := rm.tn.Stats()
	bad := after.Malformed - before.Malformed + after.Overlong - before.Overlong
	if bad == 0 {
		return
	}
	d.stats.Malformed += bad
	d.logLimited("rfc2217-malformed", logrus.WarnLevel, "rfc2217: malformed telnet from the server discarded", nil, "address", rm.addr.String())
}

// heard notes what the server said about the port.
func (rm *remote) heard(said rfc2217.Command) {
	d := rm.d
	switch op := said.Op; {
	case op == rfc2217.OpComPort && said.Value != 0:
		d.log.WithField("mode", d.configMode().String()).Debug("rfc2217: the server agreed to COM-PORT-OPTION; setting the remote port")
		d.cancel(&rm.lineTimer)
		rm.lineTimer = d.s.r.SetTimer(lineWait, rm.onLineReport)
	case op == rfc2217.OpComPort:
		d.cancel(&rm.lineTimer)
		rm.reported = true
		d.logLimited("rfc2217-refused", logrus.WarnLevel, "rfc2217: the server refused COM-PORT-OPTION: the remote port's line is not set, the data flows as it is", nil, "address", rm.addr.String())
	case op >= rfc2217.OpSetBaudRate && op <= rfc2217.OpSetControl:
		if _, ok := rfc2217.ApplyMode(d.configMode(), said); ok {
			rm.answers[op-rfc2217.OpSetBaudRate] = said
		}
		if l := rm.tn.Line(); l.Sent != 0 && l.Answered == l.Sent && !rm.reported {
			d.cancel(&rm.lineTimer)
			rm.reportLine()
		}
	}
}

// reportLine logs, once per connection, what the server did with the
// line settings: what it confirmed, what it answered with other values,
// what it left unanswered; or that it has not agreed to COM-PORT-OPTION,
// which it may still do.
func (rm *remote) reportLine() {
	rm.lineTimer = 0
	d := rm.d
	if rm.tn == nil || rm.reported {
		return
	}
	e := d.log.WithField("address", rm.addr.String()).WithField("mode", d.configMode().String())
	if !rm.tn.ComPort() {
		e.Warn("rfc2217: the server has not agreed to COM-PORT-OPTION: the remote port's line is not set (is it an RFC 2217 server?)")
		return
	}
	rm.reported = true
	l := rm.tn.Line()
	if l.Confirmed != 0 {
		e.WithField("confirmed", l.Confirmed.String()).Info("rfc2217: the server confirmed the line settings")
	}
	if other := l.Answered &^ l.Confirmed; other != 0 {
		var answers []string
		for i, a := range rm.answers {
			if other&(1<<i) != 0 {
				answers = append(answers, a.String())
			}
		}
		e.WithField("settings", other.String()).WithField("answers", strings.Join(answers, ", ")).
			Warn("rfc2217: the server answered line settings with other values")
	}
	if unanswered := l.Sent &^ l.Answered; unanswered != 0 {
		e.WithField("settings", unanswered.String()).
			Warn("rfc2217: the server did not answer line settings: they may or may not be in force")
	}
}
