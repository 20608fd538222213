// Package modbus is the Modbus protocol as a master and a Modbus TCP server
// speak it, without I/O: the frames of Modbus RTU (a serial line, RS-485 or
// RS-232) and of Modbus TCP (MBAP), the line timing of RTU, and the typed
// points of a register map, decoded into JSON scalars and encoded back.
//
// A Request is one read or write of function 1, 2, 3, 4, 5, 6, 15 or 16.
// AppendRTU and AppendTCP append its frame to a buffer the caller owns.
// RTUReplyDecoder is fed what the serial line delivers, in pieces of any
// size, and finds the end of the reply by the length the request implies
// (never by silence, which USB adapters do not keep); it checks the CRC,
// the slave, the function and the byte count, and hands back the registers
// or bits, or a typed error: an Exception with its code, or one of
// ErrCRC, ErrSlave, ErrFunction, ErrByteCount and ErrEcho. TCPReplyDecoder
// does the same for a Modbus TCP device, matching transaction ids.
// TCPRequestDecoder is the server side: it cuts the requests of a Modbus
// TCP master out of its byte stream, and AppendTCPFrame, AppendTCPReply
// and AppendTCPException answer them.
//
// Line gives the character time, t1.5 and t3.5 of a serial line, and the
// time a transaction holds it. Point describes a value in a slave's
// tables (its table, address, type, word order, scale and offset);
// AppendValue turns its registers into the JSON scalar that is published,
// and Encode turns a JSON scalar back into registers. Plan groups the
// points of a slave into the fewest read requests.
//
// It is not I/O: it neither reads nor writes, keeps no time (Line computes
// durations, the caller's timers wait them), logs nothing and starts no
// goroutine. Frames and values are appended to buffers the caller owns;
// the decoders hold one frame in a fixed array of their own. Decoding a
// reply and its values does not allocate. A decoder is not safe for
// concurrent use: like the connection it serves, it belongs to the
// reactor goroutine.
//
// Registers and bits travel the same way: a slice of uint16 with one
// element per register, or per bit, where a bit is 0 or 1 (any value but
// 0 is written as on). Addresses are 0-based, as on the wire: register
// 40001 of a data sheet is holding register 0.
package modbus

import (
	"errors"
	"strconv"
)

// Function is a Modbus function code.
type Function uint8

// The functions this package reads and writes.
const (
	ReadCoils              Function = 1
	ReadDiscreteInputs     Function = 2
	ReadHoldingRegisters   Function = 3
	ReadInputRegisters     Function = 4
	WriteSingleCoil        Function = 5
	WriteSingleRegister    Function = 6
	WriteMultipleCoils     Function = 15
	WriteMultipleRegisters Function = 16
)

// exceptionBit marks a reply's function as an exception.
const exceptionBit = 0x80

// String names f as the Modbus specification does, such as "read holding
// registers".
func (f Function) String() string {
	switch f {
	case ReadCoils:
		return "read coils"
	case ReadDiscreteInputs:
		return "read discrete inputs"
	case ReadHoldingRegisters:
		return "read holding registers"
	case ReadInputRegisters:
		return "read input registers"
	case WriteSingleCoil:
		return "write single coil"
	case WriteSingleRegister:
		return "write single register"
	case WriteMultipleCoils:
		return "write multiple coils"
	case WriteMultipleRegisters:
		return "write multiple registers"
	}
	return "function " + strconv.Itoa(int(f))
}

// Supported reports whether f is one of the functions this package knows.
func (f Function) Supported() bool {
	switch f {
	case ReadCoils, ReadDiscreteInputs, ReadHoldingRegisters, ReadInputRegisters,
		WriteSingleCoil, WriteSingleRegister, WriteMultipleCoils, WriteMultipleRegisters:
		return true
	}
	return false
}

// Read reports whether f reads (functions 1 to 4).
func (f Function) Read() bool { return f >= ReadCoils && f <= ReadInputRegisters }

// Bits reports whether f reads or writes bits (coils or discrete inputs)
// rather than registers.
func (f Function) Bits() bool {
	return f == ReadCoils || f == ReadDiscreteInputs || f == WriteSingleCoil || f == WriteMultipleCoils
}

// The protocol's bounds.
const (
	MaxReadRegisters  = 125  // functions 3 and 4
	MaxReadBits       = 2000 // functions 1 and 2
	MaxWriteRegisters = 123  // function 16
	MaxWriteCoils     = 1968 // function 15
	MaxSlave          = 247  // the highest slave address; 0 is broadcast

	MaxPDU = 253            // function and data
	MaxRTU = 1 + MaxPDU + 2 // slave, PDU and CRC
	MaxTCP = 7 + MaxPDU     // MBAP header and PDU
)

// Errors of a reply, wrapped with what was received and what was expected;
// tell them apart with errors.Is. An Exception is returned as it is.
var (
	ErrCRC       = errors.New("modbus: CRC error")
	ErrSlave     = errors.New("modbus: reply from another slave")
	ErrFunction  = errors.New("modbus: reply of another function")
	ErrByteCount = errors.New("modbus: bad byte count")
	ErrEcho      = errors.New("modbus: write reply does not echo the request")
	// ErrHeader is a Modbus TCP stream that is not MBAP (a protocol id
	// other than 0, an impossible length): there is no next frame to find
	// in it, and the connection is best closed.
	ErrHeader = errors.New("modbus tcp: bad MBAP header")
	// ErrNoRequest is returned by a reply decoder fed while no request
	// waits for a reply.
	ErrNoRequest = errors.New("modbus: no request is waiting for a reply")
)
