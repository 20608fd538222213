package modbus

import (
	"encoding/binary"
	"fmt"
)

// expectation is what the reply to one request must carry.
type expectation struct {
	slave   uint8
	fn      Function
	address uint16
	count   uint16
	value   uint16 // the value a reply to function 5 or 6 echoes
}

func expect(r Request) (expectation, error) {
	if err := r.Validate(); err != nil {
		return expectation{}, err
	}
	if r.Broadcast() {
		return expectation{}, fmt.Errorf("modbus: %s to slave 0 is a broadcast: no slave answers it", r.Function)
	}
	e := expectation{slave: r.Slave, fn: r.Function, address: r.Address, count: r.Count}
	switch r.Function {
	case WriteSingleCoil:
		if r.Values[0] != 0 {
			e.value = 0xFF00
		}
	case WriteSingleRegister:
		e.value = r.Values[0]
	}
	return e, nil
}

// byteCount is the byte count of a normal reply to a read.
func (e *expectation) byteCount() int {
	if e.fn.Bits() {
		return (int(e.count) + 7) / 8
	}
	return 2 * int(e.count)
}

// check checks the PDU of a reply (function and data) against the request.
func (e *expectation) check(pdu []byte) error {
	if len(pdu) == 0 {
		return fmt.Errorf("%w: the reply has no function", ErrFunction)
	}
	switch pdu[0] {
	case byte(e.fn):
	case byte(e.fn) | exceptionBit:
		if len(pdu) != 2 {
			return fmt.Errorf("%w: an exception reply of %d bytes, want 2", ErrByteCount, len(pdu))
		}
		return Exception(pdu[1])
	default:
		return fmt.Errorf("%w: function %d in the reply to %s (%d)", ErrFunction, pdu[0], e.fn, e.fn)
	}
	if e.fn.Read() {
		want := e.byteCount()
		if len(pdu) < 2 || int(pdu[1]) != want || len(pdu) != 2+want {
			n := 0
			if len(pdu) >= 2 {
				n = int(pdu[1])
			}
			return fmt.Errorf("%w: %s of %d: byte count %d and %d data bytes, want %d", ErrByteCount, e.fn, e.count, n, len(pdu)-2, want)
		}
		return nil
	}
	if len(pdu) != 5 {
		return fmt.Errorf("%w: a reply to %s of %d bytes, want 5", ErrByteCount, e.fn, len(pdu))
	}
	addr, v := binary.BigEndian.Uint16(pdu[1:]), binary.BigEndian.Uint16(pdu[3:])
	want := e.count
	if e.fn == WriteSingleCoil || e.fn == WriteSingleRegister {
		want = e.value
	}
	if addr != e.address || v != want {
		return fmt.Errorf("%w: %s at %d of 0x%04x answered with %d and 0x%04x", ErrEcho, e.fn, e.address, want, addr, v)
	}
	return nil
}

// appendValues appends the registers or bits of a checked normal reply's
// PDU to dst; nothing for a write.
func (e *expectation) appendValues(dst []uint16, pdu []byte) []uint16 {
	if !e.fn.Read() {
		return dst
	}
	data := pdu[2:]
	if e.fn.Bits() {
		for i := range int(e.count) {
			dst = append(dst, uint16(data[i/8]>>(i%8)&1))
		}
		return dst
	}
	for i := 0; i+1 < len(data); i += 2 {
		dst = append(dst, binary.BigEndian.Uint16(data[i:]))
	}
	return dst
}

// Decoder states.
const (
	stIdle    = iota // no request waits
	stReading        // a reply is under way
	stDone           // the reply is complete, good or bad
)

// RTUReplyDecoder reads the reply to one RTU request at a time. Tell it
// the request with Expect, then Feed it what the line delivers until it
// says done. The zero value is ready for Expect.
//
// The reply's length is known from its first bytes: a normal reply's from
// the request (and, for a read, from the byte count, which must be the
// expected one), an exception's is 5. The frame is then checked in this
// order: CRC, slave, exception, echo of a write. A second byte that is
// neither the request's function nor its exception leaves the length
// unknown: the reply ends there with ErrFunction, and the caller lets the
// line fall silent before the next request.
type RTUReplyDecoder struct {
	e     expectation
	state uint8
	n     int // bytes in buf
	want  int // bytes buf must hold before the next step
	err   error
	ok    bool // the last reply is complete and good
	buf   [MaxRTU]byte
}

// Expect makes d wait for the reply to r, dropping any reply under way.
// A broadcast has no reply: Expect refuses it, as it refuses an invalid
// request.
func (d *RTUReplyDecoder) Expect(r Request) error {
	e, err := expect(r)
	if err != nil {
		d.Reset()
		return err
	}
	d.e, d.state, d.n, d.want, d.err, d.ok = e, stReading, 0, 2, nil, false
	return nil
}

// Reset makes d wait for nothing, as after a timeout.
func (d *RTUReplyDecoder) Reset() { d.state, d.n, d.err, d.ok = stIdle, 0, nil, false }

// Received is the number of bytes of the reply received so far, for a
// timeout to say whether the slave answered at all.
func (d *RTUReplyDecoder) Received() int { return d.n }

// Feed takes bytes from p, up to the end of the reply, and returns how
// many it took; done says the reply is complete, and err what was wrong
// with it: nil, an Exception, or an error that wraps ErrCRC, ErrSlave,
// ErrFunction, ErrByteCount or ErrEcho. The bytes of p it did not take
// are not part of the reply. After done, or before Expect, Feed takes
// nothing and returns ErrNoRequest.
func (d *RTUReplyDecoder) Feed(p []byte) (n int, done bool, err error) {
	if d.state != stReading {
		return 0, false, ErrNoRequest
	}
	for n < len(p) && d.state == stReading {
		k := copy(d.buf[d.n:d.want], p[n:])
		d.n += k
		n += k
		if d.n == d.want {
			d.step()
		}
	}
	if d.state != stDone {
		return n, false, nil
	}
	// Once read, a done reply is the caller's; Feed waits for the next.
	d.state = stIdle
	return n, true, d.err
}

// step acts on the bytes received once there are want of them.
func (d *RTUReplyDecoder) step() {
	fn := d.buf[1]
	switch {
	case d.n == 2 && fn == byte(d.e.fn)|exceptionBit:
		d.want = 5
	case d.n == 2 && fn != byte(d.e.fn):
		d.finish(fmt.Errorf("%w: function %d in the reply to %s (%d), so its length is unknown", ErrFunction, fn, d.e.fn, d.e.fn))
	case d.n == 2 && d.e.fn.Read():
		d.want = 3
	case d.n == 2:
		d.want = 8
	case d.n == 3 && d.want == 3:
		if bc := d.e.byteCount(); int(d.buf[2]) != bc {
			d.finish(fmt.Errorf("%w: %s of %d: byte count %d, want %d", ErrByteCount, d.e.fn, d.e.count, d.buf[2], bc))
			return
		}
		d.want = 5 + int(d.buf[2])
	default:
		d.finish(d.check())
	}
}

func (d *RTUReplyDecoder) finish(err error) { d.state, d.err, d.ok = stDone, err, err == nil }

func (d *RTUReplyDecoder) check() error {
	frame := d.buf[:d.n]
	body := frame[:len(frame)-2]
	if got, want := binary.LittleEndian.Uint16(frame[len(body):]), CRC(body); got != want {
		return fmt.Errorf("%w: the frame says 0x%04x, its bytes 0x%04x", ErrCRC, got, want)
	}
	if frame[0] != d.e.slave {
		return fmt.Errorf("%w: slave %d answered a request to slave %d", ErrSlave, frame[0], d.e.slave)
	}
	return d.e.check(body[1:])
}

// PDU is the PDU (function and data) of the last reply Feed completed
// without error, or nil; it is d's buffer, valid until the next Expect.
func (d *RTUReplyDecoder) PDU() []byte {
	if !d.ok {
		return nil
	}
	return d.buf[1 : d.n-2]
}

// AppendValues appends the registers, or the bits (0 or 1), of the last
// reply Feed completed without error to dst: Count of them for a read,
// none for a write.
func (d *RTUReplyDecoder) AppendValues(dst []uint16) []uint16 {
	pdu := d.PDU()
	if pdu == nil {
		return dst
	}
	return d.e.appendValues(dst, pdu)
}
