package modbus

import (
	"bytes"
	"errors"
	"slices"
	"testing"
)

// rtu returns an RTU frame of body with its CRC.
func rtu(body string) []byte {
	b := unhex(body)
	return appendCRC(b, 0)
}

// cuts returns frame delivered in every way of two reads, a byte at a
// time, and whole.
func cuts(frame []byte) [][][]byte {
	out := [][][]byte{{frame}}
	var bytewise [][]byte
	for i := range frame {
		bytewise = append(bytewise, frame[i:i+1])
	}
	out = append(out, bytewise)
	for i := 1; i < len(frame); i++ {
		out = append(out, [][]byte{frame[:i], frame[i:]})
	}
	return out
}

// feed feeds the chunks to d until it is done and returns what it said,
// and how many bytes it took.
func feed(t *testing.T, d interface {
	Feed([]byte) (int, bool, error)
}, chunks [][]byte) (taken int, done bool, err error) {
	t.Helper()
	for _, c := range chunks {
		for len(c) > 0 {
			n, ok, e := d.Feed(c)
			taken += n
			c = c[n:]
			if ok {
				return taken, true, e
			}
			if n == 0 {
				t.Fatalf("Feed took nothing of % x and is not done (error %v)", c, e)
			}
		}
	}
	return taken, false, nil
}

// The golden replies decode to their values however the line cuts them,
// and the decoder takes nothing past their end.
func TestRTUReplyDecoder(t *testing.T) {
	var d RTUReplyDecoder
	for _, g := range golden {
		if g.reply == "" {
			if err := d.Expect(g.req); err == nil {
				t.Errorf("%+v: a broadcast is expected to be answered", g.req)
			}
			continue
		}
		reply := unhex(g.reply)
		for _, chunks := range cuts(append(slices.Clone(reply), 0x01, 0x03)) {
			if err := d.Expect(g.req); err != nil {
				t.Fatal(err)
			}
			n, done, err := feed(t, &d, chunks)
			if !done || err != nil || n != len(reply) {
				t.Fatalf("%s in %d: done %v after %d bytes, error %v", g.reply, len(chunks), done, n, err)
			}
			if got := d.AppendValues(nil); !slices.Equal(got, g.values) {
				t.Fatalf("%s: values %v, want %v", g.reply, got, g.values)
			}
			if !bytes.Equal(d.PDU(), reply[1:len(reply)-2]) {
				t.Fatalf("%s: PDU % x", g.reply, d.PDU())
			}
			if d.Received() != len(reply) {
				t.Fatalf("%s: received %d", g.reply, d.Received())
			}
		}
	}
}

func TestRTUReplyErrors(t *testing.T) {
	read := Request{Slave: 1, Function: ReadHoldingRegisters, Count: 2}
	write := Request{Slave: 1, Function: WriteSingleRegister, Address: 1, Count: 1, Values: []uint16{3}}
	coils := Request{Slave: 1, Function: WriteMultipleCoils, Address: 0x13, Count: 10, Values: make([]uint16, 10)}
	badCRC := rtu("0103044366199a")
	badCRC[len(badCRC)-1] ^= 0x40
	for _, tc := range []struct {
		name  string
		req   Request
		reply []byte
		taken int // bytes of the reply Feed takes
		want  error
	}{
		{"exception", read, unhex("018302c0f1"), 5, IllegalDataAddress}, // pymodbus's
		{"exception busy", read, rtu("018306"), 5, ServerDeviceBusy},
		{"exception with bad CRC", read, unhex("018302c0f2"), 5, ErrCRC},
		{"bad CRC", read, badCRC, 9, ErrCRC},
		{"another slave", read, rtu("0203044366199a"), 9, ErrSlave},
		{"another function", read, rtu("0104044366199a"), 2, ErrFunction},
		{"another function's exception", read, rtu("018402"), 2, ErrFunction},
		{"short byte count", read, rtu("010302"), 3, ErrByteCount},
		{"long byte count", read, rtu("01030600000000000000"), 3, ErrByteCount},
		{"echo of another value", write, rtu("010600010004"), 8, ErrEcho},
		{"echo of another address", write, rtu("010600020003"), 8, ErrEcho},
		{"echo of another quantity", coils, rtu("010f00130009"), 8, ErrEcho},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, chunks := range cuts(append(slices.Clone(tc.reply), 0xEE)) {
				var d RTUReplyDecoder
				if err := d.Expect(tc.req); err != nil {
					t.Fatal(err)
				}
				n, done, err := feed(t, &d, chunks)
				if !done || n != tc.taken || !errors.Is(err, tc.want) {
					t.Fatalf("in %d: done %v after %d bytes, error %v; want %v after %d", len(chunks), done, n, err, tc.want, tc.taken)
				}
				if d.PDU() != nil || len(d.AppendValues(nil)) != 0 {
					t.Fatalf("a failed reply has PDU % x", d.PDU())
				}
			}
		})
	}
}

func TestRTUReplyDecoderState(t *testing.T) {
	var d RTUReplyDecoder
	if n, done, err := d.Feed([]byte{1, 3}); n != 0 || done || !errors.Is(err, ErrNoRequest) {
		t.Errorf("before Expect: %d %v %v", n, done, err)
	}
	if err := d.Expect(Request{Slave: 1, Function: ReadHoldingRegisters, Count: 200}); err == nil {
		t.Error("an invalid request is expected")
	}
	g := golden[2]
	if err := d.Expect(g.req); err != nil {
		t.Fatal(err)
	}
	reply := unhex(g.reply)
	if n, done, err := d.Feed(reply[:4]); n != 4 || done || err != nil || d.Received() != 4 {
		t.Fatalf("part: %d %v %v", n, done, err)
	}
	// A timeout: the next request starts from nothing.
	if err := d.Expect(g.req); err != nil {
		t.Fatal(err)
	}
	if n, done, err := d.Feed(reply); n != len(reply) || !done || err != nil {
		t.Fatalf("after a new Expect: %d %v %v", n, done, err)
	}
	if n, done, err := d.Feed(reply); n != 0 || done || !errors.Is(err, ErrNoRequest) {
		t.Errorf("after done: %d %v %v", n, done, err)
	}
	if len(d.AppendValues(nil)) != 2 {
		t.Error("the done reply's values are gone after a Feed with no request")
	}
	d.Reset()
	if d.PDU() != nil || d.Received() != 0 {
		t.Error("Reset keeps the reply")
	}
}
