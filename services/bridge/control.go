package bridge

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/iogate/iogate/control"
	"github.com/iogate/iogate/reactor"
	"github.com/iogate/iogate/resources/unix"
)

// The control socket, <state_dir>/iogate.sock, is how `iogate status` and
// `iogate trace` reach the running gateway: a Unix-domain listener of the
// same reactor as the devices, speaking package control's protocol. The
// kernel checks the socket's mode (0660) at connect, and the port checks
// the peer's credentials against the socket's group. Nothing a client does
// ever waits: a client that sends garbage is answered and closed, one that
// sends nothing is closed, and a tracer that does not read loses trace
// events, counted, rather than slowing a device.

// Bounds of the control clients.
const (
	// maxControlClients is how many clients are served at once; more are
	// told the gateway is busy.
	maxControlClients = 16
	// requestTimeout is how long a client may take to complete a request,
	// from its connect or its last request, unless it is tracing.
	requestTimeout = 5 * time.Second
	// closeWait is how long a client given its last answer (an error) has
	// to read it before it is closed anyway.
	closeWait = 5 * time.Second
)

// congestionLimit is how long a client's output may stay backed up before
// it is taken for one that does not read, and closed. A test shortens it.
var congestionLimit = 30 * time.Second

var (
	// controlLimits bound a client's output before it traces: requests are
	// answered below High, and Max leaves room above it for the largest
	// message a client reads.
	controlLimits = reactor.Limits{Low: 64 << 10, High: 256 << 10, Max: 256<<10 + control.MaxMessage}
	// tracerLimits bound a tracer's: past High its events are dropped and
	// counted. An event is at most 4/3 of the reactor's 64 KiB read plus a
	// little, so a Send below High never reaches Max.
	tracerLimits = reactor.Limits{Low: 64 << 10, High: 256 << 10, Max: 1 << 20}
)

// SetVersion sets the iogate version the gateway gives: in the control
// socket's hello, so that a client can say when it is not the gateway's,
// and to Home Assistant as the gateway device's software version. Call it
// before Run.
func (s *Service) SetVersion(v string) { s.version = v }

// controlPort is the control socket: the reactor handler of its listener,
// and the owner of its clients.
type controlPort struct {
	s        *Service
	log      *logrus.Entry
	ln       *unix.Listener
	id       reactor.ID
	clients  []*controlClient
	resume   reactor.TimerID
	onResume func()
}

// listenControl makes the control socket in state_dir and registers it.
func (s *Service) listenControl() error {
	dir := s.cfg.Gateway.StateDir
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	ln, err := unix.Listen(control.SocketPath(dir), 0o660, -1)
	switch {
	case errors.Is(err, unix.ErrInUse):
		return fmt.Errorf("control socket: %w: is another gateway running with state_dir %s?", err, dir)
	case err != nil:
		return fmt.Errorf("control socket: %w", err)
	}
	p := &controlPort{s: s, log: s.log.WithField("socket", ln.Path()), ln: ln}
	p.onResume = p.resumeAccepting
	if p.id, err = s.r.RegisterListener(ln, p); err != nil {
		ln.Close()
		return fmt.Errorf("control socket: %w", err)
	}
	p.log.Debug("control: listening")
	return nil
}

// Accepted admits a client, or tells it why not and closes it.
func (p *controlPort) Accepted(r *reactor.Reactor, _ reactor.ID, t reactor.Transport) {
	conn, ok := t.(*unix.Conn)
	if !ok {
		t.Close()
		return
	}
	cred, err := p.ln.Admit(conn)
	var refused *control.Error
	switch {
	case err != nil:
		refused = &control.Error{Code: control.ErrPermission, Message: err.Error()}
	case len(p.clients) >= maxControlClients:
		refused = &control.Error{Code: control.ErrBusy, Message: fmt.Sprintf("the gateway serves %d control clients already", maxControlClients)}
	}
	c := &controlClient{p: p, conn: conn, srv: control.NewServer(p.s.version), cred: cred}
	c.onTimer = c.timedOut
	id, rerr := r.RegisterTransport(conn, c)
	if rerr != nil {
		conn.Close()
		p.log.WithError(rerr).Error("control: client not registered")
		return
	}
	c.id = id
	if refused != nil {
		logLimited(p.s.limit, r.Now(), c.logger(), "control-refused", logrus.WarnLevel, "control: client refused", refused)
		c.finish(c.srv.Fail(nil, refused))
		return
	}
	r.SetLimits(id, controlLimits)
	c.arm(requestTimeout)
	p.clients = append(p.clients, c)
	c.logger().Debug("control: client connected")
}

// Failed: the listener could not accept (out of descriptors or memory);
// the reactor paused it, and it resumes after a pause.
func (p *controlPort) Failed(r *reactor.Reactor, _ reactor.ID, err error) {
	logLimited(p.s.limit, r.Now(), p.log, "control-accept", logrus.ErrorLevel, "control: cannot accept clients now", err)
	if p.resume == 0 {
		p.resume = r.SetTimer(listenerPause, p.onResume)
	}
}

func (p *controlPort) resumeAccepting() {
	p.resume = 0
	if p.id != 0 {
		p.s.r.Resume(p.id)
	}
}

// Disconnected: the listener failed for good.
func (p *controlPort) Disconnected(_ *reactor.Reactor, _ reactor.ID, res reactor.Resource, cause error) {
	res.Close()
	p.id = 0
	p.log.WithError(cause).Error("control: listener failed; iogate status and trace are off until a restart")
}

// controlClient is one connection to the control socket, and the reactor
// handler of it. It keeps the connection open after the peer's
// half-close: `echo ... | socat` still gets its answers, and a tracer its
// events.
type controlClient struct {
	p    *controlPort
	id   reactor.ID
	conn *unix.Conn
	srv  *control.Server
	cred unix.Cred
	out  []byte // the answer or the event being sent

	traced    []*deviceWatch // the devices it traces
	congested bool           // its output passed High
	closing   bool           // its last answer is on its way; then it is closed
	eof       bool           // it closed its side
	timer     reactor.TimerID
	onTimer   func()
}

// Received answers each request the client completed.
func (c *controlClient) Received(r *reactor.Reactor, _ reactor.ID, data []byte) {
	for len(data) > 0 && !c.closing {
		out, n, req, err := c.srv.Decode(c.out[:0], data)
		data = data[n:]
		c.out = out
		if err != nil {
			c.logger().WithError(err).Info("control: request refused; closing the connection")
			c.finish(out)
			return
		}
		switch req.Kind {
		case "":
			continue // a request cut across reads
		case control.KindHello:
			c.logger().WithField("client_version", req.Version).Debug("control: hello")
		case control.KindStatus:
			if r.Pending(c.id) >= controlLimits.High {
				c.drop("it asks for statuses faster than it reads them")
				return
			}
			out, err = c.status(out)
		case control.KindTrace:
			out, err = c.trace(out, req.Devices)
		}
		c.out = out
		if err != nil {
			c.finish(out)
			return
		}
		if !c.send(out) {
			return
		}
		if !c.srv.Tracing() && !c.congested {
			c.arm(requestTimeout)
		}
	}
}

// status appends the answer to a status request.
func (c *controlClient) status(out []byte) ([]byte, error) {
	st := c.p.s.status()
	out, err := control.AppendStatus(out, &st)
	if err != nil {
		return c.srv.Fail(out, &control.Error{Code: control.ErrUnavailable, Message: "status: " + err.Error()}), err
	}
	return out, nil
}

// trace taps the devices named, or appends why not.
func (c *controlClient) trace(out []byte, names []string) ([]byte, error) {
	s := c.p.s
	var devices, unknown []string
	for _, n := range names {
		switch {
		case slices.Contains(devices, n), slices.Contains(unknown, n):
		case s.deviceNamed(n) == nil:
			unknown = append(unknown, n)
		default:
			devices = append(devices, n)
		}
	}
	if len(unknown) > 0 {
		e := control.UnknownDevices(unknown...)
		return c.srv.Fail(out, e), e
	}
	c.cancelTimer()
	s.r.SetLimits(c.id, tracerLimits)
	for _, n := range devices {
		w := s.watch(n)
		w.tracers = append(w.tracers, c)
		c.traced = append(c.traced, w)
	}
	c.logger().WithField("devices", devices).Info("control: tracing")
	return control.AppendTracing(out, devices), nil
}

// deviceNamed is the running device of that name, or nil.
func (s *Service) deviceNamed(name string) *device {
	for _, d := range s.devices {
		if d.cfg.Name == name {
			return d
		}
	}
	return nil
}

// tap hands what a device read (RX) or was written (TX) to its tracers.
// With none, it costs a length check.
func (d *device) tap(dir control.Dir, data []byte) {
	if len(d.watch.tracers) > 0 {
		d.watch.trace(d.s.r, d.cfg.Name, dir, data)
	}
}

// trace sends an event to each tracer of the device.
func (w *deviceWatch) trace(r *reactor.Reactor, name string, dir control.Dir, data []byte) {
	for i := 0; i < len(w.tracers); {
		if w.tracers[i].event(r, name, dir, data) {
			i++ // else it is gone from w.tracers
		}
	}
}

// event sends one trace event, or counts it lost while the client's output
// is backed up: a device never waits for a tracer. It reports false when
// the client is gone.
func (c *controlClient) event(r *reactor.Reactor, name string, dir control.Dir, data []byte) bool {
	if c.congested || r.Pending(c.id) >= tracerLimits.High {
		c.srv.Drop()
		return true
	}
	c.out = c.srv.Trace(c.out[:0], control.Event{Time: r.Now(), Device: name, Dir: dir, Data: data})
	return c.send(c.out)
}

// send sends data to the client. It reports false when the client is
// gone: closed because its output overflowed, or its connection failed.
func (c *controlClient) send(data []byte) bool {
	err := c.p.s.r.Send(c.id, data)
	switch {
	case err == nil:
		return true
	case errors.Is(err, reactor.ErrOverflow):
		c.drop("its output is full: it does not read")
	default:
		c.forget() // the write failed: Disconnected follows and closes it
	}
	return false
}

// finish sends the client its last answer and ends the connection. Once
// the answer is written, the gateway's side is shut down, so that the
// client reads the answer and then the end rather than a reset, and what
// it sends is read and discarded until it closes its side too, or
// closeWait passed.
func (c *controlClient) finish(last []byte) {
	r := c.p.s.r
	c.closing = true
	c.untrace()
	c.arm(closeWait)
	// With these marks, a Send (an empty one too) raises Congested while
	// anything is pending, and Drained comes when the client has it all.
	r.SetLimits(c.id, reactor.Limits{Low: 0, High: 1, Max: controlLimits.Max})
	if c.send(last) && r.Pending(c.id) == 0 {
		c.answered()
	}
}

// answered: a closing client has its last answer.
func (c *controlClient) answered() {
	if c.eof || c.conn.CloseWrite() != nil {
		c.close("")
	}
}

// Congested: the client does not read as fast as it is sent to; it has
// congestionLimit to catch up.
func (c *controlClient) Congested(*reactor.Reactor, reactor.ID) {
	c.congested = true
	if !c.closing {
		c.arm(congestionLimit)
	}
}

// Drained: the client caught up. A tracer hears how many events it lost.
func (c *controlClient) Drained(r *reactor.Reactor, _ reactor.ID) {
	c.congested = false
	switch {
	case c.closing:
		c.answered()
	case c.srv.Tracing():
		c.cancelTimer()
		if c.out = c.srv.Drained(c.out[:0], r.Now()); len(c.out) > 0 {
			c.send(c.out)
		}
	default:
		c.arm(requestTimeout)
	}
}

// PeerClosed: the client sent all it will. A tracer goes on; any other
// client is closed once it has its answers.
func (c *controlClient) PeerClosed(r *reactor.Reactor, _ reactor.ID) {
	c.eof = true
	switch {
	case c.closing && r.Pending(c.id) == 0:
		c.close("")
	case !c.closing && !c.srv.Tracing():
		c.finish(nil)
	}
}

// Disconnected: the client went away.
func (c *controlClient) Disconnected(_ *reactor.Reactor, _ reactor.ID, res reactor.Resource, _ error) {
	res.Close()
	c.logger().Debug("control: client disconnected")
	c.forget()
}

// timedOut is the client's one timer: its request, congestion or close
// wait is over.
func (c *controlClient) timedOut() {
	c.timer = 0
	r := c.p.s.r
	switch {
	case c.closing && r.Pending(c.id) > 0:
		c.close("it did not read its last answer")
	case c.closing:
		c.close("")
	case c.congested:
		c.drop(fmt.Sprintf("it read nothing for %v", congestionLimit))
	case r.Pending(c.id) > 0:
		c.arm(requestTimeout) // still reading an answer
	default:
		c.close(fmt.Sprintf("no request within %v", requestTimeout))
	}
}

func (c *controlClient) arm(d time.Duration) {
	c.cancelTimer()
	c.timer = c.p.s.r.SetTimer(d, c.onTimer)
}

func (c *controlClient) cancelTimer() {
	if c.timer != 0 {
		c.p.s.r.CancelTimer(c.timer)
		c.timer = 0
	}
}

// drop closes a client that misbehaves, and says why.
func (c *controlClient) drop(why string) {
	logLimited(c.p.s.limit, c.p.s.r.Now(), c.logger(), "control-drop", logrus.WarnLevel, "control: client dropped: "+why, nil)
	c.close("")
}

// close closes the client's connection.
func (c *controlClient) close(why string) {
	if res, err := c.p.s.r.Unregister(c.id); err == nil {
		res.Close()
	}
	if why != "" {
		c.logger().WithField("why", why).Info("control: client closed")
	}
	c.forget()
}

// forget removes a client that is gone.
func (c *controlClient) forget() {
	c.untrace()
	c.cancelTimer()
	c.p.clients = slices.DeleteFunc(c.p.clients, func(x *controlClient) bool { return x == c })
}

// untrace takes the client off the devices it traces.
func (c *controlClient) untrace() {
	for _, w := range c.traced {
		w.tracers = slices.DeleteFunc(w.tracers, func(x *controlClient) bool { return x == c })
	}
	c.traced = nil
}

// logger is the port's logger with the client's credentials.
func (c *controlClient) logger() *logrus.Entry {
	return c.p.log.WithField("uid", c.cred.UID).WithField("pid", c.cred.PID)
}
