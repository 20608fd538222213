package poller_test

import (
	"fmt"
	"log"
	"time"

	"github.com/iogate/iogate/poller"
	"golang.org/x/sys/unix"
)

// Watch the read end of a pipe and learn, by its token, that data arrived.
func Example() {
	p, err := poller.New("auto")
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()

	var fds [2]int
	if err := unix.Pipe(fds[:]); err != nil {
		log.Fatal(err)
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])

	const pipeToken = 7
	if err := p.Add(fds[0], pipeToken, poller.Read); err != nil {
		log.Fatal(err)
	}
	defer p.Remove(fds[0])
	unix.Write(fds[1], []byte("hello"))

	events := make([]poller.Event, 16)
	n, err := p.Wait(events, 5*time.Second)
	if err != nil {
		log.Fatal(err)
	}
	for _, ev := range events[:n] {
		fmt.Println("token", ev.Token, "readable:", ev.Flags&poller.Readable != 0)
	}
	// Output: token 7 readable: true
}
