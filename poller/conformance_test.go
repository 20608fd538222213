package poller_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iogate/iogate/poller"
	"golang.org/x/sys/unix"
)

// TestConformance runs every engine this system has through the same cases:
// what one engine promises, all do.
func TestConformance(t *testing.T) {
	for _, engine := range poller.Engines() {
		t.Run(engine, func(t *testing.T) {
			for _, c := range engineCases {
				t.Run(c.name, func(t *testing.T) { c.run(t, openEngine(t, engine)) })
			}
			for _, k := range pairKinds {
				for _, c := range pairCases {
					t.Run(k.name+"/"+c.name, func(t *testing.T) { c.run(t, openEngine(t, engine), k) })
				}
			}
		})
	}
}

// engineCases need a Poller only; pairCases run once per kind of descriptor.
var engineCases = []struct {
	name string
	run  func(*testing.T, poller.Poller)
}{
	{"timeout", testTimeout},
	{"wake while blocked", testWake},
	{"wake burst coalesces", testWakeBurst},
	{"EINTR retried", testEINTR},
	{"refusals", testRefusals},
	{"remove among others", testRemoveAmong},
	{"not pollable", testNotPollable},
	{"fairness", testFairness},
	{"10000 descriptors", testMany},
}

var pairCases = []struct {
	name string
	run  func(*testing.T, poller.Poller, pairKind)
}{
	{"readable", testReadable},
	{"writable", testWritable},
	{"hangup", testHangup},
	{"modify", testModify},
	{"remove", testRemove},
	{"reused number", testReuse},
}

// patience bounds every wait for a condition. It is generous because it only
// matters when the test fails: conditions are awaited, never slept for.
const patience = 10 * time.Second

func openEngine(t *testing.T, name string) poller.Poller {
	t.Helper()
	p, err := poller.New(name)
	if err != nil {
		t.Fatalf("New(%q): %v", name, err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return p
}

// own closes fd when the test ends, and returns a function that closes it
// earlier; either way it is closed once, so a reused number is never hit.
func own(t *testing.T, fd int) func() {
	var once sync.Once
	closeFD := func() { once.Do(func() { unix.Close(fd) }) }
	t.Cleanup(closeFD)
	return closeFD
}

func add(t *testing.T, p poller.Poller, fd int, token uint64, in poller.Interest) {
	t.Helper()
	if err := p.Add(fd, token, in); err != nil {
		t.Fatalf("Add: %v", err)
	}
}

func modify(t *testing.T, p poller.Poller, fd int, token uint64, in poller.Interest) {
	t.Helper()
	if err := p.Modify(fd, token, in); err != nil {
		t.Fatalf("Modify: %v", err)
	}
}

// waitFor calls Wait until it reports token with all of want, and returns
// the flags reported. The test has made only that descriptor ready, so an
// event with any other token fails it.
func waitFor(t *testing.T, p poller.Poller, token uint64, want poller.Flags) poller.Flags {
	t.Helper()
	events := make([]poller.Event, 16)
	deadline := time.Now().Add(patience)
	for time.Now().Before(deadline) {
		n, err := p.Wait(events, max(time.Until(deadline), 0))
		if err != nil {
			t.Fatalf("Wait: %v", err)
		}
		for _, ev := range events[:n] {
			if ev.Token != token {
				t.Fatalf("Wait reported token %d (%s); only token %d is ready", ev.Token, flagNames(ev.Flags), token)
			}
			if ev.Flags&want == want {
				return ev.Flags
			}
		}
	}
	t.Fatalf("token %d: no event with %s within %v", token, flagNames(want), patience)
	return 0
}

// expectQuiet fails if a Wait that does not block reports anything. The
// engines are level-triggered: a descriptor already ready is reported at
// once, so seeing nothing needs no waiting.
func expectQuiet(t *testing.T, p poller.Poller, when string) {
	t.Helper()
	events := make([]poller.Event, 16)
	n, err := p.Wait(events, 0)
	if err != nil {
		t.Fatalf("%s: Wait: %v", when, err)
	}
	for _, ev := range events[:n] {
		t.Errorf("%s: Wait reported token %d (%s)", when, ev.Token, flagNames(ev.Flags))
	}
}

func write(t *testing.T, fd int, s string) {
	t.Helper()
	if _, err := unix.Write(fd, []byte(s)); err != nil {
		t.Fatalf("write fd %d: %v", fd, err)
	}
}

// read reads n bytes from fd, which the test knows are there or on the way.
func read(t *testing.T, fd, n int) string {
	t.Helper()
	buf := make([]byte, n)
	for got := 0; got < n; {
		m, err := unix.Read(fd, buf[got:])
		if err != nil || m == 0 {
			t.Fatalf("read fd %d: got %q, then %d bytes and error %v", fd, buf[:got], m, err)
		}
		got += m
	}
	return string(buf)
}

func flagNames(f poller.Flags) string {
	var names []string
	for _, n := range []struct {
		flag poller.Flags
		name string
	}{{poller.Readable, "Readable"}, {poller.Writable, "Writable"}, {poller.Hangup, "Hangup"}, {poller.Error, "Error"}} {
		if f&n.flag != 0 {
			names = append(names, n.name)
		}
	}
	if len(names) == 0 {
		return fmt.Sprintf("no flags (%#x)", uint8(f))
	}
	return strings.Join(names, "|")
}
