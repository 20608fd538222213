package framing_test

import (
	"fmt"

	"github.com/iogate/iogate/framing"
)

// A sensor writes lines ending in "\r\n", with blank lines between, and a
// read may end mid-line.
func Example() {
	d, err := framing.New(framing.Config{Kind: framing.Line}, func(frame []byte) {
		fmt.Printf("frame %q\n", frame) // copy frame to keep it
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	d.Feed([]byte("$GPGGA,123519,4807.038,N\r\n\r\n$GPR"))
	fmt.Println("pending:", d.Pending())
	d.Feed([]byte("MC,A,4807.038,N\r\n"))
	fmt.Printf("%+v\n", d.Stats())
	// Output:
	// frame "$GPGGA,123519,4807.038,N"
	// pending: 4
	// frame "$GPRMC,A,4807.038,N"
	// {Frames:2 Bytes:43 Overlong:0 Malformed:0 Cut:0}
}

// With idle framing, as for Modbus RTU, the caller times the silence: it
// arms a timer while Pending is above 0 and calls Flush when idle_gap
// passes with no new bytes.
func ExampleDecoder_Flush() {
	d, _ := framing.New(framing.Config{Kind: framing.Idle, Max: 256}, func(frame []byte) {
		fmt.Printf("frame % x\n", frame)
	})
	d.Feed([]byte{0x01, 0x03, 0x02})
	d.Feed([]byte{0x00, 0x2a, 0x38, 0x5b})
	fmt.Println("pending:", d.Pending())
	d.Flush() // the idle timer fired
	fmt.Println("pending:", d.Pending())
	// Output:
	// pending: 7
	// frame 01 03 02 00 2a 38 5b
	// pending: 0
}

// A payload for a SLIP device is escaped and framed by END bytes; Encode
// appends to a buffer the caller reuses.
func ExampleEncode() {
	buf := make([]byte, 0, 64)
	buf = framing.Encode(framing.Config{Kind: framing.SLIP}, buf[:0], []byte{0x01, 0xc0, 0x02})
	fmt.Printf("% x\n", buf)
	buf = framing.Encode(framing.Config{Kind: framing.Line, Delimiter: []byte("\r\n")}, buf[:0], []byte("AT+CSQ"))
	fmt.Printf("%q\n", buf)
	// Output:
	// c0 01 db dc 02 c0
	// "AT+CSQ\r\n"
}
