package bridge

import "time"

// message is one MQTT publish waiting for the broker.
type message struct {
	topic   *topic
	payload []byte // owned by the outbox; reused once the message is done
	qos     byte
	retain  bool
	// durable: a device's data (a frame, later a poll's reply or a
	// value), which the spool keeps until the broker has it; otherwise one
	// of the gateway's own messages (a status, an error, the stats), made
	// afresh on the next connection rather than kept across a disconnect.
	durable  bool
	spoolSeq uint64 // the frame's record in the spool; 0 if it is not there
	state    *state // the retained state this message publishes, if any
	sent     bool   // published on the current connection
	acked    bool   // PUBACK received (or QoS 0 and written)
	id       uint16 // packet id while sent and not acked
	sentAt   time.Time
	kicks    int // connections in a row that ended right after it was sent
	// at is when a frame in the spool was read, for the status.
	at time.Time
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
	// unspooled is the payload bytes of live durable messages that are not
	// in the spool: in memory only.
	unspooled int
	own       int // the gateway's own messages not yet acknowledged
	free      []*message
}

// add queues a message with payload (copied) and returns it.
func (o *outbox) add(t *topic, payload []byte, qos byte, durable bool, spoolSeq uint64) *message {
	m := o.made(t, payload, qos, durable, spoolSeq)
	o.push(m)
	return m
}

// push queues a message from made at the end.
func (o *outbox) push(m *message) {
	if o.head > 0 && len(o.queue) == cap(o.queue) {
		n := copy(o.queue, o.queue[o.head:])
		clear(o.queue[n:])
		o.queue, o.next, o.head = o.queue[:n], o.next-o.head, 0
	}
	o.queue = append(o.queue, m)
}

// made returns a new live message that is not queued yet: add queues it
// at the end, prepend at the front.
func (o *outbox) made(t *topic, payload []byte, qos byte, durable bool, spoolSeq uint64) *message {
	var m *message
	if n := len(o.free); n > 0 {
		m, o.free = o.free[n-1], o.free[:n-1]
	} else {
		m = new(message)
	}
	*m = message{topic: t, payload: append(m.payload[:0], payload...), qos: qos, retain: t.retain, durable: durable, spoolSeq: spoolSeq}
	o.count(m, 1)
	if !durable {
		o.own++
	}
	return m
}

// count adds m's bytes (sign 1) to the totals, or takes them away (-1).
func (o *outbox) count(m *message, sign int) {
	o.bytes += sign * len(m.payload)
	if m.durable && m.spoolSeq == 0 {
		o.unspooled += sign * len(m.payload)
	}
}

// prepend puts messages from made ahead of every unsent one: on a new
// connection, the states go before the frames that waited.
func (o *outbox) prepend(fresh []*message) {
	if len(fresh) == 0 {
		return
	}
	live := o.queue[o.head:]
	q := make([]*message, 0, len(fresh)+len(live))
	o.queue = append(append(q, fresh...), live...)
	o.head, o.next = 0, 0
}

// unsent returns the next message to publish, or nil.
func (o *outbox) unsent() *message {
	for o.next < len(o.queue) {
		m := o.queue[o.next]
		if !m.acked && !m.sent {
			return m
		}
		o.next++
	}
	return nil
}

// take moves past the message unsent returned: it is being written.
func (o *outbox) take() { o.next++ }

// done releases an acknowledged message, and those at the head.
func (o *outbox) done(m *message) {
	m.acked = true
	if !m.durable {
		o.own--
	}
	o.trim()
}

// trim releases the acknowledged messages at the head of the queue.
func (o *outbox) trim() {
	for o.head < len(o.queue) && o.queue[o.head].acked {
		m := o.queue[o.head]
		o.queue[o.head] = nil
		o.head++
		o.count(m, -1)
		m.topic, m.state = nil, nil
		o.free = append(o.free, m)
	}
	if o.head == len(o.queue) {
		o.queue, o.head, o.next = o.queue[:0], 0, 0
	}
	o.next = max(o.next, o.head)
}

// rewind makes every unacknowledged message unsent again, the connection
// they went out on being gone, and forgets the gateway's own: the states
// are published afresh on the next connection, and stale ones must not
// overwrite them.
func (o *outbox) rewind() {
	for _, m := range o.queue[o.head:] {
		m.sent = false
		if !m.durable && !m.acked {
			m.acked = true
			o.own--
		}
	}
	o.next = o.head
	o.trim()
}

// len is the number of live messages.
func (o *outbox) len() int { return len(o.queue) - o.head }
