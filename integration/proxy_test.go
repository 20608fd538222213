package integration

import (
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// tcpProxy relays the gateway's connections to the broker, and can be
// killed, every connection closed and the listener with them, and started
// again on the same port: the network between them fails, not the broker.
type tcpProxy struct {
	t       *testing.T
	addr    string
	backend string
	wg      sync.WaitGroup

	mu    sync.Mutex
	l     net.Listener // nil while killed
	conns map[net.Conn]struct{}
}

func startProxy(t *testing.T, backend string) *tcpProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{t: t, addr: l.Addr().String(), backend: backend, conns: map[net.Conn]struct{}{}}
	p.serve(l)
	t.Cleanup(func() {
		p.kill()
		p.wg.Wait()
	})
	return p
}

func (p *tcpProxy) url() string { return "tcp://" + p.addr }

func (p *tcpProxy) serve(l net.Listener) {
	p.mu.Lock()
	p.l = l
	p.mu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			b, err := net.DialTimeout("tcp", p.backend, deadline)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			killed := p.l != l
			if !killed {
				p.conns[c], p.conns[b] = struct{}{}, struct{}{}
			}
			p.mu.Unlock()
			if killed { // killed while dialling
				c.Close()
				b.Close()
				return
			}
			p.wg.Add(2)
			go p.pipe(c, b)
			go p.pipe(b, c)
		}
	}()
}

// pipe copies src to dst; the end of either side closes both.
func (p *tcpProxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	io.Copy(dst, src)
	p.mu.Lock()
	delete(p.conns, src)
	delete(p.conns, dst)
	p.mu.Unlock()
	dst.Close()
	src.Close()
}

// kill closes the listener and every relayed connection.
func (p *tcpProxy) kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.l != nil {
		p.l.Close()
		p.l = nil
	}
	for c := range p.conns {
		c.Close()
	}
}

// restart listens again on the port it had.
func (p *tcpProxy) restart() {
	p.t.Helper()
	l, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatalf("proxy: listen again on %s: %v", p.addr, err)
	}
	p.serve(l)
}

// The network between the gateway and the broker fails for a few seconds
// in the middle of a stream from two devices: the gateway's connection is
// closed under it and its reconnects are refused, then the same address
// answers again. Every frame arrives, in order per device; frames sent
// again after the reconnect come before any new one.
func TestBrokerProxyOutage(t *testing.T) {
	t.Parallel()
	mq := startMosquitto(t)
	px := startProxy(t, strings.TrimPrefix(mq.url(), "tcp://"))
	devs := []*fakeDevice{plug(t, "left"), plug(t, "right")}
	sub := subscribe(t, mq.url(), prefix+"/#") // straight to the broker, never cut
	gw := startGatewayWith(t, gatewayOptions{}, px.url(), devs[0].toml(""), devs[1].toml(""))
	waitOnline(t, sub, devs...)

	// The outage's length is part of the scenario, not a wait for an event:
	// long enough for the gateway to be refused and back off.
	const outage = 3 * time.Second
	const perTick = 4
	frame := func(d *fakeDevice, i int) string { return fmt.Sprintf("%s-%06d", d.name, i) }
	written := 0 // frames written to each device, numbered from 1
	restartedAt := 0
	var killedAt time.Time
	// The status can reach the subscriber before the log line reaches the test.
	gw.log.waitUntil(t, "the first connection in the log", func() bool { return gw.log.count("mqtt: connected") > 0 })
	connected := gw.log.count("mqtt: connected")
	phase := "before"

	// The stream: perTick lines per device every 10 ms, through the three
	// phases; the ticker paces the devices.
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for step := 0; phase != "done"; step++ {
		if step > int(4*deadline/(10*time.Millisecond)) {
			t.Fatalf("the stream is still %s the outage after %d lines per device", phase, written)
		}
		<-tick.C
		for _, d := range devs {
			var b strings.Builder
			for i := written + 1; i <= written+perTick; i++ {
				b.WriteString(frame(d, i) + "\n")
			}
			d.write(b.String())
		}
		written += perTick
		switch phase {
		case "before":
			// Cut once the broker has had a good part of the stream.
			if len(sub.seen(devs[0].topic("rx"))) >= 200 {
				px.kill()
				killedAt, phase = time.Now(), "during"
			}
		case "during":
			if time.Since(killedAt) >= outage {
				px.restart()
				restartedAt, phase = written, "after"
			}
		case "after":
			if gw.log.count("mqtt: connected") > connected && written >= restartedAt+400 {
				phase = "done"
			}
		}
	}

	for _, d := range devs {
		got := sub.until(d.topic("rx"), frame(d, written))
		next, dups := 1, 0
		for k, p := range got {
			name, num, _ := strings.Cut(p, "-")
			i, err := strconv.Atoi(num)
			if name != d.name || err != nil {
				t.Fatalf("%s: frame %d is %q, not one the device sent", d.name, k+1, p)
			}
			switch {
			case i == next:
				next++
			case i < next && next <= restartedAt:
				dups++ // sent again after the reconnect, before anything new
			default:
				t.Fatalf("%s: after %s came %s (%d frames in, %d written before the proxy came back); all: %q",
					d.name, frame(d, next-1), p, k+1, restartedAt, got)
			}
		}
		t.Logf("%s: %d frames, %d sent again around the reconnect", d.name, written, dups)
	}
}
