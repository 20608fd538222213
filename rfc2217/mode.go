package rfc2217

import (
	"math"

	"github.com/iogate/iogate/resources/serial"
)

// ApplyMode returns the mode that cmd asks the port to take, m being the
// mode in force, and true; or m and false when cmd is not about the mode.
// The commands about the mode are SET-BAUDRATE, SET-DATASIZE, SET-PARITY,
// SET-STOPSIZE, and SET-CONTROL's flow control values. A query (the value
// 0, or a Request value) and a value that no serial.Mode can hold (1.5 stop
// bits, DCD, DTR or DSR flow control, a rate beyond 32 bits signed, an
// undefined parity) return m as it is: the answer then tells the client
// the setting in force. It does not check whether a port can take the
// mode; Port.SetMode does.
//
// A serial.Mode has one flow control for both directions, so the inbound
// values (14 to 16) set it as the outbound ones (1 to 3) do.
//
// The caller sets the mode returned, if it differs from m, and answers
// with the value of whichever mode is then in force:
//
//	if next, ok := rfc2217.ApplyMode(mode, cmd); ok {
//		if next != mode && port.SetMode(next) == nil {
//			mode = next
//		}
//		reply = srv.Reply(reply, cmd.Op, rfc2217.ModeValue(mode, cmd))
//	}
func ApplyMode(m serial.Mode, cmd Command) (serial.Mode, bool) {
	v := cmd.Value
	switch cmd.Op {
	case OpSetBaudRate:
		if v > 0 && v <= math.MaxInt32 {
			m.Baud = int(v)
		}
	case OpSetDataSize:
		if v >= 5 && v <= 8 {
			m.DataBits = int(v)
		}
	case OpSetParity:
		for p, code := range parities {
			if uint32(code) == v {
				m.Parity = p
			}
		}
	case OpSetStopSize:
		if v == stopOne || v == stopTwo {
			m.StopBits = int(v)
		}
	case OpSetControl:
		switch v {
		case ControlFlowNone, ControlInboundFlowNone:
			m.Flow = serial.FlowNone
		case ControlFlowXONXOFF, ControlInboundFlowXONXOFF:
			m.Flow = serial.FlowXONXOFF
		case ControlFlowHardware, ControlInboundFlowHardware:
			m.Flow = serial.FlowRTSCTS
		case ControlFlowRequest, ControlInboundFlowRequest, ControlFlowDCD, ControlInboundFlowDTR, ControlFlowDSR:
		default:
			return m, false
		}
	default:
		return m, false
	}
	return m, true
}

// parities are the values of SET-PARITY, by serial.Parity.
var parities = map[serial.Parity]byte{
	serial.ParityNone:  parityNone,
	serial.ParityOdd:   parityOdd,
	serial.ParityEven:  parityEven,
	serial.ParityMark:  parityMark,
	serial.ParitySpace: paritySpace,
}

// ModeValue returns the value that tells the client the setting cmd is
// about in the mode m: its rate, data size, parity or stop size, or its
// flow control as SET-CONTROL's outbound values say it, or its inbound
// ones for an inbound value. It is what Reply answers cmd with, once
// ApplyMode said cmd is about the mode; for other commands it returns 0.
// The zero fields of m are read as serial.Open reads them: 8 data bits, no
// parity, 1 stop bit, no flow control.
func ModeValue(m serial.Mode, cmd Command) uint32 {
	switch cmd.Op {
	case OpSetBaudRate:
		return uint32(m.Baud)
	case OpSetDataSize:
		if m.DataBits == 0 {
			return 8
		}
		return uint32(m.DataBits)
	case OpSetParity:
		if m.Parity == "" {
			return parityNone
		}
		return uint32(parities[m.Parity])
	case OpSetStopSize:
		if m.StopBits == 0 {
			return stopOne
		}
		return uint32(m.StopBits)
	case OpSetControl:
		var v uint32
		switch m.Flow {
		case serial.FlowXONXOFF:
			v = ControlFlowXONXOFF
		case serial.FlowRTSCTS:
			v = ControlFlowHardware
		default:
			v = ControlFlowNone
		}
		switch cmd.Value {
		case ControlInboundFlowRequest, ControlInboundFlowNone, ControlInboundFlowXONXOFF,
			ControlInboundFlowHardware, ControlInboundFlowDTR:
			return v + ControlInboundFlowNone - ControlFlowNone
		case ControlFlowRequest, ControlFlowNone, ControlFlowXONXOFF, ControlFlowHardware,
			ControlFlowDCD, ControlFlowDSR:
			return v
		}
	}
	return 0
}

// Lines is the state of what SET-CONTROL drives besides flow control: the
// DTR and RTS outputs and the break condition.
type Lines struct {
	DTR   bool
	RTS   bool
	Break bool
}

// ApplyLines returns the lines that cmd asks for, l being their state, and
// true; or l and false when cmd is not a SET-CONTROL about DTR, RTS or
// BREAK. A Request value returns l as it is. The caller sets the lines
// that changed (serial.Port's SetDTR, SetRTS, SetBreak) and answers with
// LinesValue, the way ApplyMode's example does for the mode.
func ApplyLines(l Lines, cmd Command) (Lines, bool) {
	if cmd.Op != OpSetControl {
		return l, false
	}
	switch cmd.Value {
	case ControlBreakOn, ControlBreakOff:
		l.Break = cmd.Value == ControlBreakOn
	case ControlDTROn, ControlDTROff:
		l.DTR = cmd.Value == ControlDTROn
	case ControlRTSOn, ControlRTSOff:
		l.RTS = cmd.Value == ControlRTSOn
	case ControlBreakRequest, ControlDTRRequest, ControlRTSRequest:
	default:
		return l, false
	}
	return l, true
}

// LinesValue returns the SET-CONTROL value that tells the client the state
// in l of the line cmd is about: ControlDTROn or ControlDTROff for a DTR
// command, and so on. It is what Reply answers cmd with, once ApplyLines
// said cmd is about the lines; for other commands it returns 0.
func LinesValue(l Lines, cmd Command) uint32 {
	if cmd.Op != OpSetControl {
		return 0
	}
	var on bool
	switch cmd.Value {
	case ControlBreakRequest, ControlBreakOn, ControlBreakOff:
		on = l.Break
	case ControlDTRRequest, ControlDTROn, ControlDTROff:
		on = l.DTR
	case ControlRTSRequest, ControlRTSOn, ControlRTSOff:
		on = l.RTS
	default:
		return 0
	}
	// Each line's values are Request, On, Off in a row.
	request := cmd.Value - (cmd.Value-ControlBreakRequest)%3
	if on {
		return request + 1
	}
	return request + 2
}

// ModemStateOf returns the ModemState of the modem inputs in st, with no
// delta bits: NotifyModemState works those out.
func ModemStateOf(st serial.ModemStatus) ModemState {
	var m ModemState
	if st.CTS {
		m |= ModemCTS
	}
	if st.DSR {
		m |= ModemDSR
	}
	if st.RI {
		m |= ModemRI
	}
	if st.DCD {
		m |= ModemCD
	}
	return m
}
