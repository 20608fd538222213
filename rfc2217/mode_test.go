package rfc2217

import (
	"testing"

	"github.com/iogate/iogate/resources/serial"
)

func TestApplyMode(t *testing.T) {
	base := serial.Mode{Baud: 9600, DataBits: 8, Parity: serial.ParityNone, StopBits: 1, Flow: serial.FlowNone}
	with := func(f func(*serial.Mode)) serial.Mode { m := base; f(&m); return m }
	tests := []struct {
		cmd   Command
		next  serial.Mode
		ok    bool
		value uint32 // ModeValue(next, cmd): what the client is told once next is taken
	}{
		{Command{OpSetBaudRate, 115200}, with(func(m *serial.Mode) { m.Baud = 115200 }), true, 115200},
		{Command{OpSetBaudRate, 250000}, with(func(m *serial.Mode) { m.Baud = 250000 }), true, 250000},
		{Command{OpSetBaudRate, 0}, base, true, 9600},
		{Command{OpSetBaudRate, 1 << 31}, base, true, 9600},
		{Command{OpSetDataSize, 7}, with(func(m *serial.Mode) { m.DataBits = 7 }), true, 7},
		{Command{OpSetDataSize, 5}, with(func(m *serial.Mode) { m.DataBits = 5 }), true, 5},
		{Command{OpSetDataSize, 0}, base, true, 8},
		{Command{OpSetDataSize, 9}, base, true, 8},
		{Command{OpSetDataSize, 4}, base, true, 8},
		{Command{OpSetParity, 1}, base, true, 1},
		{Command{OpSetParity, 2}, with(func(m *serial.Mode) { m.Parity = serial.ParityOdd }), true, 2},
		{Command{OpSetParity, 3}, with(func(m *serial.Mode) { m.Parity = serial.ParityEven }), true, 3},
		{Command{OpSetParity, 4}, with(func(m *serial.Mode) { m.Parity = serial.ParityMark }), true, 4},
		{Command{OpSetParity, 5}, with(func(m *serial.Mode) { m.Parity = serial.ParitySpace }), true, 5},
		{Command{OpSetParity, 0}, base, true, 1},
		{Command{OpSetParity, 6}, base, true, 1},
		{Command{OpSetStopSize, 2}, with(func(m *serial.Mode) { m.StopBits = 2 }), true, 2},
		{Command{OpSetStopSize, 1}, base, true, 1},
		{Command{OpSetStopSize, 3}, base, true, 1}, // 1.5
		{Command{OpSetStopSize, 0}, base, true, 1},
		{Command{OpSetControl, ControlFlowHardware}, with(func(m *serial.Mode) { m.Flow = serial.FlowRTSCTS }), true, ControlFlowHardware},
		{Command{OpSetControl, ControlFlowXONXOFF}, with(func(m *serial.Mode) { m.Flow = serial.FlowXONXOFF }), true, ControlFlowXONXOFF},
		{Command{OpSetControl, ControlFlowNone}, base, true, ControlFlowNone},
		{Command{OpSetControl, ControlFlowRequest}, base, true, ControlFlowNone},
		{Command{OpSetControl, ControlInboundFlowHardware}, with(func(m *serial.Mode) { m.Flow = serial.FlowRTSCTS }), true, ControlInboundFlowHardware},
		{Command{OpSetControl, ControlInboundFlowXONXOFF}, with(func(m *serial.Mode) { m.Flow = serial.FlowXONXOFF }), true, ControlInboundFlowXONXOFF},
		{Command{OpSetControl, ControlInboundFlowNone}, base, true, ControlInboundFlowNone},
		{Command{OpSetControl, ControlInboundFlowRequest}, base, true, ControlInboundFlowNone},
		{Command{OpSetControl, ControlFlowDCD}, base, true, ControlFlowNone},
		{Command{OpSetControl, ControlFlowDSR}, base, true, ControlFlowNone},
		{Command{OpSetControl, ControlInboundFlowDTR}, base, true, ControlInboundFlowNone},
		{Command{OpSetControl, ControlDTROn}, base, false, 0},
		{Command{OpSetControl, ControlBreakRequest}, base, false, 0},
		{Command{OpPurgeData, PurgeBoth}, base, false, 0},
		{Command{Op: OpNotifyModemState}, base, false, 0},
		{Command{Op: OpBreak}, base, false, 0},
		{Command{}, base, false, 0},
	}
	for _, tt := range tests {
		next, ok := ApplyMode(base, tt.cmd)
		if next != tt.next || ok != tt.ok {
			t.Errorf("%v: got %v, %v; want %v, %v", tt.cmd, next, ok, tt.next, tt.ok)
		}
		if v := ModeValue(next, tt.cmd); v != tt.value {
			t.Errorf("%v: value %d, want %d", tt.cmd, v, tt.value)
		}
	}
}

// TestModeValue reads every setting of a mode, zero fields included.
func TestModeValue(t *testing.T) {
	tests := []struct {
		m    serial.Mode
		cmd  Command
		want uint32
	}{
		{serial.Mode{Baud: 9600}, Command{Op: OpSetDataSize}, 8},
		{serial.Mode{Baud: 9600}, Command{Op: OpSetParity}, parityNone},
		{serial.Mode{Baud: 9600}, Command{Op: OpSetStopSize}, stopOne},
		{serial.Mode{Baud: 9600}, Command{OpSetControl, ControlFlowRequest}, ControlFlowNone},
		{serial.Mode{Baud: 9600}, Command{OpSetControl, ControlInboundFlowRequest}, ControlInboundFlowNone},
		{serial.Mode{Baud: 9600, Flow: serial.FlowXONXOFF}, Command{OpSetControl, ControlInboundFlowRequest}, ControlInboundFlowXONXOFF},
		{serial.Mode{Baud: 9600, Flow: serial.FlowRTSCTS}, Command{OpSetControl, ControlFlowDCD}, ControlFlowHardware},
		{serial.Mode{Baud: 300, DataBits: 5, Parity: serial.ParitySpace, StopBits: 2}, Command{Op: OpSetBaudRate}, 300},
		{serial.Mode{Baud: 300, DataBits: 5, Parity: serial.ParitySpace, StopBits: 2}, Command{Op: OpSetDataSize}, 5},
		{serial.Mode{Baud: 300, DataBits: 5, Parity: serial.ParitySpace, StopBits: 2}, Command{Op: OpSetParity}, paritySpace},
		{serial.Mode{Baud: 300, DataBits: 5, Parity: serial.ParitySpace, StopBits: 2}, Command{Op: OpSetStopSize}, stopTwo},
	}
	for _, tt := range tests {
		if got := ModeValue(tt.m, tt.cmd); got != tt.want {
			t.Errorf("%v of %v: %d, want %d", tt.cmd, tt.m, got, tt.want)
		}
	}
}

func TestApplyLines(t *testing.T) {
	tests := []struct {
		l     Lines
		value uint32
		next  Lines
		ok    bool
		want  uint32 // LinesValue(next)
	}{
		{Lines{}, ControlDTROn, Lines{DTR: true}, true, ControlDTROn},
		{Lines{DTR: true, RTS: true}, ControlDTROff, Lines{RTS: true}, true, ControlDTROff},
		{Lines{}, ControlDTRRequest, Lines{}, true, ControlDTROff},
		{Lines{DTR: true}, ControlDTRRequest, Lines{DTR: true}, true, ControlDTROn},
		{Lines{}, ControlRTSOn, Lines{RTS: true}, true, ControlRTSOn},
		{Lines{RTS: true}, ControlRTSOff, Lines{}, true, ControlRTSOff},
		{Lines{RTS: true}, ControlRTSRequest, Lines{RTS: true}, true, ControlRTSOn},
		{Lines{}, ControlBreakOn, Lines{Break: true}, true, ControlBreakOn},
		{Lines{Break: true}, ControlBreakOff, Lines{}, true, ControlBreakOff},
		{Lines{Break: true}, ControlBreakRequest, Lines{Break: true}, true, ControlBreakOn},
		{Lines{DTR: true}, ControlFlowHardware, Lines{DTR: true}, false, 0},
		{Lines{DTR: true}, ControlInboundFlowRequest, Lines{DTR: true}, false, 0},
		{Lines{DTR: true}, ControlFlowDSR, Lines{DTR: true}, false, 0},
	}
	for _, tt := range tests {
		cmd := Command{OpSetControl, tt.value}
		next, ok := ApplyLines(tt.l, cmd)
		if next != tt.next || ok != tt.ok {
			t.Errorf("%v on %+v: got %+v, %v; want %+v, %v", cmd, tt.l, next, ok, tt.next, tt.ok)
		}
		if got := LinesValue(next, cmd); got != tt.want {
			t.Errorf("%v on %+v: value %d, want %d", cmd, tt.l, got, tt.want)
		}
	}
	if l, ok := ApplyLines(Lines{DTR: true}, Command{OpPurgeData, ControlDTROff}); ok || !l.DTR {
		t.Errorf("PURGE-DATA taken for a line: %+v, %v", l, ok)
	}
	if v := LinesValue(Lines{DTR: true}, Command{OpPurgeData, ControlDTRRequest}); v != 0 {
		t.Errorf("PURGE-DATA answered as a line: %d", v)
	}
}

func TestModemStateOf(t *testing.T) {
	tests := []struct {
		st   serial.ModemStatus
		want ModemState
	}{
		{serial.ModemStatus{}, 0},
		{serial.ModemStatus{CTS: true}, ModemCTS},
		{serial.ModemStatus{DSR: true}, ModemDSR},
		{serial.ModemStatus{RI: true}, ModemRI},
		{serial.ModemStatus{DCD: true}, ModemCD},
		{serial.ModemStatus{CTS: true, DSR: true, RI: true, DCD: true}, 0xf0},
	}
	for _, tt := range tests {
		if got := ModemStateOf(tt.st); got != tt.want {
			t.Errorf("%+v: %#x, want %#x", tt.st, got, tt.want)
		}
	}
}
