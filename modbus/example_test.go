package modbus_test

import (
	"fmt"

	"github.com/iogate/iogate/modbus"
)

// A master reads an energy meter's voltage and current: the points are
// planned into requests, each request framed, and its reply, arriving in
// pieces, decoded into the values that are published.
func Example() {
	points := []modbus.Point{
		{Table: modbus.Input, Address: 0x0000, Type: modbus.Float32},             // voltage
		{Table: modbus.Input, Address: 0x0002, Type: modbus.Uint16, Scale: 0.01}, // current
	}
	reads, err := modbus.Plan(1, points)
	if err != nil {
		fmt.Println(err)
		return
	}
	var d modbus.RTUReplyDecoder
	var frame []byte
	var values []uint16
	var payload []byte
	for _, r := range reads {
		frame, _ = r.Request.AppendRTU(frame[:0])
		fmt.Printf("request % x, reply of %d bytes\n", frame, r.Request.ReplyLen())
		_ = d.Expect(r.Request)
		for _, chunk := range [][]byte{{0x01, 0x04, 0x06, 0x43}, {0x66, 0x19, 0x9a, 0x01, 0x2c, 0x41, 0x56}} {
			if _, done, err := d.Feed(chunk); done {
				if err != nil {
					fmt.Println(err)
					return
				}
				values = d.AppendValues(values[:0])
			}
		}
		for _, s := range r.Slots {
			payload, _ = points[s.Point].AppendValue(payload[:0], values[s.Offset:])
			fmt.Printf("point %d: %s\n", s.Point, payload)
		}
	}
	// Output:
	// request 01 04 00 00 00 03 b0 0b, reply of 11 bytes
	// point 0: 230.1
	// point 1: 3
}

// A slave's exception is an error that says its code and name.
func ExampleException() {
	var d modbus.RTUReplyDecoder
	_ = d.Expect(modbus.Request{Slave: 1, Function: modbus.ReadHoldingRegisters, Address: 9999, Count: 1})
	_, done, err := d.Feed([]byte{0x01, 0x83, 0x02, 0xc0, 0xf1})
	fmt.Println(done, err)
	if e, ok := err.(modbus.Exception); ok {
		fmt.Println("retry later:", e.Retryable())
	}
	// Output:
	// true modbus exception 2 (illegal data address)
	// retry later: false
}

// Home Assistant's number entity sends 12.5 for a setpoint stored in
// tenths: Encode scales it back, and WriteRequest picks function 6.
func ExamplePoint_Encode() {
	p := modbus.Point{Table: modbus.Holding, Address: 0x10, Type: modbus.Int16, Scale: 0.1}
	values, err := p.Encode(nil, []byte("12.5"))
	if err != nil {
		fmt.Println(err)
		return
	}
	r, _ := p.WriteRequest(1, values)
	frame, _ := r.AppendRTU(nil)
	fmt.Printf("%v %s: % x\n", values, r.Function, frame)
	_, err = p.Encode(nil, []byte("5000"))
	fmt.Println(err)
	// Output:
	// [125] write single register: 01 06 00 10 00 7d 48 2e
	// modbus: 5000 scales back to 50000 ((value - offset) / scale), out of range for an int16 (-32768 to 32767)
}
