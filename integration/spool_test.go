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
	// One in-flight window of frames (64, two of them the statuses): the
	// broker seeing every one proves each was read and spooled, and with
	// none acknowledged, the spool is all that keeps them.
	const n = 62
	var lines strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&lines, "frame %d\n", i)
	}
	d.write(lines.String())
	fb.waitUntil("every frame published, none acknowledged", func() bool { return len(fb.rx(1, rx)) >= n })
	first.crash()

	mq := startMosquitto(t)
	sub := subscribe(t, mq.url(), rx, d.topic("status"))
	startGatewayWith(t, gatewayOptions{stateDir: state}, mq.url(), d.toml(""))
	sub.waitFor(d.topic("status"), "online") // the port is open: what comes now is read
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
