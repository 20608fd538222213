package control_test

import (
	"fmt"
	"time"

	"github.com/iogate/iogate/control"
)

// The gateway's side of a connection: Decode answers the hello itself and
// stops at each request for the caller to answer; a tracer that falls
// behind is told how many events it lost.
func ExampleServer() {
	srv := control.NewServer("v1.2.3")
	in := []byte(`{"type":"hello","protocol":1,"version":"v1.2.3"}` + "\n" + `{"type":"trace","devices":["gps"]}` + "\n")
	var out []byte
	for len(in) > 0 {
		var n int
		var req control.Request
		var err error
		out, n, req, err = srv.Decode(out, in)
		in = in[n:]
		if err != nil {
			break // send out, then close
		}
		if req.Kind == control.KindTrace {
			out = control.AppendTracing(out, req.Devices) // once the devices are tapped
		}
	}
	t := time.Date(2026, 12, 4, 2, 20, 4, 123456000, time.UTC)
	out = srv.Trace(out, control.Event{Time: t, Device: "gps", Dir: control.RX, Data: []byte("$GPGGA,1\n")})
	srv.Drop() // the connection's output is full
	out = srv.Trace(out, control.Event{Time: t.Add(time.Second), Device: "gps", Dir: control.TX, Data: []byte("R\n")})
	fmt.Print(string(out))
	// Output:
	// {"type":"hello","protocol":1,"version":"v1.2.3"}
	// {"type":"tracing","devices":["gps"]}
	// {"type":"trace","time":"2026-12-04T02:20:04.123456Z","device":"gps","dir":"rx","data":"JEdQR0dBLDEK"}
	// {"type":"lost","time":"2026-12-04T02:20:05.123456Z","count":1}
	// {"type":"trace","time":"2026-12-04T02:20:05.123456Z","device":"gps","dir":"tx","data":"Ugo="}
}

// The client reads each line with ParseMessage and prints trace events
// with AppendLine.
func ExampleAppendLine() {
	m, err := control.ParseMessage([]byte(`{"type":"trace","time":"2026-12-04T02:20:04.123456Z","device":"d0","dir":"rx","data":"JEdQR0dBLDEK"}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(string(control.AppendLine(nil, m.Event, true)))
	fmt.Print(string(control.AppendLine(nil, m.Event, false)))
	// Output:
	// 2026-12-04T02:20:04.123456Z d0 rx 9  24 47 50 47 47 41 2c 31 0a  |$GPGGA,1.|
	// 2026-12-04T02:20:04.123456Z d0 rx 9  |$GPGGA,1.|
}
