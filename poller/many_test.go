package poller_test

import (
	"testing"
	"time"

	"github.com/iogate/iogate/poller"
	"golang.org/x/sys/unix"
)

// testMany watches 10,000 descriptors, makes some of them ready, and checks
// that exactly those are reported, through an events slice too small to
// take them all in one Wait.
func testMany(t *testing.T, p poller.Poller) {
	const pairs = 5000
	raiseFileLimit(t, 2*pairs+64)
	fds := make([]int, 0, 2*pairs)
	t.Cleanup(func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	})
	for range pairs {
		sp, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
		if err != nil {
			t.Fatalf("socketpair %d: %v", len(fds)/2, err)
		}
		fds = append(fds, sp[0], sp[1])
	}
	for i, fd := range fds {
		add(t, p, fd, uint64(i), poller.Read)
	}
	want := map[uint64]bool{}
	for i := 0; i < len(fds); i += 7 {
		write(t, fds[i^1], "x") // the other end of i's socketpair
		want[uint64(i)] = true
	}

	events := make([]poller.Event, 100)
	seen := map[uint64]bool{}
	deadline := time.Now().Add(patience)
	for len(seen) < len(want) && time.Now().Before(deadline) {
		n, err := p.Wait(events, max(time.Until(deadline), 0))
		if err != nil {
			t.Fatalf("Wait: %v", err)
		}
		for _, ev := range events[:n] {
			switch {
			case !want[ev.Token]:
				t.Fatalf("token %d reported (%s), but nothing was written to it", ev.Token, flagNames(ev.Flags))
			case seen[ev.Token]:
				t.Fatalf("token %d reported again after its byte was read", ev.Token)
			}
			seen[ev.Token] = true
			read(t, fds[ev.Token], 1)
		}
	}
	if len(seen) < len(want) {
		t.Fatalf("%d of %d ready descriptors reported within %v", len(seen), len(want), patience)
	}
	expectQuiet(t, p, "after every ready descriptor was read")
}

// raiseFileLimit lifts the soft limit on open descriptors to the hard limit
// when it is below need, and skips the test if the hard limit is too.
func raiseFileLimit(t *testing.T, need uint64) {
	t.Helper()
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatalf("getrlimit RLIMIT_NOFILE: %v", err)
	}
	if uint64(lim.Cur) >= need {
		return
	}
	if uint64(lim.Max) < need {
		t.Skipf("needs %d open descriptors, but the hard RLIMIT_NOFILE is %d: raise it (ulimit -Hn) to run this test", need, lim.Max)
	}
	old := lim
	lim.Cur = lim.Max
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Skipf("needs %d open descriptors, but raising RLIMIT_NOFILE from %d to %d failed: %v", need, old.Cur, lim.Max, err)
	}
	t.Cleanup(func() { unix.Setrlimit(unix.RLIMIT_NOFILE, &old) })
}
