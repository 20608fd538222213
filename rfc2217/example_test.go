package rfc2217_test

import (
	"fmt"

	"github.com/iogate/iogate/resources/serial"
	"github.com/iogate/iogate/rfc2217"
)

// A client connects, agrees to COM-PORT-OPTION, sets 115200 baud and
// sends data with a 0xFF in it. The caller loops over Decode for each
// read: it writes the data to the port before it carries out the command
// that follows, and sends the answers back. Here the port is a Mode and a
// printout.
func Example() {
	srv := rfc2217.NewServer("iogate example")
	fmt.Printf("greeting % x\n", srv.Greeting(nil))

	mode := serial.Mode{Baud: 9600}
	// The buffers are the caller's, reused for every read.
	var data, reply []byte
	read := []byte("\xff\xfb\x2c" + // IAC WILL COM-PORT-OPTION
		"AT\xff\xff\r" + // data: "AT", 0xFF, "\r"
		"\xff\xfa\x2c\x01\x00\x01\xc2\x00\xff\xf0" + // SET-BAUDRATE 115200
		"OK")
	for in := read; len(in) > 0; {
		var n int
		var cmd rfc2217.Command
		data, reply, n, cmd = srv.Decode(data[:0], reply, in)
		in = in[n:]
		if len(data) > 0 {
			fmt.Printf("to the port: %q\n", data)
		}
		if next, ok := rfc2217.ApplyMode(mode, cmd); ok {
			fmt.Println("command:", cmd)
			if next != mode {
				mode = next // where port.SetMode(next) == nil
			}
			reply = srv.Reply(reply, cmd.Op, rfc2217.ModeValue(mode, cmd))
		}
	}
	fmt.Printf("to the client: % x\n", reply)
	fmt.Println("mode:", mode)

	// What the port sends goes to the client escaped.
	fmt.Printf("from the port: % x\n", rfc2217.Escape(nil, []byte("\xffOK")))
	// Output:
	// greeting ff fb 03 ff fb 01 ff fd 00 ff fb 00 ff fd 2c
	// to the port: "AT\xff\r"
	// command: SET-BAUDRATE 115200
	// to the port: "OK"
	// to the client: ff fa 2c 65 00 01 c2 00 ff f0
	// mode: 115200 8N1
	// from the port: ff ff 4f 4b
}

// A gateway connects to ser2net's telnet(rfc2217) and sets the remote
// port to 19200 7E1. The caller greets when the connection is up, loops
// over Decode for each read, hands on the data, sends the reply, and logs
// what the server said; what it writes to the device goes out escaped.
func ExampleClient() {
	cl := rfc2217.NewClient("iogate gps", serial.Mode{Baud: 19200, DataBits: 7, Parity: serial.ParityEven})
	fmt.Printf("greeting % x\n", cl.Greeting(nil))

	var data, reply []byte
	reads := [][]byte{
		// ser2net's greeting, and its first NOTIFY-MODEMSTATE.
		[]byte("\xff\xfb\x03\xff\xfd\x03\xff\xfb\x01\xff\xfe\x01\xff\xfd\x00\xff\xfb\x00\xff\xfd\x2c" +
			"\xff\xfa\x2c\x6b\x00\xff\xf0"),
		// Its answers to the five commands, and the device's "$\xff".
		[]byte("\xff\xfa\x2c\x65\x00\x00\x4b\x00\xff\xf0\xff\xfa\x2c\x66\x07\xff\xf0\xff\xfa\x2c\x67\x03\xff\xf0" +
			"\xff\xfa\x2c\x68\x01\xff\xf0\xff\xfa\x2c\x69\x01\xff\xf0" + "$\xff\xff"),
	}
	for _, read := range reads {
		for in := read; len(in) > 0; {
			var n int
			var said rfc2217.Command
			data, reply, n, said = cl.Decode(data[:0], reply[:0], in)
			in = in[n:]
			if len(data) > 0 {
				fmt.Printf("from the device: %q\n", data)
			}
			if len(reply) > 0 {
				fmt.Printf("to the server: % x\n", reply)
			}
			if said.Op != rfc2217.OpNone {
				fmt.Println("the server said:", said)
			}
		}
	}
	l := cl.Line()
	fmt.Printf("%v: confirmed %v; other values %v; unanswered %v\n", l.Mode, l.Confirmed, l.Answered&^l.Confirmed, l.Sent&^l.Answered)
	fmt.Printf("to the device: % x\n", rfc2217.Escape(nil, []byte("\xffOK")))
	// Output:
	// greeting ff fb 00 ff fd 00 ff fb 03 ff fd 03 ff fb 2c
	// to the server: ff fe 01 ff fa 2c 01 00 00 4b 00 ff f0 ff fa 2c 02 07 ff f0 ff fa 2c 03 03 ff f0 ff fa 2c 04 01 ff f0 ff fa 2c 05 01 ff f0
	// the server said: COM-PORT-OPTION agreed
	// the server said: NOTIFY-MODEMSTATE
	// the server said: SET-BAUDRATE 19200
	// the server said: SET-DATASIZE 7
	// the server said: SET-PARITY even
	// the server said: SET-STOPSIZE 1
	// the server said: SET-CONTROL flow none
	// from the device: "$\xff"
	// 19200 7E1: confirmed baud, data bits, parity, stop bits, flow; other values none; unanswered none
	// to the device: ff ff 4f 4b
}
