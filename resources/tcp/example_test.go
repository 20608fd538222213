package tcp_test

import (
	"bufio"
	"fmt"
	"log"
	"net"

	"github.com/iogate/iogate/reactor"
	"github.com/iogate/iogate/resources/tcp"
)

// echo sends every client back what it sends.
type echo struct{ reactor.Base }

func (echo) Accepted(r *reactor.Reactor, _ reactor.ID, t reactor.Transport) {
	if _, err := r.RegisterTransport(t, echo{}); err != nil {
		t.Close()
	}
}

// Received echoes. A Send that fails disconnects the client, which
// Disconnected (Base's: close it) takes care of.
func (echo) Received(r *reactor.Reactor, id reactor.ID, data []byte) { r.Send(id, data) }

// Congested stops reading from a client that does not read its echo, so
// that its backlog stays in the kernel and in the client.
func (echo) Congested(r *reactor.Reactor, id reactor.ID) { r.Pause(id) }

func (echo) Drained(r *reactor.Reactor, id reactor.ID) { r.Resume(id) }

// An echo server: a tcp.Listener registered with a reactor, its
// connections served on the reactor's goroutine.
func Example() {
	l, err := tcp.Listen("127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	r, err := reactor.New(echo{}, reactor.Options{})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := r.RegisterListener(l, echo{}); err != nil {
		log.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- r.Run() }()

	client, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Fprintln(client, "hello, gateway")
	line, err := bufio.NewReader(client).ReadString('\n')
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(line)
	client.Close()

	r.Controller().Stop()
	if err := <-done; err != nil {
		log.Fatal(err)
	}
	// Output: hello, gateway
}
