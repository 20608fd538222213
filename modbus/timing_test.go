package modbus

import (
	"testing"
	"time"
)

func TestLine(t *testing.T) {
	for _, tc := range []struct {
		line           Line
		char, t15, t35 time.Duration
	}{
		{Line{Baud: 9600, DataBits: 8, StopBits: 1}, 1041667, 1562500, 3645834},
		{Line{Baud: 9600}, 1041667, 1562500, 3645834}, // 8 data bits and 1 stop bit by default
		{Line{Baud: 19200, DataBits: 8, Parity: true, StopBits: 1}, 572917, 859375, 2005209},
		{Line{Baud: 9600, DataBits: 7, Parity: true, StopBits: 2}, 1145834, 1718750, 4010417},
		{Line{Baud: 2400, DataBits: 8, StopBits: 1}, 4166667, 6250000, 14583334},
		{Line{Baud: 38400, DataBits: 8, Parity: true, StopBits: 1}, 286459, 750 * time.Microsecond, 1750 * time.Microsecond},
		{Line{Baud: 115200}, 86806, 750 * time.Microsecond, 1750 * time.Microsecond},
		{Line{}, 0, 0, 0},
	} {
		if c, t15, t35 := tc.line.Char(), tc.line.T15(), tc.line.T35(); c != tc.char || t15 != tc.t15 || t35 != tc.t35 {
			t.Errorf("%+v: char %v t1.5 %v t3.5 %v, want %v %v %v", tc.line, c, t15, t35, tc.char, tc.t15, tc.t35)
		}
	}
}

func TestTransaction(t *testing.T) {
	l := Line{Baud: 9600}
	read := Request{Slave: 1, Function: ReadHoldingRegisters, Count: 2}
	// 8 bytes, t3.5, 9 bytes, t3.5: 17 characters of 10 bits and 7 of them.
	if got, want := l.Transaction(read), l.Wire(8)+l.Wire(9)+2*l.T35(); got != want || got != 25000002 {
		t.Errorf("read: %v, want %v", got, want)
	}
	broadcast := Request{Function: WriteSingleRegister, Count: 1, Values: []uint16{1}}
	if got, want := l.Transaction(broadcast), l.Wire(8)+l.T35(); got != want {
		t.Errorf("broadcast: %v, want %v", got, want)
	}
	if got := l.Transaction(Request{Slave: 1, Function: ReadCoils}); got != 0 {
		t.Errorf("invalid: %v", got)
	}
	if got := (Line{Baud: 9600}).Wire(960); got != time.Second {
		t.Errorf("960 characters at 9600 8N1: %v", got)
	}
}
