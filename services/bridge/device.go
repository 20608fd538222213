package bridge

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/iogate/iogate/config"
	"github.com/iogate/iogate/control"
	"github.com/iogate/iogate/framing"
	"github.com/iogate/iogate/reactor"
	"github.com/iogate/iogate/resources/file"
	"github.com/iogate/iogate/resources/serial"
	"github.com/iogate/iogate/rfc2217"
)

// device is the bridge's part for one [[device]]: it opens the device's
// descriptor and reopens it with backoff when it goes away, keeps its
// status topic true, cuts what it reads into frames for delivery, writes
// the commands it is sent, and hands every byte it reads to its TCP
// clients. It is the reactor handler of its transport.
type device struct {
	s   *Service
	cfg config.Device
	log *logrus.Entry

	id     reactor.ID   // 0 while closed
	port   *serial.Port // while open, for kind = "serial"
	openAt time.Time
	retry  backoff
	reopen reactor.TimerID
	idle   reactor.TimerID // idle framing: armed while a frame is pending
	gone   bool            // closed for good: removed or replaced by a reload

	onReopen, onIdle, onBreakEnd, onModemPoll func()

	tcp *access // TCP access, when tcp_listen is set

	// RFC 2217 access: the line settings in force, and the client that
	// set them.
	mode       serial.Mode
	lines      rfc2217.Lines
	controller *client
	breakTimer reactor.TimerID
	modemTimer reactor.TimerID

	decoder *framing.Decoder
	framing framing.Config
	seq     uint64
	payload []byte // a frame's MQTT payload
	txBuf   []byte // a command, framed

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

	framed framing.Stats // of the decoders replaced by reloads
}

// newDevice prepares a device of the configuration; open opens it.
func (s *Service) newDevice(dc config.Device) (*device, error) {
	fc, err := framingConfig(dc)
	if err != nil {
		return nil, fmt.Errorf("device %s: %w", dc.Name, err)
	}
	d := &device{
		s: s, cfg: dc, log: s.log.WithField("device", dc.Name), lines: defaultLines, framing: fc,
		retry: backoff{min: dc.ReconnectMin, max: dc.ReconnectMax},
		rx:    s.topics.get(dc.RxTail(), false), errTopic: s.topics.get(dc.Name+"/error", false),
		stats: s.counters(dc.Name), watch: s.watch(dc.Name),
	}
	d.onReopen, d.onIdle, d.onBreakEnd, d.onModemPoll = d.open, d.idleEnded, d.endBreak, d.notifyModem
	d.mode = d.configMode()
	if d.decoder, err = framing.New(fc, d.frame); err != nil {
		return nil, fmt.Errorf("device %s: %w", dc.Name, err)
	}
	return d, nil
}

func framingConfig(d config.Device) (framing.Config, error) {
	kind, err := framing.ParseKind(d.Framing)
	if err != nil {
		return framing.Config{}, err
	}
	// Line framing takes "\r\n" as the ending its commands get; decoding
	// accepts either ending.
	return framing.Config{Kind: kind, Delimiter: d.Delimiter, Size: d.FrameSize, Max: d.MaxFrame}, nil
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
}

// Received feeds what the device sent to its clients and its framing.
func (d *device) Received(_ *reactor.Reactor, _ reactor.ID, data []byte) {
	d.stats.ReadBytes += uint64(len(data))
	d.tap(control.RX, data)
	if d.tcp != nil {
		d.tcp.fanout(data)
	}
	if !d.publishing() {
		return // raw TCP access only: no frames to cut
	}
	before := d.decoder.Stats()
	d.decoder.Feed(data)
	d.framingProblems(before)
	if d.framing.Kind == framing.Idle {
		d.cancel(&d.idle)
		if d.decoder.Pending() > 0 {
			d.idle = d.s.r.SetTimer(d.cfg.IdleGap, d.onIdle)
		}
	}
}

// publishing tells whether the device's frames go to MQTT.
func (d *device) publishing() bool { return d.cfg.Publish && d.s.mqttOn }

func (d *device) idleEnded() {
	d.idle = 0
	d.decoder.Flush()
}

// framingProblems logs what the last Feed discarded.
func (d *device) framingProblems(before framing.Stats) {
	after := d.decoder.Stats()
	if after.Overlong > before.Overlong {
		d.logLimited("overlong", logrus.WarnLevel, "frame longer than max_frame discarded", nil, "max_frame", d.cfg.MaxFrame)
	}
	if after.Malformed > before.Malformed {
		d.logLimited("malformed", logrus.WarnLevel, "malformed frame discarded", nil, "framing", d.cfg.Framing)
	}
}

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

// closed forgets the descriptor. The frame under way ends with it when the
// stream ended (a FIFO's last writer left, the peer closed) or silence
// ends frames anyway; a frame cut by an unplug would be glued to what
// comes after the replug, and is discarded and counted.
func (d *device) closed(cause error) {
	d.id, d.port = 0, nil
	d.stats.Online = false
	d.watch.down(d.s.r.Now(), cause)
	d.cancel(&d.idle)
	if errors.Is(cause, file.ErrWriterGone) || errors.Is(cause, io.EOF) || d.framing.Kind == framing.Idle {
		d.decoder.Flush()
	} else {
		d.decoder.Reset()
	}
}

// frame is a frame from the decoder.
func (d *device) frame(frame []byte) {
	d.seq++
	d.stats.Frames++
	d.watch.lastFrame = d.s.r.Now()
	d.stats.Bytes += uint64(len(frame))
	if !d.publishing() {
		return
	}
	d.payload = appendPayload(d.payload[:0], d.cfg.Encoding, d.cfg.Name, d.seq, d.s.r.Now(), frame)
	if err := d.s.out.frame(d.rx, d.payload); err != nil {
		d.stats.Drops++
		d.fault("frame", fmt.Errorf("%s encoding: %w", d.cfg.Encoding, err))
	}
	if cap(d.payload) > 1<<20 {
		d.payload = nil // a burst's buffer is not kept
	}
}

// command writes an MQTT command to the device.
func (d *device) command(topic string, payload []byte, retained bool) {
	switch {
	case retained:
		d.reject(topic, errors.New("retained command ignored: it would be written again at every reconnect"))
		return
	case d.id == 0:
		d.reject(topic, errors.New("device is offline"))
		return
	}
	data, err := decodeCommand(d.cfg.Encoding, payload)
	if err != nil {
		d.reject(topic, err)
		return
	}
	d.txBuf = framing.Encode(d.framing, d.txBuf[:0], data)
	if err := d.write(d.txBuf); err != nil {
		if errors.Is(err, reactor.ErrOverflow) {
			err = errors.New("device busy: its output buffer is full")
		}
		d.reject(topic, err)
		return
	}
	d.stats.TxFrames++
}

// write sends bytes to the device.
func (d *device) write(data []byte) error {
	if d.id == 0 {
		return errors.New("device is offline")
	}
	if err := d.s.r.Send(d.id, data); err != nil {
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
	d.cancel(&d.idle)
	d.cancel(&d.breakTimer)
	d.cancel(&d.modemTimer)
	if d.id != 0 {
		if res, err := d.s.r.Unregister(d.id); err == nil {
			res.Close()
		}
		d.closed(io.EOF) // its last bytes are a frame, as at a clean end
	}
	fs := d.decoder.Stats()
	d.stats.framed.Overlong += fs.Overlong
	d.stats.framed.Malformed += fs.Malformed
	d.stats.framed.Cut += fs.Cut
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
