package reactor_test

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/iogate/iogate/reactor"
)

// upper is a service that answers every chunk it receives in upper case.
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

// A service answers on a socketpair; the test drives the other end.
func Example() {
	fds, _ := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	unix.SetNonblock(fds[0], true)
	defer unix.Close(fds[1])

	svc := &upper{seen: make(chan string, 1)}
	r, err := reactor.New(svc, reactor.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := r.RegisterTransport(&fdTransport{fd: fds[0]}); err != nil {
		fmt.Println(err)
		return
	}
	done := make(chan error)
	go func() { done <- r.Run() }()

	unix.Write(fds[1], []byte("hello"))
	fmt.Println("service saw:", <-svc.seen)
	buf := make([]byte, 5)
	unix.Read(fds[1], buf)
	fmt.Println("peer got:", string(buf))

	r.Controller().Stop() // Base's Shutdown closes the socket
	fmt.Println("run:", <-done)
	// Output:
	// service saw: hello
	// peer got: HELLO
	// run: <nil>
}

// ticker counts down with a timer, then stops the loop itself.
type ticker struct {
	reactor.Base
	left int
}

func (s *ticker) Timer(r *reactor.Reactor, _ reactor.TimerID) {
	fmt.Println("tick", s.left)
	if s.left--; s.left == 0 {
		r.Stop()
		return
	}
	r.SetTimer(0)
}

// Timers are one-shot; a service re-arms them. Stop ends the loop from a handler.
func ExampleReactor_SetTimer() {
	svc := &ticker{left: 3}
	r, _ := reactor.New(svc, reactor.Options{})
	r.SetTimer(0)
	fmt.Println(r.Run())
	// Output:
	// tick 3
	// tick 2
	// tick 1
	// <nil>
}
