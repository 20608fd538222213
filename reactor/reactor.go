// Package reactor runs resources and their handlers on one goroutine.
//
// A Reactor owns a set of resources (listeners and transports, each one file
// descriptor), blocks on all of them at once through a poller, reads what is
// ready into a buffer it owns, writes what the handlers queued, and fires
// timers. Every resource is registered with the handler that gets its events,
// and every timer with the function it runs; one Service gets the commands
// sent from other goroutines and the shutdown. It is the reactor pattern of
// the Rust crate io-reactor: resources, a runtime, and services with a
// handler API, here in Go without a goroutine per descriptor.
//
// Everything a reactor holds belongs to the goroutine running Run. Handlers
// act on it directly through the *Reactor they are passed; other goroutines
// reach it only through its Controller. The reactor knows resources and
// handlers as interfaces and nothing of what they are: serial ports, sockets
// and broker sessions live in other packages.
//
// Rules the reactor keeps, where io-reactor left the choice open:
//   - IDs are never reused, so nothing meant for a gone resource reaches another.
//   - Output is buffered per transport up to Limits.Max; Send writes at once
//     when nothing is pending, asks for write interest only while something
//     is, and reports Congested and Drained at the watermarks.
//   - A hangup delivers every byte still readable, even on a paused
//     transport, before Disconnected hands the resource back with its cause.
//     A HalfCloser's peer may close its side alone and still be written to.
//   - Unregister and Disconnected hand resources back; the reactor closes
//     nothing. Shutdown hands back all that remain, once.
//   - The poll timeout is the time to the next timer: an idle reactor sleeps.
//   - Interest reaches the poller only when it changes, and steady-state
//     reads, writes and timers do not allocate.
package reactor

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"syscall"
	"time"

	"github.com/iogate/iogate/poller"
)

// Limits bound a transport's pending output, in bytes.
type Limits struct {
	Low  int // Drained is reported when pending output falls to Low
	High int // Congested is reported when pending output reaches High
	Max  int // a Send that would go beyond Max is refused with ErrOverflow
}

// DefaultLimits suit a device or a client connection.
var DefaultLimits = Limits{Low: 16 << 10, High: 64 << 10, Max: 1 << 20}

// Options configure a Reactor. The zero value is usable.
type Options struct {
	Poller     string // engine name for poller.New; "" picks the best
	ReadBuffer int    // bytes read per readable event; default 64 KiB
	Events     int    // events taken per wait; default 256
	Limits     Limits // default output limits of transports; zero means DefaultLimits
	// LockThread keeps the loop on one OS thread, as a C reactor would be.
	LockThread bool
}

// acceptBurst bounds the connections accepted per readable event, so a
// connection storm cannot starve the other resources.
const acceptBurst = 64

// yieldEvery is how often the loop hands its processor back to the Go
// scheduler on its own. A goroutine that never does looks to the runtime's
// monitor like one that runs forever: it is preempted, and its processor
// taken away while it waits in the poller, and getting it back costs
// futex wake-ups and context switches on every event. Yielding a few
// times a second halved the CPU per frame of a lightly loaded gateway.
const yieldEvery = 5 * time.Millisecond

// Reactor is the event loop. Create it with New, register resources, and
// call Run.
type Reactor struct {
	poller  poller.Poller
	service Service
	flusher Flusher // service, if it is one
	ctl     *Controller
	opts    Options

	entries map[ID]*entry
	lastID  ID
	timers  timers
	now     time.Time

	buf     []byte
	events  []poller.Event
	notes   []note
	cmds    []any
	wakeups uint64
	yielded time.Time
	stopped bool
	ran     bool
}

type kind uint8

const (
	listenerKind kind = iota
	transportKind
)

// entry is the reactor's state for one registered resource.
type entry struct {
	id         ID
	kind       kind
	res        Resource
	listener   Listener
	transport  Transport
	connector  Connector // non-nil while a connect is in progress
	h          Handler   // a transport's
	lh         ListenHandler
	interest   poller.Interest
	paused     bool
	gone       bool // unregistered or disconnected; stop touching it
	congested  bool
	halfClose  bool // the handler is a HalfCloser
	readClosed bool // the peer closed its side: nothing more to read
	limits     Limits
	out        []byte // pending output is out[off:]
	off        int
}

type noteKind uint8

const (
	noteCongested noteKind = iota
	noteDrained
	noteConnected
	noteDisconnected
	noteFailed
)

// note is an event raised while a handler runs (a Send that fills a buffer
// or fails), delivered after the handler returns so handlers never nest.
type note struct {
	kind noteKind
	e    *entry
	res  Resource
	err  error
}

// New opens a poller and returns a reactor whose commands and shutdown go
// to s.
func New(s Service, opts Options) (*Reactor, error) {
	p, err := poller.New(opts.Poller)
	if err != nil {
		return nil, err
	}
	if opts.ReadBuffer <= 0 {
		opts.ReadBuffer = 64 << 10
	}
	if opts.Events <= 0 {
		opts.Events = 256
	}
	if opts.Limits == (Limits{}) {
		opts.Limits = DefaultLimits
	}
	if err := opts.Limits.check(); err != nil {
		p.Close()
		return nil, err
	}
	flusher, _ := s.(Flusher)
	return &Reactor{
		poller:  p,
		service: s,
		flusher: flusher,
		ctl:     &Controller{poller: p},
		opts:    opts,
		entries: make(map[ID]*entry),
		timers:  timers{byID: make(map[TimerID]*timer)},
		now:     time.Now(),
		buf:     make([]byte, opts.ReadBuffer),
		events:  make([]poller.Event, opts.Events),
	}, nil
}

func (l Limits) check() error {
	if l.Low < 0 || l.Low >= l.High || l.High > l.Max {
		return fmt.Errorf("reactor limits: want 0 <= Low < High <= Max, have %+v", l)
	}
	return nil
}

// Controller returns the handle through which other goroutines reach the
// reactor.
func (r *Reactor) Controller() *Controller { return r.ctl }

// Poller is the name of the poll engine in use.
func (r *Reactor) Poller() string { return r.poller.Name() }

// Now is the time the loop last woke up: cheaper than time.Now in handlers
// and the same for every event of one wake-up.
func (r *Reactor) Now() time.Time { return r.now }

// Wakeups counts the times the loop came back from waiting: for every
// event batch, due timer or command. An idle reactor does not add to it.
func (r *Reactor) Wakeups() uint64 { return r.wakeups }

// RegisterListener adds a listener; its connections reach h.Accepted.
func (r *Reactor) RegisterListener(l Listener, h ListenHandler) (ID, error) {
	return r.register(&entry{kind: listenerKind, res: l, listener: l, lh: h})
}

// RegisterTransport adds a connected transport; its bytes reach h.Received.
func (r *Reactor) RegisterTransport(t Transport, h Handler) (ID, error) {
	return r.register(&entry{kind: transportKind, res: t, transport: t, h: h})
}

// Connect adds a transport whose connection is in progress. h gets
// Connected once it is up, or Disconnected with the reason it failed.
// Sends made before then are queued.
func (r *Reactor) Connect(c Connector, h ConnectHandler) (ID, error) {
	return r.register(&entry{kind: transportKind, res: c, transport: c, connector: c, h: h})
}

func (r *Reactor) register(e *entry) (ID, error) {
	if e.h == nil && e.lh == nil {
		return 0, errors.New("reactor: register without a handler")
	}
	_, e.halfClose = e.h.(HalfCloser)
	if r.stopped {
		return 0, ErrStopped
	}
	r.lastID++
	e.id = r.lastID
	e.limits = r.opts.Limits
	e.interest = e.want()
	if err := r.poller.Add(e.res.Fd(), uint64(e.id), e.interest); err != nil {
		return 0, err
	}
	r.entries[e.id] = e
	return e.id, nil
}

// Unregister removes a resource and hands it back, unclosed. Output still
// pending is discarded: wait for Drained first to keep it.
func (r *Reactor) Unregister(id ID) (Resource, error) {
	e, ok := r.entries[id]
	if !ok {
		return nil, fmt.Errorf("unregister %d: %w", id, ErrNotRegistered)
	}
	r.remove(e)
	return e.res, nil
}

// remove takes e out of the poller and the table. A descriptor the service
// already closed fails to be removed; it has left the poller with its close.
func (r *Reactor) remove(e *entry) {
	r.poller.Remove(e.res.Fd())
	delete(r.entries, e.id)
	e.gone = true
	e.out = nil
}

// SetLimits changes the output limits of one transport.
func (r *Reactor) SetLimits(id ID, l Limits) error {
	e, ok := r.entries[id]
	if !ok {
		return fmt.Errorf("set limits %d: %w", id, ErrNotRegistered)
	}
	if err := l.check(); err != nil {
		return err
	}
	e.limits = l
	return nil
}

// Pause stops reading from a resource (or accepting on a listener) until
// Resume: the kernel buffers, and then the peer, hold what comes meanwhile.
func (r *Reactor) Pause(id ID) error { return r.setPaused(id, true) }

// Resume undoes Pause.
func (r *Reactor) Resume(id ID) error { return r.setPaused(id, false) }

func (r *Reactor) setPaused(id ID, paused bool) error {
	e, ok := r.entries[id]
	if !ok {
		return fmt.Errorf("pause %d: %w", id, ErrNotRegistered)
	}
	e.paused = paused
	r.sync(e)
	return nil
}

// Pending is the number of bytes queued for a transport and not yet written.
func (r *Reactor) Pending(id ID) int {
	if e, ok := r.entries[id]; ok {
		return len(e.out) - e.off
	}
	return 0
}

// Send writes data to a transport: at once as far as the descriptor takes
// it, the rest queued and written when it becomes writable. data is copied
// and may be reused when Send returns. Send refuses data that, added whole
// to the pending output, would exceed Limits.Max (ErrOverflow), and takes
// nothing of it then: a message larger than Max is always refused. A
// write that fails disconnects the transport; Send returns that error and
// the service also gets Disconnected.
func (r *Reactor) Send(id ID, data []byte) error {
	e, ok := r.entries[id]
	if !ok || e.kind != transportKind {
		return fmt.Errorf("send to %d: %w", id, ErrNotRegistered)
	}
	pending := len(e.out) - e.off
	if pending+len(data) > e.limits.Max {
		return fmt.Errorf("send %d bytes to %d with %d pending: %w", len(data), id, pending, ErrOverflow)
	}
	if pending == 0 && e.connector == nil {
		n, err := e.transport.Write(data)
		if err != nil && !errors.Is(err, ErrWouldBlock) {
			r.disconnect(e, err)
			return err
		}
		data = data[clamp(n, len(data)):]
		if len(data) == 0 {
			return nil
		}
	}
	if e.off > 0 && len(e.out)+len(data) > cap(e.out) {
		e.out = append(e.out[:0], e.out[e.off:]...)
		e.off = 0
	}
	e.out = append(e.out, data...)
	if !e.congested && len(e.out)-e.off >= e.limits.High {
		e.congested = true
		r.notes = append(r.notes, note{kind: noteCongested, e: e})
	}
	r.sync(e)
	return nil
}

// Stop ends the loop after the current wake-up; see Controller.Stop.
func (r *Reactor) Stop() { r.stopped = true }

// SetTimer arms a one-shot timer that calls fn on the loop after d. A
// method value made once and kept (d.onIdle = d.idle) arms timers without
// allocating.
func (r *Reactor) SetTimer(d time.Duration, fn func()) TimerID {
	return r.timers.set(time.Now(), d, fn)
}

// CancelTimer disarms a timer; it reports whether the timer was still armed.
func (r *Reactor) CancelTimer(t TimerID) bool { return r.timers.cancel(t) }

// want is the interest e needs now: read unless paused, connecting or
// closed by the peer, write while output is pending or a connect is in
// progress.
func (e *entry) want() poller.Interest {
	var in poller.Interest
	switch {
	case e.connector != nil:
		return poller.Write
	case e.readClosed:
		in = poller.PeerClosed
	case !e.paused:
		in = poller.Read
	}
	if len(e.out) > e.off {
		in |= poller.Write
	}
	return in
}

// sync tells the poller about e's interest, only when it changed.
func (r *Reactor) sync(e *entry) {
	if e.gone {
		return
	}
	in := e.want()
	if in == e.interest {
		return
	}
	if err := r.poller.Modify(e.res.Fd(), uint64(e.id), in); err != nil {
		r.disconnect(e, err)
		return
	}
	e.interest = in
}

// disconnect unregisters e and queues its hand-back to its handler.
func (r *Reactor) disconnect(e *entry, cause error) {
	if e.gone {
		return
	}
	r.remove(e)
	r.notes = append(r.notes, note{kind: noteDisconnected, e: e, res: e.res, err: cause})
}

// Run runs the loop until Stop, Controller.Stop or a poller failure, then
// calls the service's Shutdown and closes the poller. A reactor runs once.
func (r *Reactor) Run() error {
	if r.ran {
		return errors.New("reactor: Run called twice")
	}
	r.ran = true
	if r.opts.LockThread {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
	}
	err := r.loop()
	r.shutdown()
	return err
}

func (r *Reactor) loop() error {
	for !r.stopped {
		n, err := r.poller.Wait(r.events, r.timers.timeout(time.Now()))
		if err != nil {
			return err
		}
		r.now = time.Now()
		r.wakeups++
		if r.now.Sub(r.yielded) >= yieldEvery {
			r.yielded = r.now
			runtime.Gosched()
		}
		for _, ev := range r.events[:n] {
			if e, ok := r.entries[ID(ev.Token)]; ok {
				r.dispatch(e, ev.Flags)
				r.flush()
			}
		}
		for !r.stopped {
			fn, ok := r.timers.pop(r.now)
			if !ok {
				break
			}
			fn()
			r.flush()
		}
		if r.ctl.pending.Load() {
			r.commands()
		}
		if r.flusher != nil && !r.stopped {
			r.flusher.Flush(r)
			r.flush()
		}
	}
	return nil
}

func (r *Reactor) commands() {
	cmds, stop := r.ctl.take(r.cmds)
	for i, cmd := range cmds {
		r.service.Command(r, cmd)
		cmds[i] = nil
		r.flush()
	}
	r.cmds = cmds
	if stop {
		r.stopped = true
	}
}

func (r *Reactor) shutdown() {
	r.stopped = true
	r.ctl.finish()
	handed := make(map[ID]Resource, len(r.entries))
	for _, e := range r.entries {
		r.remove(e)
		handed[e.id] = e.res
	}
	r.service.Shutdown(r, handed)
	r.poller.Close()
}

// flush delivers the notes raised by the last handler, and those raised
// while delivering them.
func (r *Reactor) flush() {
	for i := 0; i < len(r.notes); i++ {
		n := r.notes[i]
		r.notes[i] = note{}
		e := n.e
		switch n.kind {
		case noteCongested:
			e.h.Congested(r, e.id)
		case noteDrained:
			e.h.Drained(r, e.id)
		case noteConnected:
			e.h.(ConnectHandler).Connected(r, e.id)
		case noteDisconnected:
			if e.lh != nil {
				e.lh.Disconnected(r, e.id, n.res, n.err)
			} else {
				e.h.Disconnected(r, e.id, n.res, n.err)
			}
		case noteFailed:
			e.lh.Failed(r, e.id, n.err)
		}
	}
	r.notes = r.notes[:0]
}

func (r *Reactor) dispatch(e *entry, f poller.Flags) {
	switch {
	case e.kind == listenerKind:
		r.accept(e)
	case e.connector != nil:
		r.finishConnect(e)
	case f&(poller.Hangup|poller.Error) != 0:
		// Read first: a write to a peer that has gone fails and would
		// disconnect before the bytes it sent last were delivered.
		r.drain(e)
	default:
		if f&poller.Writable != 0 {
			r.write(e)
		}
		if f&poller.Readable != 0 {
			r.read(e)
		}
	}
}

func (r *Reactor) accept(e *entry) {
	for range acceptBurst {
		t, err := e.listener.Accept()
		if errors.Is(err, ErrWouldBlock) || e.gone {
			return
		}
		if err != nil {
			if transientAccept(err) {
				continue
			}
			if exhausted(err) {
				e.paused = true
				r.sync(e)
				r.notes = append(r.notes, note{kind: noteFailed, e: e, err: err})
				return
			}
			r.disconnect(e, err)
			return
		}
		e.lh.Accepted(r, e.id, t)
		if e.gone || e.paused {
			return
		}
	}
}

func (r *Reactor) finishConnect(e *entry) {
	err := e.connector.FinishConnect()
	if errors.Is(err, ErrWouldBlock) {
		return
	}
	if err != nil {
		r.disconnect(e, err)
		return
	}
	e.connector = nil
	r.notes = append(r.notes, note{kind: noteConnected, e: e})
	if len(e.out) > e.off {
		r.write(e)
	}
	r.sync(e)
}

// read takes one buffer's worth: a busy transport must not starve the others.
func (r *Reactor) read(e *entry) {
	if e.gone || e.paused || e.readClosed {
		return
	}
	n, err := e.transport.Read(r.buf)
	n = clamp(n, len(r.buf))
	if n > 0 {
		e.h.Received(r, e.id, r.buf[:n])
	}
	if err != nil && !errors.Is(err, ErrWouldBlock) {
		r.ended(e, err)
	}
}

// drain reads everything left in a transport that hung up, delivers it,
// and disconnects it with the read's error, or ErrHangup if there was none.
func (r *Reactor) drain(e *entry) {
	if e.readClosed {
		// Asked not to hear of the peer's half-close again, the poller
		// reports only a full hangup or an error: the connection is over.
		r.disconnect(e, ErrHangup)
		return
	}
	for !e.gone && !e.readClosed {
		n, err := e.transport.Read(r.buf)
		n = clamp(n, len(r.buf))
		if n > 0 {
			e.h.Received(r, e.id, r.buf[:n])
		}
		switch {
		case err == nil && n > 0:
			continue
		case err == nil || errors.Is(err, ErrWouldBlock):
			r.disconnect(e, ErrHangup)
		default:
			r.ended(e, err)
		}
	}
}

// ended acts on a read that failed: a HalfCloser's end of file leaves the
// transport open for writing; anything else disconnects it.
func (r *Reactor) ended(e *entry, err error) {
	if !e.halfClose || !errors.Is(err, io.EOF) || e.gone {
		r.disconnect(e, err)
		return
	}
	e.readClosed = true
	r.sync(e)
	e.h.(HalfCloser).PeerClosed(r, e.id)
}

func (r *Reactor) write(e *entry) {
	for len(e.out) > e.off {
		n, err := e.transport.Write(e.out[e.off:])
		e.off += clamp(n, len(e.out)-e.off)
		if errors.Is(err, ErrWouldBlock) || (err == nil && n == 0) {
			break
		}
		if err != nil {
			r.disconnect(e, err)
			return
		}
	}
	pending := len(e.out) - e.off
	switch {
	case pending > 0:
	case cap(e.out) > e.limits.High:
		e.out, e.off = nil, 0 // a burst's buffer is not kept by an idle transport
	default:
		e.out, e.off = e.out[:0], 0
	}
	if e.congested && pending <= e.limits.Low {
		e.congested = false
		r.notes = append(r.notes, note{kind: noteDrained, e: e})
	}
	r.sync(e)
}

// clamp keeps a count a resource returned within [0, limit], so that a
// faulty resource cannot make the loop slice out of range.
func clamp(n, limit int) int {
	return min(max(n, 0), limit)
}

// exhausted tells accept errors that will repeat until descriptors or
// memory are freed: accepting again at once would spin.
func exhausted(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
		errors.Is(err, syscall.ENOBUFS) || errors.Is(err, syscall.ENOMEM)
}

// transientAccept tells accept errors about one connection that went away
// before it was taken; the next one may be fine.
func transientAccept(err error) bool {
	return errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.EINTR) || errors.Is(err, syscall.EPROTO)
}
