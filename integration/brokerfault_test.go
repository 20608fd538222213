package integration

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.mqtt.golang/packets"
)

// fakeBroker is a TCP listener of the test's own that plays an MQTT broker,
// well or badly: each connection it accepts goes to serve, numbered from
// 1, and it records what the gateway sends.
type fakeBroker struct {
	t     *testing.T
	l     net.Listener
	serve func(c *brokerConn)
	wg    sync.WaitGroup

	mu        sync.Mutex
	conns     []*brokerConn
	more      chan struct{} // closed when something is recorded
	publishes []published
	pings     map[int]int  // PINGREQs per connection
	hungUp    map[int]bool // connections the gateway closed
}

// published is a PUBLISH the gateway sent on connection conn.
type published struct {
	conn           int
	topic, payload string
}

// brokerConn is one connection to the fake broker.
type brokerConn struct {
	net.Conn
	b *fakeBroker
	n int
}

func startFakeBroker(t *testing.T, serve func(c *brokerConn)) *fakeBroker {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &fakeBroker{t: t, l: l, serve: serve, more: make(chan struct{}), pings: map[int]int{}, hungUp: map[int]bool{}}
	b.wg.Add(1)
	go b.accept()
	t.Cleanup(func() {
		l.Close()
		b.mu.Lock()
		for _, c := range b.conns {
			c.Close()
		}
		b.mu.Unlock()
		b.wg.Wait()
	})
	return b
}

func (b *fakeBroker) url() string { return "tcp://" + b.l.Addr().String() }

func (b *fakeBroker) accept() {
	defer b.wg.Done()
	for {
		conn, err := b.l.Accept()
		if err != nil {
			return
		}
		var c *brokerConn
		b.record(func() {
			c = &brokerConn{Conn: conn, b: b, n: len(b.conns) + 1}
			b.conns = append(b.conns, c)
		})
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			defer c.Close()
			b.serve(c)
		}()
	}
}

// record changes the broker's state under its lock, and wakes waiters.
func (b *fakeBroker) record(change func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	change()
	close(b.more)
	b.more = make(chan struct{})
}

// waitUntil waits until cond, called under the broker's lock, holds.
func (b *fakeBroker) waitUntil(what string, cond func() bool) {
	b.t.Helper()
	timeout := time.NewTimer(deadline)
	defer timeout.Stop()
	for {
		b.mu.Lock()
		ok, more := cond(), b.more
		b.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-more:
		case <-timeout.C:
			b.t.Fatalf("fake broker: no %s within %v", what, deadline)
		}
	}
}

// read returns the next packet from the gateway, recording it; at an error
// it records whether the gateway hung up.
func (c *brokerConn) read() (packets.ControlPacket, error) {
	p, err := packets.ReadPacket(c)
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			c.b.record(func() { c.b.hungUp[c.n] = true })
		}
		return nil, err
	}
	switch p := p.(type) {
	case *packets.PublishPacket:
		c.b.record(func() { c.b.publishes = append(c.b.publishes, published{c.n, p.TopicName, string(p.Payload)}) })
	case *packets.PingreqPacket:
		c.b.record(func() { c.b.pings[c.n]++ })
	}
	return p, nil
}

// connect reads the gateway's CONNECT.
func (c *brokerConn) connect() bool {
	p, err := c.read()
	if err != nil {
		c.b.t.Errorf("fake broker, connection %d: no CONNECT: %v", c.n, err)
		return false
	}
	if _, ok := p.(*packets.ConnectPacket); !ok {
		c.b.t.Errorf("fake broker, connection %d: %v first, want CONNECT", c.n, p)
		return false
	}
	return true
}

// send writes raw bytes to the gateway.
func (c *brokerConn) send(data []byte) {
	c.Write(data) // a gateway that hung up already is what some tests want
}

// connack is CONNACK, connection accepted.
var connack = []byte{packets.Connack << 4, 2, 0, 0}

// drain reads what the gateway sends, answering nothing, until it hangs up.
func (c *brokerConn) drain() {
	for {
		if _, err := c.read(); err != nil {
			return
		}
	}
}

// silence reads what the gateway sends and answers nothing, not even a
// TLS handshake, until the gateway hangs up.
func (c *brokerConn) silence() {
	if _, err := io.Copy(io.Discard, c.Conn); err == nil {
		c.b.record(func() { c.b.hungUp[c.n] = true })
	}
}

// serveWell answers as a broker does: CONNACK, PUBACK, SUBACK, PINGRESP.
func (c *brokerConn) serveWell() { c.serveHolding(nil) }

// serveHolding is serveWell that acknowledges no PUBLISH once hold is
// closed: a broker that is there but does not take the messages.
func (c *brokerConn) serveHolding(hold <-chan struct{}) {
	if !c.connect() {
		return
	}
	c.send(connack)
	for {
		p, err := c.read()
		if err != nil {
			return
		}
		var reply packets.ControlPacket
		switch p := p.(type) {
		case *packets.PublishPacket:
			if p.Qos == 1 && !closed(hold) {
				ack := packets.NewControlPacket(packets.Puback).(*packets.PubackPacket)
				ack.MessageID = p.MessageID
				reply = ack
			}
		case *packets.SubscribePacket:
			ack := packets.NewControlPacket(packets.Suback).(*packets.SubackPacket)
			ack.MessageID, ack.ReturnCodes = p.MessageID, p.Qoss
			reply = ack
		case *packets.PingreqPacket:
			reply = packets.NewControlPacket(packets.Pingresp)
		case *packets.DisconnectPacket:
			return
		}
		if reply != nil {
			var buf bytes.Buffer
			reply.Write(&buf)
			c.send(buf.Bytes())
		}
	}
}

func closed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// topics returns the topics published on over connection n.
func (b *fakeBroker) topics(n int) map[string]bool {
	out := map[string]bool{}
	for _, p := range b.publishes {
		if p.conn == n {
			out[p.topic] = true
		}
	}
	return out
}

// rx returns the payloads published on topic over connection n.
func (b *fakeBroker) rx(n int, topic string) []string {
	var out []string
	for _, p := range b.publishes {
		if p.conn == n && p.topic == topic {
			out = append(out, p.payload)
		}
	}
	return out
}

// A broker that takes the TCP connection and never answers CONNECT is
// given up on after the keepalive, and tried again; so is one that answers
// CONNECT and then stops answering PINGREQ. Frames wait meanwhile, and
// reach the broker once one answers.
func TestBrokerStopsAnswering(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name    string
		mute    func(c *brokerConn) // how the first two connections go
		why     string              // in the log line about them
		times   int                 // how many connections go mute
		pinged  bool                // the gateway must have pinged
		connack bool                // the gateway got CONNACK, so the connection was up
	}{
		// Twice, to see the gateway try again after a timeout that is only
		// logged once.
		{name: "no CONNACK", mute: func(c *brokerConn) { c.drain() }, times: 2, why: "no CONNACK within 2s"},
		{name: "no PINGRESP", mute: func(c *brokerConn) {
			if c.connect() {
				c.send(connack)
				c.drain()
			}
		}, times: 1, why: "no PINGRESP within 2s", pinged: true, connack: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			mute := c.times
			b := startFakeBroker(t, func(bc *brokerConn) {
				if bc.n <= mute {
					c.mute(bc)
				} else {
					bc.serveWell()
				}
			})
			dev := plug(t, "meter")
			gw := startGatewayWith(t, gatewayOptions{keepalive: "2s"}, b.url(), dev.toml(""))
			b.waitUntil("first connection", func() bool { return len(b.conns) >= 1 })
			dev.write("waited-1\n")
			b.waitUntil("connection after the mute ones", func() bool { return len(b.conns) > mute })
			dev.write("waited-2\n")

			// Each mute connection was dropped by the gateway, after a ping
			// when it was up.
			b.waitUntil("hang-ups of the mute connections", func() bool {
				for n := 1; n <= mute; n++ {
					if !b.hungUp[n] {
						return false
					}
				}
				return true
			})
			b.mu.Lock()
			for n := 1; n <= mute; n++ {
				if c.pinged && b.pings[n] == 0 {
					t.Errorf("no PINGREQ on mute connection %d", n)
				}
			}
			b.mu.Unlock()
			msg, level := "mqtt: cannot connect", "warning" // rate-limited: one line for both
			if c.connack {
				msg = "mqtt: connection lost" // one line each
			}
			es := gw.log.entries(func(e entry) bool {
				return e.is(level, msg) && strings.Contains(fmt.Sprint(e["error"]), c.why)
			})
			if len(es) == 0 || (c.connack && len(es) < mute) {
				t.Errorf("%d log lines %q saying %q, want one per mute connection (or one, rate-limited)", len(es), msg, c.why)
			}

			// The broker that answers gets every frame, once, in order.
			rx := dev.topic("rx")
			b.waitUntil("both frames on the answering connection", func() bool { return len(b.rx(mute+1, rx)) >= 2 })
			b.mu.Lock()
			got := b.rx(mute+1, rx)
			b.mu.Unlock()
			if want := []string{"waited-1", "waited-2"}; !slices.Equal(got, want) {
				t.Errorf("frames on the answering connection: %q, want %q", got, want)
			}
		})
	}
}

// A TLS broker that takes the TCP connection and never answers the
// handshake is given up on after the connect timeout (10 s), and tried
// again.
func TestBrokerStallsTLS(t *testing.T) {
	t.Parallel()
	b := startFakeBroker(t, func(c *brokerConn) { c.silence() })
	dev := plug(t, "meter")
	gw := startGatewayWith(t, gatewayOptions{keepalive: "2s"}, "ssl://"+b.l.Addr().String(), dev.toml(""))
	b.waitUntil("hang-up of the first connection", func() bool { return b.hungUp[1] })
	b.waitUntil("second connection", func() bool { return len(b.conns) >= 2 })
	es := gw.log.entries(func(e entry) bool {
		return e.is("warning", "mqtt: cannot connect") && strings.Contains(fmt.Sprint(e["error"]), "within 10s")
	})
	if len(es) == 0 {
		t.Error("no log line says the broker did not complete the connection within 10s")
	}
}

// A broker that sends nonsense (garbage, a remaining length MQTT cannot
// have or the gateway will not buffer, a QoS 2 PUBLISH it never asked
// for, a second CONNACK, a packet cut short) is dropped with a log line
// that says what was wrong, and connected to again; the gateway never
// falls over, and the device's frames wait for a broker that behaves.
func TestBrokerNonsense(t *testing.T) {
	t.Parallel()
	qos2 := packets.NewControlPacket(packets.Publish).(*packets.PublishPacket)
	qos2.Qos, qos2.MessageID, qos2.TopicName, qos2.Payload = 2, 7, prefix+"/meter/tx", []byte("exactly once?")
	var qos2Bytes bytes.Buffer
	qos2.Write(&qos2Bytes)
	early := packets.NewControlPacket(packets.Publish).(*packets.PublishPacket)
	early.TopicName, early.Payload = prefix+"/meter/tx", []byte("too early")
	var earlyBytes bytes.Buffer
	early.Write(&earlyBytes)

	kinds := []struct {
		name    string
		connack bool   // CONNACK first: the connection is up when the nonsense comes
		data    []byte // then this
		hangUp  bool   // then the fake broker ends the connection itself
		why     string // in the gateway's log line
	}{
		{"garbage", true, []byte{0x00, 0xde, 0xad, 0xbe, 0xef}, false, "protocol violation by the broker: unexpected reserved packet type 0"},
		{"remaining length of 5 bytes", true, []byte{0x30, 0xff, 0xff, 0xff, 0xff, 0x01}, false, "remaining length longer than 4 bytes"},
		{"256 MiB PUBLISH", true, []byte{0x30, 0xff, 0xff, 0xff, 0x7f}, false, "PUBLISH of 268435455 bytes, limit"},
		{"QoS 2 PUBLISH", true, qos2Bytes.Bytes(), false, "PUBLISH at QoS 2"},
		{"PUBLISH to a wildcard", true, []byte{0x30, 5, 0, 3, 'a', '/', '#'}, false, "invalid topic"},
		{"second CONNACK", true, connack, false, "a second CONNACK"},
		{"PUBLISH before CONNACK", false, earlyBytes.Bytes(), false, "PUBLISH before CONNACK"},
		{"packet cut short", true, []byte{0x30, 0x20, 0x00, 0x05, 'i', 'o'}, true, "EOF"},
	}
	const rounds = 2 // each kind twice: dropping it once must not leave the gateway unable to do it again
	bad := rounds * len(kinds)
	b := startFakeBroker(t, func(c *brokerConn) {
		if c.n > bad {
			c.serveWell()
			return
		}
		k := kinds[(c.n-1)%len(kinds)]
		if !c.connect() {
			return
		}
		if k.connack {
			c.send(connack)
		}
		c.send(k.data)
		if k.hangUp {
			// Closed for writing only, so that what the gateway sent
			// meanwhile does not turn the end into a reset.
			c.Conn.(*net.TCPConn).CloseWrite()
		}
		c.drain()
	})
	dev := plug(t, "meter")
	// The backoff grows at each connection the broker drops at once; kept
	// short here so that the test takes seconds.
	gw := startGatewayWith(t, gatewayOptions{keepalive: "2s", mqtt: "reconnect_min = \"100ms\"\nreconnect_max = \"300ms\""}, b.url(), dev.toml("writable = true"))
	var want []string
	for i := 1; i <= 3; i++ {
		b.waitUntil(fmt.Sprintf("connection %d", i*bad/3), func() bool { return len(b.conns) >= i*bad/3 })
		line := fmt.Sprintf("while the broker talks nonsense %d", i)
		dev.write(line + "\n")
		want = append(want, line)
	}
	b.waitUntil("a connection after the nonsense", func() bool { return len(b.conns) > bad })

	// The gateway hung up on every connection that sent nonsense.
	b.waitUntil("hang-ups", func() bool {
		for n := 1; n <= bad; n++ {
			if !b.hungUp[n] {
				return false
			}
		}
		return true
	})
	for _, k := range kinds {
		msg := "mqtt: connection lost" // one line each time
		times := rounds
		if !k.connack {
			msg, times = "mqtt: cannot connect", 1 // rate-limited
		}
		es := gw.log.entries(func(e entry) bool {
			return e.is("warning", msg) && strings.Contains(fmt.Sprint(e["error"]), k.why)
		})
		if len(es) < times {
			t.Errorf("%s: %d log lines %q saying %q, want %d", k.name, len(es), msg, k.why, times)
		}
	}

	// Frames were read all along, and the broker that behaves gets them.
	rx := dev.topic("rx")
	b.waitUntil("the frames on the good connection", func() bool { return len(b.rx(bad+1, rx)) >= len(want) })
	b.mu.Lock()
	got := b.rx(bad+1, rx)
	b.mu.Unlock()
	if !slices.Equal(got, want) {
		t.Errorf("frames on the good connection: %q, want %q", got, want)
	}
	if es := gw.log.entries(func(e entry) bool { return e["level"] == "fatal" || e["level"] == "panic" }); len(es) > 0 {
		t.Errorf("nonsense from the broker was fatal: %v", es)
	}
}
