package integration

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// mosquitto is a broker started by a test on a free loopback port. It can
// be killed and started again on the same port.
type mosquitto struct {
	t    *testing.T
	bin  string
	conf string
	port int
	p    *proc
	log  *logLines // everything it printed, over every run

	// config writes mosquitto.conf for the two ports: port, for the
	// test's client, and port2, free for a listener of the test's own.
	config func(port, port2 int) string
	port2  int
}

// startMosquitto starts a broker of the test's own, and waits until it
// accepts connections.
func startMosquitto(t *testing.T) *mosquitto {
	t.Helper()
	return startMosquittoWith(t, func(port, _ int) string { return plainListener(port) })
}

// plainListener is the configuration of the tests' brokers: anonymous
// clients on one loopback port. No cap on the messages queued for a slow
// subscriber: a burst of frames must not be dropped on the test's side of
// the broker.
func plainListener(port int) string {
	return fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 0\n", port)
}

// startMosquittoWith starts a broker with the configuration config
// writes, and waits until it accepts connections on its listeners.
func startMosquittoWith(t *testing.T, config func(port, port2 int) string) *mosquitto {
	t.Helper()
	m := &mosquitto{t: t, bin: need(t, "mosquitto"), conf: filepath.Join(t.TempDir(), "mosquitto.conf"),
		log: newLogLines(), config: config}
	var err error
	for range 3 { // the free ports may be taken before mosquitto binds them
		m.port, m.port2 = freePort(t), freePort(t)
		if err = m.start(); err == nil {
			return m
		}
	}
	t.Fatal(err)
	return nil
}

// restart starts the broker again on the same port, with nothing of the
// previous run's state.
func (m *mosquitto) restart() {
	m.t.Helper()
	if err := m.start(); err != nil {
		m.t.Fatal(err)
	}
}

func (m *mosquitto) start() error {
	m.t.Helper()
	if err := os.WriteFile(m.conf, []byte(m.config(m.port, m.port2)), 0o644); err != nil {
		m.t.Fatal(err)
	}
	ready := make(chan struct{})
	up := false
	p := start(m.t, func(line string) bool {
		m.log.add(line)
		// "mosquitto version 2.0.11 running": the listeners are bound.
		if !up && strings.Contains(line, "mosquitto version") && strings.HasSuffix(line, " running") {
			close(ready)
			up = true
		}
		return false
	}, m.bin, "-c", m.conf)
	select {
	case <-ready:
		m.p = p
		return nil
	case <-p.done:
		return fmt.Errorf("mosquitto on port %d exited: %v", m.port, p.err)
	case <-time.After(deadline):
		m.t.Fatalf("mosquitto on port %d did not start within %v", m.port, deadline)
		return nil
	}
}

// kill stops the broker the hard way: no goodbye to its clients.
func (m *mosquitto) kill() { m.p.kill(syscall.SIGKILL) }

func (m *mosquitto) url() string { return fmt.Sprintf("tcp://127.0.0.1:%d", m.port) }

// connections is the number of connections the broker has accepted on
// port so far, as its log tells.
func (m *mosquitto) connections(port int) int {
	// "1795316505: New connection from 127.0.0.1:55458 on port 43459."
	return m.log.count(fmt.Sprintf(" on port %d.", port), "New connection from ")
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// msg is one MQTT message a client received.
type msg struct {
	topic, payload string
	retained       bool
}

// client is the test's MQTT client: it records what arrives on its
// subscriptions, and each topic is read in order with next.
type client struct {
	t *testing.T
	c paho.Client

	mu      sync.Mutex
	byTopic map[string][]msg
	read    map[string]int // per topic, how many next has returned
	more    chan struct{}  // closed when a message arrives
}

var clients atomic.Int64

// subscribe connects a client to the broker at url and subscribes to
// filters at QoS 1, returning once the broker has acknowledged.
func subscribe(t *testing.T, url string, filters ...string) *client {
	t.Helper()
	c := &client{t: t, byTopic: map[string][]msg{}, read: map[string]int{}, more: make(chan struct{})}
	opts := paho.NewClientOptions().
		AddBroker(url).
		SetClientID(fmt.Sprintf("test-%d-%d", os.Getpid(), clients.Add(1))).
		SetCleanSession(true).
		SetAutoReconnect(false).
		SetConnectTimeout(deadline).
		SetOrderMatters(true)
	c.c = paho.NewClient(opts)
	if tok := c.c.Connect(); !tok.WaitTimeout(deadline) || tok.Error() != nil {
		t.Fatalf("mqtt connect %s: %v", url, tok.Error())
	}
	t.Cleanup(func() { c.c.Disconnect(50) })
	subs := map[string]byte{}
	for _, f := range filters {
		subs[f] = 1
	}
	tok := c.c.SubscribeMultiple(subs, func(_ paho.Client, m paho.Message) {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.byTopic[m.Topic()] = append(c.byTopic[m.Topic()], msg{m.Topic(), string(m.Payload()), m.Retained()})
		close(c.more)
		c.more = make(chan struct{})
	})
	if !tok.WaitTimeout(deadline) || tok.Error() != nil {
		t.Fatalf("mqtt subscribe %v: %v", filters, tok.Error())
	}
	for f, qos := range tok.(*paho.SubscribeToken).Result() {
		if qos == 0x80 {
			t.Fatalf("mqtt subscribe %s: refused", f)
		}
	}
	return c
}

// next returns the next message on topic, waiting for it.
func (c *client) next(topic string) msg {
	c.t.Helper()
	m, ok := c.await(topic, time.Now().Add(deadline))
	if !ok {
		c.t.Fatalf("no message on %s within %v", topic, deadline)
	}
	return m
}

// until returns the payloads of the next messages on topic up to and
// including last; if last does not come, it fails the test with what came.
func (c *client) until(topic, last string) []string {
	c.t.Helper()
	var got []string
	end := time.Now().Add(deadline)
	for len(got) == 0 || got[len(got)-1] != last {
		m, ok := c.await(topic, end)
		if !ok {
			c.t.Fatalf("no %q on %s within %v; got %q", last, topic, deadline, got)
		}
		got = append(got, m.payload)
	}
	return got
}

// await returns the next message on topic, or false at the deadline.
func (c *client) await(topic string, end time.Time) (msg, bool) {
	timeout := time.NewTimer(time.Until(end))
	defer timeout.Stop()
	for {
		c.mu.Lock()
		q, i := c.byTopic[topic], c.read[topic]
		more := c.more
		if i < len(q) {
			c.read[topic]++
		}
		c.mu.Unlock()
		if i < len(q) {
			return q[i], true
		}
		select {
		case <-more:
		case <-timeout.C:
			return msg{}, false
		}
	}
}

// expect checks that the next messages on topic are exactly want, in
// order.
func (c *client) expect(topic string, want ...string) {
	c.t.Helper()
	for i, w := range want {
		if m := c.next(topic); m.payload != w {
			c.t.Fatalf("%s: message %d is %q, want %q", topic, i+1, m.payload, w)
		}
	}
}

// waitFor skips messages on topic until one has payload, and returns it.
func (c *client) waitFor(topic, payload string) msg {
	c.t.Helper()
	for {
		if m := c.next(topic); m.payload == payload {
			return m
		}
	}
}

// seen returns the payloads received on topic so far, read or not.
func (c *client) seen(topic string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, m := range c.byTopic[topic] {
		out = append(out, m.payload)
	}
	return out
}

// publish sends a message at QoS 1 and waits for the broker's PUBACK.
func (c *client) publish(topic, payload string) {
	c.t.Helper()
	if tok := c.c.Publish(topic, 1, false, payload); !tok.WaitTimeout(deadline) || tok.Error() != nil {
		c.t.Fatalf("mqtt publish %s: %v", topic, tok.Error())
	}
}
