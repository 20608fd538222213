package modbus

import "time"

// Line is the character format of a serial line, for the timing Modbus RTU
// asks of it: a character is a start bit, DataBits, a parity bit unless
// Parity is false (parity none), and StopBits.
type Line struct {
	Baud     int
	DataBits int  // 0 means 8
	Parity   bool // a parity bit: even, odd, mark or space
	StopBits int  // 0 means 1
}

// fastBaud is the rate above which the specification fixes t1.5 and t3.5
// rather than let them shrink with the character time.
const fastBaud = 19200

// bits is the number of bits of one character.
func (l Line) bits() int {
	n := 1 + l.DataBits + l.StopBits
	if l.DataBits == 0 {
		n += 8
	}
	if l.StopBits == 0 {
		n++
	}
	if l.Parity {
		n++
	}
	return n
}

// halfChars returns the time n/2 characters take on the line, rounded up to
// the nanosecond; 0 when Baud is not more than 0.
func (l Line) halfChars(n int) time.Duration {
	if l.Baud <= 0 {
		return 0
	}
	ns := int64(n) * int64(l.bits()) * int64(time.Second)
	d := 2 * int64(l.Baud)
	return time.Duration((ns + d - 1) / d)
}

// Char is the time one character takes: 1.04 ms at 9600 baud 8N1.
func (l Line) Char() time.Duration { return l.halfChars(2) }

// Wire is the time n characters take, back to back.
func (l Line) Wire(n int) time.Duration { return l.halfChars(2 * n) }

// T15 is the longest silence allowed inside a frame: 1.5 characters, and
// 750 µs above 19200 baud.
func (l Line) T15() time.Duration {
	if l.Baud > fastBaud {
		return 750 * time.Microsecond
	}
	return l.halfChars(3)
}

// T35 is the silence that separates frames: 3.5 characters, and 1750 µs
// above 19200 baud. A master keeps it between a reply and its next
// request.
func (l Line) T35() time.Duration {
	if l.Baud > fastBaud {
		return 1750 * time.Microsecond
	}
	return l.halfChars(7)
}

// Transaction is the least time r holds the line, whatever the slave: its
// request, t3.5, its reply and t3.5 again before the next request may
// start; a broadcast has no reply. The slave's own time to answer comes
// on top. 0 for an invalid request.
func (l Line) Transaction(r Request) time.Duration {
	if r.Validate() != nil {
		return 0
	}
	d := l.Wire(1+r.pduLen()+2) + l.T35()
	if !r.Broadcast() {
		d += l.Wire(r.ReplyLen()) + l.T35()
	}
	return d
}
