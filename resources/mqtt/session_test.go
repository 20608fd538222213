package mqtt_test

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.mqtt.golang/packets"
	"github.com/iogate/iogate/resources/mqtt"
)

// t0 is the fake clock's start; tests pass times relative to it.
var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

// events is a Handler that writes down what it is told.
type events struct{ got []string }

func (e *events) Connected(present bool) { e.add("connected %t", present) }
func (e *events) Message(topic string, payload []byte, retain bool) {
	e.add("message %s %q retain=%t", topic, payload, retain)
}
func (e *events) Acked(id uint16)                      { e.add("acked %d", id) }
func (e *events) Subscribed(id uint16, granted []byte) { e.add("subscribed %d %v", id, granted) }
func (e *events) add(format string, args ...any)       { e.got = append(e.got, fmt.Sprintf(format, args...)) }

// Packets as a broker sends them, written by paho.

func encode(p packets.ControlPacket) []byte {
	var b bytes.Buffer
	if err := p.Write(&b); err != nil {
		panic(err)
	}
	return b.Bytes()
}

func connack(present bool, code byte) []byte {
	p := packets.NewControlPacket(packets.Connack).(*packets.ConnackPacket)
	p.SessionPresent, p.ReturnCode = present, code
	return encode(p)
}

func suback(id uint16, codes ...byte) []byte {
	p := packets.NewControlPacket(packets.Suback).(*packets.SubackPacket)
	p.MessageID, p.ReturnCodes = id, codes
	return encode(p)
}

func puback(id uint16) []byte {
	p := packets.NewControlPacket(packets.Puback).(*packets.PubackPacket)
	p.MessageID = id
	return encode(p)
}

func publish(topic, payload string, qos byte, id uint16, retain bool) []byte {
	p := packets.NewControlPacket(packets.Publish).(*packets.PublishPacket)
	p.TopicName, p.Payload, p.Qos, p.MessageID, p.Retain = topic, []byte(payload), qos, id, retain
	return encode(p)
}

var pingresp = []byte{0xd0, 0}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// connected returns a session the broker has accepted, and its handler.
func connected(t testing.TB, o mqtt.Options) (*mqtt.Session, *events) {
	t.Helper()
	s := mqtt.NewSession(o)
	s.Start(t0)
	h := new(events)
	if err := s.Feed(t0, connack(false, 0), h); err != nil {
		t.Fatal(err)
	}
	h.got = nil
	return s, h
}

func decode(t *testing.T, b []byte) packets.ControlPacket {
	t.Helper()
	p, err := packets.ReadPacket(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("decode % x: %v", b, err)
	}
	return p
}

func TestConnect(t *testing.T) {
	will := &mqtt.Message{Topic: "gw/status", Payload: []byte("offline"), QoS: 1, Retain: true}
	for _, tc := range []struct {
		name string
		opts mqtt.Options
		want packets.ConnectPacket
	}{
		{"bare", mqtt.Options{ClientID: "a", CleanSession: true},
			packets.ConnectPacket{ClientIdentifier: "a", CleanSession: true}},
		{"keepalive rounded up", mqtt.Options{ClientID: "a", Keepalive: 1500 * time.Millisecond},
			packets.ConnectPacket{ClientIdentifier: "a", Keepalive: 2}},
		{"keepalive clamped", mqtt.Options{ClientID: "a", Keepalive: 100 * time.Hour},
			packets.ConnectPacket{ClientIdentifier: "a", Keepalive: 65535}},
		{"will", mqtt.Options{ClientID: "gw", Will: will},
			packets.ConnectPacket{ClientIdentifier: "gw", WillFlag: true, WillQos: 1, WillRetain: true, WillTopic: "gw/status", WillMessage: []byte("offline")}},
		{"username", mqtt.Options{ClientID: "a", Username: "u"},
			packets.ConnectPacket{ClientIdentifier: "a", UsernameFlag: true, Username: "u"}},
		{"username and password", mqtt.Options{ClientID: "a", Username: "u", Password: "secret", Keepalive: 30 * time.Second},
			packets.ConnectPacket{ClientIdentifier: "a", UsernameFlag: true, Username: "u", PasswordFlag: true, Password: []byte("secret"), Keepalive: 30}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, ok := decode(t, mqtt.NewSession(tc.opts).Start(t0)).(*packets.ConnectPacket)
			if !ok {
				t.Fatalf("Start did not return a CONNECT")
			}
			want := tc.want
			want.FixedHeader, want.ProtocolName, want.ProtocolVersion = c.FixedHeader, "MQTT", 4
			if !reflect.DeepEqual(*c, want) {
				t.Errorf("CONNECT\nhave %v\nwant %v", c, &want)
			}
		})
	}
}

func TestOptionsHidePassword(t *testing.T) {
	o := mqtt.Options{ClientID: "a", Username: "u", Password: "hunter2", Will: &mqtt.Message{Topic: "w"}}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		if s := fmt.Sprintf(verb, o); strings.Contains(s, "hunter2") {
			t.Errorf("%s shows the password: %s", verb, s)
		}
	}
	o.Password = strings.Repeat("x", 70000) + "hunter2"
	if err := o.Validate(); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("Validate() = %v, want an error without the password", err)
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts mqtt.Options
		ok   bool
	}{
		{"minimal", mqtt.Options{ClientID: "a"}, true},
		{"no client id, clean", mqtt.Options{CleanSession: true}, true},
		{"no client id, kept session", mqtt.Options{}, false},
		{"password without username", mqtt.Options{ClientID: "a", Password: "p"}, false},
		{"negative keepalive", mqtt.Options{ClientID: "a", Keepalive: -time.Second}, false},
		{"keepalive too long", mqtt.Options{ClientID: "a", Keepalive: 65536 * time.Second}, false},
		{"will with wildcard", mqtt.Options{ClientID: "a", Will: &mqtt.Message{Topic: "a/#"}}, false},
		{"will at QoS 2", mqtt.Options{ClientID: "a", Will: &mqtt.Message{Topic: "a", QoS: 2}}, false},
		{"client id not UTF-8", mqtt.Options{ClientID: "\xff"}, false},
		{"negative max packet", mqtt.Options{ClientID: "a", MaxPacket: -1}, false},
	} {
		if err := tc.opts.Validate(); (err == nil) != tc.ok {
			t.Errorf("%s: Validate() = %v, want ok %t", tc.name, err, tc.ok)
		}
	}
}

func TestConnack(t *testing.T) {
	for _, tc := range []struct {
		packet []byte
		event  string
		err    string
	}{
		{connack(false, 0), "connected false", ""},
		{connack(true, 0), "connected true", ""},
		{connack(false, 1), "", "unacceptable protocol version (code 1)"},
		{connack(false, 2), "", "client identifier rejected (code 2)"},
		{connack(false, 3), "", "server unavailable (code 3)"},
		{connack(false, 4), "", "bad username or password (code 4)"},
		{connack(false, 5), "", "not authorized (code 5)"},
		{connack(false, 99), "", "unknown reason (code 99)"},
	} {
		s := mqtt.NewSession(mqtt.Options{ClientID: "a", Password: "hunter2"})
		s.Start(t0)
		h := new(events)
		err := s.Feed(t0, tc.packet, h)
		if tc.err == "" {
			if err != nil || !s.Connected() || len(h.got) != 1 || h.got[0] != tc.event {
				t.Errorf("% x: err %v, connected %t, events %q; want %q", tc.packet, err, s.Connected(), h.got, tc.event)
			}
			continue
		}
		if !errors.Is(err, mqtt.ErrRefused) || !strings.HasSuffix(err.Error(), tc.err) || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("% x: err %v, want ErrRefused ending in %q", tc.packet, err, tc.err)
		}
		if s.Connected() || len(h.got) != 0 {
			t.Errorf("% x: refused, yet connected %t, events %q", tc.packet, s.Connected(), h.got)
		}
	}
}

func TestProtocolErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		before bool // fed before the CONNACK
		data   []byte
	}{
		{"publish before connack", true, publish("a", "x", 0, 0, false)},
		{"pingresp before connack", true, pingresp},
		{"second connack", false, connack(false, 0)},
		{"connack too long", true, []byte{0x20, 3, 0, 0, 0}},
		{"connect", false, []byte{0x10, 0}},
		{"pubrec", false, []byte{0x50, 2, 0, 1}},
		{"pubrel", false, []byte{0x62, 2, 0, 1}},
		{"reserved type", false, []byte{0xf0, 0}},
		{"publish at QoS 2", false, publish("a", "x", 2, 1, false)},
		{"publish at QoS 3", false, []byte{0x36, 5, 0, 1, 'a', 0, 1}},
		{"publish with wildcard topic", false, publish("a/+", "x", 0, 0, false)},
		{"publish with empty topic", false, publish("", "x", 0, 0, false)},
		{"publish with NUL in topic", false, publish("a\x00b", "x", 0, 0, false)},
		{"publish with topic not UTF-8", false, publish("a\xffb", "x", 0, 0, false)},
		{"publish topic longer than packet", false, []byte{0x30, 3, 0, 9, 'a'}},
		{"publish without topic length", false, []byte{0x30, 1, 0}},
		{"QoS 1 publish without id", false, []byte{0x32, 3, 0, 1, 'a'}},
		{"QoS 1 publish with id 0", false, publish("a", "x", 1, 0, false)},
		{"puback too long", false, []byte{0x40, 3, 0, 1, 0}},
		{"puback with flags", false, []byte{0x42, 2, 0, 1}},
		{"suback too short", false, []byte{0x90, 2, 0, 1}},
		{"suback with bad code", false, suback(1, 3)},
		{"pingresp with a body", false, []byte{0xd0, 1, 0}},
		{"length over the limit", false, []byte{0x30, 0x80, 0x80, 0x80, 0x01}},
		{"length over 4 bytes", false, []byte{0x30, 0xff, 0xff, 0xff, 0xff, 0x7f}},
	} {
		s := mqtt.NewSession(mqtt.Options{ClientID: "a", MaxPacket: 1 << 20})
		s.Start(t0)
		h := new(events)
		if !tc.before {
			if err := s.Feed(t0, connack(false, 0), h); err != nil {
				t.Fatal(err)
			}
		}
		err := s.Feed(t0, tc.data, h)
		if !errors.Is(err, mqtt.ErrProtocol) {
			t.Errorf("%s: Feed(% x) = %v, want ErrProtocol", tc.name, tc.data, err)
			continue
		}
		if s.Connected() {
			t.Errorf("%s: still connected after %v", tc.name, err)
		}
		if s.Buffered() > 64 {
			t.Errorf("%s: %d bytes held for a packet refused", tc.name, s.Buffered())
		}
		if err := s.Feed(t0, pingresp, h); !errors.Is(err, mqtt.ErrNotConnected) {
			t.Errorf("%s: Feed after the error = %v, want ErrNotConnected", tc.name, err)
		}
	}
}

// MQTT 5 brokers say DISCONNECT, with a reason, when they close.
func TestClosedByBroker(t *testing.T) {
	for _, tc := range []struct {
		name      string
		connected bool
		data      []byte
	}{
		{"before CONNACK", false, []byte{0xe0, 0}},
		{"after CONNACK", true, []byte{0xe0, 0}},
		{"with a reason", true, []byte{0xe0, 1, 0x8b}},
	} {
		s := mqtt.NewSession(mqtt.Options{ClientID: "a"})
		s.Start(t0)
		h := new(events)
		if tc.connected {
			if err := s.Feed(t0, connack(false, 0), h); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Feed(t0, tc.data, h); !errors.Is(err, mqtt.ErrClosedByBroker) || s.Connected() {
			t.Errorf("%s: Feed(% x) = %v, connected %t; want ErrClosedByBroker", tc.name, tc.data, err, s.Connected())
		}
	}
}

// A broker's claim of a large packet is refused from its header alone:
// nothing of the size claimed is held.
func TestMaxPacket(t *testing.T) {
	s, h := connected(t, mqtt.Options{ClientID: "a", MaxPacket: 100})
	if err := s.Feed(t0, publish("a", strings.Repeat("x", 97), 0, 0, false), h); err != nil {
		t.Fatalf("packet of 100 bytes: %v", err)
	}
	err := s.Feed(t0, publish("a", strings.Repeat("x", 98), 0, 0, false)[:3], h)
	if !errors.Is(err, mqtt.ErrProtocol) || !strings.Contains(err.Error(), "PUBLISH of 101 bytes, limit 100") {
		t.Errorf("header of a packet of 101 bytes: %v, want ErrProtocol", err)
	}
}

func TestAcks(t *testing.T) {
	s, h := connected(t, mqtt.Options{ClientID: "a"})
	id1, _, err := s.Publish(t0, mqtt.Message{Topic: "a", QoS: 1})
	if err != nil {
		t.Fatal(err)
	}
	subID, _, err := s.Subscribe(t0, []string{"cmd/#"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	zero, _, err := s.Publish(t0, mqtt.Message{Topic: "a"})
	if err != nil || zero != 0 {
		t.Fatalf("QoS 0 publish: id %d, %v; want id 0", zero, err)
	}
	// Acks for ids not in flight, or in flight as the other kind, are
	// ignored; each ack counts once.
	feed := cat(puback(999), puback(subID), suback(id1, 1), puback(id1), puback(id1), suback(subID, 1), suback(subID, 0x80))
	if err := s.Feed(t0, feed, h); err != nil {
		t.Fatal(err)
	}
	want := []string{fmt.Sprintf("acked %d", id1), fmt.Sprintf("subscribed %d [1]", subID)}
	if !reflect.DeepEqual(h.got, want) || s.Inflight() != 0 {
		t.Errorf("events %q, inflight %d; want %q, 0", h.got, s.Inflight(), want)
	}
}

func TestInbound(t *testing.T) {
	s, h := connected(t, mqtt.Options{ClientID: "a"})
	feed := cat(publish("cmd/tx", "hello", 0, 0, false), publish("cmd/tx", "world", 1, 7, true), publish("cmd/tx", "", 1, 0x1234, false))
	if err := s.Feed(t0, feed, h); err != nil {
		t.Fatal(err)
	}
	want := []string{`message cmd/tx "hello" retain=false`, `message cmd/tx "world" retain=true`, `message cmd/tx "" retain=false`}
	if !reflect.DeepEqual(h.got, want) {
		t.Errorf("events %q, want %q", h.got, want)
	}
	if out, want := s.Output(), cat(puback(7), puback(0x1234)); !bytes.Equal(out, want) {
		t.Errorf("Output() = % x, want the PUBACKs % x", out, want)
	}
	if out := s.Output(); len(out) != 0 {
		t.Errorf("Output() again = % x, want nothing", out)
	}
}

func TestPublishEncoding(t *testing.T) {
	s, _ := connected(t, mqtt.Options{ClientID: "a"})
	for _, m := range []mqtt.Message{
		{Topic: "a/b", Payload: []byte("x")},
		{Topic: "a/b", Payload: []byte("retained"), QoS: 1, Retain: true},
		{Topic: "big", Payload: bytes.Repeat([]byte{0xaa}, 200000), QoS: 1},
	} {
		id, packet, err := s.Publish(t0, m)
		if err != nil {
			t.Fatal(err)
		}
		p := decode(t, packet).(*packets.PublishPacket)
		if p.TopicName != m.Topic || !bytes.Equal(p.Payload, m.Payload) || p.Qos != m.QoS || p.Retain != m.Retain || p.MessageID != id {
			t.Errorf("Publish(%q, %d bytes, QoS %d) encoded %v", m.Topic, len(m.Payload), m.QoS, p.FixedHeader)
		}
	}
}

func TestPublishRefused(t *testing.T) {
	s := mqtt.NewSession(mqtt.Options{ClientID: "a"})
	if _, _, err := s.Publish(t0, mqtt.Message{Topic: "a"}); !errors.Is(err, mqtt.ErrNotConnected) {
		t.Errorf("Publish before Start = %v, want ErrNotConnected", err)
	}
	s.Start(t0)
	if _, _, err := s.Publish(t0, mqtt.Message{Topic: "a"}); !errors.Is(err, mqtt.ErrNotConnected) {
		t.Errorf("Publish before CONNACK = %v, want ErrNotConnected", err)
	}
	s, _ = connected(t, mqtt.Options{ClientID: "a"})
	for _, tc := range []struct {
		m    mqtt.Message
		want error
	}{
		{mqtt.Message{Topic: "a", QoS: 2}, errors.ErrUnsupported},
		{mqtt.Message{Topic: ""}, mqtt.ErrInvalidTopic},
		{mqtt.Message{Topic: "a/+/b"}, mqtt.ErrInvalidTopic},
		{mqtt.Message{Topic: "a/#"}, mqtt.ErrInvalidTopic},
		{mqtt.Message{Topic: "a\x00"}, mqtt.ErrInvalidTopic},
		{mqtt.Message{Topic: "\xc3\x28"}, mqtt.ErrInvalidTopic},
		{mqtt.Message{Topic: strings.Repeat("a", 65536)}, mqtt.ErrInvalidTopic},
	} {
		if _, _, err := s.Publish(t0, tc.m); !errors.Is(err, tc.want) {
			t.Errorf("Publish(%.20q QoS %d) = %v, want %v", tc.m.Topic, tc.m.QoS, err, tc.want)
		}
	}
	if s.Inflight() != 0 {
		t.Errorf("refused publishes left %d in flight", s.Inflight())
	}
}

func TestSubscribe(t *testing.T) {
	s, _ := connected(t, mqtt.Options{ClientID: "a"})
	id, packet, err := s.Subscribe(t0, []string{"a/+/tx", "b/#", "#", "+"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	p := decode(t, packet).(*packets.SubscribePacket)
	if p.MessageID != id || !reflect.DeepEqual(p.Topics, []string{"a/+/tx", "b/#", "#", "+"}) || !bytes.Equal(p.Qoss, []byte{1, 1, 1, 1}) {
		t.Errorf("SUBSCRIBE %v, want id %d and the filters at QoS 1", p, id)
	}
	if p.Qos != 1 {
		t.Errorf("SUBSCRIBE fixed header %v, want flags 0010", p.FixedHeader)
	}
	for _, tc := range []struct {
		filters []string
		qos     byte
		want    error
	}{
		{[]string{"a"}, 2, errors.ErrUnsupported},
		{nil, 0, mqtt.ErrInvalidTopic},
		{[]string{"a/#/b"}, 0, mqtt.ErrInvalidTopic},
		{[]string{"a/b#"}, 0, mqtt.ErrInvalidTopic},
		{[]string{"a+/b"}, 0, mqtt.ErrInvalidTopic},
		{[]string{"ok", ""}, 0, mqtt.ErrInvalidTopic},
	} {
		if _, _, err := s.Subscribe(t0, tc.filters, tc.qos); !errors.Is(err, tc.want) {
			t.Errorf("Subscribe(%q, %d) = %v, want %v", tc.filters, tc.qos, err, tc.want)
		}
	}
}

// Inflight counts the publishes awaiting their PUBACK; a new connection
// starts with none, and acks for the old one mean nothing.
func TestInflight(t *testing.T) {
	s, h := connected(t, mqtt.Options{ClientID: "a"})
	var ids []uint16
	for range 3 {
		id, _, err := s.Publish(t0, mqtt.Message{Topic: "a", QoS: 1})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if _, _, err := s.Publish(t0, mqtt.Message{Topic: "a"}); err != nil || s.Inflight() != 3 {
		t.Errorf("QoS 0: %v, inflight %d, want 3", err, s.Inflight())
	}
	if err := s.Feed(t0, puback(ids[1]), h); err != nil {
		t.Fatal(err)
	}
	if s.Inflight() != 2 {
		t.Errorf("Inflight() = %d after one ack, want 2", s.Inflight())
	}
	s.Start(t0)
	h.got = nil
	if err := s.Feed(t0, cat(connack(true, 0), puback(ids[0])), h); err != nil {
		t.Fatal(err)
	}
	if s.Inflight() != 0 || !reflect.DeepEqual(h.got, []string{"connected true"}) {
		t.Errorf("after Start: inflight %d, events %q", s.Inflight(), h.got)
	}
}

// With every packet id in flight, a QoS 1 publish is refused; QoS 0 goes.
func TestIDsExhausted(t *testing.T) {
	s, h := connected(t, mqtt.Options{ClientID: "a"})
	var first uint16
	for i := range 65535 {
		id, _, err := s.Publish(t0, mqtt.Message{Topic: "a", QoS: 1})
		if err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
		if i == 0 {
			first = id
		}
	}
	if _, _, err := s.Publish(t0, mqtt.Message{Topic: "a", QoS: 1}); !errors.Is(err, mqtt.ErrInflightFull) {
		t.Fatalf("publish with every id in flight: %v, want ErrInflightFull", err)
	}
	if _, _, err := s.Publish(t0, mqtt.Message{Topic: "a"}); err != nil {
		t.Errorf("QoS 0 with every id in flight: %v", err)
	}
	if err := s.Feed(t0, puback(first), h); err != nil {
		t.Fatal(err)
	}
	if id, _, err := s.Publish(t0, mqtt.Message{Topic: "a", QoS: 1}); err != nil || id != first {
		t.Errorf("publish after an ack: id %d, %v; want %d", id, err, first)
	}
}

// Ids go 1 to 65535 and round again, skipping those still in flight.
func TestIDWraparound(t *testing.T) {
	s, h := connected(t, mqtt.Options{ClientID: "a"})
	held, _, _ := s.Publish(t0, mqtt.Message{Topic: "a", QoS: 1})
	sub, _, _ := s.Subscribe(t0, []string{"a"}, 0)
	if held != 1 || sub != 2 {
		t.Fatalf("first ids %d, %d; want 1, 2", held, sub)
	}
	var last uint16
	for i := 3; i <= 65535; i++ {
		id, _, err := s.Publish(t0, mqtt.Message{Topic: "a", QoS: 1})
		if err != nil {
			t.Fatal(err)
		}
		if int(id) != i {
			t.Fatalf("publish %d got id %d", i, id)
		}
		if err := s.Feed(t0, puback(id), h); err != nil {
			t.Fatal(err)
		}
		last = id
	}
	next, _, err := s.Publish(t0, mqtt.Message{Topic: "a", QoS: 1})
	if err != nil {
		t.Fatal(err)
	}
	if last != 65535 || next != 3 {
		t.Errorf("after id %d came %d; want 65535, then 3 (1 and 2 are in flight)", last, next)
	}
}

// Every split of a stream into two feeds, and a feed per byte, gives the
// events and replies of the stream fed whole.
func TestPartialFeeds(t *testing.T) {
	stream := cat(
		connack(true, 0),
		suback(2, 1, 0x80),
		publish("cmd/gps/tx", "$PMTK220,1000*1F", 1, 42, false),
		puback(1),
		pingresp,
		publish("cmd/big", strings.Repeat("b", 300), 0, 0, true),
		publish("cmd/gps/tx", "", 1, 43, false),
	)
	run := func(feeds ...[]byte) ([]string, []byte) {
		t.Helper()
		s := mqtt.NewSession(mqtt.Options{ClientID: "a"})
		s.Start(t0)
		h := &events{}
		var out []byte
		primed := false
		for _, f := range feeds {
			if err := s.Feed(t0, f, h); err != nil {
				t.Fatalf("Feed(% x): %v", f, err)
			}
			out = append(out, s.Output()...)
			if s.Connected() && !primed {
				primed = true
				s.Publish(t0, mqtt.Message{Topic: "a", QoS: 1})
				s.Subscribe(t0, []string{"cmd/#"}, 1)
			}
		}
		return h.got, out
	}
	// The CONNACK comes alone, so that the id 1 and 2 exist before their acks.
	head, tail := stream[:4], stream[4:]
	wantEvents, wantOut := run(head, tail)
	if len(wantEvents) != 6 {
		t.Fatalf("whole stream gave %q", wantEvents)
	}
	for i := 0; i <= len(tail); i++ {
		got, out := run(head, tail[:i], tail[i:])
		if !reflect.DeepEqual(got, wantEvents) || !bytes.Equal(out, wantOut) {
			t.Fatalf("split at %d: events %q, output % x; want %q, % x", i, got, out, wantEvents, wantOut)
		}
	}
	feeds := [][]byte{head}
	for i := range tail {
		feeds = append(feeds, tail[i:i+1])
	}
	if got, out := run(feeds...); !reflect.DeepEqual(got, wantEvents) || !bytes.Equal(out, wantOut) {
		t.Errorf("byte by byte: events %q, output % x; want %q, % x", got, out, wantEvents, wantOut)
	}
}

// tick is one step of a keepalive script: the time, what happens then, and
// what Tick answers.
type tick struct {
	at    time.Duration
	do    func(s *mqtt.Session, h *events) error
	next  time.Duration // -1: zero Time
	ping  bool          // Tick queues a PINGREQ
	fails bool          // Tick fails with ErrPingTimeout
}

func feedAt(at time.Duration, data []byte) func(*mqtt.Session, *events) error {
	return func(s *mqtt.Session, h *events) error { return s.Feed(t0.Add(at), data, h) }
}

func TestKeepalive(t *testing.T) {
	const s30 = 30 * time.Second
	publishAt := func(at time.Duration) func(*mqtt.Session, *events) error {
		return func(s *mqtt.Session, _ *events) error {
			_, _, err := s.Publish(t0.Add(at), mqtt.Message{Topic: "a"})
			return err
		}
	}
	for _, tc := range []struct {
		name      string
		keepalive time.Duration
		script    []tick
	}{
		{"ping when idle, answered", s30, []tick{
			{at: 0, next: s30},
			{at: time.Second, do: feedAt(time.Second, connack(false, 0)), next: s30},
			{at: s30 - 1, next: s30},
			{at: s30, next: 2 * s30, ping: true},
			{at: s30 + time.Second, do: feedAt(s30+time.Second, pingresp), next: 2 * s30},
			{at: 50 * time.Second, do: publishAt(50 * time.Second), next: 61 * time.Second},
			{at: 61 * time.Second, next: 91 * time.Second, ping: true},
			{at: 90 * time.Second, next: 91 * time.Second},
			{at: 91 * time.Second, next: -1, fails: true},
			{at: 200 * time.Second, next: -1},
		}},
		{"ping when nothing heard, though sending", s30, []tick{
			{at: 0, do: feedAt(0, connack(false, 0)), next: s30},
			{at: 20 * time.Second, do: publishAt(20 * time.Second), next: s30},
			{at: s30, do: publishAt(s30), next: 2 * s30, ping: true},
			{at: 40 * time.Second, do: publishAt(40 * time.Second), next: 2 * s30},
			{at: 59 * time.Second, next: 2 * s30},
			{at: 2 * s30, next: -1, fails: true},
		}},
		{"no CONNACK within keepalive", 5 * time.Second, []tick{
			{at: 0, next: 5 * time.Second},
			{at: 4 * time.Second, next: 5 * time.Second},
			{at: 5 * time.Second, next: -1, fails: true},
		}},
		{"no CONNACK within 10s without keepalive", 0, []tick{
			{at: 0, next: 10 * time.Second},
			{at: 9 * time.Second, next: 10 * time.Second},
			{at: 10 * time.Second, next: -1, fails: true},
		}},
		{"no keepalive, no ticks once connected", 0, []tick{
			{at: 0, do: feedAt(0, connack(false, 0)), next: -1},
			{at: time.Hour, next: -1},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := mqtt.NewSession(mqtt.Options{ClientID: "a", Keepalive: tc.keepalive})
			s.Start(t0)
			h := new(events)
			for _, step := range tc.script {
				if step.do != nil {
					if err := step.do(s, h); err != nil {
						t.Fatalf("at %v: %v", step.at, err)
					}
				}
				next, err := s.Tick(at(step.at))
				if step.fails != errors.Is(err, mqtt.ErrPingTimeout) || (!step.fails && err != nil) {
					t.Fatalf("at %v: Tick error %v, want a timeout %t", step.at, err, step.fails)
				}
				want := time.Time{}
				if step.next >= 0 {
					want = at(step.next)
				}
				if !next.Equal(want) {
					t.Fatalf("at %v: next tick %v, want %v", step.at, next.Sub(t0), step.next)
				}
				out := s.Output()
				if ping := bytes.Equal(out, []byte{0xc0, 0}); ping != step.ping || (!ping && len(out) > 0) {
					t.Fatalf("at %v: Output() = % x, want a PINGREQ %t", step.at, out, step.ping)
				}
			}
		})
	}
}

func TestDisconnect(t *testing.T) {
	s, _ := connected(t, mqtt.Options{ClientID: "a", Keepalive: time.Minute})
	if p := s.Disconnect(); !bytes.Equal(p, []byte{0xe0, 0}) {
		t.Errorf("Disconnect() = % x, want e0 00", p)
	}
	if s.Connected() {
		t.Error("connected after Disconnect")
	}
	if _, _, err := s.Publish(t0, mqtt.Message{Topic: "a"}); !errors.Is(err, mqtt.ErrNotConnected) {
		t.Errorf("Publish after Disconnect = %v, want ErrNotConnected", err)
	}
	if next, err := s.Tick(at(time.Hour)); !next.IsZero() || err != nil {
		t.Errorf("Tick after Disconnect = %v, %v; want no tick", next, err)
	}
}
