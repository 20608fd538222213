package main

import (
	"bytes"
	"fmt"
	"strconv"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// subscriber counts what reached the broker, from its own connection
// straight to mosquitto (never cut): a QoS 1 subscription to PREFIX/#.
type subscriber struct {
	client mqtt.Client
	prefix string

	mu      sync.Mutex
	devices []deviceRx
	online  int
	ready   chan struct{} // closed once every device's status said online
	bad     int64         // frames that did not parse or named the wrong device
	badText string
}

type deviceRx struct {
	seen      []uint64 // bit per sequence number
	received  int64    // duplicates included
	unique    int64
	dups      int64
	reordered int64 // first arrivals after a frame with a higher sequence number
	lateDups  int64 // duplicates after a frame with a higher sequence number
	last      int64
	online    bool
}

func dialSubscriber(addr, prefix string, devices int) (*subscriber, error) {
	s := &subscriber{prefix: prefix, devices: make([]deviceRx, devices), ready: make(chan struct{})}
	opts := mqtt.NewClientOptions().AddBroker("tcp://" + addr).
		SetClientID(fmt.Sprintf("soak-sub-%d", time.Now().UnixNano())).
		SetCleanSession(true).SetAutoReconnect(false).SetOrderMatters(true)
	s.client = mqtt.NewClient(opts)
	if tok := s.client.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return nil, fmt.Errorf("subscriber: connect: %v", tok.Error())
	}
	if tok := s.client.Subscribe(prefix+"/#", 1, s.message); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		s.client.Disconnect(0)
		return nil, fmt.Errorf("subscriber: subscribe: %v", tok.Error())
	}
	return s, nil
}

// message takes PREFIX/dN/rx frames, "dN SEQ filler", and PREFIX/dN/status.
func (s *subscriber) message(_ mqtt.Client, m mqtt.Message) {
	rest, ok := bytes.CutPrefix([]byte(m.Topic()), []byte(s.prefix+"/d"))
	if !ok {
		return
	}
	dev, kind, _ := bytes.Cut(rest, []byte{'/'})
	d, err := strconv.Atoi(string(dev))
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil || d < 0 || d >= len(s.devices) {
		s.badFrame(m.Topic(), m.Payload())
		return
	}
	dr := &s.devices[d]
	switch string(kind) {
	case "status":
		if string(m.Payload()) == "online" && !dr.online {
			dr.online = true
			if s.online++; s.online == len(s.devices) {
				close(s.ready)
			}
		}
		return
	case "rx":
	default:
		return
	}
	f := bytes.Fields(m.Payload())
	if len(f) < 2 || string(f[0]) != fmt.Sprintf("d%d", d) {
		s.badFrame(m.Topic(), m.Payload())
		return
	}
	seq, err := strconv.ParseInt(string(f[1]), 10, 64)
	if err != nil || seq < 1 {
		s.badFrame(m.Topic(), m.Payload())
		return
	}
	dr.received++
	for seq/64 >= int64(len(dr.seen)) {
		dr.seen = append(dr.seen, make([]uint64, max(len(dr.seen), 1024))...)
	}
	bit := uint64(1) << (seq % 64)
	switch {
	case dr.seen[seq/64]&bit != 0:
		dr.dups++
		if seq < dr.last {
			dr.lateDups++
		}
	default:
		dr.seen[seq/64] |= bit
		dr.unique++
		if seq < dr.last {
			dr.reordered++
		}
	}
	dr.last = max(dr.last, seq)
}

func (s *subscriber) badFrame(topic string, payload []byte) {
	s.bad++
	if s.badText == "" {
		s.badText = fmt.Sprintf("%s %q", topic, payload)
	}
}

// missing is, per device, how many of the sequence numbers 1..written[d]
// have not arrived.
func (s *subscriber) missing(written []int64) []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	miss := make([]int64, len(written))
	for d, n := range written {
		dr := &s.devices[d]
		for seq := int64(1); seq <= n; seq++ {
			if seq/64 >= int64(len(dr.seen)) || dr.seen[seq/64]&(1<<(seq%64)) == 0 {
				miss[d]++
			}
		}
	}
	return miss
}

// totals sums the devices' counts.
func (s *subscriber) totals() (received, dups, lateDups, reordered, bad int64, badText string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.devices {
		received += d.received
		dups += d.dups
		lateDups += d.lateDups
		reordered += d.reordered
	}
	return received, dups, lateDups, reordered, s.bad, s.badText
}

func (s *subscriber) close() { s.client.Disconnect(250) }
