package mqtt

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/eclipse/paho.mqtt.golang/packets"
)

// The wire format the hot path reads and writes by hand: PUBLISH out,
// PUBLISH and PUBACK in. Rare control packets go through paho's packets.

// maxRemaining is the largest remaining length MQTT can encode (four bytes
// of seven bits).
const maxRemaining = 1<<28 - 1

// The first byte of the packets a client sends or receives, flags zero.
const (
	typeConnack    = packets.Connack << 4
	typePublish    = packets.Publish << 4
	typePuback     = packets.Puback << 4
	typeSuback     = packets.Suback << 4
	typePingreq    = packets.Pingreq << 4
	typePingresp   = packets.Pingresp << 4
	typeDisconnect = packets.Disconnect << 4
)

// packetName names a packet by its first byte, for errors.
func packetName(b byte) string {
	if name, ok := packets.PacketNames[b>>4]; ok {
		return name
	}
	return fmt.Sprintf("reserved packet type %d", b>>4)
}

// fixedHeader reads the fixed header at the start of b: the size of the whole
// packet and where its body starts, or 0, 0 while b holds only part of the
// header. A remaining length beyond max, or one encoded in more than four
// bytes, is refused before anything of that size is kept.
func fixedHeader(b []byte, max int) (size, body int, err error) {
	n := 0
	for i := 1; i < len(b); i++ {
		n |= int(b[i]&0x7f) << (7 * (i - 1))
		if b[i]&0x80 == 0 {
			if n > max {
				return 0, 0, fmt.Errorf("%w: %s of %d bytes, limit %d", ErrProtocol, packetName(b[0]), n, max)
			}
			return i + 1 + n, i + 1, nil
		}
		if i == 4 {
			return 0, 0, fmt.Errorf("%w: %s with a remaining length longer than 4 bytes", ErrProtocol, packetName(b[0]))
		}
	}
	return 0, 0, nil
}

// appendLength appends a remaining length in MQTT's variable-length encoding.
func appendLength(b []byte, n int) []byte {
	for {
		digit := byte(n & 0x7f)
		n >>= 7
		if n == 0 {
			return append(b, digit)
		}
		b = append(b, digit|0x80)
	}
}

// appendPublish appends a PUBLISH packet for m; id is used for QoS 1 only.
// It does not allocate once b has the room.
func appendPublish(b []byte, m *Message, id uint16) []byte {
	first := byte(typePublish) | m.QoS<<1
	if m.Retain {
		first |= 1
	}
	b = append(b, first)
	b = appendLength(b, publishLength(m))
	b = append(b, byte(len(m.Topic)>>8), byte(len(m.Topic)))
	b = append(b, m.Topic...)
	if m.QoS > 0 {
		b = append(b, byte(id>>8), byte(id))
	}
	return append(b, m.Payload...)
}

// publishLength is the remaining length of m's PUBLISH.
func publishLength(m *Message) int {
	n := 2 + len(m.Topic) + len(m.Payload)
	if m.QoS > 0 {
		n += 2
	}
	return n
}

// checkTopic accepts a topic to publish to: not empty, valid UTF-8, no
// NUL, no wildcard, at most 65535 bytes.
func checkTopic(topic string) error {
	if err := checkText(topic); err != nil {
		return err
	}
	if strings.ContainsAny(topic, "+#") {
		return fmt.Errorf("%w: %q: wildcards are for subscriptions only", ErrInvalidTopic, topic)
	}
	return nil
}

// checkFilter accepts a subscription filter: a topic where "+" may stand
// for a whole level and "#" for the last one.
func checkFilter(filter string) error {
	if err := checkText(filter); err != nil {
		return err
	}
	levels := strings.Split(filter, "/")
	for i, level := range levels {
		if !strings.ContainsAny(level, "+#") {
			continue
		}
		if level == "+" || (level == "#" && i == len(levels)-1) {
			continue
		}
		return fmt.Errorf("%w: %q: a wildcard must be a whole level, and # the last", ErrInvalidTopic, filter)
	}
	return nil
}

func checkText(topic string) error {
	switch {
	case topic == "":
		return fmt.Errorf("%w: empty", ErrInvalidTopic)
	case len(topic) > 65535:
		return fmt.Errorf("%w: %d bytes, limit 65535", ErrInvalidTopic, len(topic))
	case !utf8.ValidString(topic):
		return fmt.Errorf("%w: %q is not valid UTF-8", ErrInvalidTopic, topic)
	case strings.IndexByte(topic, 0) >= 0:
		return fmt.Errorf("%w: %q contains NUL", ErrInvalidTopic, topic)
	}
	return nil
}

// validTopic is checkTopic for a topic the broker sent, without building an
// error on the hot path.
func validTopic(topic []byte) bool {
	return len(topic) > 0 && utf8.Valid(topic) && !bytes.ContainsAny(topic, "+#\x00")
}
