package mqtt_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/iogate/iogate/reactor"
	"github.com/iogate/iogate/reactor/reactortest"
	"github.com/iogate/iogate/resources/mqtt"
)

// A real broker, real reactors, real sockets: each client is a Session
// driven by a reactor of its own through a Dialed connection.

// client is one session on its own reactor. Its handler's calls, its
// errors and its disconnection arrive as lines on events.
type client struct {
	t      *testing.T
	loop   *reactortest.Loop
	sess   *mqtt.Session
	id     reactor.ID
	events chan string
}

// handler forwards a session's events to its client's channel.
type handler chan string

func (h handler) Connected(present bool) { h <- fmt.Sprintf("connected %t", present) }
func (h handler) Message(topic string, payload []byte, retain bool) {
	h <- fmt.Sprintf("message %s %q", topic, payload)
}
func (h handler) Acked(id uint16) { h <- fmt.Sprintf("acked %d", id) }
func (h handler) Subscribed(id uint16, granted []byte) {
	h <- fmt.Sprintf("subscribed %d %v", id, granted)
}

// dial connects a client to addr, through TLS when conf is set. The
// session starts when the reactor reports the connection up.
func dial(t *testing.T, addr string, conf *tls.Config, o mqtt.Options) *client {
	t.Helper()
	c := &client{t: t, sess: mqtt.NewSession(o), events: make(chan string, 64)}
	svc := reactortest.NewRecorder()
	svc.OnConnected = func(r *reactor.Reactor, id reactor.ID) {
		c.send(r, id, c.sess.Start(r.Now()))
	}
	svc.OnReceived = func(r *reactor.Reactor, id reactor.ID, data []byte) {
		err := c.sess.Feed(r.Now(), data, handler(c.events))
		c.send(r, id, c.sess.Output())
		if err != nil {
			c.events <- "error " + err.Error()
			if res, err := r.Unregister(id); err == nil {
				res.Close()
			}
		}
	}
	svc.OnDisconnected = func(r *reactor.Reactor, id reactor.ID, res reactor.Resource, cause error) {
		res.Close()
		c.events <- fmt.Sprintf("disconnected %v", cause)
	}
	svc.OnShutdown = func(r *reactor.Reactor, held map[reactor.ID]reactor.Resource) {
		for _, res := range held {
			res.Close()
		}
	}
	c.loop = reactortest.Start(t, svc, reactor.Options{})
	conn, err := mqtt.Dial(context.Background(), addr, conf)
	if err != nil {
		t.Fatal(err)
	}
	c.id = c.loop.Connect(conn)
	return c
}

func (c *client) send(r *reactor.Reactor, id reactor.ID, packet []byte) {
	if len(packet) == 0 {
		return
	}
	if err := r.Send(id, packet); err != nil {
		c.t.Errorf("send: %v", err)
	}
}

// next returns the client's next event.
func (c *client) next() string {
	c.t.Helper()
	select {
	case e := <-c.events:
		return e
	case <-time.After(reactortest.Deadline):
		c.t.Fatal("no event before the deadline")
		return ""
	}
}

// expect waits for the events given, in any order, and fails on an event
// it did not expect.
func (c *client) expect(want ...string) {
	c.t.Helper()
	pending := make(map[string]int)
	for _, w := range want {
		pending[w]++
	}
	for len(pending) > 0 {
		e := c.next()
		if pending[e] == 0 {
			c.t.Fatalf("event %q, want %q", e, want)
		}
		if pending[e]--; pending[e] == 0 {
			delete(pending, e)
		}
	}
}

// do runs f on the client's loop with the session's connection.
func (c *client) do(f func(r *reactor.Reactor)) {
	c.t.Helper()
	c.loop.Do(f)
}

func (c *client) publish(m mqtt.Message) uint16 {
	c.t.Helper()
	var id uint16
	var err error
	c.do(func(r *reactor.Reactor) {
		var packet []byte
		if id, packet, err = c.sess.Publish(r.Now(), m); err == nil {
			c.send(r, c.id, packet)
		}
	})
	if err != nil {
		c.t.Fatal(err)
	}
	return id
}

func (c *client) subscribe(filters ...string) {
	c.t.Helper()
	var id uint16
	var err error
	c.do(func(r *reactor.Reactor) {
		var packet []byte
		if id, packet, err = c.sess.Subscribe(r.Now(), filters, 1); err == nil {
			c.send(r, c.id, packet)
		}
	})
	if err != nil {
		c.t.Fatal(err)
	}
	granted := strings.Repeat(" 1", len(filters))[1:]
	c.expect(fmt.Sprintf("subscribed %d [%s]", id, granted))
}

// drop closes the connection without DISCONNECT, as a crash or a pulled
// cable would.
func (c *client) drop() {
	c.t.Helper()
	c.do(func(r *reactor.Reactor) {
		if res, err := r.Unregister(c.id); err == nil {
			res.Close()
		}
	})
}

// leave sends a last message and DISCONNECT and closes at once, as a
// gateway stopping does.
func (c *client) leave(last mqtt.Message) {
	c.t.Helper()
	c.do(func(r *reactor.Reactor) {
		_, packet, err := c.sess.Publish(r.Now(), last)
		if err != nil {
			c.t.Error(err)
			return
		}
		c.send(r, c.id, packet)
		c.send(r, c.id, c.sess.Disconnect())
		if res, err := r.Unregister(c.id); err == nil {
			res.Close()
		}
	})
}

func startBroker(t *testing.T) *mqtt.Broker {
	t.Helper()
	b, err := mqtt.StartBroker("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// transports runs a test over plain TCP and over TLS through the pump.
func transports(t *testing.T, test func(t *testing.T, addr string, conf *tls.Config)) {
	t.Run("tcp", func(t *testing.T) {
		test(t, startBroker(t).Addr(), nil)
	})
	t.Run("tls", func(t *testing.T) {
		p := newPKI(t)
		test(t, startTLSBroker(t, p).TLSAddr(), &tls.Config{RootCAs: p.roots})
	})
}

func TestRoundTrip(t *testing.T) {
	transports(t, func(t *testing.T, addr string, conf *tls.Config) {
		c := dial(t, addr, conf, mqtt.Options{ClientID: "gw", CleanSession: true, Keepalive: 30 * time.Second})
		c.expect("connected false")
		c.subscribe("iogate/gw/+/tx", "echo/#")
		c.publish(mqtt.Message{Topic: "echo/0", Payload: []byte("at most once")})
		c.expect(`message echo/0 "at most once"`)
		id := c.publish(mqtt.Message{Topic: "echo/1", Payload: []byte("at least once"), QoS: 1})
		c.expect(fmt.Sprintf("acked %d", id), `message echo/1 "at least once"`)
		big := strings.Repeat("0123456789abcdef", 16<<10) // more than the reactor reads at once
		id = c.publish(mqtt.Message{Topic: "echo/big", Payload: []byte(big), QoS: 1})
		c.expect(fmt.Sprintf("acked %d", id), fmt.Sprintf("message echo/big %q", big))
		c.do(func(r *reactor.Reactor) {
			if n := c.sess.Inflight(); n != 0 {
				t.Errorf("Inflight() = %d after the acks", n)
			}
		})
	})
}

// The will goes out when the connection drops without DISCONNECT, and not
// when the gateway leaves properly; what it sent last before leaving
// reaches the broker, through the pump too.
func TestWill(t *testing.T) {
	transports(t, func(t *testing.T, addr string, conf *tls.Config) {
		watcher := dial(t, addr, conf, mqtt.Options{ClientID: "watcher", CleanSession: true})
		watcher.expect("connected false")
		watcher.subscribe("gw/status")

		will := &mqtt.Message{Topic: "gw/status", Payload: []byte("offline"), QoS: 1}
		// Each connection has its client id, so that none takes over
		// another's session at the broker, which may send the will.
		gw := dial(t, addr, conf, mqtt.Options{ClientID: "gw-1", CleanSession: true, Will: will})
		gw.expect("connected false")
		gw.drop()
		watcher.expect(`message gw/status "offline"`)

		gw = dial(t, addr, conf, mqtt.Options{ClientID: "gw-2", CleanSession: true, Will: will})
		gw.expect("connected false")
		gw.leave(mqtt.Message{Topic: "gw/status", Payload: []byte("stopped")})
		watcher.expect(`message gw/status "stopped"`)
		// The next message proves the will, had it gone out, came before.
		gw = dial(t, addr, conf, mqtt.Options{ClientID: "gw-3", CleanSession: true})
		gw.expect("connected false")
		id := gw.publish(mqtt.Message{Topic: "gw/status", Payload: []byte("back"), QoS: 1})
		gw.expect(fmt.Sprintf("acked %d", id))
		watcher.expect(`message gw/status "back"`)
	})
}

// A broker that goes away is seen as a disconnection, through the pump too.
func TestBrokerGone(t *testing.T) {
	transports(t, func(t *testing.T, addr string, conf *tls.Config) {
		c := dial(t, addr, conf, mqtt.Options{ClientID: "gw", CleanSession: true})
		c.expect("connected false")
		// A PUBLISH at QoS 3 is malformed: mochi hangs up on it.
		c.do(func(r *reactor.Reactor) { c.send(r, c.id, []byte{0x36, 5, 0, 1, 'a', 0, 1}) })
		if e := c.next(); e != "disconnected EOF" && e != "error "+mqtt.ErrClosedByBroker.Error() {
			t.Errorf("event %q, want the disconnection", e)
		}
	})
}

func TestDialAddress(t *testing.T) {
	b := startBroker(t)
	_, port, _ := net.SplitHostPort(b.Addr())
	c := dial(t, net.JoinHostPort("localhost", port), nil, mqtt.Options{ClientID: "gw", CleanSession: true})
	c.expect("connected false")

	for _, addr := range []string{"127.0.0.1", ":1883", "no-such-host.invalid:1883"} {
		if conn, err := mqtt.Dial(context.Background(), addr, nil); err == nil {
			conn.Close()
			t.Errorf("Dial(%q) succeeded", addr)
		} else if !strings.Contains(err.Error(), addr) {
			t.Errorf("Dial(%q) = %v, which does not name the address", addr, err)
		}
	}
}
