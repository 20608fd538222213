package bridge

import (
	"errors"
	"fmt"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/iogate/iogate/config"
	"github.com/iogate/iogate/framing"
	"github.com/iogate/iogate/reactor"
)

// stream is the protocol of a device that speaks a byte stream: its framing
// cuts what it sends into frames, and each frame is the reply of the
// transaction open (a poll or an MQTT request), or, with none open, a frame
// published on rx. Commands on tx are written as they come, framed.
type stream struct {
	d       *device
	decoder *framing.Decoder
	framing framing.Config
	seq     uint64
	payload []byte // a frame's MQTT payload
	txBuf   []byte // a command, framed
	idle    reactor.TimerID
	onIdle  func()

	polls   []*poll
	queue   txnQueue[*ask]
	open    *ask // the transaction waiting for its reply
	timeout reactor.TimerID
	onTime  func()
	reply   *topic // <device>/reply
}

// ask is one transaction of a stream device: bytes to write, and the next
// frame within timeout is the answer.
type ask struct {
	poll    *poll          // a poll's, or
	req     *streamRequest // an MQTT request's
	send    []byte
	timeout time.Duration
	sentAt  time.Time
}

// poll is one [[device.poll]] and its timer.
type poll struct {
	cfg    config.Poll
	topic  *topic
	timer  reactor.TimerID
	onDue  func()
	queued bool // its transaction is waiting or open: the next waits its turn
	asked  ask
}

func newStream(d *device) (*stream, error) {
	fc, err := framingConfig(d.cfg)
	if err != nil {
		return nil, err
	}
	p := &stream{d: d, framing: fc, reply: d.s.topics.get(d.cfg.Name+"/reply", false)}
	if p.decoder, err = framing.New(fc, p.frame); err != nil {
		return nil, err
	}
	p.onIdle, p.onTime = p.idleEnded, p.timedOut
	for _, pc := range d.cfg.Polls {
		pl := &poll{cfg: pc, topic: d.s.topics.get(d.cfg.Name+"/"+pc.Name, false)}
		pl.asked = ask{poll: pl, send: pc.Send, timeout: pc.Timeout}
		pl.onDue = func() { p.due(pl) }
		p.polls = append(p.polls, pl)
	}
	return p, nil
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

// commands are tx and request, for a writable device.
func (p *stream) commands(add func(tail string, fn commandFunc)) {
	if !p.d.cfg.Writable {
		return
	}
	add(p.d.cfg.Name+"/tx", p.command)
	add(p.d.cfg.Name+"/request", p.request)
}

// opened starts the polls: the first at once.
func (p *stream) opened() {
	for _, pl := range p.polls {
		if pl.timer == 0 {
			pl.timer = p.d.s.r.SetTimer(0, pl.onDue)
		}
	}
}

// received feeds what the device sent to the framing.
func (p *stream) received(data []byte) {
	if !p.d.publishing() && len(p.polls) == 0 && p.open == nil {
		return // raw TCP access only: no frames to cut
	}
	before := p.decoder.Stats()
	p.decoder.Feed(data)
	p.framingProblems(before)
	if p.framing.Kind == framing.Idle {
		p.d.cancel(&p.idle)
		if p.decoder.Pending() > 0 {
			p.idle = p.d.s.r.SetTimer(p.d.cfg.IdleGap, p.onIdle)
		}
	}
}

func (p *stream) idleEnded() {
	p.idle = 0
	p.decoder.Flush()
}

// framingProblems logs what the last Feed discarded.
func (p *stream) framingProblems(before framing.Stats) {
	after := p.decoder.Stats()
	if after.Overlong > before.Overlong {
		p.d.logLimited("overlong", logrus.WarnLevel, "frame longer than max_frame discarded", nil, "max_frame", p.d.cfg.MaxFrame)
	}
	if after.Malformed > before.Malformed {
		p.d.logLimited("malformed", logrus.WarnLevel, "malformed frame discarded", nil, "framing", p.d.cfg.Framing)
	}
}

// frame is a frame from the decoder: the answer of the transaction open,
// or a frame for rx.
func (p *stream) frame(frame []byte) {
	d := p.d
	p.seq++
	d.stats.Frames++
	d.stats.Bytes += uint64(len(frame))
	d.watch.lastFrame = d.s.r.Now()
	if t := p.open; t != nil {
		p.answered(t, frame)
		return
	}
	if d.publishing() {
		p.publish(d.rx, frame)
	}
}

// publish publishes a frame in the device's encoding on t.
func (p *stream) publish(t *topic, frame []byte) {
	d := p.d
	p.payload = appendPayload(p.payload[:0], d.cfg.Encoding, d.cfg.Name, p.seq, d.s.r.Now(), frame)
	if err := d.s.out.frame(t, p.payload); err != nil {
		d.stats.Drops++
		d.fault("frame", fmt.Errorf("%s encoding: %w", d.cfg.Encoding, err))
	}
	if cap(p.payload) > 1<<20 {
		p.payload = nil // a burst's buffer is not kept
	}
}

// closed ends the frame under way with the device: when the stream ended
// (a FIFO's last writer left, the peer closed) or silence ends frames
// anyway, it is a frame; a frame cut by an unplug would be glued to what
// comes after the replug, and is discarded and counted. The transaction
// open fails, and those waiting with it: there is no device to ask.
func (p *stream) closed(ended bool) {
	p.d.cancel(&p.idle)
	if ended || p.framing.Kind == framing.Idle {
		p.decoder.Flush()
	} else {
		p.decoder.Reset()
	}
	if t := p.open; t != nil {
		p.failed(t, errDeviceOffline)
	}
	p.queue.drain(func(t *ask) { p.failed(t, errDeviceOffline) })
}

var errDeviceOffline = errors.New("device is offline")

// stop ends the protocol for good.
func (p *stream) stop() {
	for _, pl := range p.polls {
		p.d.cancel(&pl.timer)
	}
	p.d.cancel(&p.timeout)
}

// addStats adds the decoder's counters to a snapshot.
func (p *stream) addStats(st *DeviceStats) {
	fs := p.decoder.Stats()
	st.Overlong += fs.Overlong
	st.Malformed += fs.Malformed
	st.Cut += fs.Cut
}

// command writes an MQTT command on tx to the device.
func (p *stream) command(topic string, payload []byte, retained bool) {
	d := p.d
	switch {
	case retained:
		d.reject(topic, errors.New("retained command ignored: it would be written again at every reconnect"))
		return
	case d.id == 0:
		d.reject(topic, errDeviceOffline)
		return
	}
	data, err := decodeCommand(d.cfg.Encoding, payload)
	if err != nil {
		d.reject(topic, err)
		return
	}
	p.txBuf = framing.Encode(p.framing, p.txBuf[:0], data)
	if err := d.write(p.txBuf); err != nil {
		if errors.Is(err, reactor.ErrOverflow) {
			err = errors.New("device busy: its output buffer is full")
		}
		d.reject(topic, err)
		return
	}
	d.stats.TxFrames++
}

// request queues an MQTT request; its answer goes to reply.
func (p *stream) request(topic string, payload []byte, retained bool) {
	d := p.d
	if retained {
		d.reject(topic, errors.New("retained request ignored: it would be asked again at every reconnect"))
		return
	}
	f, id, err := parseRequest(payload)
	if err != nil {
		p.refuse(topic, id, err)
		return
	}
	r, err := streamRequestOf(f)
	if err != nil {
		p.refuse(topic, id, err)
		return
	}
	t := &ask{req: &r, send: framing.Encode(p.framing, nil, r.data), timeout: r.timeout}
	if !p.queue.push(urgent, t) {
		p.refuse(topic, id, errQueueFull)
		return
	}
	p.next()
}

var errQueueFull = errors.New("the device's queue is full: too many transactions waiting")

// refuse answers a request that cannot be made, on reply when it has an id.
func (p *stream) refuse(topic, id string, err error) {
	p.d.reject(topic, err)
	if id != "" {
		p.d.s.out.frame(p.reply, appendErrorReply(nil, id, err))
	}
}

// due is a poll's timer: its transaction is queued, unless the last one
// still waits.
func (p *stream) due(pl *poll) {
	pl.timer = p.d.s.r.SetTimer(pl.cfg.Every, pl.onDue)
	if pl.queued || p.d.id == 0 {
		return
	}
	if !p.queue.push(scheduled, &pl.asked) {
		p.d.logLimited("poll-full", logrus.WarnLevel, "poll skipped: the device's queue is full", nil, "poll", pl.cfg.Name)
		return
	}
	pl.queued = true
	p.next()
}

// next starts the next transaction, if none is open.
func (p *stream) next() {
	for p.open == nil {
		t, ok := p.queue.pop()
		if !ok {
			return
		}
		d := p.d
		if err := d.write(t.send); err != nil {
			p.failed(t, err)
			continue
		}
		d.stats.TxFrames++
		t.sentAt = d.s.r.Now()
		p.open = t
		p.timeout = d.s.r.SetTimer(t.timeout, p.onTime)
		if d.log.Logger.IsLevelEnabled(logrus.DebugLevel) {
			d.log.WithField("sent", printable(t.send)).WithField("for", t.what()).Debug("asked")
		}
	}
}

func (p *stream) timedOut() {
	p.timeout = 0
	if t := p.open; t != nil {
		p.open = nil
		p.failed(t, errTimeout)
		p.next()
	}
}

var errTimeout = errors.New("timeout")

// answered publishes the answer of the transaction open.
func (p *stream) answered(t *ask, frame []byte) {
	d := p.d
	p.open = nil
	d.cancel(&p.timeout)
	took := d.s.r.Now().Sub(t.sentAt)
	if d.log.Logger.IsLevelEnabled(logrus.DebugLevel) {
		d.log.WithField("answer", printable(frame)).WithField("for", t.what()).WithField("ms", took.Milliseconds()).Debug("answered")
	}
	switch {
	case t.poll != nil:
		t.poll.queued = false
		p.publish(t.poll.topic, frame)
	case t.req != nil:
		p.payload = appendDataReply(p.payload[:0], t.req.id, t.req.enc, frame, took)
		if err := d.s.out.frame(p.reply, p.payload); err != nil {
			d.fault("reply", err)
		}
	}
	p.next()
}

// failed reports a transaction that got no answer.
func (p *stream) failed(t *ask, err error) {
	d := p.d
	switch {
	case t.poll != nil:
		t.poll.queued = false
		d.logLimited("poll-"+t.poll.cfg.Name, logrus.WarnLevel, "poll not answered", err, "poll", t.poll.cfg.Name)
		d.publishError(t.poll.topic.name, fmt.Errorf("poll %s: %w", t.poll.cfg.Name, err))
	case t.req != nil:
		d.s.out.frame(p.reply, appendErrorReply(nil, t.req.id, err))
	}
}

// what names a transaction for the log.
func (t *ask) what() string {
	if t.poll != nil {
		return "poll " + t.poll.cfg.Name
	}
	return "request " + t.req.id
}

// printable is bytes for a log line: text as it is, anything else in hex.
func printable(b []byte) string {
	for _, c := range b {
		if (c < 0x20 && c != '\r' && c != '\n' && c != '\t') || c >= 0x7f {
			return fmt.Sprintf("% x", b)
		}
	}
	return string(b)
}
