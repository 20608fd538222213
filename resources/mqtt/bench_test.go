package mqtt_test

import (
	"testing"

	"github.com/iogate/iogate/resources/mqtt"
)

// discard is a Handler that keeps nothing, as cheap as a real one can be.
type discard struct{}

func (discard) Connected(bool)               {}
func (discard) Message(string, []byte, bool) {}
func (discard) Acked(uint16)                 {}
func (discard) Subscribed(uint16, []byte)    {}

var frame = mqtt.Message{Topic: "iogate/edge-01/gps/rx", Payload: []byte("$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47"), QoS: 1}

// publishAck is the hot path out: a QoS 1 frame published and its PUBACK
// fed back.
func publishAck(tb testing.TB, s *mqtt.Session, ack []byte) {
	id, _, err := s.Publish(t0, frame)
	if err != nil {
		tb.Fatal(err)
	}
	ack[2], ack[3] = byte(id>>8), byte(id)
	if err := s.Feed(t0, ack, discard{}); err != nil {
		tb.Fatal(err)
	}
}

// inbound is the hot path in: a QoS 1 command delivered and its PUBACK
// taken from Output.
func inbound(tb testing.TB, s *mqtt.Session, packet []byte) {
	if err := s.Feed(t0, packet, discard{}); err != nil {
		tb.Fatal(err)
	}
	if len(s.Output()) != 4 {
		tb.Fatal("no PUBACK queued")
	}
}

func TestHotPathAllocs(t *testing.T) {
	s, _ := connected(t, mqtt.Options{ClientID: "a"})
	ack := puback(0)
	packet := publish("iogate/edge-01/gps/tx", "PMTK220,1000", 1, 7, false)
	// Warm up: buffers grow to size, the topic is interned.
	publishAck(t, s, ack)
	inbound(t, s, packet)
	if n := testing.AllocsPerRun(1000, func() { publishAck(t, s, ack) }); n != 0 {
		t.Errorf("Publish QoS 1 + Feed(PUBACK): %v allocs, want 0", n)
	}
	if n := testing.AllocsPerRun(1000, func() { inbound(t, s, packet) }); n != 0 {
		t.Errorf("Feed(PUBLISH QoS 1) + Output: %v allocs, want 0", n)
	}
}

func BenchmarkPublishAck(b *testing.B) {
	s, _ := connected(b, mqtt.Options{ClientID: "a"})
	ack := puback(0)
	b.ReportAllocs()
	for b.Loop() {
		publishAck(b, s, ack)
	}
}

func BenchmarkInbound(b *testing.B) {
	s, _ := connected(b, mqtt.Options{ClientID: "a"})
	packet := publish("iogate/edge-01/gps/tx", "PMTK220,1000", 1, 7, false)
	b.ReportAllocs()
	for b.Loop() {
		inbound(b, s, packet)
	}
}
