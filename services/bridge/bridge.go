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
// The broker connection is a resource of the same reactor as the devices,
// so a frame goes from the device's read to the broker's socket on one
// thread, without a hand-off. Package bridge holds no descriptor of its
// own: resources do that.
package bridge

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/iogate/iogate/config"
	"github.com/iogate/iogate/framing"
	"github.com/iogate/iogate/metrics"
	"github.com/iogate/iogate/reactor"
	"github.com/iogate/iogate/resources/mqtt"
	"github.com/iogate/iogate/resources/serial"
	"github.com/iogate/iogate/resources/tcp"
	"github.com/iogate/iogate/spool"
)

// Timings of the broker connection that the configuration does not set.
const (
	brokerRetryMin = 500 * time.Millisecond
	brokerRetryMax = 30 * time.Second
	connectTimeout = 10 * time.Second // TCP and TLS, before CONNECT is sent
	stopWait       = 3 * time.Second  // for the broker to take the offline statuses
)

// The outbox is the window of the spool kept in memory: frames go straight
// to it below outboxHigh bytes, and are read back from disk when it falls
// below outboxLow. Small, since a larger window only queues frames ahead
// of the broker (latency), the spool holding the rest.
const (
	outboxHigh = 256 << 10
	outboxLow  = 128 << 10
)

// Frames the spool could not take live in memory only. Past memoryHigh
// bytes of them the devices are paused (their kernel buffers hold what
// comes meanwhile) until they fall to memoryLow. Frames on disk never
// pause a device: the spool has its own bound and overflow policy.
const (
	memoryHigh = 4 << 20
	memoryLow  = 2 << 20
)

type brokerState uint8

const (
	brokerIdle       brokerState = iota // waiting to retry, or no broker
	brokerResolving                     // looking the broker's name up
	brokerConnecting                    // TCP (and TLS) under way
	brokerHandshake                     // CONNECT sent, waiting for CONNACK
	brokerUp                            // CONNACK accepted
)

type timerKind uint8

const (
	timerReopen timerKind = iota
	timerIdle
	timerBrokerRetry
	timerConnectTimeout
	timerKeepalive
	timerStats
	timerStopDeadline
	timerLeaveDeadline
	timerClientIdle
	timerListenerResume
	timerSpoolSync
	timerBreakEnd
	timerModemPoll
)

type timerTask struct {
	kind   timerKind
	dev    *device
	client *client
}

// Commands sent to the loop through the reactor's controller.
type (
	stopCommand     struct{}
	pingCommand     struct{ done chan struct{} }
	resolvedCommand struct {
		dial uint64 // the attempt it answers
		addr netip.AddrPort
		err  error
	}
)

// Service is the bridge: a reactor.Service. Create it with New and run it
// with Run; Stop may be called from any goroutine.
type Service struct {
	cfg     *config.Config
	log     *logrus.Entry
	r       *reactor.Reactor
	limiter *limiter
	timers  map[reactor.TimerID]timerTask
	started time.Time

	devices   []*device
	byID      map[reactor.ID]*device
	byTxTopic map[string]*device
	byName    map[string]*device
	txBuf     []byte

	byListener map[reactor.ID]*device
	byClient   map[reactor.ID]*client
	escaped    []byte // a device's read, escaped for RFC 2217 clients
	tnData     []byte // what an RFC 2217 client sent for its device
	tnReply    []byte // the answers to an RFC 2217 client

	// The broker connection, when cfg.MQTT.Kind is not "none".
	mqttOn      bool
	session     *mqtt.Session
	events      brokerEvents
	tls         *tls.Config
	state       brokerState
	connID      reactor.ID
	connTimer   reactor.TimerID
	tickTimer   reactor.TimerID
	retryTimer  reactor.TimerID
	retryWait   time.Duration
	statsTimer  reactor.TimerID
	sp          *spool.Spool
	diskNext    uint64 // the first spooled frame not in the outbox
	spoolBuf    []byte
	recs        []spool.Record
	syncTimer   reactor.TimerID
	spoolDrops  uint64
	payload     []byte         // a frame's MQTT payload, before it is spooled
	pending     *config.Config // a reload waiting for the broker to take the old statuses
	leaveTimer  reactor.TimerID
	dials       uint64 // connection attempts; a name lookup answers for one
	congested   bool
	connects    uint64          // CONNACKs accepted
	brokerSince time.Time       // when the broker connection last came up or went down
	brokerErr   error           // why it is down
	ackLatency  metrics.Buckets // from a PUBLISH to its PUBACK
	out         *outbox
	batch       []byte
	pausedAll   bool   // every device paused: see backpressure
	pauses      uint64 // times pausedAll was set
	spoolFloor  int64  // the smallest the spool was since the broker connected
	statusTopic string
	statsTopic  string

	stopping bool
}

// New prepares a bridge for cfg; nothing is opened before Run.
func New(cfg *config.Config, log *logrus.Entry) (*Service, error) {
	s := &Service{
		cfg:       cfg,
		log:       log,
		limiter:   newLimiter(),
		timers:    map[reactor.TimerID]timerTask{},
		byID:      map[reactor.ID]*device{},
		byTxTopic: map[string]*device{},
		byName:    map[string]*device{},
		out:       newOutbox(),

		ackLatency: metrics.NewBuckets(metrics.LatencyBounds),

		byListener: map[reactor.ID]*device{},
		byClient:   map[reactor.ID]*client{},
	}
	s.events.s = s
	if err := s.setBroker(cfg); err != nil {
		return nil, err
	}
	for _, dc := range cfg.Devices {
		d, err := s.newDevice(dc)
		if err != nil {
			return nil, err
		}
		s.devices = append(s.devices, d)
	}
	s.index()
	r, err := reactor.New(s, reactor.Options{Poller: cfg.Gateway.Poller, LockThread: true})
	if err != nil {
		return nil, err
	}
	s.r = r
	return s, nil
}

// setBroker takes the broker settings of cfg: a new session, TLS
// configuration and gateway topics. The connection itself is made by
// connect.
func (s *Service) setBroker(cfg *config.Config) error {
	s.mqttOn = cfg.MQTT.Kind != config.BrokerNone
	s.statusTopic = cfg.MQTT.TopicPrefix + "/status"
	s.statsTopic = cfg.MQTT.TopicPrefix + "/stats"
	s.tls = nil
	if !s.mqttOn {
		return nil
	}
	if cfg.MQTT.TLS {
		tc, err := tlsConfig(cfg.MQTT)
		if err != nil {
			return err
		}
		s.tls = tc
	}
	s.session = mqtt.NewSession(mqtt.Options{
		ClientID:     cfg.MQTT.ClientID,
		Username:     cfg.MQTT.Username,
		Password:     string(cfg.MQTT.Password),
		Keepalive:    cfg.MQTT.Keepalive,
		CleanSession: true,
		Will:         &mqtt.Message{Topic: s.statusTopic, Payload: []byte("offline"), QoS: 1, Retain: true},
	})
	return nil
}

// newDevice prepares a device of the configuration; it is opened later.
func (s *Service) newDevice(dc config.Device) (*device, error) {
	d := &device{cfg: dc, log: s.log.WithField("device", dc.Name), lines: defaultLines}
	d.mode = d.configMode()
	d.setTopics(s.cfg.MQTT.TopicPrefix)
	fc, err := framingConfig(dc)
	if err != nil {
		return nil, fmt.Errorf("device %s: %w", dc.Name, err)
	}
	d.framing = fc
	if d.decoder, err = framing.New(fc, func(frame []byte) { s.frame(d, frame) }); err != nil {
		return nil, fmt.Errorf("device %s: %w", dc.Name, err)
	}
	return d, nil
}

// index maps device names, and the tx topics of the writable devices, to
// the devices.
func (s *Service) index() {
	clear(s.byTxTopic)
	clear(s.byName)
	for _, d := range s.devices {
		s.byName[d.cfg.Name] = d
		if d.cfg.Writable && s.mqttOn {
			s.byTxTopic[d.txTopic] = d
		}
	}
}

// tlsConfig verifies the broker against ca_file, or the system's roots,
// unless insecure_skip_verify; it presents a client certificate if given.
func tlsConfig(m config.MQTT) (*tls.Config, error) {
	host, _, err := net.SplitHostPort(m.Address)
	if err != nil {
		return nil, fmt.Errorf("mqtt.broker: %w", err)
	}
	tc := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12, InsecureSkipVerify: m.InsecureSkipVerify}
	if m.CAFile != "" {
		pem, err := os.ReadFile(m.CAFile)
		if err != nil {
			return nil, fmt.Errorf("mqtt.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("mqtt.ca_file %s: no PEM certificate in it", m.CAFile)
		}
		tc.RootCAs = pool
	}
	if m.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(m.CertFile, m.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("mqtt.cert_file/key_file: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// Run opens the devices, connects to the broker and runs the loop until
// Stop. It returns nil after a graceful stop.
func (s *Service) Run() error {
	s.started = time.Now()
	s.brokerSince = s.started
	if s.cfg.MQTT.TLS && s.cfg.MQTT.InsecureSkipVerify {
		s.log.Warn("mqtt: insecure_skip_verify is set: the broker's certificate is not verified")
	}
	if s.mqttOn {
		if err := s.openSpool(); err != nil {
			return err
		}
		s.spoolBuf = make([]byte, s.sp.MaxRecord())
	}
	for _, d := range s.devices {
		if err := s.listen(d); err != nil {
			s.closeAllTCP()
			s.closeSpool()
			return fmt.Errorf("device %s: tcp_listen %s: %w", d.cfg.Name, d.cfg.TCPListen, err)
		}
	}
	for _, d := range s.devices {
		s.openDevice(d)
	}
	if s.mqttOn {
		s.connect()
		s.statsTimer = s.after(s.cfg.Metrics.StatsInterval, timerStats, nil)
	}
	return s.r.Run()
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

// after arms a timer for a task.
func (s *Service) after(d time.Duration, kind timerKind, dev *device) reactor.TimerID {
	var id reactor.TimerID
	id = s.r.SetTimer(d, func() { s.fire(id) })
	s.timers[id] = timerTask{kind: kind, dev: dev}
	return id
}

// cancel disarms a timer and forgets its task; zero is no timer.
func (s *Service) cancel(id *reactor.TimerID) {
	if *id != 0 {
		s.r.CancelTimer(*id)
		delete(s.timers, *id)
		*id = 0
	}
}

// logLimited logs a recurring problem at most once per logEvery per key.
func (s *Service) logLimited(e *logrus.Entry, key string, level logrus.Level, msg string, err error) {
	ok, suppressed := s.limiter.allow(key, s.r.Now())
	if !ok {
		return
	}
	if suppressed > 0 {
		e = e.WithField("suppressed", suppressed)
	}
	if err != nil {
		e = e.WithError(err)
	}
	e.Log(level, msg)
}

// Accepted takes a raw TCP client of a device, or refuses it.
func (s *Service) Accepted(_ *reactor.Reactor, l reactor.ID, t reactor.Transport) {
	d := s.byListener[l]
	if d == nil {
		t.Close()
		return
	}
	s.accept(d, t)
}

// Connected: the broker's TCP (and TLS) connection is up; start MQTT.
func (s *Service) Connected(_ *reactor.Reactor, id reactor.ID) {
	if id != s.connID {
		return
	}
	s.cancel(&s.connTimer)
	s.state = brokerHandshake
	now := s.r.Now()
	if err := s.r.Send(id, s.session.Start(now)); err != nil {
		return // Disconnected follows
	}
	s.keepalive(now)
}

// Received feeds a device's bytes to its framing, or the broker's to the
// MQTT session.
func (s *Service) Received(_ *reactor.Reactor, id reactor.ID, data []byte) {
	if id == s.connID {
		if err := s.session.Feed(s.r.Now(), data, &s.events); err != nil {
			s.dropBroker(err)
			return
		}
		s.flushSession()
		s.pump()
		return
	}
	if c := s.byClient[id]; c != nil {
		s.fromClient(c, data)
		return
	}
	d := s.byID[id]
	if d == nil {
		return
	}
	d.stats.ReadBytes += uint64(len(data))
	s.fanout(d, data)
	if !d.cfg.Publish || !s.mqttOn {
		return // raw TCP access only: no frames to cut
	}
	before := d.decoder.Stats()
	d.decoder.Feed(data)
	s.framingProblems(d, before)
	if d.framing.Kind == framing.Idle {
		s.cancel(&d.idle)
		if d.decoder.Pending() > 0 {
			d.idle = s.after(d.cfg.IdleGap, timerIdle, d)
		}
	}
	s.pump()
}

// framingProblems logs what the last Feed discarded.
func (s *Service) framingProblems(d *device, before framing.Stats) {
	after := d.decoder.Stats()
	if n := after.Overlong - before.Overlong; n > 0 {
		s.logLimited(d.log.WithField("max_frame", d.cfg.MaxFrame), d.cfg.Name+"/overlong", logrus.WarnLevel,
			"frame longer than max_frame discarded", nil)
	}
	if n := after.Malformed - before.Malformed; n > 0 {
		s.logLimited(d.log.WithField("framing", d.cfg.Framing), d.cfg.Name+"/malformed", logrus.WarnLevel,
			"malformed frame discarded", nil)
	}
}

// Congested: the broker's socket is backed up, so publishing stops; or a
// device's output is, so its TCP clients are no longer read.
func (s *Service) Congested(_ *reactor.Reactor, id reactor.ID) {
	if id == s.connID {
		s.congested = true
	} else if d := s.byID[id]; d != nil {
		s.pauseClients(d, true)
	}
}

// Drained undoes Congested.
func (s *Service) Drained(_ *reactor.Reactor, id reactor.ID) {
	if id == s.connID {
		s.congested = false
		s.pump()
	} else if d := s.byID[id]; d != nil {
		s.pauseClients(d, false)
	}
}

// Disconnected: a device went away or the broker connection dropped.
func (s *Service) Disconnected(_ *reactor.Reactor, id reactor.ID, res reactor.Resource, cause error) {
	res.Close()
	if id == s.connID {
		s.connID = 0
		s.brokerDown(cause)
		return
	}
	if c := s.byClient[id]; c != nil {
		c.logger().Info("tcp: client disconnected")
		s.forgetClient(c)
		return
	}
	if d := s.byListener[id]; d != nil {
		d.log.WithError(cause).Error("tcp: listener failed; raw TCP access is off until a reload")
		delete(s.byListener, id)
		d.listener = 0
		return
	}
	if d := s.byID[id]; d != nil {
		s.deviceDown(d, cause)
	}
}

// listenerPause is how long a listener that ran out of descriptors or
// memory rests before accepting again.
const listenerPause = time.Second

// Failed: a listener could not accept (out of descriptors or memory); the
// reactor paused it, and it resumes after a pause.
func (s *Service) Failed(_ *reactor.Reactor, id reactor.ID, err error) {
	d := s.byListener[id]
	if d == nil {
		return
	}
	s.logLimited(d.log, d.cfg.Name+"/tcp-accept", logrus.ErrorLevel, "tcp: cannot accept clients now", err)
	s.after(listenerPause, timerListenerResume, d)
}

// fire runs the task a timer was armed for.
func (s *Service) fire(id reactor.TimerID) {
	task, ok := s.timers[id]
	if !ok {
		return
	}
	delete(s.timers, id)
	switch task.kind {
	case timerReopen:
		task.dev.reopen = 0
		s.openDevice(task.dev)
	case timerIdle:
		task.dev.idle = 0
		task.dev.decoder.Flush()
		s.pump()
	case timerBrokerRetry:
		s.retryTimer = 0
		s.connect()
	case timerConnectTimeout:
		s.connTimer = 0
		s.dropBroker(fmt.Errorf("no connection to %s within %s", s.cfg.MQTT.Address, connectTimeout))
	case timerKeepalive:
		s.tickTimer = 0
		s.keepalive(s.r.Now())
	case timerStats:
		s.statsTimer = 0
		if s.mqttOn {
			s.publishStats()
			s.statsTimer = s.after(s.cfg.Metrics.StatsInterval, timerStats, nil)
		}
	case timerStopDeadline:
		s.finishStop()
	case timerLeaveDeadline:
		s.leaveTimer = 0
		s.finishLeave()
	case timerClientIdle:
		s.clientIdle(task.client)
	case timerSpoolSync:
		s.syncSpool()
	case timerBreakEnd:
		task.dev.endBreak()
	case timerModemPoll:
		s.notifyModem(task.dev)
	case timerListenerResume:
		if task.dev.listener != 0 {
			s.r.Resume(task.dev.listener)
		}
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
	case resolvedCommand:
		s.resolved(c)
	case reloadCommand:
		s.reload(c.cfg)
	case spoolFailedCommand:
		s.logLimited(s.log, "spool-sync", logrus.ErrorLevel, "spool: frames not synced to disk", c.err)
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
	s.connID = 0
	s.closeSpool()
}

// stop starts a graceful stop: devices stop being read, every status goes
// offline, and the loop ends once the broker has them or stopWait passed.
func (s *Service) stop() {
	if s.stopping {
		return
	}
	s.stopping = true
	s.log.Info("stopping")
	for _, d := range s.devices {
		if d.id != 0 {
			s.r.Pause(d.id)
			s.publishGateway(d.statusTopic, []byte("offline"), true)
		}
	}
	if s.state != brokerUp {
		s.finishStop()
		return
	}
	s.publishGateway(s.statusTopic, []byte("offline"), true)
	s.pump()
	s.after(stopWait, timerStopDeadline, nil)
	s.maybeFinishStop()
}

// maybeFinishStop ends the stop once the broker has every status.
func (s *Service) maybeFinishStop() {
	if s.stopping && s.gatewayDrained() {
		s.finishStop()
	}
}

// gatewayDrained tells whether the broker has acknowledged every message of
// the gateway's own (statuses, errors, stats).
func (s *Service) gatewayDrained() bool { return s.out.len() == s.out.frames }

func (s *Service) finishStop() {
	if s.state == brokerUp {
		s.r.Send(s.connID, s.session.Disconnect())
		s.state = brokerIdle // once: the last PUBACK and the deadline may both get here
	}
	s.r.Stop()
}

// openDevice opens a device and registers it, or schedules the next try.
func (s *Service) openDevice(d *device) {
	if s.stopping {
		return
	}
	t, err := d.open()
	if err == nil {
		var id reactor.ID
		if id, err = s.r.RegisterTransport(t, s); err != nil {
			t.Close()
		} else {
			d.id = id
			d.port, _ = t.(*serial.Port)
			d.reapply()
		}
	}
	now := s.r.Now()
	if err != nil {
		wait := d.nextBackoff(now)
		s.logLimited(d.log.WithField("retry_in", wait.String()), d.cfg.Name+"/open", logrus.WarnLevel, "device not available", err)
		d.reopen = s.after(wait, timerReopen, d)
		return
	}
	if !d.openAt.IsZero() {
		d.stats.Reopens++
	}
	d.openAt = now
	s.byID[d.id] = d
	d.stats.Online = true
	if s.pausedAll {
		s.r.Pause(d.id)
	}
	d.log.Info("device online")
	s.publishGateway(d.statusTopic, []byte("online"), true)
	s.pump()
}

// deviceDown handles a device that went away: its status goes offline and
// it is reopened after a backoff.
func (s *Service) deviceDown(d *device, cause error) {
	delete(s.byID, d.id)
	d.id, d.port = 0, nil
	d.stats.Online = false
	s.cancel(&d.idle)
	if d.framing.Kind == framing.Idle {
		d.decoder.Flush() // silence ends a frame; so does the device going away
	} else {
		// A partial frame cut by an unplug would be glued to what comes
		// after the replug: start afresh.
		d.decoder, _ = framing.New(d.framing, func(frame []byte) { s.frame(d, frame) })
	}
	if s.stopping {
		return
	}
	wait := d.nextBackoff(s.r.Now())
	s.logLimited(d.log.WithField("retry_in", wait.String()), d.cfg.Name+"/down", logrus.WarnLevel, "device offline", cause)
	s.publishGateway(d.statusTopic, []byte("offline"), true)
	d.reopen = s.after(wait, timerReopen, d)
	s.pump()
}

// frame is a device's frame, from its decoder.
func (s *Service) frame(d *device, frame []byte) {
	d.seq++
	d.stats.Frames++
	d.stats.Bytes += uint64(len(frame))
	if !d.cfg.Publish || !s.mqttOn {
		return
	}
	s.payload = appendPayload(s.payload[:0], d.cfg.Encoding, d.cfg.Name, d.seq, s.r.Now(), frame)
	if s.sp == nil {
		// MQTT was turned on by a reload; the spool opens at the next start.
		s.queueFrame(d, s.payload, 0)
		return
	}
	s.spoolFrame(d, s.payload)
}

// queueFrame puts a frame's payload in the outbox.
func (s *Service) queueFrame(d *device, payload []byte, spoolSeq uint64) {
	m := s.out.addFrame(d.rxTopic, s.cfg.MQTT.QoS, d, spoolSeq)
	m.payload = append(m.payload, payload...)
	s.out.grew(m)
}

// publishGateway queues one of the gateway's own messages (a status, an
// error, the stats). They are only sent on a live connection: on the next
// one the statuses are published afresh instead.
func (s *Service) publishGateway(topic string, payload []byte, retain bool) {
	if s.state != brokerUp {
		return
	}
	m := s.out.add(topic, 1, retain, nil)
	m.payload = append(m.payload, payload...)
	s.out.grew(m)
}

// deviceError reports a rejected command or a device fault on the
// device's error topic, in the log (rate-limited), and in its counters.
func (s *Service) deviceError(d *device, topic string, err error) {
	d.stats.TxRejected++
	s.logLimited(d.log.WithField("topic", topic), d.cfg.Name+"/tx", logrus.WarnLevel, "command rejected", err)
	payload, _ := json.Marshal(struct {
		Device string `json:"device"`
		Topic  string `json:"topic"`
		Error  string `json:"error"`
		TS     string `json:"ts"`
	}{d.cfg.Name, topic, err.Error(), s.r.Now().UTC().Format(time.RFC3339Nano)})
	s.publishGateway(d.errorTopic, payload, false)
}

// command writes an MQTT command to its device.
func (s *Service) command(d *device, topic string, payload []byte, retained bool) {
	switch {
	case retained:
		s.deviceError(d, topic, errors.New("retained command ignored: it would be written again at every reconnect"))
		return
	case d.id == 0:
		s.deviceError(d, topic, errors.New("device is offline"))
		return
	}
	data, err := decodeCommand(d.cfg.Encoding, payload)
	if err != nil {
		s.deviceError(d, topic, err)
		return
	}
	s.txBuf = framing.Encode(d.framing, s.txBuf[:0], data)
	if err := s.r.Send(d.id, s.txBuf); err != nil {
		if errors.Is(err, reactor.ErrOverflow) {
			err = errors.New("device busy: its output buffer is full")
		}
		s.deviceError(d, topic, err)
		return
	}
	d.stats.TxFrames++
	d.stats.TxBytes += uint64(len(s.txBuf))
}

// connect starts a connection to the broker, looking its name up off the
// loop if it is not an address.
func (s *Service) connect() {
	if s.stopping {
		return
	}
	addr, err := netip.ParseAddrPort(s.cfg.MQTT.Address)
	if err == nil {
		s.dial(addr)
		return
	}
	s.state = brokerResolving
	s.dials++
	ctl, name, dial := s.r.Controller(), s.cfg.MQTT.Address, s.dials
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
		defer cancel()
		ap, err := tcp.Resolve(ctx, name)
		ctl.Send(resolvedCommand{dial, ap, err})
	}()
}

// resolved continues a connection attempt with the broker's address,
// unless the attempt was given up since (a reload, a stop).
func (s *Service) resolved(c resolvedCommand) {
	if s.state != brokerResolving || c.dial != s.dials {
		return
	}
	if c.err != nil {
		s.brokerDown(c.err)
		return
	}
	s.dial(c.addr)
}

func (s *Service) dial(addr netip.AddrPort) {
	c, err := mqtt.Dial(context.Background(), addr.String(), s.tls)
	if err == nil {
		s.connID, err = s.r.Connect(c, s)
		if err != nil {
			c.Close()
		}
	}
	if err != nil {
		s.brokerDown(err)
		return
	}
	s.state = brokerConnecting
	s.connTimer = s.after(connectTimeout, timerConnectTimeout, nil)
}

// keepalive lets the session ping or time out, and arms the next tick.
func (s *Service) keepalive(now time.Time) {
	next, err := s.session.Tick(now)
	if err != nil {
		s.dropBroker(err)
		return
	}
	s.flushSession()
	s.cancel(&s.tickTimer)
	s.tickTimer = s.after(max(next.Sub(now), time.Millisecond), timerKeepalive, nil)
}

// flushSession sends what the session queued (acknowledgements, pings).
func (s *Service) flushSession() {
	if out := s.session.Output(); len(out) > 0 && s.connID != 0 {
		s.r.Send(s.connID, out)
	}
}

// dropBroker closes the broker connection on the bridge's own decision.
func (s *Service) dropBroker(cause error) {
	if s.connID != 0 {
		if res, err := s.r.Unregister(s.connID); err == nil {
			res.Close()
		}
		s.connID = 0
	}
	s.brokerDown(cause)
}

// brokerDown schedules a reconnect, with backoff and jitter so a fleet of
// gateways does not come back in step.
func (s *Service) brokerDown(cause error) {
	wasUp := s.state == brokerUp
	s.state = brokerIdle
	s.brokerErr = cause
	if wasUp {
		s.brokerSince = s.r.Now()
	}
	s.congested = false
	s.cancel(&s.connTimer)
	s.cancel(&s.tickTimer)
	s.out.rewind()
	s.out.dropGateway()
	if s.stopping {
		s.r.Stop()
		return
	}
	if wasUp || s.retryWait == 0 {
		s.retryWait = brokerRetryMin
	}
	wait := s.retryWait/2 + rand.N(s.retryWait)
	s.retryWait = min(s.retryWait*2, brokerRetryMax)
	e := s.log.WithField("broker", s.cfg.MQTT.Broker).WithField("retry_in", wait.Round(time.Millisecond).String())
	if wasUp {
		e.WithError(cause).Warn("mqtt: connection lost")
	} else {
		s.logLimited(e, "broker", logrus.WarnLevel, "mqtt: cannot connect", cause)
	}
	s.retryTimer = s.after(wait, timerBrokerRetry, nil)
	s.backpressure()
}

// brokerUp is the session's CONNACK: the statuses go first, ahead of the
// frames that waited, then the subscriptions, then the frames.
func (s *Service) brokerUp() {
	s.state = brokerUp
	s.connects++
	s.brokerSince, s.brokerErr = s.r.Now(), nil
	if s.sp != nil {
		s.spoolFloor = s.sp.Size()
	}
	s.retryWait = 0
	s.log.WithField("broker", s.cfg.MQTT.Broker).Info("mqtt: connected")
	now := s.r.Now()
	s.batch = s.batch[:0]
	announce := func(topic, status string) error {
		// Straight to the socket, not through the outbox: the window is
		// empty on a new connection, and their PUBACKs are not tracked.
		_, pkt, err := s.session.Publish(now, mqtt.Message{Topic: topic, Payload: []byte(status), QoS: 1, Retain: true})
		s.batch = append(s.batch, pkt...)
		return err
	}
	err := announce(s.statusTopic, "online")
	for _, d := range s.devices {
		status := "offline"
		if d.id != 0 {
			status = "online"
		}
		if err == nil {
			err = announce(d.statusTopic, status)
		}
	}
	if err == nil {
		var pkt []byte
		pkt, err = s.txSubscription(now)
		s.batch = append(s.batch, pkt...)
	}
	if err == nil {
		err = s.r.Send(s.connID, s.batch)
	}
	if err != nil {
		s.dropBroker(err)
		return
	}
	s.pump()
}

// txSubscription is the SUBSCRIBE for every writable device's tx topic,
// or nothing when no device is writable.
func (s *Service) txSubscription(now time.Time) ([]byte, error) {
	if len(s.byTxTopic) == 0 {
		return nil, nil
	}
	topics := make([]string, 0, len(s.byTxTopic))
	for t := range s.byTxTopic {
		topics = append(topics, t)
	}
	_, pkt, err := s.session.Subscribe(now, topics, 1)
	return pkt, err
}

// subscribeTx subscribes, on the live connection, to the tx topics, after
// a reload may have added some. Topics of removed devices stay subscribed
// until the next connection; their commands are ignored.
func (s *Service) subscribeTx() {
	pkt, err := s.txSubscription(s.r.Now())
	if err == nil && len(pkt) > 0 {
		err = s.r.Send(s.connID, pkt)
	}
	if err != nil {
		s.dropBroker(err)
	}
}

// pump publishes what the outbox holds, as far as the in-flight window and
// the socket allow, in one write.
func (s *Service) pump() {
	defer s.backpressure()
	s.refill()
	if s.state != brokerUp || s.congested {
		return
	}
	s.batch = s.batch[:0]
	now := s.r.Now()
	for m := s.out.unsent(); m != nil; m = s.out.unsent() {
		id, pkt, err := s.session.Publish(now, mqtt.Message{Topic: m.topic, Payload: m.payload, QoS: m.qos, Retain: m.retain})
		if errors.Is(err, mqtt.ErrInflightFull) {
			break
		}
		if err != nil {
			s.dropBroker(err)
			return
		}
		s.batch = append(s.batch, pkt...)
		seq, qos := m.spoolSeq, m.qos
		s.out.published(m, id, now) // may recycle m
		if qos == 0 {
			s.delivered(seq) // no acknowledgement comes for QoS 0
		}
		if len(s.batch) >= 64<<10 {
			break
		}
	}
	if len(s.batch) > 0 {
		if err := s.r.Send(s.connID, s.batch); err != nil && !errors.Is(err, reactor.ErrOverflow) {
			return // Disconnected follows
		}
	}
}

// backpressure pauses every device while too many frames are held in
// memory only (the spool could not take them), or while the broker is
// connected but slower than the devices, and resumes them below the low
// marks.
func (s *Service) backpressure() {
	behindHigh, behindLow := s.brokerBehind()
	switch {
	case !s.pausedAll && s.out.unspooled >= memoryHigh:
		s.pausedAll = true
		s.logLimited(s.log.WithField("queued", s.out.len()), "backpressure", logrus.WarnLevel,
			"frames the spool could not take fill memory: devices paused", nil)
	case !s.pausedAll && behindHigh:
		s.pausedAll = true
		s.logLimited(s.log.WithField("spool_bytes", s.sp.Size()), "backpressure", logrus.WarnLevel,
			"the broker takes frames slower than the devices send them: devices paused until it catches up", nil)
	case s.pausedAll && s.out.unspooled <= memoryLow && behindLow && !s.stopping:
		s.pausedAll = false
	default:
		return
	}
	if s.pausedAll {
		s.pauses++
	}
	for _, d := range s.devices {
		if d.id == 0 {
			continue
		}
		if s.pausedAll {
			s.r.Pause(d.id)
		} else {
			s.r.Resume(d.id)
		}
	}
}

// brokerBehind tells whether the spool grew, while the broker was
// connected, by a quarter of spool.max_bytes (high) or by less than an
// eighth (low), from the smallest it was since the connection came up.
// A broker that is there but slower than the devices then slows the
// devices down, as a full outbox did, instead of filling the spool until
// spool.overflow drops frames; an outage, or the backlog an outage left,
// still fills or drains the spool without pausing anything.
func (s *Service) brokerBehind() (high, low bool) {
	if s.sp == nil || s.state != brokerUp {
		return false, true
	}
	size := s.sp.Size()
	s.spoolFloor = min(s.spoolFloor, size)
	grown := size - s.spoolFloor
	return grown >= s.cfg.Spool.MaxBytes/4, grown <= s.cfg.Spool.MaxBytes/8
}

// brokerEvents is the MQTT session's handler: what the broker says.
type brokerEvents struct{ s *Service }

func (e *brokerEvents) Connected(bool) { e.s.brokerUp() }

func (e *brokerEvents) Message(topic string, payload []byte, retain bool) {
	if d := e.s.byTxTopic[topic]; d != nil {
		e.s.command(d, topic, payload, retain)
	}
}

func (e *brokerEvents) Acked(id uint16) {
	if seq, sentAt, known := e.s.out.ack(id); known {
		e.s.ackLatency.ObserveDuration(e.s.r.Now().Sub(sentAt))
		e.s.delivered(seq)
		e.s.maybeFinishStop()
		e.s.maybeFinishLeave()
		e.s.refill()
	}
}

func (e *brokerEvents) Subscribed(_ uint16, granted []byte) {
	for _, g := range granted {
		if g == 0x80 {
			e.s.log.Error("mqtt: the broker refused the subscription to the tx topics: commands will not arrive")
			return
		}
	}
}
