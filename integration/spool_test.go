package integration

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// Frames the broker has not acknowledged survive a SIGKILL of the gateway:
// the next gateway on the same state_dir sends them, in order, before what
// comes next.
func TestSpoolSurvivesSIGKILL(t *testing.T) {
	t.Parallel()
	d := plug(t, "gps")
	rx := d.topic("rx")
	// A broker that takes every PUBLISH and acknowledges none: what the
	// gateway sent it was read from the device and is in the spool.
	fb := startFakeBroker(t, func(c *brokerConn) {
		if c.connect() {
			c.send(connack)
			c.drain()
		}
	})
	state := t.TempDir()
	first := startGatewayWith(t, gatewayOptions{stateDir: state}, fb.url(), d.toml(""))
	// Opening a port discards what waited in it: write once it is open.
	fb.waitUntil("the device online", func() bool { return slices.Contains(fb.rx(1, d.topic("status")), "online") })
	const n = 300
	var lines strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&lines, "frame %d\n", i)
	}
	d.write(lines.String()) // 3 KiB: one read, so one Append of every frame, before any publish
	// With nothing acknowledged, a full in-flight window (64, two of them
	// the statuses) is all that goes out; the rest waits in the spool.
	fb.waitUntil("a full window published, none acknowledged", func() bool { return len(fb.rx(1, rx)) >= 62 })
	first.crash()

	mq := startMosquitto(t)
	sub := subscribe(t, mq.url(), rx)
	startGatewayWith(t, gatewayOptions{stateDir: state}, mq.url(), d.toml(""))
	d.write("after restart\n")
	got := sub.until(rx, "after restart")
	next := 1
	for _, p := range got[:len(got)-1] {
		if p != fmt.Sprintf("frame %d", next) {
			t.Fatalf("got %q where frame %d was due; all: %q", p, next, got)
		}
		next++
	}
	if next != n+1 {
		t.Fatalf("%d of %d frames arrived after the restart", next-1, n)
	}
}
