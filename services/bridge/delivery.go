package bridge

import (
	"errors"
	"fmt"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/iogate/iogate/metrics"
	"github.com/iogate/iogate/reactor"
	"github.com/iogate/iogate/resources/mqtt"
)

// delivery is the one owner of what the gateway publishes: devices' frames,
// the retained statuses, errors and stats all go through it, in the order
// they were made. It owns the outbox, the QoS 1 window, the window of the
// spool kept in memory, and the decision to pause the devices when the
// broker or the disk cannot keep up. A message is in flight only once the
// reactor has taken its bytes.
//
// Two kinds of message go through it. A device's data is durable: it is
// appended to the spool before anything else, so that neither an outage
// nor a restart loses it, and it is sent again after a reconnect until the
// broker has it. The gateway's own messages are not: a retained state
// (a status) is published afresh from its current value on every new
// connection, ahead of the data that waited; an error or the stats are
// published only on a live connection.
type delivery struct {
	r      *reactor.Reactor
	log    *logrus.Entry
	limit  *limiter
	link   publisher
	topics *topics
	qos    byte // of durable messages; the gateway's own are QoS 1

	q        outbox
	inflight int                 // QoS 1 messages sent and not acknowledged
	byID     map[uint16]*message // those, by packet id
	batch    []byte              // the packets of one write
	sending  []*message          // the messages in batch
	up       bool                // the link is connected
	due      bool                // something to publish: pump at the end of the wake-up

	states []*state // in publishing order: the gateway's status first
	later  []later  // errors made while disconnected

	disk *store // nil without a spool

	// pause pauses or resumes every device: see backpressure.
	pause  func(bool)
	paused bool
	pauses uint64 // times paused was set
	floor  int64  // the smallest the spool was since the broker connected

	ackLatency metrics.Buckets // from a PUBLISH to its PUBACK
	dropped    func(device string)
}

// window is how many QoS 1 messages may await their PUBACK at once.
const window = 64

// The outbox is the window of the spool kept in memory: frames go straight
// to it below outboxHigh bytes, and are read back from disk when it falls
// below outboxLow. Small, since a larger window only queues frames ahead
// of the broker (latency), the spool holding the rest.
const (
	outboxHigh = 256 << 10
	outboxLow  = 128 << 10
)

// Durable messages the spool could not take live in memory only. Past
// memoryHigh bytes of them the devices are paused (their kernel buffers hold
// what comes meanwhile) until they fall to memoryLow. Frames on disk never
// pause a device: the spool has its own bound and overflow policy.
const (
	memoryHigh = 4 << 20
	memoryLow  = 2 << 20
)

// batchBytes is the most written to the broker's socket in one Send.
const batchBytes = 64 << 10

// publisher is what delivery needs of the broker link.
type publisher interface {
	// room tells whether n more bytes may be written now: the link is up
	// and its socket is not backed up.
	room(n int) bool
	// publish returns the PUBLISH packet for m, valid until the next call.
	publish(now time.Time, m mqtt.Message) (id uint16, packet []byte, err error)
	// send writes packets; an error means the connection is going down.
	send(packets []byte) error
}

// state is a retained topic whose current value the broker must always
// have: a status. Removed states (a device left the configuration) are
// final: their last value is published once more, then they are forgotten.
type state struct {
	topic *topic
	value []byte
	final bool
	last  *message // the message of its value in force, while queued
	// gone, if set, is called when a removed state is forgotten: at the
	// PUBACK of a message of it after remove. For a state published only
	// by remove (Home Assistant's removals), the broker then has its last
	// value.
	gone func()
}

func newDelivery(r *reactor.Reactor, log *logrus.Entry, limit *limiter, ts *topics, qos byte) *delivery {
	return &delivery{
		r: r, log: log, limit: limit, topics: ts, qos: qos,
		byID:       map[uint16]*message{},
		pause:      func(bool) {},
		dropped:    func(string) {},
		ackLatency: metrics.NewBuckets(metrics.LatencyBounds),
	}
}

// newState adds a retained state with its first value, published now if
// the broker is connected and on every connection after.
func (o *delivery) newState(t *topic, value string) *state {
	st := &state{topic: t}
	o.states = append(o.states, st)
	o.set(st, value)
	return st
}

// set gives a state a new value.
func (o *delivery) set(st *state, value string) {
	if string(st.value) == value && !st.final {
		return
	}
	st.value = append(st.value[:0], value...)
	if o.up {
		st.last = o.q.add(st.topic, st.value, 1, false, 0)
		st.last.state = st
		o.due = true
	}
}

// remove publishes a state's last value, and forgets it once the broker
// has that.
func (o *delivery) remove(st *state, last string) {
	st.final = true
	o.set(st, last)
}

// again publishes a state's value once more on a live connection, for a
// subscriber that lost it (Home Assistant after its restart).
func (o *delivery) again(st *state) {
	if o.up && !st.final {
		st.last = o.q.add(st.topic, st.value, 1, false, 0)
		st.last.state = st
		o.due = true
	}
}

// forget drops a final state whose last value the broker has.
func (o *delivery) forget(st *state) {
	for i, s := range o.states {
		if s == st {
			o.states = append(o.states[:i], o.states[i+1:]...)
			return
		}
	}
}

// own publishes one of the gateway's messages that is not a state (an
// error, the stats): only on a live connection.
func (o *delivery) own(t *topic, payload []byte) {
	if !o.up {
		return
	}
	o.q.add(t, payload, 1, false, 0)
	o.due = true
}

// ownPending tells whether some of the gateway's own messages (statuses,
// errors, stats) are not acknowledged yet: a stop waits for them.
func (o *delivery) ownPending() bool { return o.q.own > 0 }

// errFrameTooLarge is a frame whose payload is beyond what the spool and
// the broker connection take.
var errFrameTooLarge = errors.New("frame too large to publish")

// frame stores a device's frame and queues it for the broker, behind
// every frame before it; with MQTT on there is always a spool. It fails
// only for a payload larger than the spool's records;
// the spool's own troubles (a full disk) keep the frame in memory, and
// drop-newest drops it, counted.
func (o *delivery) frame(t *topic, payload []byte) error {
	o.due = true
	return o.disk.append(o, t, payload)
}

// connected is the link's CONNACK: the states go first, ahead of what
// waited, then everything else in order.
func (o *delivery) connected() {
	o.up, o.inflight = true, 0
	clear(o.byID)
	fresh := make([]*message, 0, len(o.states))
	for _, st := range o.states {
		m := o.q.made(st.topic, st.value, 1, false, 0)
		m.state, st.last = st, m
		fresh = append(fresh, m)
	}
	o.q.prepend(fresh)
	for _, l := range o.later {
		o.q.add(l.topic, l.payload, 1, false, 0)
	}
	o.later = nil
	if o.disk != nil {
		o.floor = o.disk.sp.Size()
	}
	o.due = true
}

// A broker that does not take a message of some size (mosquitto's
// message_size_limit, AWS IoT's 128 KiB) closes the connection when it gets
// one: MQTT 3.1.1 has no way to say so. A large message that was in flight,
// unacknowledged, when poisonTries connections in a row ended within
// poisonWindow of its sending is dropped as one the broker refuses, rather
// than sent again forever ahead of every other frame.
const (
	poisonBytes  = 64 << 10
	poisonTries  = 3
	poisonWindow = 2 * time.Second
)

// disconnected: what was sent and not acknowledged is sent again on the
// next connection, in order; the gateway's own messages are made afresh.
func (o *delivery) disconnected() {
	o.refused()
	o.up, o.inflight = false, 0
	clear(o.byID)
	o.q.rewind()
	o.backpressure()
}

// refused drops the large messages the broker keeps closing the
// connection on.
func (o *delivery) refused() {
	now := o.r.Now()
	var refused []*message
	for _, m := range o.q.queue[o.q.head:] {
		if !m.sent || m.acked || !m.durable || len(m.payload) < poisonBytes {
			continue
		}
		if now.Sub(m.sentAt) > poisonWindow {
			m.kicks = 0
			continue
		}
		if m.kicks++; m.kicks >= poisonTries {
			refused = append(refused, m)
		}
	}
	for _, m := range refused {
		dev, name := deviceOf([]byte(m.topic.tail)), m.topic.name
		err := fmt.Errorf("the broker closed the connection %d times right after a message of %d bytes on %s: dropped as too large for it",
			m.kicks, len(m.payload), name)
		o.log.WithField("device", dev).WithError(err).Error("message dropped")
		o.dropped(dev)
		o.finish(m)
		o.ownError(dev, name, err)
	}
}

// ownError publishes a delivery problem on a device's error topic, on the
// next connection.
func (o *delivery) ownError(dev, topic string, err error) {
	o.later = append(o.later, later{o.topics.get(dev+"/error", false), errorPayload(dev, topic, err, o.r.Now())})
}

// later is one of the gateway's messages for the next connection.
type later struct {
	topic   *topic
	payload []byte
}

// acked is the broker's PUBACK for a packet id.
func (o *delivery) acked(id uint16) {
	m, ok := o.byID[id]
	if !ok {
		return // from before a reconnect
	}
	delete(o.byID, id)
	o.inflight--
	o.ackLatency.ObserveDuration(o.r.Now().Sub(m.sentAt))
	o.finish(m)
	o.due = true
}

// finish is the end of a message: the broker has it.
func (o *delivery) finish(m *message) {
	if m.spoolSeq != 0 && o.disk != nil {
		o.disk.ack(o, m.spoolSeq)
	}
	if st := m.state; st != nil && st.final && st.last == m {
		// Only the message of the last value says the broker has it.
		o.forget(m.state)
		if m.state.gone != nil {
			m.state.gone()
		}
	}
	o.q.done(m)
}

// flush pumps if something is due: once per wake-up of the reactor, so that
// the frames of every device read in it go out in one write.
func (o *delivery) flush() {
	if o.due {
		o.due = false
		o.pump()
	}
}

// pump publishes what the outbox holds, as far as the window and the
// socket allow, in as few writes as it can.
func (o *delivery) pump() {
	defer o.backpressure()
	o.refill()
	if !o.up {
		return
	}
	now := o.r.Now()
	for o.inflight < window {
		m := o.q.unsent()
		if m == nil || !o.link.room(len(o.batch)) {
			break
		}
		id, pkt, err := o.link.publish(now, mqtt.Message{Topic: m.topic.name, Payload: m.payload, QoS: m.qos, Retain: m.retain})
		if errors.Is(err, mqtt.ErrNotConnected) {
			break
		}
		o.q.take()
		if err != nil {
			// It can never be published; keeping it would stop the others.
			o.logLimited(o.log.WithField("topic", m.topic.name), "publish", "message dropped: it cannot be published", err)
			if m.durable {
				o.dropped(deviceOf([]byte(m.topic.tail)))
			}
			o.finish(m)
			continue
		}
		m.id, m.sentAt = id, now
		if m.qos == 1 {
			o.inflight++ // counted now: the window must hold while the batch grows
		}
		o.batch = append(o.batch, pkt...)
		o.sending = append(o.sending, m)
		if len(o.batch) >= batchBytes {
			o.write()
		}
	}
	o.write()
}

// write writes the batch; its messages are in flight once it is taken.
func (o *delivery) write() {
	if len(o.batch) == 0 {
		return
	}
	err := o.link.send(o.batch)
	for i, m := range o.sending {
		o.sending[i] = nil
		if err != nil {
			continue // the connection is going down: rewound by disconnected
		}
		m.sent = true
		if m.qos == 0 {
			o.finish(m) // no acknowledgement comes for QoS 0
			continue
		}
		o.byID[m.id] = m
	}
	o.batch, o.sending = o.batch[:0], o.sending[:0]
}

// backpressure pauses every device while too many frames are held in
// memory only (the spool could not take them), or while the broker is
// connected but slower than the devices, and resumes them below the low
// marks.
func (o *delivery) backpressure() {
	behindHigh, behindLow := o.behind()
	switch {
	case !o.paused && o.q.unspooled >= memoryHigh:
		o.paused = true
		o.logLimited(o.log.WithField("queued", o.q.len()), "backpressure",
			"frames the spool could not take fill memory: devices paused", nil)
	case !o.paused && behindHigh:
		o.paused = true
		o.logLimited(o.log.WithField("spool_bytes", o.disk.sp.Size()), "backpressure",
			"the broker takes frames slower than the devices send them: devices paused until it catches up", nil)
	case o.paused && o.q.unspooled <= memoryLow && behindLow:
		o.paused = false
	default:
		return
	}
	if o.paused {
		o.pauses++
	}
	o.pause(o.paused)
}

// behind tells whether the spool grew, while the broker was connected, by
// a quarter of spool.max_bytes (high) or by less than an eighth (low),
// from the smallest it was since the connection came up. A broker that is
// there but slower than the devices then slows the devices down instead of
// filling the spool until spool.overflow drops frames; an outage, or the
// backlog an outage left, still fills or drains the spool without pausing
// anything.
func (o *delivery) behind() (high, low bool) {
	if o.disk == nil || !o.up {
		return false, true
	}
	size := o.disk.sp.Size()
	o.floor = min(o.floor, size)
	grown := size - o.floor
	return grown >= o.disk.maxBytes/4, grown <= o.disk.maxBytes/8
}

func (o *delivery) logLimited(e *logrus.Entry, key, msg string, err error) {
	logLimited(o.limit, o.r.Now(), e, key, logrus.WarnLevel, msg, err)
}

// spoolStats is the spool's part of a Snapshot, nil without one.
func (o *delivery) spoolStats() *SpoolStats {
	if o.disk == nil {
		return nil
	}
	st := o.disk.sp.Stats()
	return &SpoolStats{Frames: st.Records, Bytes: st.Bytes, Drops: o.disk.drops, Syncs: st.Syncs}
}

// close syncs and closes the spool: nothing appended is lost to a clean
// stop.
func (o *delivery) close() {
	if o.disk != nil {
		o.disk.close(o.log)
		o.disk = nil
	}
}
