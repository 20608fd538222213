package mqtt_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/iogate/iogate/reactor"
	"github.com/iogate/iogate/resources/mqtt"
)

// printer is a Handler that prints what the broker says.
type printer struct{}

func (printer) Connected(present bool) { fmt.Println("connected, session present:", present) }
func (printer) Message(topic string, payload []byte, retain bool) {
	fmt.Printf("message on %s: %s\n", topic, payload)
}
func (printer) Acked(id uint16)                      { fmt.Println("acked", id) }
func (printer) Subscribed(id uint16, granted []byte) { fmt.Println("subscribed", id, granted) }

// A Session without a network: bytes in, events and bytes out. The broker's
// side is written out by hand.
func ExampleSession() {
	s := mqtt.NewSession(mqtt.Options{ClientID: "edge-01", CleanSession: true, Keepalive: 30 * time.Second})
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	fmt.Printf("send CONNECT, %d bytes\n", len(s.Start(now)))

	// CONNACK, accepted.
	if err := s.Feed(now, []byte{0x20, 2, 0, 0}, printer{}); err != nil {
		log.Fatal(err)
	}
	id, packet, err := s.Publish(now, mqtt.Message{Topic: "iogate/edge-01/gps/rx", Payload: []byte("$GPGGA"), QoS: 1})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("send PUBLISH %d, %d bytes; in flight: %d\n", id, len(packet), s.Inflight())

	// PUBACK for it, and a QoS 1 command in the same read.
	in := []byte{0x40, 2, 0, 1, 0x32, 12, 0, 3, 'c', 'm', 'd', 0, 9, 'r', 'e', 's', 'e'}
	if err := s.Feed(now, in, printer{}); err != nil {
		log.Fatal(err)
	}
	// Its last byte comes in the next read.
	if err := s.Feed(now, []byte{'t'}, printer{}); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("send % x\n", s.Output())

	next, _ := s.Tick(now)
	fmt.Println("tick again in", next.Sub(now))
	// Output:
	// send CONNECT, 21 bytes
	// connected, session present: false
	// send PUBLISH 1, 33 bytes; in flight: 1
	// acked 1
	// message on cmd: reset
	// send 40 02 00 09
	// tick again in 30s
}

// gateway is a reactor handler that connects to a broker, subscribes to
// its own topic, publishes to it, and stops once the message came back and
// was acknowledged.
type gateway struct {
	reactor.Base
	session *mqtt.Session
	conn    reactor.ID
	r       *reactor.Reactor // the reactor of the call under way
	acked   bool
	echoed  bool
}

// Connected: the broker can be spoken to. The session starts there.
func (g *gateway) Connected(r *reactor.Reactor, id reactor.ID) {
	r.Send(id, g.session.Start(r.Now()))
}

// Received feeds the session, which calls the mqtt.Handler methods below,
// and sends the replies it queued.
func (g *gateway) Received(r *reactor.Reactor, id reactor.ID, data []byte) {
	g.r = r
	err := g.session.Feed(r.Now(), data, broker{g})
	r.Send(id, g.session.Output())
	if err != nil {
		log.Print(err)
		r.Stop()
	}
}

func (g *gateway) Disconnected(r *reactor.Reactor, _ reactor.ID, res reactor.Resource, cause error) {
	res.Close()
	log.Print(cause)
	r.Stop()
}

// broker is the gateway's mqtt.Handler: a type of its own, since
// reactor.ConnectHandler has a Connected method too.
type broker struct{ g *gateway }

func (b broker) Connected(bool) {
	_, packet, err := b.g.session.Subscribe(b.g.r.Now(), []string{"iogate/edge-01/#"}, 1)
	if err != nil {
		log.Fatal(err)
	}
	b.g.r.Send(b.g.conn, packet)
}

func (b broker) Subscribed(uint16, []byte) {
	_, packet, err := b.g.session.Publish(b.g.r.Now(), mqtt.Message{Topic: "iogate/edge-01/status", Payload: []byte("online"), QoS: 1})
	if err != nil {
		log.Fatal(err)
	}
	b.g.r.Send(b.g.conn, packet)
}

func (b broker) Message(topic string, payload []byte, _ bool) {
	fmt.Printf("%s: %s\n", topic, payload)
	b.g.echoed = true
	b.done()
}

func (b broker) Acked(uint16) {
	b.g.acked = true
	b.done()
}

func (b broker) done() {
	if b.g.acked && b.g.echoed {
		b.g.r.Send(b.g.conn, b.g.session.Disconnect())
		b.g.r.Stop()
	}
}

// The broker connection as a reactor resource, against the embedded broker.
func Example() {
	b, err := mqtt.StartBroker("127.0.0.1:0", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()

	g := &gateway{session: mqtt.NewSession(mqtt.Options{ClientID: "iogate-edge-01", CleanSession: true})}
	r, err := reactor.New(g, reactor.Options{})
	if err != nil {
		log.Fatal(err)
	}
	conn, err := mqtt.Dial(context.Background(), b.Addr(), nil) // a *tls.Config for ssl://
	if err != nil {
		log.Fatal(err)
	}
	if g.conn, err = r.Connect(conn, g); err != nil {
		log.Fatal(err)
	}
	if err := r.Run(); err != nil {
		log.Fatal(err)
	}
	// Output: iogate/edge-01/status: online
}
