package mqtt

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/eclipse/paho.mqtt.golang/packets"
)

// Session is the client side of one MQTT 3.1.1 connection at a time,
// without I/O. Start begins a connection and gives the CONNECT to send;
// Feed takes what the broker sends, in pieces of any size; Publish,
// Subscribe and Disconnect give packets to send; Output gives the replies
// the session queued itself (PUBACKs, PINGREQs); Tick keeps the connection
// alive and notices a broker that stopped answering.
//
// Every packet or buffer a Session returns is valid until the next call into
// it: send it (reactor.Send copies) before anything else. A Session belongs
// to one goroutine, the reactor's.
//
// Acknowledgements for packet ids not in flight (a PUBACK or SUBACK repeated
// by the broker, or for an id of another kind) are ignored: there is nothing
// to act on, and dropping the connection over them would only cause
// re-sends.
type Session struct {
	opts      Options
	keepalive time.Duration // Options.Keepalive rounded as CONNECT carries it

	started   bool // Start was called and nothing ended the connection since
	connected bool // the broker accepted it
	begun     time.Time
	lastSent  time.Time
	lastHeard time.Time
	pinged    time.Time // when the PINGREQ awaiting its PINGRESP went out
	pinging   bool

	lastID     uint16
	inflight   int   // QoS 1 publishes awaiting PUBACK
	publishes  idSet // ids of those publishes
	subscribes idSet // ids of subscribes awaiting SUBACK
	ids        int   // ids in use, of both kinds

	in     []byte // a packet from the broker, begun but not complete
	out    []byte // replies queued for Output
	packet []byte // the last packet returned by Start, Publish, Subscribe, Disconnect
	topics map[string]string
}

// idSet is a set of packet ids, one bit each.
type idSet [65536 / 64]uint64

func (s *idSet) has(id uint16) bool { return s[id/64]&(1<<(id%64)) != 0 }
func (s *idSet) add(id uint16)      { s[id/64] |= 1 << (id % 64) }
func (s *idSet) remove(id uint16)   { s[id/64] &^= 1 << (id % 64) }

// Interned topics: inbound messages mostly come on a few topics (a
// gateway's commands), which are then handed out without a string
// allocation per message. The bounds keep a broker sending many distinct
// topics from growing the table.
const (
	maxTopics     = 64
	maxTopicBytes = 512
)

// NewSession returns a session with o's defaults filled in. Options are not
// checked (see Validate): a keepalive beyond what CONNECT carries is
// clamped, and anything else a broker would refuse it refuses at connect.
func NewSession(o Options) *Session {
	if o.MaxPacket <= 0 {
		o.MaxPacket = DefaultMaxPacket
	}
	o.MaxPacket = min(o.MaxPacket, maxRemaining)
	return &Session{
		opts:      o,
		keepalive: wholeSeconds(o.Keepalive),
		topics:    make(map[string]string),
	}
}

// wholeSeconds rounds a keepalive up to what CONNECT can carry.
func wholeSeconds(d time.Duration) time.Duration {
	switch {
	case d <= 0:
		return 0
	case d >= maxKeepalive:
		return maxKeepalive
	}
	return (d + time.Second - 1).Truncate(time.Second)
}

// Start begins a new connection: it forgets the last one, packets in
// flight included, and returns the CONNECT packet to send first.
func (s *Session) Start(now time.Time) []byte {
	s.started, s.connected, s.pinging = true, false, false
	s.begun, s.lastSent, s.lastHeard = now, now, now
	s.inflight, s.ids = 0, 0
	clear(s.publishes[:])
	clear(s.subscribes[:])
	s.in, s.out = s.in[:0], s.out[:0]

	c := packets.NewControlPacket(packets.Connect).(*packets.ConnectPacket)
	c.ProtocolName, c.ProtocolVersion = "MQTT", 4
	c.CleanSession = s.opts.CleanSession
	c.Keepalive = uint16(s.keepalive / time.Second)
	c.ClientIdentifier = s.opts.ClientID
	if w := s.opts.Will; w != nil {
		c.WillFlag, c.WillQos, c.WillRetain = true, w.QoS, w.Retain
		c.WillTopic, c.WillMessage = w.Topic, w.Payload
	}
	c.UsernameFlag, c.Username = s.opts.Username != "", s.opts.Username
	c.PasswordFlag, c.Password = s.opts.Password != "", []byte(s.opts.Password)
	return s.encode(c)
}

// encode writes a control packet with paho into the session's packet buffer.
func (s *Session) encode(p packets.ControlPacket) []byte {
	b := bytes.NewBuffer(s.packet[:0])
	p.Write(b) // cannot fail: a bytes.Buffer takes everything
	s.packet = b.Bytes()
	return s.packet
}

// Connected reports whether the broker has accepted the connection.
func (s *Session) Connected() bool { return s.connected }

// Inflight is the number of QoS 1 publishes awaiting their PUBACK.
func (s *Session) Inflight() int { return s.inflight }

// Publish returns the PUBLISH packet for m. A QoS 0 message has id 0; a QoS
// 1 message gets a fresh packet id, held in flight until its PUBACK reaches
// Handler.Acked. It fails with ErrNotConnected before the CONNACK,
// ErrInflightFull when every packet id is in flight, ErrInvalidTopic,
// ErrTooLarge, or for QoS 2 with errors.ErrUnsupported. The session does
// not bound how many publishes may be in flight: that window is the
// caller's, which knows what each publish is.
func (s *Session) Publish(now time.Time, m Message) (id uint16, packet []byte, err error) {
	if !s.connected {
		return 0, nil, fmt.Errorf("%w: publish to %q", ErrNotConnected, m.Topic)
	}
	if m.QoS > 1 {
		return 0, nil, fmt.Errorf("mqtt: publish to %q at QoS %d: %w", m.Topic, m.QoS, errors.ErrUnsupported)
	}
	if err := checkTopic(m.Topic); err != nil {
		return 0, nil, err
	}
	if n := publishLength(&m); n > maxRemaining {
		return 0, nil, fmt.Errorf("%w: PUBLISH to %q of %d bytes, limit %d", ErrTooLarge, m.Topic, n, maxRemaining)
	}
	if m.QoS == 1 {
		if id, err = s.nextID(); err != nil {
			return 0, nil, err
		}
		s.publishes.add(id)
		s.inflight++
	}
	s.packet = appendPublish(s.packet[:0], &m, id)
	s.lastSent = now
	return id, s.packet, nil
}

// Subscribe returns the SUBSCRIBE packet for filters, all at qos (0 or 1).
// Its id comes back with the SUBACK in Handler.Subscribed.
func (s *Session) Subscribe(now time.Time, filters []string, qos byte) (id uint16, packet []byte, err error) {
	if !s.connected {
		return 0, nil, fmt.Errorf("%w: subscribe to %q", ErrNotConnected, filters)
	}
	if qos > 1 {
		return 0, nil, fmt.Errorf("mqtt: subscribe at QoS %d: %w", qos, errors.ErrUnsupported)
	}
	if len(filters) == 0 {
		return 0, nil, fmt.Errorf("%w: subscribe to no filter", ErrInvalidTopic)
	}
	length := 2
	for _, f := range filters {
		if err := checkFilter(f); err != nil {
			return 0, nil, err
		}
		length += 2 + len(f) + 1
	}
	if length > maxRemaining {
		return 0, nil, fmt.Errorf("%w: SUBSCRIBE of %d bytes, limit %d", ErrTooLarge, length, maxRemaining)
	}
	if id, err = s.nextID(); err != nil {
		return 0, nil, err
	}
	s.subscribes.add(id)
	p := packets.NewControlPacket(packets.Subscribe).(*packets.SubscribePacket)
	p.MessageID, p.Topics, p.Qoss = id, filters, bytes.Repeat([]byte{qos}, len(filters))
	s.lastSent = now
	return id, s.encode(p), nil
}

// nextID takes the packet id after the last one, 1 to 65535 round, that is
// not in flight.
func (s *Session) nextID() (uint16, error) {
	if s.ids >= 65535 {
		return 0, fmt.Errorf("%w: all 65535 packet ids are in flight", ErrInflightFull)
	}
	for {
		s.lastID++
		if s.lastID == 0 {
			s.lastID = 1
		}
		if !s.publishes.has(s.lastID) && !s.subscribes.has(s.lastID) {
			s.ids++
			return s.lastID, nil
		}
	}
}

// Disconnect ends the connection politely: it returns the DISCONNECT
// packet, after which the broker discards the will. The session is then
// not connected until the next Start.
func (s *Session) Disconnect() []byte {
	s.started, s.connected = false, false
	s.packet = append(s.packet[:0], typeDisconnect, 0)
	return s.packet
}

// Output returns the packets the session queued itself (a PUBACK for each
// inbound QoS 1 message, PINGREQ) and empties the queue. Call it after Feed
// and Tick and send what it returns. The bytes are valid until the next
// call into the Session.
func (s *Session) Output() []byte {
	out := s.out
	s.out = s.out[:0]
	return out
}

// Tick keeps the connection alive. It queues a PINGREQ (see Output) when
// nothing was sent or nothing heard for Keepalive, and fails with
// ErrPingTimeout when a PINGREQ went unanswered for Keepalive, or when the
// CONNACK did not come within Keepalive (10 s with no keepalive) of Start.
// It returns when it wants to be called next, the zero Time when never (no
// connection, or connected with no keepalive). An error ends the
// connection: drop it.
func (s *Session) Tick(now time.Time) (next time.Time, err error) {
	switch {
	case !s.started:
		return time.Time{}, nil
	case !s.connected:
		wait := s.keepalive
		if wait == 0 {
			wait = connackTimeout
		}
		deadline := s.begun.Add(wait)
		if now.Before(deadline) {
			return deadline, nil
		}
		s.started = false
		return time.Time{}, fmt.Errorf("%w: no CONNACK within %v", ErrPingTimeout, wait)
	case s.keepalive == 0:
		return time.Time{}, nil
	case s.pinging:
		deadline := s.pinged.Add(s.keepalive)
		if now.Before(deadline) {
			return deadline, nil
		}
		s.started, s.connected = false, false
		return time.Time{}, fmt.Errorf("%w: no PINGRESP within %v", ErrPingTimeout, s.keepalive)
	}
	// Pinging when nothing was heard either notices a dead broker while
	// only QoS 0 goes out, which nothing answers.
	due := s.lastSent
	if s.lastHeard.Before(due) {
		due = s.lastHeard
	}
	due = due.Add(s.keepalive)
	if now.Before(due) {
		return due, nil
	}
	s.out = append(s.out, typePingreq, 0)
	s.pinging, s.pinged, s.lastSent = true, now, now
	return now.Add(s.keepalive), nil
}

// Feed takes bytes the broker sent, in pieces of any size: a packet split
// across calls is kept until it is whole, and several packets in one call
// are all handled. It calls h for each, in order, and queues the replies
// for Output. An error (ErrProtocol, ErrRefused, ErrClosedByBroker) ends
// the connection: drop it; the session is then not connected until the
// next Start.
func (s *Session) Feed(now time.Time, data []byte, h Handler) error {
	if !s.started {
		return fmt.Errorf("%w: %d bytes from the broker", ErrNotConnected, len(data))
	}
	err := s.feed(now, data, h)
	if err != nil {
		s.started, s.connected = false, false
		s.in = s.in[:0]
	}
	return err
}

func (s *Session) feed(now time.Time, data []byte, h Handler) error {
	// Complete the packet begun by an earlier call, taking from data only
	// what it lacks, so that whole packets in data are read in place.
	for len(s.in) > 0 {
		size, off, err := s.header(s.in)
		if err != nil {
			return err
		}
		if size == 0 {
			if len(data) == 0 {
				return nil
			}
			s.in = append(s.in, data[0])
			data = data[1:]
			continue
		}
		take := min(size-len(s.in), len(data))
		s.in = append(s.in, data[:take]...)
		data = data[take:]
		if len(s.in) < size {
			return nil
		}
		err = s.handle(now, s.in, off, h)
		s.in = s.in[:0]
		if err != nil {
			return err
		}
	}
	for len(data) > 0 {
		size, off, err := s.header(data)
		if err != nil {
			return err
		}
		if size == 0 || size > len(data) {
			s.in = append(s.in[:0], data...)
			return nil
		}
		if err := s.handle(now, data[:size], off, h); err != nil {
			return err
		}
		data = data[size:]
	}
	return nil
}

// header is fixedHeader with the session's checks of the first
// byte, made as soon as it is there so that garbage is refused at once
// rather than after as many bytes as it claims.
func (s *Session) header(b []byte) (size, body int, err error) {
	first := b[0]
	switch first >> 4 {
	case packets.Publish:
		if q := first >> 1 & 3; q > 1 {
			return 0, 0, fmt.Errorf("%w: PUBLISH at QoS %d, above any subscription of this client", ErrProtocol, q)
		}
	case packets.Connack, packets.Puback, packets.Suback, packets.Pingresp, packets.Disconnect:
		if first&0x0f != 0 {
			return 0, 0, fmt.Errorf("%w: %s with flags %#x", ErrProtocol, packetName(first), first&0x0f)
		}
	default:
		return 0, 0, fmt.Errorf("%w: unexpected %s", ErrProtocol, packetName(first))
	}
	if !s.connected && first != typeConnack && first != typeDisconnect {
		return 0, 0, fmt.Errorf("%w: %s before CONNACK", ErrProtocol, packetName(first))
	}
	return fixedHeader(b, s.opts.MaxPacket)
}

// handle acts on one whole packet p, whose body starts at off and whose
// first byte header has checked.
func (s *Session) handle(now time.Time, p []byte, off int, h Handler) error {
	body := p[off:]
	s.lastHeard = now
	s.pinging = false // any packet shows the broker alive, not only PINGRESP
	switch p[0] & 0xf0 {
	case typePublish:
		return s.inbound(now, p[0], body, h)
	case typePuback:
		if len(body) != 2 {
			return lengthError(p[0], len(body), 2)
		}
		id := uint16(body[0])<<8 | uint16(body[1])
		if s.publishes.has(id) {
			s.publishes.remove(id)
			s.inflight--
			s.ids--
			h.Acked(id)
		}
	case typeConnack:
		if len(body) != 2 {
			return lengthError(p[0], len(body), 2)
		}
		if s.connected {
			return fmt.Errorf("%w: a second CONNACK", ErrProtocol)
		}
		return s.connack(p, h)
	case typeSuback:
		if len(body) < 3 {
			return fmt.Errorf("%w: SUBACK of %d bytes, want at least 3", ErrProtocol, len(body))
		}
		return s.suback(p, h)
	case typePingresp:
		if len(body) != 0 {
			return lengthError(p[0], len(body), 0)
		}
	case typeDisconnect:
		// MQTT 3.1.1 has no DISCONNECT from the broker, but MQTT 5 brokers
		// (mochi among them) send one, with a reason, when they close.
		return ErrClosedByBroker
	}
	return nil
}

func lengthError(first byte, have, want int) error {
	return fmt.Errorf("%w: %s of %d bytes, want %d", ErrProtocol, packetName(first), have, want)
}

// inbound delivers a PUBLISH from the broker and queues its PUBACK.
func (s *Session) inbound(now time.Time, first byte, body []byte, h Handler) error {
	if len(body) < 2 {
		return fmt.Errorf("%w: PUBLISH of %d bytes, too short for a topic", ErrProtocol, len(body))
	}
	n := int(body[0])<<8 | int(body[1])
	if 2+n > len(body) {
		return fmt.Errorf("%w: PUBLISH of %d bytes with a topic of %d", ErrProtocol, len(body), n)
	}
	topic, rest := body[2:2+n], body[2+n:]
	if !validTopic(topic) {
		return fmt.Errorf("%w: PUBLISH to invalid topic %q", ErrProtocol, topic)
	}
	qos := first >> 1 & 3
	var id uint16
	if qos == 1 {
		if len(rest) < 2 {
			return fmt.Errorf("%w: QoS 1 PUBLISH to %q without a packet id", ErrProtocol, topic)
		}
		if id = uint16(rest[0])<<8 | uint16(rest[1]); id == 0 {
			return fmt.Errorf("%w: QoS 1 PUBLISH to %q with packet id 0", ErrProtocol, topic)
		}
		rest = rest[2:]
	}
	h.Message(s.intern(topic), rest, first&1 != 0)
	if qos == 1 {
		s.out = append(s.out, typePuback, 2, byte(id>>8), byte(id))
		s.lastSent = now
	}
	return nil
}

// intern returns topic as a string, from the table when it is there.
func (s *Session) intern(topic []byte) string {
	if t, ok := s.topics[string(topic)]; ok {
		return t
	}
	t := string(topic)
	if len(t) <= maxTopicBytes {
		if len(s.topics) >= maxTopics {
			clear(s.topics)
		}
		s.topics[t] = t
	}
	return t
}

// connackReasons are the refusals of MQTT 3.1.1, by return code.
var connackReasons = [...]string{
	1: "unacceptable protocol version",
	2: "client identifier rejected",
	3: "server unavailable",
	4: "bad username or password",
	5: "not authorized",
}

func (s *Session) connack(p []byte, h Handler) error {
	cp, err := packets.ReadPacket(bytes.NewReader(p))
	if err != nil {
		return fmt.Errorf("%w: CONNACK: %w", ErrProtocol, err)
	}
	ack := cp.(*packets.ConnackPacket)
	if code := ack.ReturnCode; code != packets.Accepted {
		reason := "unknown reason"
		if int(code) < len(connackReasons) {
			reason = connackReasons[code]
		}
		return fmt.Errorf("%w: %s (code %d)", ErrRefused, reason, code)
	}
	s.connected = true
	h.Connected(ack.SessionPresent)
	return nil
}

func (s *Session) suback(p []byte, h Handler) error {
	cp, err := packets.ReadPacket(bytes.NewReader(p))
	if err != nil {
		return fmt.Errorf("%w: SUBACK: %w", ErrProtocol, err)
	}
	ack := cp.(*packets.SubackPacket)
	for _, code := range ack.ReturnCodes {
		if code > 2 && code != 0x80 {
			return fmt.Errorf("%w: SUBACK %d with return code %#x", ErrProtocol, ack.MessageID, code)
		}
	}
	if s.subscribes.has(ack.MessageID) {
		s.subscribes.remove(ack.MessageID)
		s.ids--
		h.Subscribed(ack.MessageID, ack.ReturnCodes)
	}
	return nil
}
