package serial

import (
	"fmt"
	"math"
	"strconv"
)

// Mode is the line settings of a port. Its zero fields but Baud mean
// 8 data bits, no parity, 1 stop bit and no flow control.
type Mode struct {
	Baud     int    // bits per second: any rate the driver takes
	DataBits int    // 5 to 8
	Parity   Parity // ParityNone if empty
	StopBits int    // 1 or 2
	Flow     Flow   // FlowNone if empty
}

// Parity is the parity bit of each character. Its values are the words of
// the configuration file.
type Parity string

// The parities. Mark and space need CMSPAR, which only Linux has.
const (
	ParityNone  Parity = "none"
	ParityEven  Parity = "even"
	ParityOdd   Parity = "odd"
	ParityMark  Parity = "mark"  // always 1
	ParitySpace Parity = "space" // always 0
)

// Flow is the flow control of a port. Its values are the words of the
// configuration file.
type Flow string

// The flow controls.
const (
	FlowNone    Flow = "none"
	FlowRTSCTS  Flow = "rtscts"  // hardware: the RTS and CTS lines
	FlowXONXOFF Flow = "xonxoff" // software: the XON and XOFF characters
)

// Validate reports the first setting of m that no port could take.
func (m Mode) Validate() error {
	m = m.withDefaults()
	switch {
	case m.Baud <= 0 || m.Baud > math.MaxInt32: // the speed fields of termios are 32 bits
		return fmt.Errorf("invalid mode: baud %d (want 1 to %d)", m.Baud, math.MaxInt32)
	case m.DataBits < 5 || m.DataBits > 8:
		return fmt.Errorf("invalid mode: data bits %d (want 5, 6, 7 or 8)", m.DataBits)
	case m.StopBits != 1 && m.StopBits != 2:
		return fmt.Errorf("invalid mode: stop bits %d (want 1 or 2)", m.StopBits)
	}
	switch m.Parity {
	case ParityNone, ParityEven, ParityOdd, ParityMark, ParitySpace:
	default:
		return fmt.Errorf("invalid mode: parity %q (want none, even, odd, mark or space)", m.Parity)
	}
	switch m.Flow {
	case FlowNone, FlowRTSCTS, FlowXONXOFF:
	default:
		return fmt.Errorf("invalid mode: flow %q (want none, rtscts or xonxoff)", m.Flow)
	}
	return nil
}

func (m Mode) withDefaults() Mode {
	if m.DataBits == 0 {
		m.DataBits = 8
	}
	if m.Parity == "" {
		m.Parity = ParityNone
	}
	if m.StopBits == 0 {
		m.StopBits = 1
	}
	if m.Flow == "" {
		m.Flow = FlowNone
	}
	return m
}

// String is the mode in the usual notation: "9600 8N1", "115200 7E2 rtscts".
func (m Mode) String() string {
	m = m.withDefaults()
	p := "?"
	switch m.Parity {
	case ParityNone:
		p = "N"
	case ParityEven:
		p = "E"
	case ParityOdd:
		p = "O"
	case ParityMark:
		p = "M"
	case ParitySpace:
		p = "S"
	}
	s := strconv.Itoa(m.Baud) + " " + strconv.Itoa(m.DataBits) + p + strconv.Itoa(m.StopBits)
	if m.Flow != FlowNone {
		s += " " + string(m.Flow)
	}
	return s
}

// compare reports the first setting of asked that the driver did not keep.
func compare(asked, kept Mode) error {
	switch {
	case !near(kept.Baud, asked.Baud):
		return refusal{strconv.Itoa(kept.Baud) + " baud", strconv.Itoa(asked.Baud)}
	case kept.DataBits != asked.DataBits:
		return refusal{strconv.Itoa(kept.DataBits) + " data bits", strconv.Itoa(asked.DataBits)}
	case kept.Parity != asked.Parity:
		return refusal{"parity " + string(kept.Parity), string(asked.Parity)}
	case kept.StopBits != asked.StopBits:
		return refusal{strconv.Itoa(kept.StopBits) + " stop bits", strconv.Itoa(asked.StopBits)}
	case kept.Flow != asked.Flow:
		return refusal{"flow " + string(kept.Flow), string(asked.Flow)}
	}
	return nil
}

// near tells whether a driver that rounded the rate to kept still took it:
// within 2 %, the margin the kernel itself allows when it maps a rate to a
// standard one (tty_termios_encode_baud_rate), and that UARTs tolerate.
func near(kept, asked int) bool {
	d := kept - asked
	return -asked <= d*50 && d*50 <= asked
}

// refusal is a setting that the driver did not take, in the words of
// "driver kept 9600 baud, asked 250000". It is an ErrNotSupported.
type refusal struct{ kept, asked string }

func (r refusal) Error() string { return "driver kept " + r.kept + ", asked " + r.asked }

func (refusal) Unwrap() error { return ErrNotSupported }
