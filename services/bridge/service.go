// Package bridge is the gateway's business logic: it carries the frames of
// serial ports and character devices to an MQTT broker and commands back.
//
// A Service runs on one reactor. It opens every configured device as a
// reactor resource, cuts what the device sends into frames, and publishes
// each frame on <prefix>/<device>/rx in the device's encoding; it writes
// what arrives on <prefix>/<device>/tx to writable devices; it keeps the
// retained status topics true, and publishes counters on <prefix>/stats. A
// device that is missing or unplugged is reopened with backoff and never
// stops the others; a broker that goes away is reconnected with backoff and
// what it had not acknowledged is sent again, in order.
//
// The Service is thin: it wires parts that each own their state and are
// each the reactor handler of their own resource. A device (device.go)
// opens, reopens and frames one [[device]]; its TCP access (tcp.go,
// comport.go) serves its listener and clients; the link (link.go) is the
// broker connection; delivery (delivery.go, outbox.go, spool.go) is the
// one owner of everything published. The broker connection is a resource
// of the same reactor as the devices, so a frame goes from the device's
// read to the broker's socket on one thread, without a hand-off. Package
// bridge holds no descriptor of its own: resources do that.
package bridge

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/iogate/iogate/config"
	"github.com/iogate/iogate/reactor"
	"github.com/iogate/iogate/resources/tcp"
	"github.com/iogate/iogate/spool"
)

// stopWait is how long a stop, or a reload that changes the broker,
// waits for the broker to take the offline statuses.
const stopWait = 3 * time.Second

// Commands sent to the loop through the reactor's controller.
type (
	stopCommand struct{}
	pingCommand struct{ done chan struct{} }
)

// Service is the bridge: the reactor's service. Create it with New and
// run it with Run; Stop, Ping, Reload and Snapshot may be called from any
// goroutine.
type Service struct {
	cfg     *config.Config
	log     *logrus.Entry
	r       *reactor.Reactor
	limit   *limiter
	started time.Time

	topics  *topics
	out     *delivery
	link    *link // nil with broker = "none"
	mqttOn  bool
	gateway *state // <prefix>/status
	statsTo *topic
	stats   reactor.TimerID
	onStats func()

	devices  []*device
	commands map[string]commandFunc    // what each subscribed topic goes to
	counters func(string) *DeviceStats // a device's, by name, for the life of the process
	perName  map[string]*DeviceStats
	watches  map[string]*deviceWatch // a device's state and tracers, by name, for the life of the process
	version  string                  // iogate's: the control socket's hello, Home Assistant's software version

	discovery *discovery // Home Assistant's entities

	stopping bool
	finished bool            // the loop is told to stop
	deadline reactor.TimerID // of a stop or a leave
	pending  *plan           // a reload waiting for the broker to take the old statuses

	reloadMu  sync.Mutex  // serialises Reload's preparation
	spoolOpen atomic.Bool // the loop has a spool; read by Reload
}

// New prepares a bridge for cfg; nothing is opened before Run.
func New(cfg *config.Config, log *logrus.Entry) (*Service, error) {
	s := &Service{cfg: cfg, log: log, limit: newLimiter(), perName: map[string]*DeviceStats{}}
	s.counters = s.deviceStats
	r, err := reactor.New(s, reactor.Options{Poller: cfg.Gateway.Poller, LockThread: true})
	if err != nil {
		return nil, err
	}
	s.r = r
	s.topics = newTopics(cfg.MQTT.TopicPrefix)
	s.out = newDelivery(r, log, s.limit, s.topics, cfg.MQTT.QoS)
	s.out.pause = s.pauseDevices
	s.out.dropped = func(name string) { s.counters(name).Drops++ }
	s.gateway = s.out.newState(s.topics.get("status", true), "online")
	s.statsTo = s.topics.get("stats", false)
	s.onStats = s.publishStats
	s.mqttOn = cfg.MQTT.Kind != config.BrokerNone
	if s.mqttOn {
		s.setLink(newLink(r, log, s.limit, newBrokerSettings(cfg), s))
	}
	for _, dc := range cfg.Devices {
		d, err := s.newDevice(dc)
		if err != nil {
			return nil, err
		}
		s.devices = append(s.devices, d)
	}
	s.discovery = newDiscovery(s)
	s.index()
	return s, nil
}

// setLink gives the bridge its broker link, or none.
func (s *Service) setLink(l *link) {
	s.link = l
	s.out.link = nil
	if l != nil {
		s.out.link = l
	}
}

// deviceStats returns the counters of the device with that name.
func (s *Service) deviceStats(name string) *DeviceStats {
	st := s.perName[name]
	if st == nil {
		st = &DeviceStats{Name: name}
		s.perName[name] = st
	}
	return st
}

// index maps the topics the devices take commands on to them.
func (s *Service) index() {
	s.commands = map[string]commandFunc{}
	if !s.mqttOn {
		return
	}
	for _, d := range s.devices {
		d.proto.commands(func(tail string, fn commandFunc) { s.commands[s.topics.get(tail, false).name] = fn })
	}
	s.discovery.commands(s.commands)
}

// Run opens the devices, connects to the broker and runs the loop until
// Stop. It returns nil after a graceful stop.
func (s *Service) Run() error {
	s.started = time.Now()
	if s.cfg.MQTT.TLS && s.cfg.MQTT.InsecureSkipVerify {
		s.log.Warn("mqtt: insecure_skip_verify is set: the broker's certificate is not verified")
	}
	if s.mqttOn {
		if err := s.openSpool(); err != nil {
			return err
		}
	}
	var listeners []*tcp.Listener
	for _, d := range s.devices {
		addr := listenAddr(d.cfg)
		if addr == "" {
			listeners = append(listeners, nil)
			continue
		}
		l, err := tcp.Listen(addr)
		if err != nil {
			closeListeners(listeners)
			s.out.close()
			return fmt.Errorf("device %s: %s %s: %w", d.cfg.Name, listenKey(d.cfg), addr, err)
		}
		listeners = append(listeners, l)
	}
	if err := s.listenControl(); err != nil {
		closeListeners(listeners)
		s.out.close()
		return err
	}
	for i, d := range s.devices {
		if l := listeners[i]; l != nil {
			if err := d.listen(l); err != nil {
				l.Close()
				d.log.WithError(err).Error("tcp: listener not registered")
			}
		}
		d.start()
	}
	s.discovery.start()
	if s.link != nil {
		s.link.connect()
		s.stats = s.r.SetTimer(s.cfg.Metrics.StatsInterval, s.onStats)
	}
	return s.r.Run()
}

func closeListeners(ls []*tcp.Listener) {
	for _, l := range ls {
		if l != nil {
			l.Close()
		}
	}
}

// openSpool opens the spool in state_dir and hands it to delivery.
func (s *Service) openSpool() error {
	st, rep, err := openStore(s.cfg, s.r.Controller(), s.spoolDropped)
	if err != nil {
		return err
	}
	s.attachSpool(st, rep)
	return nil
}

func (s *Service) attachSpool(st *store, rep spool.OpenReport) {
	st.attach(s.r)
	st.report(s.log, rep)
	s.out.disk = st
	s.spoolOpen.Store(true)
}

// spoolDropped hears, on the loop, of a record spool.overflow deleted.
func (s *Service) spoolDropped(key []byte, seq uint64) {
	if s.out.disk != nil {
		s.out.disk.dropped(s.out, key, seq)
	}
}

// Stop asks the bridge to stop gracefully: statuses go offline, the broker
// connection is closed cleanly, and Run returns. Safe from any goroutine.
func (s *Service) Stop() error { return s.r.Controller().Send(stopCommand{}) }

// Ping returns once the loop has run a command: proof that it is alive and
// not stalled, which a watchdog or a health check wants. It fails when ctx
// ends first or the loop has stopped. Safe from any goroutine.
func (s *Service) Ping(ctx context.Context) error {
	done := make(chan struct{})
	if err := s.r.Controller().Send(pingCommand{done}); err != nil {
		return err
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("reactor loop did not answer: %w", ctx.Err())
	}
}

// Command handles requests from other goroutines.
func (s *Service) Command(_ *reactor.Reactor, cmd any) {
	switch c := cmd.(type) {
	case stopCommand:
		s.stop()
	case pingCommand:
		close(c.done)
	case snapshotCommand:
		c.reply <- s.snapshot()
	case statusCommand:
		c.reply <- s.status()
	case resolvedCommand:
		if s.link != nil {
			s.link.resolved(c)
		}
	case remoteResolved:
		c.rm.resolved(c)
	case reloadCommand:
		s.reload(c.plan)
	case spoolFailedCommand:
		logLimited(s.limit, s.r.Now(), s.log, "spool-sync", logrus.ErrorLevel, "spool: frames not synced to disk", c.err)
	}
}

// Shutdown closes everything that is still open.
func (s *Service) Shutdown(_ *reactor.Reactor, resources map[reactor.ID]reactor.Resource) {
	for _, res := range resources {
		res.Close()
	}
	for _, d := range s.devices {
		d.id = 0
	}
	s.out.close()
	s.spoolOpen.Store(false)
}

// Flush publishes, once per wake-up, what the wake-up's handlers queued.
func (s *Service) Flush(*reactor.Reactor) { s.out.flush() }

// The link's events.

func (s *Service) linkUp() {
	s.out.connected()
	s.subscribe()
}

// subscribe subscribes to every topic the bridge takes commands on.
func (s *Service) subscribe() {
	filters := make([]string, 0, len(s.commands))
	for t := range s.commands {
		filters = append(filters, t)
	}
	s.link.subscribe(filters)
}

func (s *Service) linkDown() {
	s.out.disconnected()
	switch {
	case s.stopping:
		s.finishStop()
	case s.pending != nil:
		s.finishLeave()
	}
}

func (s *Service) linkWritable() { s.out.due = true }

// Message is a command from the broker.
func (s *Service) Message(topic string, payload []byte, retain bool) {
	if fn := s.commands[topic]; fn != nil {
		fn(topic, payload, retain)
	}
}

// Acked is a PUBACK: a stop or a reload may be waiting for it.
func (s *Service) Acked(id uint16) {
	s.out.acked(id)
	if !s.out.ownPending() {
		switch {
		case s.stopping:
			s.finishStop()
		case s.pending != nil:
			s.finishLeave()
		}
	}
}

// pauseDevices pauses or resumes every device, for delivery's
// backpressure.
func (s *Service) pauseDevices(pause bool) {
	for _, d := range s.devices {
		d.pauseReading(pause || s.stopping)
	}
}

// stop starts a graceful stop: devices stop being read, every status goes
// offline, and the loop ends once the broker has them or stopWait passed.
func (s *Service) stop() {
	if s.stopping {
		return
	}
	s.stopping = true
	s.log.Info("stopping")
	s.offline()
	if s.link == nil || !s.link.up() {
		s.finishStop()
		return
	}
	s.deadline = s.r.SetTimer(stopWait, s.finishStop)
	if !s.out.ownPending() {
		s.finishStop()
	}
}

// offline stops reading the devices and sets every status offline, the
// gateway's last.
func (s *Service) offline() {
	for _, d := range s.devices {
		d.pauseReading(true)
		s.out.set(d.status, "offline")
	}
	s.out.set(s.gateway, "offline")
}

// errStopping ends the broker connection at a stop.
var errStopping = errors.New("stopping")

// finishStop ends the loop, once: the last PUBACK and the deadline may
// both get here.
func (s *Service) finishStop() {
	if s.finished {
		return
	}
	s.finished = true
	if s.deadline != 0 {
		s.r.CancelTimer(s.deadline)
		s.deadline = 0
	}
	if s.link != nil {
		s.link.disconnect(errStopping, true)
	}
	s.r.Stop()
}

// publishStats publishes the counters on <prefix>/stats, and arms the next.
func (s *Service) publishStats() {
	s.stats = s.r.SetTimer(s.cfg.Metrics.StatsInterval, s.onStats)
	sn := s.snapshot()
	payload, err := sn.statsJSON()
	if err != nil {
		s.log.WithError(err).Error("stats not published")
		return
	}
	s.out.own(s.statsTo, payload)
}
