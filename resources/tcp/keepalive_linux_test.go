package tcp_test

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestKeepAliveTiming(t *testing.T) {
	c, _ := dialPeers(t, "ipv4")
	timing := func() [3]int {
		t.Helper()
		var v [3]int
		for i, opt := range []int{unix.TCP_KEEPIDLE, unix.TCP_KEEPINTVL, unix.TCP_KEEPCNT} {
			var err error
			if v[i], err = unix.GetsockoptInt(c.Fd(), unix.IPPROTO_TCP, opt); err != nil {
				t.Fatal(err)
			}
		}
		return v
	}
	if got, want := timing(), [3]int{30, 10, 3}; got != want {
		t.Errorf("default idle, interval, count = %v, want %v", got, want)
	}
	if err := c.SetKeepAlive(90*time.Second, 1500*time.Millisecond, 5); err != nil {
		t.Fatal(err)
	}
	// Durations round up to whole seconds.
	if got, want := timing(), [3]int{90, 2, 5}; got != want {
		t.Errorf("after SetKeepAlive(90s, 1.5s, 5): %v, want %v", got, want)
	}
}
