package bridge

import "time"

// message is one MQTT publish waiting for the broker: a device frame, or a
// status, error or stats message of the gateway.
type message struct {
	topic    string
	payload  []byte // owned by the outbox; reused once the message is done
	qos      byte
	retain   bool
	dev      *device // the device a frame came from, if it is still configured
	frame    bool    // a device's frame, not one of the gateway's own messages
	spoolSeq uint64  // the frame's record in the spool; 0 if it is not there
	sent     bool    // published on the current connection
	acked    bool    // PUBACK received (or QoS 0 and sent)
	id       uint16  // packet id while sent and not acked
	sentAt   time.Time
}

// outbox holds the messages for the broker in the order they were made, and
// tracks each until the broker has it: QoS 1 messages stay until their
// PUBACK, and all that were sent but not acknowledged are sent again after
// a reconnect, in order. Delivery is therefore at least once, with
// duplicates only around a reconnect.
//
// Messages and their payload buffers are recycled, so a steady stream of
// frames does not allocate.
type outbox struct {
	queue []*message // queue[head:] are live, oldest first
	head  int
	next  int // queue[next] is the first not yet sent on this connection
	bytes int // payload bytes of the live messages
	// unspooled is the payload bytes of live frames that are not in the
	// spool: in memory only.
	unspooled int
	byID      map[uint16]*message
	free      []*message
	frames    int // live messages that are device frames
}

func newOutbox() *outbox {
	return &outbox{byID: map[uint16]*message{}}
}

// addFrame queues a device's frame; see add.
func (o *outbox) addFrame(topic string, qos byte, dev *device, spoolSeq uint64) *message {
	m := o.add(topic, qos, false, dev)
	m.frame, m.spoolSeq = true, spoolSeq
	o.frames++
	return m
}

// add queues a message and returns it with an empty payload buffer for the
// caller to fill; the caller then calls grew with the length it wrote.
func (o *outbox) add(topic string, qos byte, retain bool, dev *device) *message {
	var m *message
	if n := len(o.free); n > 0 {
		m, o.free = o.free[n-1], o.free[:n-1]
	} else {
		m = new(message)
	}
	*m = message{topic: topic, payload: m.payload[:0], qos: qos, retain: retain, dev: dev}
	if o.head > 0 && len(o.queue) == cap(o.queue) {
		n := copy(o.queue, o.queue[o.head:])
		clear(o.queue[n:])
		o.queue, o.next, o.head = o.queue[:n], o.next-o.head, 0
	}
	o.queue = append(o.queue, m)
	return m
}

// grew accounts for the payload written into m.
func (o *outbox) grew(m *message) {
	o.bytes += len(m.payload)
	if m.frame && m.spoolSeq == 0 {
		o.unspooled += len(m.payload)
	}
}

// unsent returns the next message to publish, or nil.
func (o *outbox) unsent() *message {
	for o.next < len(o.queue) {
		m := o.queue[o.next]
		if !m.acked {
			return m
		}
		o.next++
	}
	return nil
}

// published records that the next message went out at now with packet id
// (0 for QoS 0, which needs no acknowledgement).
func (o *outbox) published(m *message, id uint16, now time.Time) {
	o.next++
	m.sent, m.sentAt = true, now
	if m.qos == 0 {
		m.acked = true
		o.trim()
		return
	}
	m.id = id
	o.byID[id] = m
}

// ack records the broker's PUBACK. It reports whether the id was known
// (not a PUBACK from before a reconnect), the message's spool record, and
// when it was published.
func (o *outbox) ack(id uint16) (spoolSeq uint64, sentAt time.Time, known bool) {
	m, ok := o.byID[id]
	if !ok {
		return 0, time.Time{}, false
	}
	delete(o.byID, id)
	m.acked = true
	spoolSeq, sentAt = m.spoolSeq, m.sentAt
	o.trim()
	return spoolSeq, sentAt, true
}

// trim releases the acknowledged messages at the head of the queue.
func (o *outbox) trim() {
	for o.head < len(o.queue) && o.queue[o.head].acked {
		m := o.queue[o.head]
		o.queue[o.head] = nil
		o.head++
		o.bytes -= len(m.payload)
		if m.frame {
			o.frames--
			if m.spoolSeq == 0 {
				o.unspooled -= len(m.payload)
			}
		}
		m.dev = nil
		o.free = append(o.free, m)
	}
	if o.head == len(o.queue) {
		o.queue, o.head, o.next = o.queue[:0], 0, 0
	}
	o.next = max(o.next, o.head)
}

// rewind makes every unacknowledged message unsent again: the connection
// they went out on is gone.
func (o *outbox) rewind() {
	for i := o.head; i < len(o.queue); i++ {
		o.queue[i].sent = false
	}
	clear(o.byID)
	o.next = o.head
}

// dropGateway forgets the gateway's own unsent messages: statuses are sent
// afresh on the next connection, and stale ones must not overwrite them.
func (o *outbox) dropGateway() {
	for i := o.head; i < len(o.queue); i++ {
		if m := o.queue[i]; !m.frame && !m.acked {
			m.acked = true
		}
	}
	o.trim()
}

// len is the number of live messages.
func (o *outbox) len() int { return len(o.queue) - o.head }
