package reactor_test

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/iogate/iogate/reactor"
)

// deadline bounds every wait: generous, since CI machines are slow and shared.
const deadline = 10 * time.Second

// fdTransport is the smallest real transport: a non-blocking descriptor
// (one end of a socketpair or a pipe).
type fdTransport struct {
	fd     int
	closed bool
}

func (t *fdTransport) Fd() int { return t.fd }

func (t *fdTransport) Read(p []byte) (int, error) {
	n, err := unix.Read(t.fd, p)
	if err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}

func (t *fdTransport) Write(p []byte) (int, error) {
	n, err := unix.Write(t.fd, p)
	if n < 0 {
		n = 0
	}
	return n, err
}

func (t *fdTransport) Close() error {
	if t.closed {
		return errors.New("already closed")
	}
	t.closed = true
	return unix.Close(t.fd)
}

// socketpair returns a non-blocking transport and the blocking peer fd the
// test drives.
func socketpair(t *testing.T) (*fdTransport, int) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.SetNonblock(fds[0], true); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fds[1]) })
	return &fdTransport{fd: fds[0]}, fds[1]
}

// event is what the recording service saw, in order.
type event struct {
	kind  string
	id    reactor.ID
	data  string
	err   error
	res   reactor.Resource
	timer reactor.TimerID
	held  map[reactor.ID]reactor.Resource
}

func (e event) String() string {
	return fmt.Sprintf("%s(id=%d data=%q err=%v timer=%d)", e.kind, e.id, e.data, e.err, e.timer)
}

// recorder is a Service that reports everything on a channel and runs the
// functions sent to it as commands, so tests act on the loop's goroutine.
// Hooks, when set, run inside the handler before the event is reported.
type recorder struct {
	events     chan event
	onReceived func(r *reactor.Reactor, id reactor.ID, data []byte)
	onAccepted func(r *reactor.Reactor, l reactor.ID, t reactor.Transport)
}

func newRecorder() *recorder { return &recorder{events: make(chan event, 4096)} }

func (s *recorder) Accepted(r *reactor.Reactor, l reactor.ID, t reactor.Transport) {
	if s.onAccepted != nil {
		s.onAccepted(r, l, t)
	}
	s.events <- event{kind: "accepted", id: l, res: t}
}
func (s *recorder) Connected(r *reactor.Reactor, id reactor.ID) {
	s.events <- event{kind: "connected", id: id}
}
func (s *recorder) Received(r *reactor.Reactor, id reactor.ID, data []byte) {
	if s.onReceived != nil {
		s.onReceived(r, id, data)
	}
	s.events <- event{kind: "received", id: id, data: string(data)}
}
func (s *recorder) Congested(r *reactor.Reactor, id reactor.ID) {
	s.events <- event{kind: "congested", id: id}
}
func (s *recorder) Drained(r *reactor.Reactor, id reactor.ID) {
	s.events <- event{kind: "drained", id: id}
}
func (s *recorder) Disconnected(r *reactor.Reactor, id reactor.ID, res reactor.Resource, cause error) {
	s.events <- event{kind: "disconnected", id: id, res: res, err: cause}
}
func (s *recorder) Failed(r *reactor.Reactor, id reactor.ID, err error) {
	s.events <- event{kind: "failed", id: id, err: err}
}
func (s *recorder) Timer(r *reactor.Reactor, t reactor.TimerID) {
	s.events <- event{kind: "timer", timer: t}
}
func (s *recorder) Command(r *reactor.Reactor, cmd any) {
	if f, ok := cmd.(func(*reactor.Reactor)); ok {
		f(r)
		return
	}
	s.events <- event{kind: "command", data: fmt.Sprint(cmd)}
}
func (s *recorder) Shutdown(r *reactor.Reactor, held map[reactor.ID]reactor.Resource) {
	s.events <- event{kind: "shutdown", held: held}
}

// harness runs a reactor on its own goroutine for one test.
type harness struct {
	t    *testing.T
	r    *reactor.Reactor
	svc  *recorder
	done chan error
	once sync.Once
}

func start(t *testing.T, svc *recorder, opts reactor.Options) *harness {
	t.Helper()
	r, err := reactor.New(svc, opts)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, r: r, svc: svc, done: make(chan error, 1)}
	go func() { h.done <- r.Run() }()
	t.Cleanup(h.stop)
	return h
}

// stop stops the loop and waits for Run to return.
func (h *harness) stop() {
	h.once.Do(func() {
		h.r.Controller().Stop()
		select {
		case err := <-h.done:
			if err != nil {
				h.t.Errorf("Run: %v", err)
			}
		case <-time.After(deadline):
			h.t.Errorf("Run did not return after Stop")
		}
	})
}

// do runs f on the loop's goroutine and waits for it.
func (h *harness) do(f func(r *reactor.Reactor)) {
	h.t.Helper()
	done := make(chan struct{})
	if err := h.r.Controller().Send(func(r *reactor.Reactor) { f(r); close(done) }); err != nil {
		h.t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(deadline):
		h.t.Fatal("loop did not run the command")
	}
}

// register adds a transport from the loop's goroutine.
func (h *harness) register(tr reactor.Transport) reactor.ID {
	h.t.Helper()
	var id reactor.ID
	var err error
	h.do(func(r *reactor.Reactor) { id, err = r.RegisterTransport(tr) })
	if err != nil {
		h.t.Fatal(err)
	}
	return id
}

// next returns the next event, failing the test after the deadline.
func (h *harness) next() event {
	h.t.Helper()
	select {
	case e := <-h.svc.events:
		return e
	case <-time.After(deadline):
		h.t.Fatal("no event before the deadline")
		return event{}
	}
}

// expect skips events until one of kind arrives for id.
func (h *harness) expect(kind string, id reactor.ID) event {
	h.t.Helper()
	for {
		if e := h.next(); e.kind == kind && e.id == id {
			return e
		}
	}
}

// receive collects the bytes received on id until n have arrived.
func (h *harness) receive(id reactor.ID, n int) string {
	h.t.Helper()
	var got []byte
	for len(got) < n {
		e := h.next()
		if e.id != id || e.kind != "received" {
			h.t.Fatalf("want data on %d, got %v", id, e)
		}
		got = append(got, e.data...)
	}
	return string(got)
}

// noEvent checks that nothing was reported: it runs a command round trip,
// which makes the loop process everything already ready first.
func (h *harness) noEvent() {
	h.t.Helper()
	h.do(func(*reactor.Reactor) {})
	select {
	case e := <-h.svc.events:
		h.t.Fatalf("unexpected event %v", e)
	default:
	}
}

func writeAll(t *testing.T, fd int, data []byte) {
	t.Helper()
	for len(data) > 0 {
		n, err := unix.Write(fd, data)
		if err != nil {
			t.Fatal(err)
		}
		data = data[n:]
	}
}

func readFull(t *testing.T, fd int, n int) []byte {
	t.Helper()
	buf := make([]byte, n)
	for got := 0; got < n; {
		m, err := unix.Read(fd, buf[got:])
		if err != nil || m == 0 {
			t.Fatalf("read after %d of %d bytes: %v", got, n, err)
		}
		got += m
	}
	return buf
}

func fmtSscan(s string, a, b *int) (int, error) { return fmt.Sscanf(s, "[%d %d]", a, b) }

// dialing is a socket after a non-blocking connect.
type dialing struct{ fdTransport }

func (d *dialing) FinishConnect() error {
	v, err := unix.GetsockoptInt(d.fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil {
		return err
	}
	if v != 0 {
		return syscall.Errno(v)
	}
	return nil
}

// listenLoopback returns a blocking listening socket on 127.0.0.1 and its port.
func listenLoopback(t *testing.T) (int, int) {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 16); err != nil {
		t.Fatal(err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd, sa.(*unix.SockaddrInet4).Port
}

func dialNonblocking(t *testing.T, port int) *dialing {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	err = unix.Connect(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}, Port: port})
	if err != nil && err != unix.EINPROGRESS {
		t.Fatalf("connect: %v", err)
	}
	d := &dialing{fdTransport{fd: fd}}
	t.Cleanup(func() { unix.Close(fd) })
	return d
}

func acceptBlocking(t *testing.T, ln int) int {
	t.Helper()
	fd, _, err := unix.Accept(ln)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}
