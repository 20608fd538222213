package reactor_test

import (
	"bytes"
	"errors"
	"io"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/iogate/iogate/poller"
	"github.com/iogate/iogate/reactor"
	"github.com/iogate/iogate/reactor/reactortest"
)

// engines runs a test once per poll engine this system has: the reactor's
// rules must not depend on the engine.
func engines(t *testing.T, test func(t *testing.T, opts reactor.Options)) {
	for _, name := range poller.Engines() {
		t.Run(name, func(t *testing.T) { test(t, reactor.Options{Poller: name}) })
	}
}

func TestEcho(t *testing.T) {
	engines(t, func(t *testing.T, opts reactor.Options) {
		svc := reactortest.NewRecorder()
		svc.OnReceived = func(r *reactor.Reactor, id reactor.ID, data []byte) {
			if err := r.Send(id, data); err != nil {
				t.Errorf("send: %v", err)
			}
		}
		h := reactortest.Start(t, svc, opts)
		tr, peer := socketpair(t)
		id := h.Register(tr)
		for _, msg := range []string{"a", "hello", string(bytes.Repeat([]byte{'x'}, 60000))} {
			writeAll(t, peer, []byte(msg))
			if got := string(readFull(t, peer, len(msg))); got != msg {
				t.Fatalf("echo of %d bytes came back as %d bytes", len(msg), len(got))
			}
			if got := h.Receive(id, len(msg)); got != msg {
				t.Fatalf("received %d bytes, want %d", len(got), len(msg))
			}
		}
	})
}

func TestIDsAreNeverReused(t *testing.T) {
	h := reactortest.Start(t, reactortest.NewRecorder(), reactor.Options{})
	seen := map[reactor.ID]bool{}
	var last reactor.ID
	for range 20 {
		tr, _ := socketpair(t)
		id := h.Register(tr)
		if seen[id] || id <= last {
			t.Fatalf("id %d after %d: reused or not increasing", id, last)
		}
		seen[id], last = true, id
		var res reactor.Resource
		h.Do(func(r *reactor.Reactor) { res, _ = r.Unregister(id) })
		res.Close() // the next socketpair reuses the descriptor numbers
	}
}

// A resource closed and replaced on the same descriptor number in the middle
// of an event batch must not receive the events of the one it replaced.
func TestStaleEventsDoNotReachASuccessor(t *testing.T) {
	engines(t, func(t *testing.T, opts reactor.Options) {
		svc := reactortest.NewRecorder()
		var ids []reactor.ID
		trs := map[reactor.ID]*fdTransport{}
		var successor reactor.ID
		var succPeer int
		svc.OnReceived = func(r *reactor.Reactor, id reactor.ID, _ []byte) {
			if successor != 0 {
				return
			}
			// Replace every other resource; their events are already in the batch.
			for _, other := range ids {
				if other == id {
					continue
				}
				res, err := r.Unregister(other)
				if err != nil {
					t.Error(err)
					continue
				}
				fd := res.Fd()
				res.Close()
				fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
				if err != nil {
					t.Error(err)
					return
				}
				if fds[0] != fd && fds[1] != fd {
					t.Logf("descriptor %d not reused (got %v); the check is weaker", fd, fds)
				}
				unix.SetNonblock(fds[0], true)
				successor, err = r.RegisterTransport(&fdTransport{fd: fds[0]}, svc)
				if err != nil {
					t.Error(err)
				}
				succPeer = fds[1]
				return
			}
		}
		h := reactortest.Start(t, svc, opts)
		var peers []int
		for range 2 {
			tr, peer := socketpair(t)
			id := h.Register(tr)
			ids = append(ids, id)
			trs[id] = tr
			peers = append(peers, peer)
		}
		// Both hang up before the loop wakes: one batch. Were the replaced
		// one's hangup delivered to its successor, the successor would be
		// disconnected.
		h.Do(func(*reactor.Reactor) {
			for _, p := range peers {
				writeAll(t, p, []byte("x"))
				unix.Shutdown(p, unix.SHUT_WR)
			}
		})
		first := h.Next()
		if first.Kind != "received" {
			t.Fatalf("want received, got %v", first)
		}
		if e := h.Next(); e.Kind != "disconnected" || e.ID != first.ID {
			t.Fatalf("want the first one disconnected, got %v", e)
		}
		h.NoEvent()
		if successor == 0 {
			t.Fatal("the successor was not registered")
		}
		t.Cleanup(func() { unix.Close(succPeer) })
		writeAll(t, succPeer, []byte("y"))
		if got := h.Receive(successor, 1); got != "y" {
			t.Fatalf("successor got %q", got)
		}
	})
}

// A peer that never reads: the reactor buffers up to the limits, reports
// Congested at High, refuses beyond Max, and reports Drained once the peer
// reads. Write interest is dropped once the buffer is empty: the loop then
// sleeps, which Wakeups shows.
func TestBackpressure(t *testing.T) {
	engines(t, func(t *testing.T, opts reactor.Options) {
		opts.Limits = reactor.Limits{Low: 4 << 10, High: 64 << 10, Max: 256 << 10}
		h := reactortest.Start(t, reactortest.NewRecorder(), opts)
		tr, peer := socketpair(t)
		id := h.Register(tr)
		chunk := bytes.Repeat([]byte{'z'}, 8<<10)
		sent := 0
		var overflow error
		h.Do(func(r *reactor.Reactor) {
			for range 10000 {
				if err := r.Send(id, chunk); err != nil {
					overflow = err
					break
				}
				sent += len(chunk)
			}
			if p := r.Pending(id); p > opts.Limits.Max || p < opts.Limits.High {
				t.Errorf("pending %d, want between High and Max", p)
			}
		})
		if !errors.Is(overflow, reactor.ErrOverflow) {
			t.Fatalf("send beyond Max: %v, want ErrOverflow", overflow)
		}
		h.Expect("congested", id)
		// The peer reads everything: Drained, and all bytes arrive in order.
		got := readFull(t, peer, sent)
		if !bytes.Equal(got, bytes.Repeat([]byte{'z'}, sent)) {
			t.Fatal("data corrupted")
		}
		h.Expect("drained", id)
		h.Do(func(r *reactor.Reactor) {
			if p := r.Pending(id); p != 0 {
				t.Errorf("pending %d after drain", p)
			}
		})
		assertIdle(t, h)
	})
}

// assertIdle checks the loop sleeps between commands: a round trip costs
// one wake-up. A descriptor left with write interest, or a periodic tick,
// would cost one per iteration of a spinning loop, thousands here; two
// spare wake-ups keep a stray one on a loaded machine from failing the test.
func assertIdle(t *testing.T, h *reactortest.Loop) {
	t.Helper()
	var before, after uint64
	h.Do(func(r *reactor.Reactor) { before = r.Wakeups() })
	const rounds = 20
	for range rounds {
		h.Do(func(*reactor.Reactor) {})
	}
	h.Do(func(r *reactor.Reactor) { after = r.Wakeups() })
	if got := after - before; got > rounds+1+2 {
		t.Fatalf("%d wake-ups for %d commands: the loop is not idle", got, rounds+1)
	}
}

func TestIdleLoopSleeps(t *testing.T) {
	engines(t, func(t *testing.T, opts reactor.Options) {
		h := reactortest.Start(t, reactortest.NewRecorder(), opts)
		tr, _ := socketpair(t)
		h.Register(tr)
		assertIdle(t, h)
	})
}

func TestHangupDeliversRemainingData(t *testing.T) {
	engines(t, func(t *testing.T, opts reactor.Options) {
		for _, paused := range []bool{false, true} {
			h := reactortest.Start(t, reactortest.NewRecorder(), opts)
			tr, peer := socketpair(t)
			id := h.Register(tr)
			if paused {
				h.Do(func(r *reactor.Reactor) { r.Pause(id) })
			}
			msg := bytes.Repeat([]byte("0123456789"), 20000) // more than one read buffer
			h.Do(func(*reactor.Reactor) {
				writeAll(t, peer, msg)
				unix.Shutdown(peer, unix.SHUT_WR)
			})
			var got []byte
			for {
				e := h.Next()
				if e.Kind == "received" {
					got = append(got, e.Data...)
					continue
				}
				if e.Kind != "disconnected" || e.ID != id {
					t.Fatalf("want disconnected, got %v", e)
				}
				if !errors.Is(e.Err, io.EOF) {
					t.Errorf("cause %v, want EOF", e.Err)
				}
				if e.Res != tr {
					t.Error("the resource handed back is not the one registered")
				}
				break
			}
			if !bytes.Equal(got, msg) {
				t.Fatalf("paused=%v: got %d bytes, want %d", paused, len(got), len(msg))
			}
			h.Do(func(r *reactor.Reactor) {
				if err := r.Send(id, []byte("x")); !errors.Is(err, reactor.ErrNotRegistered) {
					t.Errorf("send after disconnect: %v", err)
				}
			})
			h.Stop()
		}
	})
}

// A peer that sends and closes while output to it is pending: what it sent
// is delivered before the disconnect, though writing to it now fails.
func TestHangupWithPendingOutput(t *testing.T) {
	engines(t, func(t *testing.T, opts reactor.Options) {
		h := reactortest.Start(t, reactortest.NewRecorder(), opts)
		tr, peer := socketpair(t)
		id := h.Register(tr)
		h.Do(func(r *reactor.Reactor) {
			for r.Pending(id) == 0 {
				if err := r.Send(id, make([]byte, 64<<10)); err != nil {
					t.Error(err)
					return
				}
			}
			// Still on the loop: both happen before it looks again.
			writeAll(t, peer, []byte("last words"))
			hangUp(t, peer)
		})
		if got := h.Receive(id, len("last words")); got != "last words" {
			t.Fatalf("got %q", got)
		}
		h.Expect("disconnected", id)
	})
}

// A pipe's read end sees a hangup, not a read of zero, when the writer goes.
func TestPipeHangup(t *testing.T) {
	engines(t, func(t *testing.T, opts reactor.Options) {
		h := reactortest.Start(t, reactortest.NewRecorder(), opts)
		var p [2]int
		if err := unix.Pipe(p[:]); err != nil {
			t.Fatal(err)
		}
		if err := unix.SetNonblock(p[0], true); err != nil {
			t.Fatal(err)
		}
		tr := &fdTransport{fd: p[0]}
		id := h.Register(tr)
		writeAll(t, p[1], []byte("last words"))
		unix.Close(p[1])
		if got := h.Receive(id, len("last words")); got != "last words" {
			t.Fatalf("got %q", got)
		}
		e := h.Expect("disconnected", id)
		if e.Err == nil {
			t.Fatal("no cause")
		}
		tr.Close()
	})
}

func TestWriteToClosedPeer(t *testing.T) {
	engines(t, func(t *testing.T, opts reactor.Options) {
		h := reactortest.Start(t, reactortest.NewRecorder(), opts)
		tr, peer := socketpair(t)
		id := h.Register(tr)
		hangUp(t, peer)
		var sendErr error
		h.Do(func(r *reactor.Reactor) {
			for sendErr == nil {
				sendErr = r.Send(id, make([]byte, 1024))
			}
		})
		e := h.Expect("disconnected", id)
		if e.Err == nil || (!errors.Is(e.Err, syscall.EPIPE) && !errors.Is(e.Err, syscall.ECONNRESET) && !errors.Is(e.Err, io.EOF)) {
			t.Fatalf("cause %v", e.Err)
		}
		if sendErr == nil || errors.Is(sendErr, reactor.ErrOverflow) {
			t.Fatalf("send error %v", sendErr)
		}
	})
}

func TestPauseResume(t *testing.T) {
	engines(t, func(t *testing.T, opts reactor.Options) {
		h := reactortest.Start(t, reactortest.NewRecorder(), opts)
		tr, peer := socketpair(t)
		id := h.Register(tr)
		h.Do(func(r *reactor.Reactor) { r.Pause(id) })
		writeAll(t, peer, []byte("held"))
		h.NoEvent()
		assertIdle(t, h) // paused and readable must not spin
		h.Do(func(r *reactor.Reactor) { r.Resume(id) })
		if got := h.Receive(id, 4); got != "held" {
			t.Fatalf("got %q", got)
		}
	})
}

func TestUnregisterHandsBack(t *testing.T) {
	h := reactortest.Start(t, reactortest.NewRecorder(), reactor.Options{})
	tr, peer := socketpair(t)
	id := h.Register(tr)
	var res reactor.Resource
	h.Do(func(r *reactor.Reactor) {
		var err error
		if res, err = r.Unregister(id); err != nil {
			t.Error(err)
		}
		if _, err := r.Unregister(id); !errors.Is(err, reactor.ErrNotRegistered) {
			t.Errorf("second unregister: %v", err)
		}
	})
	if res != tr {
		t.Fatal("Unregister returned another resource")
	}
	writeAll(t, peer, []byte("after"))
	h.NoEvent()
	// Still open: the reactor closes nothing.
	if got := string(readFullNB(t, tr, 5)); got != "after" {
		t.Fatalf("got %q", got)
	}
	tr.Close()
}

func readFullNB(t *testing.T, tr *fdTransport, n int) []byte {
	t.Helper()
	unix.SetNonblock(tr.fd, false)
	return readFull(t, tr.fd, n)
}

func TestShutdownHandsBackEverything(t *testing.T) {
	svc := reactortest.NewRecorder()
	h := reactortest.Start(t, svc, reactor.Options{})
	want := map[reactor.ID]reactor.Resource{}
	for range 3 {
		tr, _ := socketpair(t)
		want[h.Register(tr)] = tr
	}
	ctl := h.R.Controller()
	h.Stop()
	e := h.Next()
	if e.Kind != "shutdown" || len(e.Held) != len(want) {
		t.Fatalf("got %v with %d resources, want shutdown with %d", e, len(e.Held), len(want))
	}
	for id, res := range want {
		if e.Held[id] != res {
			t.Errorf("resource %d not handed back", id)
		}
		res.Close()
	}
	select {
	case e := <-svc.Events:
		t.Fatalf("event after shutdown: %v", e)
	default:
	}
	if err := ctl.Send("late"); !errors.Is(err, reactor.ErrStopped) {
		t.Fatalf("send after stop: %v", err)
	}
}

func TestTimers(t *testing.T) {
	engines(t, func(t *testing.T, opts reactor.Options) {
		h := reactortest.Start(t, reactortest.NewRecorder(), opts)
		var a, b, c, late, cancelled reactor.TimerID
		h.Do(func(r *reactor.Reactor) {
			late = h.Svc.SetTimer(r, 40*time.Millisecond)
			cancelled = h.Svc.SetTimer(r, time.Millisecond)
			a = h.Svc.SetTimer(r, 10*time.Millisecond)
			b = h.Svc.SetTimer(r, 10*time.Millisecond)
			c = h.Svc.SetTimer(r, 10*time.Millisecond)
			if !r.CancelTimer(cancelled) {
				t.Error("cancel of an armed timer failed")
			}
			if r.CancelTimer(cancelled) {
				t.Error("second cancel succeeded")
			}
		})
		var fired []reactor.TimerID
		for len(fired) < 4 {
			e := h.Next()
			if e.Kind != "timer" {
				t.Fatalf("got %v", e)
			}
			fired = append(fired, e.Timer)
		}
		want := []reactor.TimerID{a, b, c, late}
		for i := range want {
			if fired[i] != want[i] {
				t.Fatalf("fired %v, want %v (cancelled %d)", fired, want, cancelled)
			}
		}
		h.Do(func(r *reactor.Reactor) {
			if r.CancelTimer(a) {
				t.Error("cancel after firing succeeded")
			}
		})
		assertIdle(t, h)
	})
}

func TestControllerFromManyGoroutines(t *testing.T) {
	svc := reactortest.NewRecorder()
	h := reactortest.Start(t, svc, reactor.Options{})
	const senders, each = 8, 200
	var wg sync.WaitGroup
	for s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if err := h.R.Controller().Send([2]int{s, i}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	next := make([]int, senders)
	for range senders * each {
		e := h.Next()
		var s, i int
		if _, err := fmtSscan(e.Data, &s, &i); err != nil || e.Kind != "command" {
			t.Fatalf("got %v", e)
		}
		if i != next[s] {
			t.Fatalf("sender %d: command %d arrived before %d", s, i, next[s])
		}
		next[s]++
	}
}

func TestConnect(t *testing.T) {
	engines(t, func(t *testing.T, opts reactor.Options) {
		h := reactortest.Start(t, reactortest.NewRecorder(), opts)
		ln, port := listenLoopback(t)
		c := dialNonblocking(t, port)
		var id reactor.ID
		h.Do(func(r *reactor.Reactor) {
			var err error
			if id, err = r.Connect(c, h.Svc); err != nil {
				t.Error(err)
			}
			// Queued until connected.
			if err := r.Send(id, []byte("early")); err != nil {
				t.Error(err)
			}
		})
		h.Expect("connected", id)
		peer := acceptBlocking(t, ln)
		if got := string(readFull(t, peer, 5)); got != "early" {
			t.Fatalf("got %q", got)
		}
		writeAll(t, peer, []byte("back"))
		if got := h.Receive(id, 4); got != "back" {
			t.Fatalf("got %q", got)
		}

		// Refused: nothing listens on the port any more.
		unix.Close(ln)
		refused := dialNonblocking(t, port)
		var rid reactor.ID
		h.Do(func(r *reactor.Reactor) { rid, _ = r.Connect(refused, h.Svc) })
		e := h.Expect("disconnected", rid)
		if !errors.Is(e.Err, syscall.ECONNREFUSED) {
			t.Fatalf("cause %v, want ECONNREFUSED", e.Err)
		}
	})
}

func TestSendToUnknown(t *testing.T) {
	h := reactortest.Start(t, reactortest.NewRecorder(), reactor.Options{})
	h.Do(func(r *reactor.Reactor) {
		if err := r.Send(12345, []byte("x")); !errors.Is(err, reactor.ErrNotRegistered) {
			t.Errorf("got %v", err)
		}
		if err := r.Pause(12345); !errors.Is(err, reactor.ErrNotRegistered) {
			t.Errorf("got %v", err)
		}
	})
}

func TestRegisterRefusesRegularFile(t *testing.T) {
	h := reactortest.Start(t, reactortest.NewRecorder(), reactor.Options{})
	f, err := unix.Open(t.TempDir()+"/plain", unix.O_CREAT|unix.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(f)
	h.Do(func(r *reactor.Reactor) {
		if _, err := r.RegisterTransport(&fdTransport{fd: f}, h.Svc); !errors.Is(err, poller.ErrNotPollable) {
			t.Errorf("got %v, want ErrNotPollable", err)
		}
	})
}

func TestLimitsValidated(t *testing.T) {
	for _, l := range []reactor.Limits{{Low: 10, High: 5, Max: 20}, {Low: 1, High: 30, Max: 20}, {Low: -1, High: 2, Max: 3}} {
		if _, err := reactor.New(reactortest.NewRecorder(), reactor.Options{Limits: l}); err == nil {
			t.Errorf("limits %+v accepted", l)
		}
	}
	if _, err := reactor.New(reactortest.NewRecorder(), reactor.Options{Poller: "nope"}); !errors.Is(err, poller.ErrUnknownEngine) {
		t.Errorf("unknown engine: %v", err)
	}
}

// liar is a transport whose Write returns counts outside [0, len(p)].
type liar struct {
	*fdTransport
	n   func(p []byte) int
	err error
}

func (l liar) Write(p []byte) (int, error) { return l.n(p), l.err }

// Counts from a faulty resource are clamped: the loop must not panic.
func TestMisbehavingCountsAreClamped(t *testing.T) {
	h := reactortest.Start(t, reactortest.NewRecorder(), reactor.Options{})
	for _, tc := range []struct {
		name    string
		n       func(p []byte) int
		err     error
		pending int
	}{
		{"too many", func(p []byte) int { return len(p) + 10 }, nil, 0},
		{"negative", func([]byte) int { return -1 }, reactor.ErrWouldBlock, 100},
	} {
		tr, _ := socketpair(t)
		id := h.Register(liar{tr, tc.n, tc.err})
		h.Do(func(r *reactor.Reactor) {
			if err := r.Send(id, make([]byte, 100)); err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			if p := r.Pending(id); p != tc.pending {
				t.Errorf("%s: pending %d, want %d", tc.name, p, tc.pending)
			}
			r.Unregister(id)
		})
	}
}

// A HalfCloser's peer that shuts down its sending side still gets what is
// sent to it, and the loop does not spin on the half-closed descriptor; a
// plain handler's transport ends at the same end of file.
func TestHalfClose(t *testing.T) {
	engines(t, func(t *testing.T, opts reactor.Options) {
		h := reactortest.Start(t, reactortest.NewRecorder(), opts)
		tr, peer := socketpair(t)
		id := h.RegisterHalfClosing(tr)
		writeAll(t, peer, []byte("AT\r"))
		if err := unix.Shutdown(peer, unix.SHUT_WR); err != nil {
			t.Fatal(err)
		}
		if got := h.Receive(id, 3); got != "AT\r" {
			t.Fatalf("received %q", got)
		}
		h.Expect("peerclosed", id)
		h.Do(func(r *reactor.Reactor) {
			if err := r.Send(id, []byte("OK\r\n")); err != nil {
				t.Error(err)
			}
		})
		if got := string(readFull(t, peer, 4)); got != "OK\r\n" {
			t.Fatalf("peer got %q", got)
		}
		assertIdle(t, h)
		hangUp(t, peer)
		if e := h.Expect("disconnected", id); e.Err == nil {
			t.Fatal("disconnected without a cause")
		}

		plain, plainPeer := socketpair(t)
		pid := h.Register(plain)
		unix.Shutdown(plainPeer, unix.SHUT_WR)
		if e := h.Expect("disconnected", pid); !errors.Is(e.Err, io.EOF) {
			t.Fatalf("plain transport: cause %v, want io.EOF", e.Err)
		}
	})
}

// flushing is a Recorder that is a Flusher: it records "flush" events.
type flushing struct{ *reactortest.Recorder }

func (s flushing) Flush(*reactor.Reactor) { s.Events <- reactortest.Event{Kind: "flush"} }

// A Flusher is called once per wake-up, after the wake-up's events: what
// the handlers of two transports read comes before one flush.
func TestFlusherOncePerWakeup(t *testing.T) {
	svc := flushing{reactortest.NewRecorder()}
	r, err := reactor.New(svc, reactor.Options{})
	if err != nil {
		t.Fatal(err)
	}
	a, peerA := socketpair(t)
	b, peerB := socketpair(t)
	// Both readable before the loop first waits: one wake-up.
	writeAll(t, peerA, []byte("a"))
	writeAll(t, peerB, []byte("b"))
	if _, err := r.RegisterTransport(a, svc); err != nil {
		t.Fatal(err)
	}
	if _, err := r.RegisterTransport(b, svc); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- r.Run() }()
	var kinds []string
	for len(kinds) < 3 {
		kinds = append(kinds, (<-svc.Events).Kind)
	}
	if kinds[0] != "received" || kinds[1] != "received" || kinds[2] != "flush" {
		t.Fatalf("events %q, want two receives then one flush", kinds)
	}
	r.Controller().Stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
