// Package reactortest runs a reactor inside a test and records what its
// service is told, as net/http/httptest does for HTTP handlers. It is for
// tests of resources and services; it is not used by the gateway itself.
package reactortest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/iogate/iogate/reactor"
)

// Deadline bounds every wait: generous, since CI machines are slow and shared.
const Deadline = 10 * time.Second

// Event is one call the Recorder saw, in order. Kind is the handler's name
// in lower case ("received", "disconnected", ...); the other fields are
// those of the call.
type Event struct {
	Kind  string
	ID    reactor.ID
	Data  string
	Err   error
	Res   reactor.Resource
	Timer reactor.TimerID
	Held  map[reactor.ID]reactor.Resource
}

func (e Event) String() string {
	return fmt.Sprintf("%s(id=%d data=%q err=%v timer=%d)", e.Kind, e.ID, e.Data, e.Err, e.Timer)
}

// Recorder is a Service and a handler of every kind that reports everything
// on a channel and runs the functions sent to it as commands, so tests act
// on the loop's goroutine. Register resources with it as their handler;
// arm timers with its SetTimer.
// Hooks, when set, run inside the handler before the event is reported, so
// that what a hook leaves in the test's variables may be read once the test
// has the event.
type Recorder struct {
	Events         chan Event
	OnReceived     func(r *reactor.Reactor, id reactor.ID, data []byte)
	OnAccepted     func(r *reactor.Reactor, l reactor.ID, t reactor.Transport)
	OnConnected    func(r *reactor.Reactor, id reactor.ID)
	OnCongested    func(r *reactor.Reactor, id reactor.ID)
	OnDrained      func(r *reactor.Reactor, id reactor.ID)
	OnDisconnected func(r *reactor.Reactor, id reactor.ID, res reactor.Resource, cause error)
	OnTimer        func(r *reactor.Reactor, t reactor.TimerID)
	OnShutdown     func(r *reactor.Reactor, held map[reactor.ID]reactor.Resource)
}

// NewRecorder returns a Recorder with room for 4096 unread events.
func NewRecorder() *Recorder { return &Recorder{Events: make(chan Event, 4096)} }

// Accepted runs OnAccepted, if set, and records the call.
func (s *Recorder) Accepted(r *reactor.Reactor, l reactor.ID, t reactor.Transport) {
	if s.OnAccepted != nil {
		s.OnAccepted(r, l, t)
	}
	s.Events <- Event{Kind: "accepted", ID: l, Res: t}
}

// Connected runs OnConnected, if set, and records the call.
func (s *Recorder) Connected(r *reactor.Reactor, id reactor.ID) {
	if s.OnConnected != nil {
		s.OnConnected(r, id)
	}
	s.Events <- Event{Kind: "connected", ID: id}
}

// Received runs OnReceived, if set, and records the call with a copy of data.
func (s *Recorder) Received(r *reactor.Reactor, id reactor.ID, data []byte) {
	if s.OnReceived != nil {
		s.OnReceived(r, id, data)
	}
	s.Events <- Event{Kind: "received", ID: id, Data: string(data)}
}

// Congested runs OnCongested, if set, and records the call.
func (s *Recorder) Congested(r *reactor.Reactor, id reactor.ID) {
	if s.OnCongested != nil {
		s.OnCongested(r, id)
	}
	s.Events <- Event{Kind: "congested", ID: id}
}

// Drained runs OnDrained, if set, and records the call.
func (s *Recorder) Drained(r *reactor.Reactor, id reactor.ID) {
	if s.OnDrained != nil {
		s.OnDrained(r, id)
	}
	s.Events <- Event{Kind: "drained", ID: id}
}

// Disconnected runs OnDisconnected, if set, and records the call; unless
// the hook closes it, the resource is left open for the test.
func (s *Recorder) Disconnected(r *reactor.Reactor, id reactor.ID, res reactor.Resource, cause error) {
	if s.OnDisconnected != nil {
		s.OnDisconnected(r, id, res, cause)
	}
	s.Events <- Event{Kind: "disconnected", ID: id, Res: res, Err: cause}
}

// Failed records the call.
func (s *Recorder) Failed(r *reactor.Reactor, id reactor.ID, err error) {
	s.Events <- Event{Kind: "failed", ID: id, Err: err}
}

// SetTimer arms a timer on r that runs OnTimer, if set, and records a
// "timer" event with its ID when it fires.
func (s *Recorder) SetTimer(r *reactor.Reactor, d time.Duration) reactor.TimerID {
	var id reactor.TimerID
	id = r.SetTimer(d, func() {
		if s.OnTimer != nil {
			s.OnTimer(r, id)
		}
		s.Events <- Event{Kind: "timer", Timer: id}
	})
	return id
}

// HalfClosing is a Recorder that keeps transports whose peer closed its
// side (a reactor.HalfCloser), and records "peerclosed" for them.
type HalfClosing struct{ *Recorder }

// PeerClosed records the call.
func (s HalfClosing) PeerClosed(_ *reactor.Reactor, id reactor.ID) {
	s.Events <- Event{Kind: "peerclosed", ID: id}
}

// Command runs a func(*reactor.Reactor) on the loop (see Loop.Do), and
// records any other command with its fmt.Sprint form as Data.
func (s *Recorder) Command(r *reactor.Reactor, cmd any) {
	if f, ok := cmd.(func(*reactor.Reactor)); ok {
		f(r)
		return
	}
	s.Events <- Event{Kind: "command", Data: fmt.Sprint(cmd)}
}

// Shutdown runs OnShutdown, if set, and records the call; unless the hook
// closes them, the resources are left open for the test.
func (s *Recorder) Shutdown(r *reactor.Reactor, held map[reactor.ID]reactor.Resource) {
	if s.OnShutdown != nil {
		s.OnShutdown(r, held)
	}
	s.Events <- Event{Kind: "shutdown", Held: held}
}

// Loop runs a reactor on its own goroutine for one test, with a Recorder
// as its service. The test acts on the reactor through Do.
type Loop struct {
	t    testing.TB
	R    *reactor.Reactor
	Svc  *Recorder
	done chan error
	once sync.Once
}

// Start creates a reactor running svc and runs it until the test ends.
func Start(t testing.TB, svc *Recorder, opts reactor.Options) *Loop {
	t.Helper()
	r, err := reactor.New(svc, opts)
	if err != nil {
		t.Fatal(err)
	}
	h := &Loop{t: t, R: r, Svc: svc, done: make(chan error, 1)}
	go func() { h.done <- r.Run() }()
	t.Cleanup(h.Stop)
	return h
}

// Stop stops the loop and waits for Run to return.
func (h *Loop) Stop() {
	h.once.Do(func() {
		h.R.Controller().Stop()
		select {
		case err := <-h.done:
			if err != nil {
				h.t.Errorf("Run: %v", err)
			}
		case <-time.After(Deadline):
			h.t.Errorf("Run did not return after Stop")
		}
	})
}

// Do runs f on the loop's goroutine and waits for it.
func (h *Loop) Do(f func(r *reactor.Reactor)) {
	h.t.Helper()
	done := make(chan struct{})
	if err := h.R.Controller().Send(func(r *reactor.Reactor) { f(r); close(done) }); err != nil {
		h.t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(Deadline):
		h.t.Fatal("loop did not run the command")
	}
}

// Register adds a transport from the loop's goroutine.
func (h *Loop) Register(tr reactor.Transport) reactor.ID {
	h.t.Helper()
	return h.register(func(r *reactor.Reactor) (reactor.ID, error) { return r.RegisterTransport(tr, h.Svc) })
}

// RegisterHalfClosing adds a transport whose peer may close its side
// without ending it (see HalfClosing).
func (h *Loop) RegisterHalfClosing(tr reactor.Transport) reactor.ID {
	h.t.Helper()
	return h.register(func(r *reactor.Reactor) (reactor.ID, error) {
		return r.RegisterTransport(tr, HalfClosing{h.Svc})
	})
}

// RegisterListener adds a listener from the loop's goroutine.
func (h *Loop) RegisterListener(l reactor.Listener) reactor.ID {
	h.t.Helper()
	return h.register(func(r *reactor.Reactor) (reactor.ID, error) { return r.RegisterListener(l, h.Svc) })
}

// Connect adds a connector from the loop's goroutine; Connected or
// Disconnected follows.
func (h *Loop) Connect(c reactor.Connector) reactor.ID {
	h.t.Helper()
	return h.register(func(r *reactor.Reactor) (reactor.ID, error) { return r.Connect(c, h.Svc) })
}

// register runs add on the loop and fails the test, on its own goroutine,
// if add does.
func (h *Loop) register(add func(r *reactor.Reactor) (reactor.ID, error)) reactor.ID {
	h.t.Helper()
	var id reactor.ID
	var err error
	h.Do(func(r *reactor.Reactor) { id, err = add(r) })
	if err != nil {
		h.t.Fatal(err)
	}
	return id
}

// Next returns the next event, failing the test after the Deadline.
func (h *Loop) Next() Event {
	h.t.Helper()
	select {
	case e := <-h.Svc.Events:
		return e
	case <-time.After(Deadline):
		h.t.Fatal("no event before the Deadline")
		return Event{}
	}
}

// Expect skips events until one of kind arrives for id.
func (h *Loop) Expect(kind string, id reactor.ID) Event {
	h.t.Helper()
	for {
		if e := h.Next(); e.Kind == kind && e.ID == id {
			return e
		}
	}
}

// Receive collects the bytes received on id until n have arrived.
func (h *Loop) Receive(id reactor.ID, n int) string {
	h.t.Helper()
	var got []byte
	for len(got) < n {
		e := h.Next()
		if e.ID != id || e.Kind != "received" {
			h.t.Fatalf("want data on %d, got %v", id, e)
		}
		got = append(got, e.Data...)
	}
	return string(got)
}

// NoEvent checks that nothing was reported: it runs a command round trip,
// which makes the loop process everything already ready first.
func (h *Loop) NoEvent() {
	h.t.Helper()
	h.Do(func(*reactor.Reactor) {})
	select {
	case e := <-h.Svc.Events:
		h.t.Fatalf("unexpected event %v", e)
	default:
	}
}
