package reactor_test

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/iogate/iogate/reactor"
)

// upper is a handler that answers every chunk it receives in upper case.
type upper struct {
	reactor.Base
	seen chan string
}

func (s *upper) Received(r *reactor.Reactor, id reactor.ID, data []byte) {
	out := make([]byte, len(data))
	for i, c := range data {
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		out[i] = c
	}
	r.Send(id, out)
	s.seen <- string(data)
}

// A handler answers on a socketpair; the test drives the other end.
func Example() {
	fds, _ := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	unix.SetNonblock(fds[0], true)
	defer unix.Close(fds[1])

	r, err := reactor.New(reactor.Base{}, reactor.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	h := &upper{seen: make(chan string, 1)}
	if _, err := r.RegisterTransport(&fdTransport{fd: fds[0]}, h); err != nil {
		fmt.Println(err)
		return
	}
	done := make(chan error)
	go func() { done <- r.Run() }()

	unix.Write(fds[1], []byte("hello"))
	fmt.Println("handler saw:", <-h.seen)
	buf := make([]byte, 5)
	unix.Read(fds[1], buf)
	fmt.Println("peer got:", string(buf))

	r.Controller().Stop() // Base's Shutdown closes the socket
	fmt.Println("run:", <-done)
	// Output:
	// handler saw: hello
	// peer got: HELLO
	// run: <nil>
}

// ticker counts down with a timer, then stops the loop itself.
type ticker struct {
	r      *reactor.Reactor
	left   int
	onTick func() // made once, so arming the timer does not allocate
}

func (t *ticker) tick() {
	fmt.Println("tick", t.left)
	if t.left--; t.left == 0 {
		t.r.Stop()
		return
	}
	t.r.SetTimer(0, t.onTick)
}

// Timers are one-shot; their function re-arms them. Stop ends the loop
// from a timer.
func ExampleReactor_SetTimer() {
	r, _ := reactor.New(reactor.Base{}, reactor.Options{})
	t := &ticker{r: r, left: 3}
	t.onTick = t.tick
	r.SetTimer(0, t.onTick)
	fmt.Println(r.Run())
	// Output:
	// tick 3
	// tick 2
	// tick 1
	// <nil>
}
