package bridge

// message is one MQTT publish waiting for the broker: a device frame, or a
// status, error or stats message of the gateway.
type message struct {
	topic   string
	payload []byte // owned by the outbox; reused once the message is done
	qos     byte
	retain  bool
	dev     *device // the device a frame came from; nil for the gateway's own messages
	sent    bool    // published on the current connection
	acked   bool    // PUBACK received (or QoS 0 and sent)
	id      uint16  // packet id while sent and not acked
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
	queue  []*message // queue[head:] are live, oldest first
	head   int
	next   int // queue[next] is the first not yet sent on this connection
	bytes  int // payload bytes of the live messages
	byID   map[uint16]*message
	free   []*message
	frames int // live messages that are device frames
}

func newOutbox() *outbox {
	return &outbox{byID: map[uint16]*message{}}
}

// add queues a message and returns its payload buffer, empty, for the
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
	if dev != nil {
		o.frames++
	}
	return m
}

// grew accounts for the payload written into m.
func (o *outbox) grew(m *message) { o.bytes += len(m.payload) }

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

// published records that the next message went out with packet id (0 for
// QoS 0, which needs no acknowledgement).
func (o *outbox) published(m *message, id uint16) {
	o.next++
	m.sent = true
	if m.qos == 0 {
		m.acked = true
		o.trim()
		return
	}
	m.id = id
	o.byID[id] = m
}

// ack records the broker's PUBACK; it reports the message, or nil for an
// id the outbox does not know (a PUBACK from before a reconnect).
func (o *outbox) ack(id uint16) *message {
	m, ok := o.byID[id]
	if !ok {
		return nil
	}
	delete(o.byID, id)
	m.acked = true
	o.trim()
	return m
}

// trim releases the acknowledged messages at the head of the queue.
func (o *outbox) trim() {
	for o.head < len(o.queue) && o.queue[o.head].acked {
		m := o.queue[o.head]
		o.queue[o.head] = nil
		o.head++
		o.bytes -= len(m.payload)
		if m.dev != nil {
			o.frames--
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
		if m := o.queue[i]; m.dev == nil && !m.acked {
			m.acked = true
		}
	}
	o.trim()
}

// len is the number of live messages.
func (o *outbox) len() int { return len(o.queue) - o.head }
