package bridge

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/iogate/iogate/config"
	"github.com/iogate/iogate/control"
	"github.com/iogate/iogate/reactor"
	"github.com/iogate/iogate/resources/file"
	"github.com/iogate/iogate/resources/serial"
	"github.com/iogate/iogate/rfc2217"
)

// device is the bridge's part for one [[device]]: it opens the device's
// descriptor and reopens it with backoff when it goes away, keeps its
// status topic true, hands every byte it reads to its TCP clients and its
// protocol, and writes what they send it. It is the reactor handler of its
// transport. What the bytes mean is its protocol's: frames (stream.go) or
// Modbus (modbus.go).
type device struct {
	s   *Service
	cfg config.Device
	log *logrus.Entry

	id     reactor.ID   // 0 while closed
	port   *serial.Port // while open, for kind = "serial"
	openAt time.Time
	retry  backoff
	reopen reactor.TimerID
	gone   bool // closed for good: removed or replaced by a reload
	proto  protocol

	onReopen, onBreakEnd, onModemPoll func()

	tcp    *access // TCP access, when tcp_listen is set
	remote *remote // kind = "tcp": the connection to the device

	// RFC 2217 access: the line settings in force, and the client that
	// set them.
	mode       serial.Mode
	lines      rfc2217.Lines
	controller *client
	breakTimer reactor.TimerID
	modemTimer reactor.TimerID

	rx, errTopic *topic
	status       *state
	stats        *DeviceStats
	watch        *deviceWatch
}

// DeviceStats are a device's counters since the gateway started, and its
// state. They outlive its reopens and the reloads that keep its name.
type DeviceStats struct {
	Name         string `json:"-"`
	Frames       uint64 `json:"frames"`     // cut from what it sent
	Bytes        uint64 `json:"bytes"`      // in those frames
	ReadBytes    uint64 `json:"read_bytes"` // every byte read from it, framed or not
	Overlong     uint64 `json:"overlong"`
	Malformed    uint64 `json:"malformed"`
	Cut          uint64 `json:"cut"`   // frames cut short by an unplug
	Drops        uint64 `json:"drops"` // frames dropped: spool.overflow, or too large to publish
	Reopens      uint64 `json:"reopens"`
	TxFrames     uint64 `json:"tx_frames"`
	TxBytes      uint64 `json:"tx_bytes"` // written to it, from MQTT and TCP clients
	TxRejected   uint64 `json:"tx_rejected"`
	TCPClients   int    `json:"tcp_clients"`
	TCPRefused   uint64 `json:"tcp_refused"`
	TCPDropped   uint64 `json:"tcp_dropped"`
	TCPDiscarded uint64 `json:"tcp_discarded_bytes"`
	Online       bool   `json:"online"`
	// Slaves are a Modbus device's, in the order of the configuration.
	Slaves map[string]SlaveStats `json:"slaves,omitempty"`
}

// protocol is what a device speaks over its transport.
type protocol interface {
	// received takes what the device sent.
	received(data []byte)
	// opened: the transport is up.
	opened()
	// closed: it went away; ended says the stream ended cleanly (a FIFO's
	// last writer left, the peer closed) rather than broke off.
	closed(ended bool)
	// commands names the topics it takes commands on, below the prefix.
	commands(add func(tail string, fn commandFunc))
	// stop ends it for good: the device is removed or replaced.
	stop()
	// addStats adds its counters to a device's snapshot.
	addStats(st *DeviceStats)
}

// commandFunc takes a command from the broker.
type commandFunc func(topic string, payload []byte, retained bool)

// newDevice prepares a device of the configuration; open opens it.
func (s *Service) newDevice(dc config.Device) (*device, error) {
	d := &device{
		s: s, cfg: dc, log: s.log.WithField("device", dc.Name), lines: defaultLines,
		retry: backoff{min: dc.ReconnectMin, max: dc.ReconnectMax},
		rx:    s.topics.get(dc.RxTail(), false), errTopic: s.topics.get(dc.Name+"/error", false),
		stats: s.counters(dc.Name), watch: s.watch(dc.Name),
	}
	d.onReopen, d.onBreakEnd, d.onModemPoll = d.open, d.endBreak, d.notifyModem
	d.mode = d.configMode()
	var err error
	switch dc.Protocol {
	case config.ProtocolModbusRTU, config.ProtocolModbusTCP:
		d.proto, err = newModbus(d)
	default:
		d.proto, err = newStream(d)
	}
	if err != nil {
		return nil, fmt.Errorf("device %s: %w", dc.Name, err)
	}
	return d, nil
}

// configMode is the line settings of the configuration.
func (d *device) configMode() serial.Mode {
	return serial.Mode{
		Baud:     d.cfg.Baud,
		DataBits: d.cfg.DataBits,
		Parity:   serial.Parity(d.cfg.Parity),
		StopBits: d.cfg.StopBits,
		Flow:     serial.Flow(d.cfg.Flow),
	}
}

// start opens the device and publishes its status.
func (d *device) start() {
	d.open()
	status := "offline"
	if d.id != 0 {
		status = "online"
	}
	d.status = d.s.out.newState(d.s.topics.get(d.cfg.Name+"/status", true), status)
}

// openTransport opens the device's descriptor.
func (d *device) openTransport() (reactor.Transport, error) {
	if d.cfg.Kind == "file" {
		access := file.ReadOnly
		if d.cfg.Writable {
			access = file.ReadWrite
		}
		return file.Open(d.cfg.Path, access)
	}
	name := d.cfg.Path
	if d.cfg.USB != "" {
		name = d.cfg.USB
		if d.cfg.USBSerial != "" {
			name += ":" + d.cfg.USBSerial
		}
	}
	return serial.Open(name, d.configMode())
}

// open opens the device and registers it, or schedules the next try.
func (d *device) open() {
	d.reopen = 0
	if d.gone || d.s.stopping {
		return
	}
	if d.cfg.Kind == "tcp" {
		d.dialRemote() // it comes online at Connected
		return
	}
	r := d.s.r
	t, err := d.openTransport()
	if err == nil {
		if d.id, err = r.RegisterTransport(t, d); err != nil {
			t.Close()
			d.id = 0
		}
	}
	if err != nil {
		d.watch.down(r.Now(), err)
		wait := d.retry.next(0)
		d.logLimited("open", logrus.WarnLevel, "device not available", err, "retry_in", wait.String())
		d.reopen = r.SetTimer(wait, d.onReopen)
		return
	}
	d.port, _ = t.(*serial.Port)
	d.reapply()
	d.opened()
}

// opened takes the device, registered as d.id, online: its port opened, or
// its connection came up.
func (d *device) opened() {
	r := d.s.r
	if !d.openAt.IsZero() {
		d.stats.Reopens++
	}
	d.openAt = r.Now()
	d.stats.Online = true
	d.watch.up(d.openAt)
	if d.s.out.paused {
		r.Pause(d.id)
	}
	d.log.Info("device online")
	if d.status != nil { // nil at start: start publishes it
		d.s.out.set(d.status, "online")
	}
	d.proto.opened()
}

// Received hands what the device sent to its clients and its protocol.
func (d *device) Received(_ *reactor.Reactor, _ reactor.ID, data []byte) {
	d.stats.ReadBytes += uint64(len(data))
	d.tap(control.RX, data)
	if d.tcp != nil {
		d.tcp.fanout(data)
	}
	d.proto.received(data)
}

// publishing tells whether the device's frames go to MQTT.
func (d *device) publishing() bool { return d.cfg.Publish && d.s.mqttOn }

// Congested: the device's output is backed up, so its TCP clients are no
// longer read.
func (d *device) Congested(*reactor.Reactor, reactor.ID) {
	if d.tcp != nil {
		d.tcp.pauseClients(true)
	}
}

// Drained undoes Congested.
func (d *device) Drained(*reactor.Reactor, reactor.ID) {
	if d.tcp != nil {
		d.tcp.pauseClients(false)
	}
}

// Disconnected: the device went away.
func (d *device) Disconnected(_ *reactor.Reactor, _ reactor.ID, res reactor.Resource, cause error) {
	res.Close()
	d.closed(cause)
	if d.s.stopping || d.gone {
		return
	}
	wait := d.retry.next(d.s.r.Now().Sub(d.openAt))
	d.logLimited("down", logrus.WarnLevel, "device offline", cause, "retry_in", wait.String())
	d.s.out.set(d.status, "offline")
	d.reopen = d.s.r.SetTimer(wait, d.onReopen)
}

// closed forgets the descriptor; the protocol ends what was under way.
func (d *device) closed(cause error) {
	d.id, d.port = 0, nil
	d.stats.Online = false
	d.watch.down(d.s.r.Now(), cause)
	d.proto.closed(errors.Is(cause, file.ErrWriterGone) || errors.Is(cause, io.EOF))
}

// write sends bytes to the device.
func (d *device) write(data []byte) error {
	if d.id == 0 {
		return errors.New("device is offline")
	}
	out := data
	if d.remote != nil {
		out = d.remote.escape(data)
	}
	if err := d.s.r.Send(d.id, out); err != nil {
		return err
	}
	d.tap(control.TX, data)
	d.stats.TxBytes += uint64(len(data))
	return nil
}

// reject reports a refused command.
func (d *device) reject(topic string, err error) {
	d.stats.TxRejected++
	d.logLimited("tx", logrus.WarnLevel, "command rejected", err, "topic", topic)
	d.publishError(topic, err)
}

// fault reports a problem of the device's on its error topic and in the
// log, rate-limited.
func (d *device) fault(what string, err error) {
	d.logLimited(what, logrus.WarnLevel, "frame dropped", err)
	d.publishError("", err)
}

// publishError publishes a short JSON object on the device's error topic.
func (d *device) publishError(topic string, err error) {
	if !d.s.mqttOn {
		return
	}
	d.s.out.own(d.errTopic, errorPayload(d.cfg.Name, topic, err, d.s.r.Now()))
}

// pauseReading stops or restarts reading the device, for backpressure.
func (d *device) pauseReading(pause bool) {
	if d.id == 0 {
		return
	}
	if pause {
		d.s.r.Pause(d.id)
	} else {
		d.s.r.Resume(d.id)
	}
}

// close closes the device for good, its TCP access with it: it is being
// replaced or removed. Its status goes with it, saying last.
func (d *device) close(last string) {
	d.gone = true
	if d.tcp != nil {
		d.tcp.close()
	}
	d.cancel(&d.reopen)
	d.cancel(&d.breakTimer)
	d.cancel(&d.modemTimer)
	if d.remote != nil {
		d.remote.stop()
	}
	if d.id != 0 {
		if res, err := d.s.r.Unregister(d.id); err == nil {
			res.Close()
		}
		d.closed(io.EOF) // its last bytes are a frame, as at a clean end
	}
	d.proto.stop()
	d.proto.addStats(d.stats) // its successor's protocol counts from 0
	if last != "" {
		d.s.out.remove(d.status, last)
	} else {
		d.s.out.forget(d.status)
	}
}

func (d *device) cancel(id *reactor.TimerID) {
	if *id != 0 {
		d.s.r.CancelTimer(*id)
		*id = 0
	}
}

// logLimited logs a recurring problem of the device at most once per
// logEvery per kind, with fields given as key, value pairs.
func (d *device) logLimited(kind string, level logrus.Level, msg string, err error, fields ...any) {
	e := d.log
	for i := 0; i+1 < len(fields); i += 2 {
		e = e.WithField(fields[i].(string), fields[i+1])
	}
	logLimited(d.s.limit, d.s.r.Now(), e, d.cfg.Name+"/"+kind, level, msg, err)
}
