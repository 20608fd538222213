package modbus

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// pieces cuts stream into reads of 1 to 9 bytes, as seed says: a USB
// adapter's bursts, or a TCP stream's segments.
func pieces(stream []byte, seed uint64) [][]byte {
	r := rand.New(rand.NewPCG(seed, seed>>1))
	var out [][]byte
	for len(stream) > 0 {
		n := min(len(stream), 1+r.IntN(9))
		out = append(out, stream[:n])
		stream = stream[n:]
	}
	return out
}

// outcome is what a decoder said of a stream: how many bytes it took to
// be done, and with which error and values.
type outcome struct {
	taken  int
	done   bool
	err    string
	values []uint16
	pdu    []byte
}

func (o outcome) String() string {
	return fmt.Sprintf("taken %d done %v err %q values %v pdu % x", o.taken, o.done, o.err, o.values, o.pdu)
}

func (o outcome) equal(p outcome) bool {
	return o.taken == p.taken && o.done == p.done && o.err == p.err && slices.Equal(o.values, p.values) && bytes.Equal(o.pdu, p.pdu)
}

type replyDecoder interface {
	Feed([]byte) (int, bool, error)
	AppendValues([]uint16) []uint16
	PDU() []byte
}

// decodeReply feeds chunks to d until it is done.
func decodeReply(d replyDecoder, chunks [][]byte) outcome {
	var o outcome
	for _, c := range chunks {
		for len(c) > 0 {
			n, done, err := d.Feed(c)
			o.taken += n
			c = c[n:]
			if done {
				o.done = true
				if err != nil {
					o.err = err.Error()
				}
				o.values = d.AppendValues(nil)
				o.pdu = slices.Clone(d.PDU())
				return o
			}
			if n == 0 {
				panic(fmt.Sprintf("Feed took nothing and is not done: %v", err))
			}
		}
	}
	return o
}

// fuzzRequest makes a valid request of the fuzzer's numbers.
func fuzzRequest(fn uint8, slave uint8, addr, count uint16) Request {
	fns := [...]Function{ReadCoils, ReadDiscreteInputs, ReadHoldingRegisters, ReadInputRegisters,
		WriteSingleCoil, WriteSingleRegister, WriteMultipleCoils, WriteMultipleRegisters}
	r := Request{Slave: 1 + slave%MaxSlave, Function: fns[int(fn)%len(fns)], Address: addr}
	limit := map[Function]int{ReadCoils: 2000, ReadDiscreteInputs: 2000, ReadHoldingRegisters: 125, ReadInputRegisters: 125,
		WriteSingleCoil: 1, WriteSingleRegister: 1, WriteMultipleCoils: 1968, WriteMultipleRegisters: 123}[r.Function]
	r.Count = uint16(1 + int(count)%limit)
	if int(r.Address)+int(r.Count) > 1<<16 {
		r.Address = uint16(1<<16 - int(r.Count))
	}
	if !r.Function.Read() {
		r.Values = make([]uint16, r.Count)
		for i := range r.Values {
			r.Values[i] = uint16(i) * 0x0101 * addr
			if r.Function.Bits() {
				r.Values[i] &= 1
			}
		}
	}
	return r
}

// The RTU reply decoder says the same of a reply however it is cut, takes
// no more than the reply, and a reply it finds good is the one the slave
// would send for the values it read.
func FuzzRTUReply(f *testing.F) {
	for i, g := range golden {
		if g.reply != "" {
			f.Add(unhex(g.reply), uint8(i), uint8(0), uint16(0), uint16(0), uint64(i))
		}
	}
	f.Add(unhex("018302c0f1"), uint8(2), uint8(0), uint16(0), uint16(1), uint64(1))
	f.Add(unhex("0103044366199a8453"), uint8(2), uint8(0), uint16(0), uint16(1), uint64(7))
	f.Fuzz(func(t *testing.T, reply []byte, fn, slave uint8, addr, count uint16, seed uint64) {
		req := fuzzRequest(fn, slave, addr, count)
		if len(reply) > 0 {
			reply[0] = req.Slave // else nearly every input is another slave's
		}
		run := func(chunks [][]byte) outcome {
			var d RTUReplyDecoder
			if err := d.Expect(req); err != nil {
				t.Fatal(err)
			}
			return decodeReply(&d, chunks)
		}
		whole := run([][]byte{reply})
		if cut := run(pieces(reply, seed)); !cut.equal(whole) {
			t.Fatalf("whole: %v\ncut: %v", whole, cut)
		}
		if whole.taken > len(reply) || whole.taken > MaxRTU || !whole.done && whole.taken != len(reply) {
			t.Fatalf("%v of %d bytes", whole, len(reply))
		}
		if whole.done && whole.err == "" {
			values := whole.values
			if !req.Function.Read() {
				values = req.Values
			}
			want, err := AppendRTUReply(nil, req, values)
			got := reply[:whole.taken]
			if req.Function.Bits() && len(got) == len(want) {
				// The padding of the last byte of bits is not checked.
				got, want = got[:len(got)-3], want[:len(want)-3]
			}
			if err != nil || !bytes.Equal(want, got) || whole.taken != req.ReplyLen() {
				t.Fatalf("good reply % x to %+v, which would be % x (%v)", reply[:whole.taken], req, want, err)
			}
		}
	})
}

// request is what a TCPRequestDecoder said of one request.
type request struct {
	tid uint16
	req Request
	err string
}

func decodeRequests(chunks [][]byte) (out []request, taken int) {
	var d TCPRequestDecoder
	for _, c := range chunks {
		for len(c) > 0 {
			n, done, err := d.Feed(c)
			c = c[n:]
			taken += n
			if !done {
				continue
			}
			r := d.Request()
			r.Values = slices.Clone(r.Values)
			e := ""
			if err != nil {
				e = err.Error()
			}
			out = append(out, request{d.Transaction(), r, e})
			if n == 0 {
				return out, taken // broken
			}
		}
	}
	return out, taken
}

// The Modbus TCP server decoder finds the same requests however the
// stream is cut, and a request it takes is framed as the master framed it.
func FuzzTCPRequest(f *testing.F) {
	var stream []byte
	for i, g := range golden {
		stream, _ = g.req.AppendTCP(stream, uint16(i))
	}
	f.Add(stream, uint64(1))
	f.Add(unhex("0001 0000 0006 01 03 0000 0001 0002 0000 0002 01 2b"), uint64(2))
	f.Add(unhex("0001 0000 00fd 01 10 0000 007b f6"+string(bytes.Repeat([]byte("00"), 246))), uint64(3))
	f.Add(unhex("0001 0001 0006 01 03 0000 0001"), uint64(4))
	f.Fuzz(func(t *testing.T, stream []byte, seed uint64) {
		whole, taken := decodeRequests([][]byte{stream})
		cut, cutTaken := decodeRequests(pieces(stream, seed))
		if fmt.Sprint(whole) != fmt.Sprint(cut) || taken != cutTaken {
			t.Fatalf("whole: %v\ncut: %v", whole, cut)
		}
		at := 0
		for _, r := range whole {
			if r.err != "" {
				if len(stream)-at < mbapLen {
					break
				}
				n := mbapLen - 1 + int(binary.BigEndian.Uint16(stream[at+4:]))
				at += n
				continue
			}
			frame := appendMBAP(nil, r.tid, r.req.Slave, r.req.pduLen())
			frame = r.req.appendPDU(frame)
			n := len(frame)
			if r.req.Function == WriteMultipleCoils {
				n-- // the padding of the last byte of bits is not checked
			}
			if !bytes.HasPrefix(stream[at:], frame[:n]) {
				t.Fatalf("request %+v at %d is % x, framed % x", r.req, at, stream[at:min(len(stream), at+len(frame))], frame)
			}
			at += len(frame)
		}
	})
}

// The Modbus TCP client decoder says the same of a stream however it is
// cut, and a reply it finds good is the one the server would send.
func FuzzTCPReply(f *testing.F) {
	for i, g := range golden {
		if g.reply == "" {
			continue
		}
		pdu := unhex(g.reply)
		stream := AppendTCPFrame(nil, 6, g.req.Slave, pdu[1:len(pdu)-2])
		f.Add(AppendTCPFrame(stream, 7, g.req.Slave, pdu[1:len(pdu)-2]), uint8(i), uint8(0), uint16(0), uint16(0), uint64(i))
	}
	f.Add(unhex("0007 0000 0003 01 83 0b"), uint8(2), uint8(0), uint16(0), uint16(0), uint64(1))
	f.Fuzz(func(t *testing.T, stream []byte, fn, slave uint8, addr, count uint16, seed uint64) {
		req := fuzzRequest(fn, slave, addr, count)
		run := func(chunks [][]byte) (outcome, uint64) {
			var d TCPReplyDecoder
			if err := d.Expect(7, req); err != nil {
				t.Fatal(err)
			}
			return decodeReply(&d, chunks), d.Stale()
		}
		whole, stale := run([][]byte{stream})
		cut, cutStale := run(pieces(stream, seed))
		if !cut.equal(whole) || stale != cutStale {
			t.Fatalf("whole: %v, %d stale\ncut: %v, %d stale", whole, stale, cut, cutStale)
		}
		if whole.done && whole.err == "" {
			values := whole.values
			if !req.Function.Read() {
				values = req.Values
			}
			want, err := AppendTCPReply(nil, 7, req, values)
			got := stream[:whole.taken]
			if req.Function.Bits() && len(got) >= len(want) {
				// The padding of the last byte of bits is not checked.
				got, want = got[:len(got)-1], want[:len(want)-1]
			}
			if err != nil || !bytes.HasSuffix(got, want) {
				t.Fatalf("good reply % x to %+v, which would be % x (%v)", stream[:whole.taken], req, want, err)
			}
		}
	})
}

// Whatever a point's registers hold, its value is a JSON scalar or an
// error, never invalid JSON; a raw value written back with Encode reads
// the same again.
func FuzzValue(f *testing.F) {
	f.Add(uint8(7), uint8(0), uint8(0), uint8(0), 1.0, 0.0, []byte{0x43, 0x66, 0x19, 0x9a})
	f.Add(uint8(2), uint8(0), uint8(0), uint8(0), 0.1, 0.0, []byte{0x08, 0xfd})
	f.Add(uint8(1), uint8(0), uint8(0), uint8(0), 0.01, -40.0, []byte{0xff, 0xf1})
	f.Add(uint8(9), uint8(0), uint8(0), uint8(3), 1.0, 0.0, []byte("AB\xffC\x00 "))
	f.Add(uint8(8), uint8(3), uint8(0), uint8(0), 1.0, 0.0, []byte{0x7f, 0xf8, 0, 0, 0, 0, 0, 1})
	f.Add(uint8(0), uint8(0), uint8(0), uint8(0), 1.0, 0.0, []byte{1, 0})
	f.Fuzz(func(t *testing.T, ty, order, table, count uint8, scale, offset float64, data []byte) {
		p := Point{Type: Bool + Type(ty%10), Order: Order(order % 4), Scale: scale, Offset: offset}
		switch {
		case p.Type == Bool && table%2 == 0:
			p.Table = Coil
		case p.Type == Bool:
			p.Table = Discrete
		case table%2 == 0:
			p.Table = Holding
		default:
			p.Table = Input
		}
		if p.Type.Registers() < 2 {
			p.Order = ABCD
		}
		if p.Type == String {
			p.Count = uint16(1 + int(count)%MaxReadRegisters)
		}
		values := make([]uint16, len(data)/2)
		for i := range values {
			values[i] = binary.BigEndian.Uint16(data[2*i:])
		}
		if p.Type == Bool {
			for i := range values {
				values[i] &= 1
			}
		}
		if p.Validate() != nil || len(values) < p.Width() {
			return
		}
		text, err := p.AppendValue([]byte("x"), values)
		if err != nil {
			if string(text) != "x" {
				t.Fatalf("%+v: %v, and appended %q", p, err, text)
			}
			return
		}
		text = text[1:]
		var v any
		if err := json.Unmarshal(text, &v); err != nil {
			t.Fatalf("%+v of %04x: %s is not JSON: %v", p, values, text, err)
		}
		if _, isMap := v.(map[string]any); isMap || v == nil {
			t.Fatalf("%+v of %04x: %s is not a scalar", p, values, text)
		}
		if !p.raw() && p.Type != String && p.Type != Bool {
			return
		}
		regs, err := p.Encode(nil, text)
		if err != nil {
			if p.Type == String {
				return // U+FFFD takes more bytes than the byte it replaced
			}
			t.Fatalf("%+v: %s does not encode: %v", p, text, err)
		}
		again, err := p.AppendValue(nil, regs)
		var w any
		if err == nil && p.Type == String && json.Unmarshal(again, &w) == nil && w == v {
			return // "\ufffd" reads back as "�"
		}
		if err != nil || !bytes.Equal(again, text) {
			t.Fatalf("%+v: %s encoded as %04x reads %s %v", p, text, regs, again, err)
		}
	})
}
