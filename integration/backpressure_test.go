package integration

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/eclipse/paho.mqtt.golang/packets"
)

// serveLate answers as a broker does, but holds every PUBACK until gate is
// closed: a broker that is there, and slower than the gateway's devices.
func (c *brokerConn) serveLate(gate <-chan struct{}) {
	if !c.connect() {
		return
	}
	var mu sync.Mutex
	open := false
	var held []uint16
	ack := func(id uint16) {
		p := packets.NewControlPacket(packets.Puback).(*packets.PubackPacket)
		p.MessageID = id
		var buf bytes.Buffer
		p.Write(&buf)
		c.send(buf.Bytes())
	}
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-gate:
		case <-done:
			return
		}
		mu.Lock()
		defer mu.Unlock()
		open = true
		for _, id := range held {
			ack(id)
		}
	}()
	c.send(connack)
	for {
		p, err := c.read()
		if err != nil {
			return
		}
		mu.Lock()
		switch p := p.(type) {
		case *packets.PublishPacket:
			if p.Qos == 1 && open {
				ack(p.MessageID)
			} else if p.Qos == 1 {
				held = append(held, p.MessageID)
			}
		case *packets.PingreqPacket:
			var buf bytes.Buffer
			packets.NewControlPacket(packets.Pingresp).Write(&buf)
			c.send(buf.Bytes())
		}
		mu.Unlock()
	}
}

// A broker slower than the devices slows the devices down: the spool does
// not fill until spool.overflow drops frames, and every frame arrives.
func TestSlowBrokerPausesDevices(t *testing.T) {
	t.Parallel()
	gate := make(chan struct{})
	b := startFakeBroker(t, func(c *brokerConn) { c.serveLate(gate) })
	dev := plug(t, "fast")
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	gw := startGatewayWith(t, gatewayOptions{
		keepalive: "60s",
		mqtt:      fmt.Sprintf("[metrics]\nlisten = %q\n[spool]\nmax_bytes = \"256KiB\"", addr),
	}, b.url(), dev.toml(""))
	gw.log.waitFor(t, "the device open", func(e entry) bool { return e.is("info", "device online") })

	// 1 MiB of lines, four times the spool: the writer blocks once the
	// gateway stops reading.
	const n = 16384
	wrote := make(chan error, 1)
	go func() {
		var all strings.Builder
		for i := range n {
			fmt.Fprintf(&all, "%063d\n", i)
		}
		_, err := dev.f.WriteString(all.String())
		wrote <- err
	}()
	waitScrape(t, addr, "/metrics", "the devices paused", func(code int, body string) bool {
		return code == 200 && strings.Contains(body, "\niogate_backpressure 1\n")
	})
	gw.log.waitFor(t, "the pause logged", func(e entry) bool {
		return e.is("warning", "the broker takes frames slower than the devices send them: devices paused until it catches up")
	})
	close(gate)
	b.waitUntil("every frame", func() bool { return len(b.rx(1, dev.topic("rx"))) >= n })
	if err := <-wrote; err != nil {
		t.Fatalf("device write: %v", err)
	}
	got := b.rx(1, dev.topic("rx"))
	for i, p := range got[:n] {
		if p != fmt.Sprintf("%063d", i) {
			t.Fatalf("frame %d is %q", i, p)
		}
	}
	waitScrape(t, addr, "/metrics", "nothing dropped, devices running again", func(code int, body string) bool {
		return code == 200 && strings.Contains(body, "\niogate_spool_drops_total 0\n") && strings.Contains(body, "\niogate_backpressure 0\n")
	})
}
