package modbus

import "strconv"

// Exception is the code of a Modbus exception reply: the slave understood
// the request and refused it. It is an error; compare it with == or
// errors.Is, or take it out with errors.As.
type Exception uint8

// The exception codes of the Modbus application protocol, 1.1b3.
const (
	IllegalFunction        Exception = 0x01
	IllegalDataAddress     Exception = 0x02
	IllegalDataValue       Exception = 0x03
	ServerDeviceFailure    Exception = 0x04
	Acknowledge            Exception = 0x05
	ServerDeviceBusy       Exception = 0x06
	NegativeAcknowledge    Exception = 0x07
	MemoryParityError      Exception = 0x08
	GatewayPathUnavailable Exception = 0x0A
	GatewayTargetNoReply   Exception = 0x0B // gateway target device failed to respond
)

var exceptionNames = [...]string{
	IllegalFunction:        "illegal function",
	IllegalDataAddress:     "illegal data address",
	IllegalDataValue:       "illegal data value",
	ServerDeviceFailure:    "server device failure",
	Acknowledge:            "acknowledge",
	ServerDeviceBusy:       "server device busy",
	NegativeAcknowledge:    "negative acknowledge",
	MemoryParityError:      "memory parity error",
	GatewayPathUnavailable: "gateway path unavailable",
	GatewayTargetNoReply:   "gateway target device failed to respond",
}

// Name is the specification's name of e, such as "illegal data address",
// or "unknown exception" for a code it does not define.
func (e Exception) Name() string {
	if int(e) < len(exceptionNames) && exceptionNames[e] != "" {
		return exceptionNames[e]
	}
	return "unknown exception"
}

// Error says "modbus exception 2 (illegal data address)".
func (e Exception) Error() string {
	return "modbus exception " + strconv.Itoa(int(e)) + " (" + e.Name() + ")"
}

// Retryable reports whether the same request is worth sending again
// later: the slave is busy (Acknowledge: it took the request and works on
// it; ServerDeviceBusy: it cannot take it now). The other exceptions will
// come again.
func (e Exception) Retryable() bool { return e == Acknowledge || e == ServerDeviceBusy }
