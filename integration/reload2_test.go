package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A reload whose CA file does not parse is refused whole: the gateway keeps
// its TLS connection and its frames flow over it; it never connects to the
// TLS port in plain text.
func TestReloadWithBadCAKeepsTLS(t *testing.T) {
	t.Parallel()
	dir := sharedDir(t)
	ca := newAuthority(t, dir, "iogate-test-ca")
	cert, key := ca.issue("broker", "127.0.0.1")
	mq := startMosquittoWith(t, func(port, tlsPort int) string {
		return plainListener(port) + fmt.Sprintf("listener %d 127.0.0.1\ncafile %s\ncertfile %s\nkeyfile %s\n", tlsPort, ca.file, cert, key)
	})
	dev := plug(t, "gps")
	sub := subscribe(t, mq.url(), prefix+"/#")
	pw := filepath.Join(dir, "password")
	if err := os.WriteFile(pw, []byte("secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mqttTLS := fmt.Sprintf("ca_file = %q\nusername = \"gw\"\npassword_file = %q", ca.file, pw)
	gw := startGatewayWith(t, gatewayOptions{mqtt: mqttTLS}, fmt.Sprintf("ssl://127.0.0.1:%d", mq.port2), dev.toml(""))
	waitOnline(t, sub, dev)

	bad := filepath.Join(dir, "not-pem.crt")
	if err := os.WriteFile(bad, []byte("this is not a certificate\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gw.opts.mqtt = fmt.Sprintf("ca_file = %q\nusername = \"gw\"\npassword_file = %q", bad, pw)
	gw.configure(dev.toml("encoding = \"hex\""))
	syscall.Kill(gw.cmd.Process.Pid, syscall.SIGHUP)
	gw.log.waitFor(t, "the reload refused", func(e entry) bool {
		return e.is("error", "keeping the running one") && e.is("error", "mqtt.ca_file") && e.is("error", "no PEM certificate")
	})
	dev.write("still over tls\n")
	sub.waitFor(dev.topic("rx"), "still over tls") // not hex: nothing of the new file applied
	if n := mq.connections(mq.port2); n != 1 {
		t.Errorf("%d connections to the TLS port, want 1", n)
	}
	if mq.log.contains("wrong version number") || mq.log.contains("protocol error") {
		t.Error("the gateway spoke plain MQTT to the TLS port")
	}
	if n := len(gw.log.entries(func(e entry) bool { return e.is("info", "mqtt: connected") })); n != 1 {
		t.Errorf("%d connections in the gateway's log, want 1", n)
	}
}

// A broker that accepts the connection and then drops it at once (a
// clashing client id, an ACL) is retried less and less often: the backoff
// starts again only after a connection stayed up.
func TestBrokerThatKicksGetsGrowingBackoff(t *testing.T) {
	t.Parallel()
	b := startFakeBroker(t, func(c *brokerConn) {
		if c.connect() {
			c.send(connack)
		}
	})
	dev := plug(t, "meter")
	gw := startGatewayWith(t, gatewayOptions{}, b.url(), dev.toml(""))
	var waits []time.Duration
	gw.log.waitUntil(t, "four reconnects", func() bool {
		waits = waits[:0]
		for _, e := range gw.log.entries(func(e entry) bool { return e.is("warning", "mqtt: connection lost") }) {
			d, err := time.ParseDuration(fmt.Sprint(e["retry_in"]))
			if err != nil {
				t.Fatalf("retry_in %v: %v", e["retry_in"], err)
			}
			waits = append(waits, d)
		}
		return len(waits) >= 4
	})
	// Waits double from 500ms, each spread from half to one and a half
	// times: the fourth (4s: 2s to 6s) is longer than the first can be.
	if waits[3] <= 750*time.Millisecond || waits[3] < waits[0] {
		t.Fatalf("waits %v: the backoff does not grow", waits)
	}
}

// A second SIGHUP while a reload waits for the broker to take the offline
// statuses replaces it: the newest configuration is the one that runs, even
// when it goes back to the broker settings that were running.
func TestReloadWhileAnotherWaits(t *testing.T) {
	t.Parallel()
	hold := make(chan struct{})
	b := startFakeBroker(t, func(c *brokerConn) {
		if c.n == 1 {
			c.serveHolding(hold) // acknowledges nothing once told to hold
			return
		}
		c.serveWell()
	})
	dev := plug(t, "gps")
	gw := startGatewayWith(t, gatewayOptions{}, b.url(), dev.toml(""))
	b.waitUntil("the status online", func() bool { return len(b.rx(1, prefix+"/status")) > 0 })
	close(hold)

	// A new prefix: the gateway leaves the old one, waiting for PUBACKs
	// that do not come, up to its stop deadline.
	gw.opts.mqtt = `topic_prefix = "first/{gateway}"`
	gw.configure(dev.toml(""))
	syscall.Kill(gw.cmd.Process.Pid, syscall.SIGHUP)
	b.waitUntil("the offline statuses", func() bool {
		for _, p := range b.rx(1, prefix+"/status") {
			if p == "offline" {
				return true
			}
		}
		return false
	})
	// Back to the running prefix, with a new encoding.
	gw.opts.mqtt = ""
	gw.configure(dev.toml(`encoding = "hex"`))
	syscall.Kill(gw.cmd.Process.Pid, syscall.SIGHUP)

	b.waitUntil("the second connection", func() bool { return len(b.conns) >= 2 })
	b.waitUntil("the statuses online again", func() bool {
		st := b.rx(2, dev.topic("status"))
		return len(st) > 0 && st[len(st)-1] == "online"
	})
	dev.write("AB\n")
	b.waitUntil("the frame in hex", func() bool { return slices.Contains(b.rx(2, dev.topic("rx")), "4142") })
	b.mu.Lock()
	defer b.mu.Unlock()
	for n := 2; n <= len(b.conns); n++ {
		for topic := range b.topics(n) {
			if strings.HasPrefix(topic, "first/") {
				t.Fatalf("connection %d published %s: the older reload undid the newer", n, topic)
			}
		}
	}
}
