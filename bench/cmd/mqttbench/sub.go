package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eclipse/paho.mqtt.golang/packets"
)

// subscriber is the receiving end: one MQTT connection of the driver's own,
// subscribed to bench/# for the whole run, read by one goroutine with a
// hand-written PUBLISH decoder, so that it costs little beside the broker
// and never sets the pace. It checks each frame off against what the
// writer wrote (a bitmap per device of the sequence numbers seen) and, for
// the paced case, takes the latency from the writer's table of send times.
type subscriber struct {
	conn net.Conn
	qos  byte

	mu    sync.Mutex
	run   *reception // the run under way; nil between runs
	stray int64      // frames on topics of no run under way
	err   error      // why reading stopped
	done  chan struct{}
}

// reception is what one run's frames did on arrival. Topics are
// PREFIX/dN/rx for frames and PREFIX/dN/status for iogate's statuses.
type reception struct {
	prefix  []byte
	devices []deviceRx
	online  int
	ready   chan struct{} // closed once every device's status said online
	total   int64         // frames received, duplicates included
	changed chan struct{} // gets a value when frames arrive; capacity 1

	sent      [][]atomic.Int64 // paced: send time of each line, ns since clockBase; nil at full speed
	from      int64            // latencies are kept for the lines sent from then on
	latencies [][2]int64       // send time and latency, ns
}

type deviceRx struct {
	seen      []uint64 // bit per sequence number
	unique    int64
	dups      int64
	reordered int64 // frames that came after one with a higher sequence number
	last      int64
	online    bool
}

// clockBase is the origin of the send and receive times: both sides are in
// this process, on its monotonic clock.
var clockBase = time.Now()

func clock() int64 { return int64(time.Since(clockBase)) }

// dialSubscriber connects, subscribes to bench/# at qos, and starts
// reading.
func dialSubscriber(addr string, qos byte) (*subscriber, error) {
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, fmt.Errorf("subscriber: %w", err)
	}
	s := &subscriber{conn: conn, qos: qos, done: make(chan struct{})}
	c := packets.NewControlPacket(packets.Connect).(*packets.ConnectPacket)
	c.ProtocolName, c.ProtocolVersion = "MQTT", 4
	c.CleanSession = true
	c.ClientIdentifier = fmt.Sprintf("mqttbench-sub-%d", os.Getpid())
	sub := packets.NewControlPacket(packets.Subscribe).(*packets.SubscribePacket)
	sub.MessageID, sub.Topics, sub.Qoss = 1, []string{"bench/#"}, []byte{qos}
	var out bytes.Buffer
	c.Write(&out)
	sub.Write(&out)
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write(out.Bytes()); err != nil {
		conn.Close()
		return nil, fmt.Errorf("subscriber: %w", err)
	}
	r := bufio.NewReaderSize(conn, 256<<10)
	for _, want := range []byte{packets.Connack, packets.Suback} {
		p, err := packets.ReadPacket(r)
		if err != nil {
			conn.Close()
			return nil, fmt.Errorf("subscriber: %w", err)
		}
		ok := false
		switch p := p.(type) {
		case *packets.ConnackPacket:
			ok = want == packets.Connack && p.ReturnCode == packets.Accepted
		case *packets.SubackPacket:
			ok = want == packets.Suback && len(p.ReturnCodes) == 1 && p.ReturnCodes[0] == qos
		}
		if !ok {
			conn.Close()
			return nil, fmt.Errorf("subscriber: unexpected answer %v", p)
		}
	}
	conn.SetDeadline(time.Time{})
	go s.read(r)
	return s, nil
}

// begin starts listening for the frames of one run.
func (s *subscriber) begin(prefix string, devices int, sent [][]atomic.Int64) *reception {
	rx := &reception{
		prefix:  []byte(prefix + "/"),
		devices: make([]deviceRx, devices),
		ready:   make(chan struct{}),
		changed: make(chan struct{}, 1),
		sent:    sent,
		from:    math.MaxInt64,
	}
	for i := range rx.devices {
		rx.devices[i].last = -1
	}
	s.mu.Lock()
	s.run = rx
	s.mu.Unlock()
	return rx
}

// end stops listening for the run's frames; what comes after is stray.
func (s *subscriber) end() {
	s.mu.Lock()
	s.run = nil
	s.mu.Unlock()
}

// window keeps the latencies of the lines sent from then on.
func (s *subscriber) window(from int64) {
	s.mu.Lock()
	s.run.from = from
	s.mu.Unlock()
}

// counts returns the run's totals: frames received, and per device the
// distinct frames.
func (s *subscriber) counts() (total int64, unique []int64, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.run.devices {
		unique = append(unique, d.unique)
	}
	return s.run.total, unique, s.err
}

// result returns the run's duplicates, reorderings and latencies.
func (s *subscriber) result() (dups, reordered int64, latencies [][2]int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.run.devices {
		dups += d.dups
		reordered += d.reordered
	}
	return dups, reordered, s.run.latencies
}

func (s *subscriber) close() {
	s.conn.Close()
	<-s.done
}

// read decodes packets until the connection ends. A PUBLISH is the only
// packet the broker sends after the SUBACK (no keepalive is asked for).
func (s *subscriber) read(r *bufio.Reader) {
	defer close(s.done)
	w := bufio.NewWriter(s.conn)
	body := make([]byte, 0, 4096)
	var err error
	for {
		var first byte
		if first, err = r.ReadByte(); err != nil {
			break
		}
		var size int
		if size, err = remainingLength(r); err != nil {
			break
		}
		if first>>4 != packets.Publish || size < 2 {
			err = fmt.Errorf("unexpected packet %#x of %d bytes", first, size)
			break
		}
		if cap(body) < size {
			body = make([]byte, size)
		}
		body = body[:size]
		if _, err = io.ReadFull(r, body); err != nil {
			break
		}
		if err = s.publish(first, body, w); err != nil {
			break
		}
		// Acknowledgements go out once everything read so far is handled.
		if w.Buffered() > 0 && r.Buffered() == 0 {
			if err = w.Flush(); err != nil {
				break
			}
		}
	}
	s.mu.Lock()
	if !errors.Is(err, net.ErrClosed) {
		s.err = fmt.Errorf("subscriber: %w", err)
	} else {
		s.err = errors.New("subscriber: closed")
	}
	s.mu.Unlock()
}

func remainingLength(r *bufio.Reader) (int, error) {
	n, shift := 0, 0
	for range 4 {
		b, err := r.ReadByte()
		if err != nil {
			return 0, err
		}
		n |= int(b&0x7f) << shift
		if b&0x80 == 0 {
			return n, nil
		}
		shift += 7
	}
	return 0, errors.New("malformed remaining length")
}

// publish handles one PUBLISH body: topic, packet id at QoS 1, payload.
func (s *subscriber) publish(first byte, body []byte, w *bufio.Writer) error {
	now := clock()
	n := int(body[0])<<8 | int(body[1])
	if 2+n > len(body) {
		return errors.New("PUBLISH topic longer than the packet")
	}
	topic, payload := body[2:2+n], body[2+n:]
	if qos := first >> 1 & 3; qos > 0 {
		if len(payload) < 2 {
			return errors.New("QoS 1 PUBLISH without a packet id")
		}
		w.Write([]byte{packets.Puback << 4, 2, payload[0], payload[1]})
		payload = payload[2:]
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rx := s.run
	rest, ok := bytes.CutPrefix(topic, rx.prefixOrNil())
	if !ok || len(rest) < 2 || rest[0] != 'd' {
		s.stray++
		return nil
	}
	dev, kind, _ := bytes.Cut(rest[1:], []byte{'/'})
	d, ok := atoi(dev)
	if !ok || d >= len(rx.devices) {
		s.stray++
		return nil
	}
	dr := &rx.devices[d]
	switch string(kind) {
	case "status":
		if string(payload) == "online" && !dr.online {
			dr.online = true
			if rx.online++; rx.online == len(rx.devices) {
				close(rx.ready)
			}
		}
		return nil
	case "rx":
	default:
		s.stray++
		return nil
	}
	seq, ok := atoi(payload[:min(len(payload), seqDigits)])
	if !ok || len(payload) < seqDigits {
		return fmt.Errorf("frame %q on %s: no sequence number", payload, topic)
	}
	rx.total++
	for seq/64 >= len(dr.seen) {
		dr.seen = append(dr.seen, make([]uint64, max(len(dr.seen), 1024))...)
	}
	bit := uint64(1) << (seq % 64)
	if dr.seen[seq/64]&bit != 0 {
		dr.dups++
	} else {
		dr.seen[seq/64] |= bit
		dr.unique++
	}
	if int64(seq) < dr.last {
		dr.reordered++
	}
	dr.last = max(dr.last, int64(seq))
	if rx.sent != nil && seq < len(rx.sent[d]) {
		if t := rx.sent[d][seq].Load(); t > 0 && t >= rx.from {
			rx.latencies = append(rx.latencies, [2]int64{t, now - t})
		}
	}
	select {
	case rx.changed <- struct{}{}:
	default:
	}
	return nil
}

// prefixOrNil is the run's topic prefix; between runs it matches nothing.
func (rx *reception) prefixOrNil() []byte {
	if rx == nil {
		return []byte{0}
	}
	return rx.prefix
}

func atoi(b []byte) (int, bool) {
	if len(b) == 0 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}
