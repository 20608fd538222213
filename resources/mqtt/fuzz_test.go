package mqtt_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/iogate/iogate/resources/mqtt"
)

// fuzzMaxPacket is small so that the fuzzer reaches the limit.
const fuzzMaxPacket = 4096

// publisher is a Handler that, once connected, puts QoS 1 publishes in
// flight, so that the broker's PUBACKs have something to match.
type publisher struct {
	events
	s *mqtt.Session
}

func (p *publisher) Connected(present bool) {
	p.events.Connected(present)
	for range 3 {
		p.s.Publish(t0, mqtt.Message{Topic: "a", QoS: 1})
	}
	p.s.Subscribe(t0, []string{"cmd/#"}, 1)
}

// feedAll feeds the pieces to a new session, stopping at the first error,
// and reports what came out.
func feedAll(t *testing.T, pieces ...[]byte) (string, error) {
	s := mqtt.NewSession(mqtt.Options{ClientID: "fuzz", CleanSession: true, MaxPacket: fuzzMaxPacket})
	s.Start(t0)
	h := &publisher{s: s}
	var out []byte
	var err error
	for _, p := range pieces {
		err = s.Feed(t0, p, h)
		out = append(out, s.Output()...)
		if err != nil {
			break
		}
		if s.Buffered() > fuzzMaxPacket+5 {
			t.Fatalf("%d bytes held with MaxPacket %d", s.Buffered(), fuzzMaxPacket)
		}
	}
	if s.Inflight() < 0 || s.Inflight() > 65535 {
		t.Fatalf("Inflight() = %d", s.Inflight())
	}
	return fmt.Sprintf("%q % x", h.got, out), err
}

// FuzzFeed feeds a session what a broker might send, whole and split in
// two: it must not panic, must hold no more than MaxPacket, and must tell
// the same story both ways.
func FuzzFeed(f *testing.F) {
	ok := connack(false, 0)
	for _, seed := range [][]byte{
		ok,
		connack(true, 5),
		cat(ok, puback(1), puback(2), puback(3)),
		cat(ok, suback(4, 1, 0x80)),
		cat(ok, publish("cmd/tx", "hello", 0, 0, false), publish("cmd/tx", "world", 1, 9, true)),
		cat(ok, pingresp, pingresp),
		cat(ok, publish("big", strings.Repeat("x", 300), 1, 1, false)),
		cat(ok, []byte{0x30, 0xff, 0xff, 0xff, 0x7f}),
		cat(ok, publish("a/+", "x", 0, 0, false)),
		{0x20, 2, 0, 0, 0x40, 2, 0, 1, 0x90, 3, 0, 4, 1},
		{0x62, 2, 0, 1},
	} {
		f.Add(seed, uint16(len(seed)/2))
	}
	f.Fuzz(func(t *testing.T, data []byte, split uint16) {
		whole, errWhole := feedAll(t, data)
		k := int(split) % (len(data) + 1)
		parts, errParts := feedAll(t, data[:k], data[k:])
		if whole != parts || fmt.Sprint(errWhole) != fmt.Sprint(errParts) {
			t.Fatalf("whole: %s, %v\nsplit at %d: %s, %v", whole, errWhole, k, parts, errParts)
		}
	})
}
