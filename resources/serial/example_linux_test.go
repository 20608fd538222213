package serial_test

import (
	"bytes"
	"fmt"
	"time"

	"github.com/iogate/iogate/reactor"
	"github.com/iogate/iogate/resources/serial"
)

// lines is a handler that prints each line a port receives, and stops the
// reactor after the first one.
type lines struct {
	reactor.Base
	buf []byte
}

func (s *lines) Received(r *reactor.Reactor, _ reactor.ID, data []byte) {
	s.buf = append(s.buf, data...)
	if i := bytes.IndexByte(s.buf, '\n'); i >= 0 {
		fmt.Printf("gateway read %q\n", s.buf[:i])
		r.Stop()
	}
}

// A simulated sensor on a pty, and the gateway's side of it: the terminal,
// opened as a serial port and read by a reactor.
func ExampleOpenPTY() {
	sensor, err := serial.OpenPTY()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sensor.Close()

	port, err := serial.Open(sensor.SlavePath(), serial.Mode{Baud: 9600})
	if err != nil {
		fmt.Println(err)
		return
	}
	r, err := reactor.New(reactor.Base{}, reactor.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := r.RegisterTransport(port, &lines{}); err != nil {
		fmt.Println(err)
		return
	}
	sensor.Write([]byte("temp=21.5\n"))
	fmt.Println(r.Run()) // Base's Shutdown closes the port
	// Output:
	// gateway read "temp=21.5"
	// <nil>
}

// breaker sends a break of a given length when told to, ending it with a
// timer rather than sleeping in the loop.
type breaker struct {
	reactor.Base
	port *serial.Port
}

func (s *breaker) Command(r *reactor.Reactor, cmd any) {
	if err := s.port.SetBreak(true); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("break on")
	r.SetTimer(cmd.(time.Duration), func() {
		if err := s.port.SetBreak(false); err != nil {
			fmt.Println(err)
		}
		fmt.Println("break off")
		r.Stop()
	})
}

// A break of 50 ms, the reactor way.
func ExamplePort_SetBreak() {
	device, err := serial.OpenPTY()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer device.Close()
	port, err := serial.Open(device.SlavePath(), serial.Mode{Baud: 9600})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer port.Close()

	r, err := reactor.New(&breaker{port: port}, reactor.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	r.Controller().Send(50 * time.Millisecond)
	fmt.Println(r.Run())
	// Output:
	// break on
	// break off
	// <nil>
}
