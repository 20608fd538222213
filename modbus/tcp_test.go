package modbus

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
)

// equalRequests compares requests, Values by content.
func equalRequests(a, b Request) bool {
	return a.Slave == b.Slave && a.Function == b.Function && a.Address == b.Address && a.Count == b.Count &&
		slices.Equal(a.Values, b.Values)
}

// A stream of every golden request, back to back, decodes to them in
// order however it is cut.
func TestTCPRequestDecoder(t *testing.T) {
	var stream []byte
	var want []Request
	for i, g := range golden {
		var err error
		if stream, err = g.req.AppendTCP(stream, uint16(1000+i)); err != nil {
			t.Fatal(err)
		}
		r := g.req
		if r.Function == WriteSingleCoil {
			r.Values = []uint16{min(r.Values[0], 1)}
		}
		want = append(want, r)
	}
	for _, chunks := range cuts(stream) {
		var d TCPRequestDecoder
		got := 0
		for _, c := range chunks {
			for len(c) > 0 {
				n, done, err := d.Feed(c)
				c = c[n:]
				if !done {
					continue
				}
				if err != nil {
					t.Fatalf("request %d: %v", got, err)
				}
				if d.Transaction() != uint16(1000+got) || !equalRequests(d.Request(), want[got]) {
					t.Fatalf("request %d: transaction %d %+v, want %+v", got, d.Transaction(), d.Request(), want[got])
				}
				got++
			}
		}
		if got != len(want) {
			t.Fatalf("in %d: %d requests of %d", len(chunks), got, len(want))
		}
	}
}

// Requests the protocol refuses are answered with an exception, and the
// stream goes on; a stream that is not MBAP is broken for good.
func TestTCPRequestErrors(t *testing.T) {
	next := unhex("0002 0000 0006 01 03 0000 0001")
	for _, tc := range []struct {
		name  string
		frame string
		want  error
		fn    Function
	}{
		{"unknown function", "0001 0000 0002 01 2b", IllegalFunction, 0x2b},
		{"diagnostics", "0001 0000 0006 01 08 0000 1234", IllegalFunction, 8},
		{"read of 0", "0001 0000 0006 01 03 0000 0000", IllegalDataValue, 3},
		{"read of 126", "0001 0000 0006 01 04 0000 007e", IllegalDataValue, 4},
		{"read of 2001 bits", "0001 0000 0006 01 01 0000 07d1", IllegalDataValue, 1},
		{"read past 65535", "0001 0000 0006 01 03 fff0 0011", IllegalDataAddress, 3},
		{"short read", "0001 0000 0005 01 03 0000 00", IllegalDataValue, 3},
		{"long read", "0001 0000 0007 01 03 0000 0001 00", IllegalDataValue, 3},
		{"coil value", "0001 0000 0006 01 05 0000 1234", IllegalDataValue, 5},
		{"write of 124", "0001 0000 0007 01 10 0000 007c f8", IllegalDataValue, 16},
		{"write of 123, the most", "0001 0000 00fd 01 10 0000 007b f6" + strings.Repeat("00", 246), nil, 16},
		{"byte count", "0001 0000 0009 01 10 0000 0001 04 0001", IllegalDataValue, 16},
		{"data short of byte count", "0001 0000 0009 01 10 0000 0002 04 0001", IllegalDataValue, 16},
		{"coils byte count", "0001 0000 0008 01 0f 0000 0009 01 ff", IllegalDataValue, 15},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var d TCPRequestDecoder
			stream := append(unhex(tc.frame), next...)
			n, done, err := d.Feed(stream)
			if !done || !errors.Is(err, tc.want) || n != len(stream)-len(next) {
				t.Fatalf("took %d, done %v, error %v; want %v", n, done, err, tc.want)
			}
			if r := d.Request(); r.Slave != 1 || r.Function != tc.fn || d.Transaction() != 1 {
				t.Fatalf("transaction %d request %+v", d.Transaction(), r)
			}
			if n, done, err := d.Feed(stream[n:]); !done || err != nil || n != len(next) || d.Transaction() != 2 {
				t.Fatalf("next request: took %d, done %v, error %v", n, done, err)
			}
		})
	}
	for _, frame := range []string{
		"0001 0001 0006 01 03 0000 0001", // protocol 1
		"0001 0000 0000 01",              // length 0
		"0001 0000 0001 01",              // a unit id and no function
		"0001 0000 00ff 01",              // longer than a PDU can be
		"4745 5420 2f20 4854 5450 2f31",  // GET / HTTP/1
	} {
		var d TCPRequestDecoder
		stream := unhex(frame)
		if _, done, err := d.Feed(stream); !done || !errors.Is(err, ErrHeader) {
			t.Errorf("%s: done %v, error %v", frame, done, err)
		}
		if n, done, err := d.Feed(next); n != 0 || !done || !errors.Is(err, ErrHeader) {
			t.Errorf("%s: after a broken header: took %d, done %v, error %v", frame, n, done, err)
		}
	}
}

func TestTCPReplies(t *testing.T) {
	r := golden[3].req
	got, err := AppendTCPReply(nil, 1, r, golden[3].values)
	if want := unhex("000100000009110306022b00000064"); err != nil || !bytes.Equal(got, want) {
		t.Errorf("reply % x %v, want % x (pymodbus's socket framer)", got, err, want)
	}
	if got := AppendTCPException(nil, 7, 17, ReadHoldingRegisters, GatewayTargetNoReply); !bytes.Equal(got, unhex("0007 0000 0003 11 83 0b")) {
		t.Errorf("exception % x", got)
	}
	if got := AppendTCPFrame(nil, 0x1234, 5, unhex("0302abcd")); !bytes.Equal(got, unhex("1234 0000 0005 05 0302abcd")) {
		t.Errorf("frame % x", got)
	}
	if _, err := AppendTCPReply(nil, 1, r, golden[3].values[:2]); err == nil {
		t.Error("a reply of 3 registers made of 2")
	}
	// Unit id 0 is a Modbus TCP server's own, and answered.
	if _, err := AppendTCPReply(nil, 1, Request{Function: ReadCoils, Count: 1}, []uint16{1}); err != nil {
		t.Error(err)
	}
}

// A slave's replies made here are the golden ones.
func TestAppendRTUReply(t *testing.T) {
	for _, g := range golden {
		if g.reply == "" {
			continue
		}
		got, err := AppendRTUReply(nil, g.req, g.values)
		if g.req.Function == WriteSingleCoil || g.req.Function == WriteSingleRegister {
			got, err = AppendRTUReply(nil, g.req, g.req.Values)
		}
		if err != nil || !bytes.Equal(got, unhex(g.reply)) {
			t.Errorf("%+v: % x %v, want %s", g.req, got, err, g.reply)
		}
	}
	if got := AppendRTUException(nil, 1, ReadHoldingRegisters, IllegalDataAddress); !bytes.Equal(got, unhex("018302c0f1")) {
		t.Errorf("exception % x", got)
	}
}

func TestTCPReplyDecoder(t *testing.T) {
	for _, g := range golden {
		if g.reply == "" {
			continue
		}
		pdu := unhex(g.reply)
		pdu = pdu[1 : len(pdu)-2]
		var stream []byte
		stream = AppendTCPFrame(stream, 6, g.req.Slave, pdu) // late: its request timed out
		stream = AppendTCPFrame(stream, 7, g.req.Slave, pdu)
		for _, chunks := range cuts(stream) {
			var d TCPReplyDecoder
			if err := d.Expect(7, g.req); err != nil {
				t.Fatal(err)
			}
			n, done, err := feed(t, &d, chunks)
			if !done || err != nil || n != len(stream) {
				t.Fatalf("%s in %d: done %v after %d, error %v", g.reply, len(chunks), done, n, err)
			}
			if got := d.AppendValues(nil); !slices.Equal(got, g.values) || !bytes.Equal(d.PDU(), pdu) {
				t.Fatalf("%s: values %v PDU % x", g.reply, got, d.PDU())
			}
			if d.Stale() != 1 {
				t.Fatalf("%d stale", d.Stale())
			}
		}
	}
}

func TestTCPReplyErrors(t *testing.T) {
	read := golden[3].req
	for _, tc := range []struct {
		name, frame string
		want        error
	}{
		{"exception", "0007 0000 0003 11 83 02", IllegalDataAddress},
		{"gateway", "0007 0000 0003 11 83 0b", GatewayTargetNoReply},
		{"another unit", "0007 0000 0009 12 0306022b00000064", ErrSlave},
		{"another function", "0007 0000 0009 11 0406022b00000064", ErrFunction},
		{"byte count", "0007 0000 0009 11 0304022b00000064", ErrByteCount},
		{"short data", "0007 0000 0007 11 0306022b0000", ErrByteCount},
		{"long exception", "0007 0000 0004 11 83 02 00", ErrByteCount},
		{"protocol", "0007 0001 0009 11 0306022b00000064", ErrHeader},
		{"length", "0007 0000 0001 11", ErrHeader},
	} {
		var d TCPReplyDecoder
		if err := d.Expect(7, read); err != nil {
			t.Fatal(err)
		}
		n, done, err := d.Feed(unhex(tc.frame))
		if !done || !errors.Is(err, tc.want) {
			t.Errorf("%s: took %d, done %v, error %v; want %v", tc.name, n, done, err, tc.want)
		}
		if d.PDU() != nil {
			t.Errorf("%s: PDU % x", tc.name, d.PDU())
		}
	}
	// Nothing waits: replies are stale, and a cancelled wait too.
	var d TCPReplyDecoder
	reply := unhex("0007 0000 0009 11 0306022b00000064")
	if n, done, err := d.Feed(reply); n != len(reply) || done || err != nil || d.Stale() != 1 {
		t.Errorf("no request: took %d, done %v, error %v, stale %d", n, done, err, d.Stale())
	}
	if err := d.Expect(7, read); err != nil {
		t.Fatal(err)
	}
	d.Cancel()
	if n, done, err := d.Feed(reply); n != len(reply) || done || err != nil || d.Stale() != 2 {
		t.Errorf("cancelled: took %d, done %v, error %v, stale %d", n, done, err, d.Stale())
	}
	d.Feed(unhex("0000 0005 0000"))
	if _, done, err := d.Feed(reply); !done || !errors.Is(err, ErrHeader) {
		t.Errorf("broken stream: %v %v", done, err)
	}
	d.Reset()
	if err := d.Expect(7, read); err != nil {
		t.Fatal(err)
	}
	if n, done, err := d.Feed(reply); n != len(reply) || !done || err != nil {
		t.Errorf("after Reset: took %d, done %v, error %v", n, done, err)
	}
}
