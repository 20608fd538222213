package modbus

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Request is one Modbus request: a read of Count registers or bits from
// Address, or a write of Values there.
//
// For the writes, Count is the number of Values: 1 for functions 5 and 6.
// A coil is written on when its value is not 0. Values belongs to the
// caller; nothing here keeps it past the call it is given to.
type Request struct {
	Slave    uint8 // 1 to 247, or 0 for a broadcast write, which no slave answers
	Function Function
	Address  uint16
	Count    uint16
	Values   []uint16
}

// Broadcast reports whether r goes to every slave (slave 0), and so
// expects no reply.
func (r Request) Broadcast() bool { return r.Slave == 0 }

// limits returns the exception a server answers r's function, quantity
// and address range with, and why; 0 when they are within the protocol's
// bounds. The order of the checks is the specification's: the function,
// then the quantity (exception 3), then the address range (exception 2).
func (r Request) limits() (Exception, string) {
	limit := 1
	switch r.Function {
	case ReadCoils, ReadDiscreteInputs:
		limit = MaxReadBits
	case ReadHoldingRegisters, ReadInputRegisters:
		limit = MaxReadRegisters
	case WriteSingleCoil, WriteSingleRegister:
	case WriteMultipleCoils:
		limit = MaxWriteCoils
	case WriteMultipleRegisters:
		limit = MaxWriteRegisters
	default:
		return IllegalFunction, fmt.Sprintf("function %d is not one of 1, 2, 3, 4, 5, 6, 15, 16", r.Function)
	}
	if r.Count < 1 || int(r.Count) > limit {
		return IllegalDataValue, fmt.Sprintf("%s of %d %s: want 1 to %d", r.Function, r.Count, r.unit(), limit)
	}
	if int(r.Address)+int(r.Count) > 1<<16 {
		return IllegalDataAddress, fmt.Sprintf("%s of %d %s from address %d goes past 65535", r.Function, r.Count, r.unit(), r.Address)
	}
	return 0, ""
}

func (r Request) unit() string {
	if r.Function.Bits() {
		return "bits"
	}
	return "registers"
}

// Validate reports whether r can be sent: a known function, a slave from 1
// to 247 (or 0 for a write), a count within the protocol's bounds (1 to
// 2000 bits or 125 registers for a read, 1 to 1968 coils or 123 registers
// for a write of several), as many Values as Count for a write, and an
// address range that ends by 65535.
func (r Request) Validate() error {
	if r.Slave > MaxSlave {
		return fmt.Errorf("modbus: slave %d: want 1 to %d, or 0 for a broadcast write", r.Slave, MaxSlave)
	}
	if exc, why := r.limits(); exc != 0 {
		return errors.New("modbus: " + why)
	}
	if r.Function.Read() {
		if r.Broadcast() {
			return fmt.Errorf("modbus: %s from slave 0: a broadcast cannot be read, no slave answers it", r.Function)
		}
		return nil
	}
	if len(r.Values) != int(r.Count) {
		return fmt.Errorf("modbus: %s of count %d with %d values", r.Function, r.Count, len(r.Values))
	}
	return nil
}

// pduLen is the length of r's PDU; r is valid.
func (r Request) pduLen() int {
	switch r.Function {
	case WriteMultipleCoils:
		return 6 + (int(r.Count)+7)/8
	case WriteMultipleRegisters:
		return 6 + 2*int(r.Count)
	}
	return 5
}

// replyPDULen is the length of the PDU of a normal reply to r; r is valid.
func (r Request) replyPDULen() int {
	switch r.Function {
	case ReadCoils, ReadDiscreteInputs:
		return 2 + (int(r.Count)+7)/8
	case ReadHoldingRegisters, ReadInputRegisters:
		return 2 + 2*int(r.Count)
	}
	return 5
}

// ReplyLen is the length of an RTU frame of a normal reply to r (an
// exception reply is 5 bytes); 0 for a broadcast, which has no reply, and
// for an invalid request.
func (r Request) ReplyLen() int {
	if r.Validate() != nil || r.Broadcast() {
		return 0
	}
	return 1 + r.replyPDULen() + 2
}

// AppendPDU appends r's PDU (function and data) to dst.
func (r Request) AppendPDU(dst []byte) ([]byte, error) {
	if err := r.Validate(); err != nil {
		return dst, err
	}
	return r.appendPDU(dst), nil
}

func (r Request) appendPDU(dst []byte) []byte {
	dst = append(dst, byte(r.Function))
	dst = binary.BigEndian.AppendUint16(dst, r.Address)
	switch r.Function {
	case WriteSingleCoil:
		v := uint16(0)
		if r.Values[0] != 0 {
			v = 0xFF00
		}
		return binary.BigEndian.AppendUint16(dst, v)
	case WriteSingleRegister:
		return binary.BigEndian.AppendUint16(dst, r.Values[0])
	}
	dst = binary.BigEndian.AppendUint16(dst, r.Count)
	switch r.Function {
	case WriteMultipleCoils:
		dst = append(dst, byte((r.Count+7)/8))
		return appendBits(dst, r.Values)
	case WriteMultipleRegisters:
		dst = append(dst, byte(2*r.Count))
		for _, v := range r.Values {
			dst = binary.BigEndian.AppendUint16(dst, v)
		}
	}
	return dst
}

// appendBits packs bits (0 for off) eight to a byte, the first in the
// lowest bit, as Modbus carries coils and discrete inputs.
func appendBits(dst []byte, bits []uint16) []byte {
	for i := 0; i < len(bits); i += 8 {
		var b byte
		for k := 0; k < 8 && i+k < len(bits); k++ {
			if bits[i+k] != 0 {
				b |= 1 << k
			}
		}
		dst = append(dst, b)
	}
	return dst
}

// AppendRTU appends r as an RTU frame (slave, PDU, CRC) to dst.
func (r Request) AppendRTU(dst []byte) ([]byte, error) {
	if err := r.Validate(); err != nil {
		return dst, err
	}
	start := len(dst)
	dst = append(dst, r.Slave)
	dst = r.appendPDU(dst)
	return appendCRC(dst, start), nil
}

// AppendTCP appends r as a Modbus TCP frame to dst: the MBAP header
// (transaction, protocol 0, length, unit id r.Slave) and the PDU.
func (r Request) AppendTCP(dst []byte, transaction uint16) ([]byte, error) {
	if err := r.Validate(); err != nil {
		return dst, err
	}
	dst = appendMBAP(dst, transaction, r.Slave, r.pduLen())
	return r.appendPDU(dst), nil
}
