package modbus

import (
	"encoding/binary"
	"fmt"
)

// mbapLen is the length of the MBAP header: transaction, protocol, length
// and unit id.
const mbapLen = 7

func appendMBAP(dst []byte, transaction uint16, unit uint8, pduLen int) []byte {
	dst = binary.BigEndian.AppendUint16(dst, transaction)
	dst = append(dst, 0, 0)
	dst = binary.BigEndian.AppendUint16(dst, uint16(1+pduLen))
	return append(dst, unit)
}

// frameLen checks an MBAP header and returns the length of its whole
// frame, header included.
func frameLen(h []byte) (int, error) {
	if proto := binary.BigEndian.Uint16(h[2:]); proto != 0 {
		return 0, fmt.Errorf("%w: protocol id %d, want 0", ErrHeader, proto)
	}
	n := int(binary.BigEndian.Uint16(h[4:]))
	if n < 2 || n > 1+MaxPDU {
		return 0, fmt.Errorf("%w: length %d, want 2 to %d", ErrHeader, n, 1+MaxPDU)
	}
	return mbapLen - 1 + n, nil
}

// AppendTCPFrame appends a Modbus TCP frame of pdu (function and data) to
// dst. A gateway answers a Modbus TCP master with the PDU of its slave's
// RTU reply, as it came, under the master's transaction and unit id.
func AppendTCPFrame(dst []byte, transaction uint16, unit uint8, pdu []byte) []byte {
	dst = appendMBAP(dst, transaction, unit, len(pdu))
	return append(dst, pdu...)
}

// AppendTCPReply appends the normal reply to r, under transaction, to dst:
// for a read, its Count values (registers, or bits as 0 and 1); for a
// write, the echo of the request.
func AppendTCPReply(dst []byte, transaction uint16, r Request, values []uint16) ([]byte, error) {
	if err := r.replyable(values); err != nil {
		return dst, err
	}
	dst = appendMBAP(dst, transaction, r.Slave, r.replyPDULen())
	return r.appendReplyPDU(dst, values), nil
}

// AppendTCPException appends an exception reply to a request of function
// fn to dst: a gateway whose slave does not answer replies
// GatewayTargetNoReply (0x0B), one with no such slave
// GatewayPathUnavailable (0x0A).
func AppendTCPException(dst []byte, transaction uint16, unit uint8, fn Function, e Exception) []byte {
	dst = appendMBAP(dst, transaction, unit, 2)
	return append(dst, byte(fn)|exceptionBit, byte(e))
}

// AppendRTUReply appends the normal reply to r as an RTU frame to dst, as
// a slave sends it: for a read, its Count values; for a write, the echo.
func AppendRTUReply(dst []byte, r Request, values []uint16) ([]byte, error) {
	if err := r.replyable(values); err != nil {
		return dst, err
	}
	start := len(dst)
	dst = append(dst, r.Slave)
	dst = r.appendReplyPDU(dst, values)
	return appendCRC(dst, start), nil
}

// AppendRTUException appends an RTU exception reply of slave to a request
// of function fn to dst.
func AppendRTUException(dst []byte, slave uint8, fn Function, e Exception) []byte {
	start := len(dst)
	dst = append(dst, slave, byte(fn)|exceptionBit, byte(e))
	return appendCRC(dst, start)
}

// replyable reports whether r can be answered with values. Unlike
// Validate, it takes unit id 0, which Modbus TCP servers answer.
func (r Request) replyable(values []uint16) error {
	if exc, why := r.limits(); exc != 0 {
		return fmt.Errorf("modbus: reply to %s", why)
	}
	need := 0
	switch {
	case r.Function.Read():
		need = int(r.Count)
	case r.Function == WriteSingleCoil || r.Function == WriteSingleRegister:
		need = 1
	}
	if len(values) < need {
		return fmt.Errorf("modbus: reply to %s of %d with %d values", r.Function, r.Count, len(values))
	}
	return nil
}

func (r Request) appendReplyPDU(dst []byte, values []uint16) []byte {
	dst = append(dst, byte(r.Function))
	switch r.Function {
	case ReadCoils, ReadDiscreteInputs:
		dst = append(dst, byte((r.Count+7)/8))
		return appendBits(dst, values[:r.Count])
	case ReadHoldingRegisters, ReadInputRegisters:
		dst = append(dst, byte(2*r.Count))
		for _, v := range values[:r.Count] {
			dst = binary.BigEndian.AppendUint16(dst, v)
		}
		return dst
	}
	dst = binary.BigEndian.AppendUint16(dst, r.Address)
	switch r.Function {
	case WriteSingleCoil:
		v := uint16(0)
		if values[0] != 0 {
			v = 0xFF00
		}
		return binary.BigEndian.AppendUint16(dst, v)
	case WriteSingleRegister:
		return binary.BigEndian.AppendUint16(dst, values[0])
	}
	return binary.BigEndian.AppendUint16(dst, r.Count)
}

// TCPRequestDecoder cuts the requests of a Modbus TCP master out of the
// byte stream of its connection, for a server or a gateway: Feed it what
// the connection delivers; each time it says done, Transaction and
// Request say what was asked. The zero value is ready to use, one per
// connection.
type TCPRequestDecoder struct {
	n, want  int
	complete bool // the last Feed ended a request: the next starts a new one
	broken   error
	tid      uint16
	req      Request
	buf      [MaxTCP]byte
	values   [MaxWriteCoils]uint16
}

// Feed takes bytes from p, up to the end of the next request, and returns
// how many it took. done says a request is complete, or the stream is
// broken. err is then nil for a request to carry out; an Exception for a
// request to answer with that exception (AppendTCPException): an unknown
// function (1), a count out of bounds or a malformed PDU (3), an address
// range past 65535 (2); or an error wrapping ErrHeader for a stream that
// is not Modbus TCP, which is best closed: Feed returns it again from
// then on.
func (d *TCPRequestDecoder) Feed(p []byte) (n int, done bool, err error) {
	if d.broken != nil {
		return 0, true, d.broken
	}
	if d.want == 0 || d.complete {
		d.n, d.want, d.complete = 0, mbapLen, false
	}
	for n < len(p) {
		k := copy(d.buf[d.n:d.want], p[n:])
		d.n += k
		n += k
		if d.n < d.want {
			break
		}
		if d.n == mbapLen {
			if d.want, d.broken = frameLen(d.buf[:mbapLen]); d.broken != nil {
				return n, true, d.broken
			}
			continue
		}
		d.complete = true
		return n, true, d.parse()
	}
	return n, false, nil
}

// Transaction is the transaction id of the request Feed completed last.
func (d *TCPRequestDecoder) Transaction() uint16 { return d.tid }

// Request is the request Feed completed last: its Slave is the unit id
// the master sent, as it came (0 and 255 included), and its Values are
// d's, valid until the next Feed. After an Exception it holds what could
// be read: at least Slave and Function, for the exception reply.
func (d *TCPRequestDecoder) Request() Request { return d.req }

func (d *TCPRequestDecoder) parse() error {
	d.tid = binary.BigEndian.Uint16(d.buf[:2])
	pdu := d.buf[mbapLen:d.n]
	r := &d.req
	*r = Request{Slave: d.buf[6], Function: Function(pdu[0])}
	if !r.Function.Supported() {
		return IllegalFunction
	}
	if len(pdu) < 5 {
		return IllegalDataValue
	}
	r.Address = binary.BigEndian.Uint16(pdu[1:])
	v := binary.BigEndian.Uint16(pdu[3:])
	switch r.Function {
	case WriteSingleCoil, WriteSingleRegister:
		r.Count = 1
		if r.Function == WriteSingleCoil {
			if v != 0xFF00 && v != 0 {
				return IllegalDataValue
			}
			v >>= 15
		}
		d.values[0] = v
		r.Values = d.values[:1]
		if len(pdu) != 5 {
			return IllegalDataValue
		}
	case WriteMultipleCoils, WriteMultipleRegisters:
		r.Count = v
		if exc, _ := r.limits(); exc != 0 {
			return exc
		}
		want := 2 * int(v)
		if r.Function == WriteMultipleCoils {
			want = (int(v) + 7) / 8
		}
		if len(pdu) < 6 || int(pdu[5]) != want || len(pdu) != 6+want {
			return IllegalDataValue
		}
		data := pdu[6:]
		for i := range int(v) {
			if r.Function == WriteMultipleCoils {
				d.values[i] = uint16(data[i/8] >> (i % 8) & 1)
			} else {
				d.values[i] = binary.BigEndian.Uint16(data[2*i:])
			}
		}
		r.Values = d.values[:v]
	default:
		r.Count = v
		if len(pdu) != 5 {
			return IllegalDataValue
		}
	}
	if exc, _ := r.limits(); exc != 0 {
		return exc
	}
	return nil
}

// TCPReplyDecoder reads the replies of a Modbus TCP device, one request
// at a time: tell it the request with Expect, then Feed it what the
// connection delivers until it says done. A reply to another transaction
// (late, after its request timed out) or to none is skipped and counted
// in Stale. The zero value is ready, one per connection.
type TCPReplyDecoder struct {
	e        expectation
	tid      uint16
	waiting  bool
	ok       bool
	n, want  int
	complete bool
	broken   error
	stale    uint64
	buf      [MaxTCP]byte
}

// Expect makes d wait for the reply to r sent under transaction. A frame
// already under way is kept: it is the reply, or a stale one.
func (d *TCPReplyDecoder) Expect(transaction uint16, r Request) error {
	d.waiting, d.ok = false, false
	e, err := expect(r)
	if err != nil {
		return err
	}
	d.e, d.tid, d.waiting = e, transaction, true
	return nil
}

// Cancel stops waiting, as after a timeout: the reply, if it comes, is
// stale.
func (d *TCPReplyDecoder) Cancel() { d.waiting, d.ok = false, false }

// Reset makes d ready for a new connection.
func (d *TCPReplyDecoder) Reset() { *d = TCPReplyDecoder{stale: d.stale} }

// Stale counts the replies skipped since d was made.
func (d *TCPReplyDecoder) Stale() uint64 { return d.stale }

// Feed takes bytes from p, up to the end of the reply d waits for, and
// returns how many it took. done says that reply is complete, or the
// stream is broken; err is then nil, an Exception, an error wrapping
// ErrSlave (another unit id), ErrFunction, ErrByteCount or ErrEcho, or
// one wrapping ErrHeader for a stream that is not Modbus TCP, which is
// best closed: Feed returns it again until Reset.
func (d *TCPReplyDecoder) Feed(p []byte) (n int, done bool, err error) {
	if d.broken != nil {
		return 0, true, d.broken
	}
	for n < len(p) {
		if d.want == 0 || d.complete {
			d.n, d.want, d.complete, d.ok = 0, mbapLen, false, false
		}
		k := copy(d.buf[d.n:d.want], p[n:])
		d.n += k
		n += k
		if d.n < d.want {
			break
		}
		if d.n == mbapLen {
			if d.want, d.broken = frameLen(d.buf[:mbapLen]); d.broken != nil {
				d.waiting = false
				return n, true, d.broken
			}
			continue
		}
		d.complete = true
		if !d.waiting || binary.BigEndian.Uint16(d.buf[:2]) != d.tid {
			d.stale++
			continue
		}
		d.waiting = false
		err = d.check()
		d.ok = err == nil
		return n, true, err
	}
	return n, false, nil
}

func (d *TCPReplyDecoder) check() error {
	if unit := d.buf[6]; unit != d.e.slave {
		return fmt.Errorf("%w: unit %d answered a request to unit %d", ErrSlave, unit, d.e.slave)
	}
	return d.e.check(d.buf[mbapLen:d.n])
}

// PDU is the PDU (function and data) of the reply Feed completed last
// without error, or nil; it is d's buffer, valid until the next Feed.
func (d *TCPReplyDecoder) PDU() []byte {
	if !d.ok {
		return nil
	}
	return d.buf[mbapLen:d.n]
}

// AppendValues appends the registers, or the bits (0 or 1), of the reply
// Feed completed last without error to dst: Count of them for a read,
// none for a write.
func (d *TCPReplyDecoder) AppendValues(dst []uint16) []uint16 {
	pdu := d.PDU()
	if pdu == nil {
		return dst
	}
	return d.e.appendValues(dst, pdu)
}
