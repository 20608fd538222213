package poller_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iogate/iogate/poller"
	"golang.org/x/sys/unix"
)

func testTimeout(t *testing.T, p poller.Poller) {
	c := openPipe(t)
	add(t, p, c.r, 1, poller.Read)
	events := make([]poller.Event, 4)
	for _, timeout := range []time.Duration{0, 20 * time.Millisecond} {
		if n, err := p.Wait(events, timeout); n != 0 || err != nil {
			t.Errorf("Wait(%v) with nothing ready = %d, %v; want 0, nil", timeout, n, err)
		}
	}
	if _, err := p.Wait(nil, 0); err == nil {
		t.Error("Wait with no room for events succeeded")
	}
}

// testRefusals checks that misuse is refused with an error naming the
// descriptor, and that a refused call changes nothing.
func testRefusals(t *testing.T, p poller.Poller) {
	c := openPipe(t)
	add(t, p, c.r, 1, poller.Read)
	for _, tc := range []struct {
		name string
		fd   int
		call func() error
	}{
		{"Add of a watched descriptor", c.r, func() error { return p.Add(c.r, 2, poller.Read) }},
		{"Add with ReservedToken", c.w, func() error { return p.Add(c.w, poller.ReservedToken, poller.Write) }},
		{"Modify to ReservedToken", c.r, func() error { return p.Modify(c.r, poller.ReservedToken, poller.Read) }},
		{"Modify of an unwatched descriptor", c.w, func() error { return p.Modify(c.w, 3, poller.Write) }},
		{"Remove of an unwatched descriptor", c.w, func() error { return p.Remove(c.w) }},
		{"Add of an invalid descriptor", -1, func() error { return p.Add(-1, 4, poller.Read) }},
	} {
		err := tc.call()
		switch {
		case err == nil:
			t.Errorf("%s: no error", tc.name)
		case !strings.Contains(err.Error(), fmt.Sprintf("fd %d", tc.fd)):
			t.Errorf("%s: error %q does not name fd %d", tc.name, err, tc.fd)
		}
	}
	write(t, c.w, "x")
	waitFor(t, p, 1, poller.Readable)
}

// testRemoveAmong removes descriptors from among others, first, last and
// middle, and checks that the ones left keep their tokens and interest.
func testRemoveAmong(t *testing.T, p poller.Poller) {
	pipes := make([]pair, 5)
	for i := range pipes {
		pipes[i] = openPipe(t)
		add(t, p, pipes[i].r, uint64(i), poller.Read)
	}
	for _, gone := range []int{0, 4, 2} {
		if err := p.Remove(pipes[gone].r); err != nil {
			t.Fatalf("Remove of token %d: %v", gone, err)
		}
	}
	for _, i := range []int{1, 3} {
		write(t, pipes[i].w, "x")
		waitFor(t, p, uint64(i), poller.Readable)
		read(t, pipes[i].r, 1)
		modify(t, p, pipes[i].r, uint64(10+i), 0)
	}
	for _, i := range []int{3, 1} {
		modify(t, p, pipes[i].r, uint64(10+i), poller.Read)
		write(t, pipes[i].w, "x")
		waitFor(t, p, uint64(10+i), poller.Readable)
		if err := p.Remove(pipes[i].r); err != nil {
			t.Fatalf("Remove of token %d: %v", 10+i, err)
		}
	}
	expectQuiet(t, p, "after every descriptor was removed")
}

// testNotPollable checks the descriptors that are always ready are refused:
// poll and kqueue would otherwise report them ready forever.
func testNotPollable(t *testing.T, p poller.Poller) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, path string
		flags      int
	}{
		{"regular file", filepath.Join(dir, "file"), unix.O_RDWR | unix.O_CREAT},
		{"directory", dir, unix.O_RDONLY},
	} {
		fd, err := unix.Open(tc.path, tc.flags, 0o600)
		if err != nil {
			t.Fatalf("open %s: %v", tc.path, err)
		}
		own(t, fd)
		if err := p.Add(fd, 1, poller.Read|poller.Write); !errors.Is(err, poller.ErrNotPollable) {
			t.Errorf("Add of a %s: error %v, want ErrNotPollable", tc.name, err)
		}
	}
	expectQuiet(t, p, "after the refused Adds")
}

// testFairness makes more descriptors ready than Wait has room for and never
// consumes them: each must still be reported within a few Waits, as epoll
// does by rotating its ready list, rather than the first ones every time.
func testFairness(t *testing.T, p poller.Poller) {
	const ready, room, waits = 10, 3, 10
	for i := range ready {
		c := openPipe(t)
		add(t, p, c.r, uint64(i), poller.Read)
		write(t, c.w, "x")
	}
	events := make([]poller.Event, room)
	seen := map[uint64]bool{}
	for range waits {
		n, err := p.Wait(events, patience)
		if err != nil {
			t.Fatalf("Wait: %v", err)
		}
		for _, ev := range events[:n] {
			seen[ev.Token] = true
		}
	}
	for i := range uint64(ready) {
		if !seen[i] {
			t.Errorf("token %d never reported in %d Waits with room for %d of %d ready descriptors", i, waits, room, ready)
		}
	}
}
