package mqtt_test

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/iogate/iogate/reactor/reactortest"
	"github.com/iogate/iogate/resources/mqtt"
)

func TestStartBroker(t *testing.T) {
	if _, err := mqtt.StartBroker(":0", nil); err == nil {
		t.Error("StartBroker(\":0\") listened on every interface")
	}
	b := startBroker(t)
	if host, port, err := net.SplitHostPort(b.Addr()); err != nil || host != "127.0.0.1" || port == "0" {
		t.Errorf("Addr() = %q, want 127.0.0.1 with the port picked", b.Addr())
	}
	got := make(chan string, 1)
	if err := b.Subscribe("demo/#", func(topic string, payload []byte, retain bool) {
		got <- fmt.Sprintf("%s %q %t", topic, payload, retain)
	}); err != nil {
		t.Fatal(err)
	}
	c := dial(t, b.Addr(), nil, mqtt.Options{ClientID: "gw", CleanSession: true})
	c.expect("connected false")
	c.publish(mqtt.Message{Topic: "demo/rx", Payload: []byte("seen"), Retain: true})
	select {
	case e := <-got:
		if e != `demo/rx "seen" true` {
			t.Errorf("inline subscriber got %s", e)
		}
	case <-time.After(reactortest.Deadline):
		t.Fatal("inline subscriber got nothing")
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("second Close() = %v, want net.ErrClosed", err)
	}
	// mochi says DISCONNECT first, if the connection lasts long enough.
	if e := c.next(); e != "error "+mqtt.ErrClosedByBroker.Error() && !strings.HasPrefix(e, "disconnected") {
		t.Errorf("event %q after the broker closed, want the disconnection", e)
	}
}
