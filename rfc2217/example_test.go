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
