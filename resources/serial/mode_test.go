package serial

import (
	"errors"
	"testing"

	"golang.org/x/sys/unix"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		mode Mode
		want string // "" for valid
	}{
		{Mode{Baud: 9600}, ""},
		{Mode{Baud: 31250, DataBits: 5, Parity: ParityMark, StopBits: 2, Flow: FlowXONXOFF}, ""},
		{Mode{Baud: 4000000, DataBits: 8, Parity: ParityNone, StopBits: 1, Flow: FlowRTSCTS}, ""},
		{Mode{}, "invalid mode: baud 0 (want 1 to 2147483647)"},
		{Mode{Baud: -1}, "invalid mode: baud -1 (want 1 to 2147483647)"},
		{Mode{Baud: 1 << 32}, "invalid mode: baud 4294967296 (want 1 to 2147483647)"},
		{Mode{Baud: 9600, DataBits: 9}, "invalid mode: data bits 9 (want 5, 6, 7 or 8)"},
		{Mode{Baud: 9600, DataBits: 4}, "invalid mode: data bits 4 (want 5, 6, 7 or 8)"},
		{Mode{Baud: 9600, StopBits: 3}, "invalid mode: stop bits 3 (want 1 or 2)"},
		{Mode{Baud: 9600, Parity: "foo"}, `invalid mode: parity "foo" (want none, even, odd, mark or space)`},
		{Mode{Baud: 9600, Parity: "Even"}, `invalid mode: parity "Even" (want none, even, odd, mark or space)`},
		{Mode{Baud: 9600, Flow: "hardware"}, `invalid mode: flow "hardware" (want none, rtscts or xonxoff)`},
	}
	for _, tt := range tests {
		err := tt.mode.Validate()
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%+v: %v", tt.mode, err)
		case tt.want != "" && (err == nil || err.Error() != tt.want):
			t.Errorf("%+v: got %v, want %q", tt.mode, err, tt.want)
		}
	}
}

func TestModeString(t *testing.T) {
	tests := []struct {
		mode Mode
		want string
	}{
		{Mode{Baud: 9600}, "9600 8N1"},
		{Mode{Baud: 115200, DataBits: 7, Parity: ParityEven, StopBits: 2, Flow: FlowRTSCTS}, "115200 7E2 rtscts"},
		{Mode{Baud: 300, DataBits: 5, Parity: ParityOdd, Flow: FlowXONXOFF}, "300 5O1 xonxoff"},
		{Mode{Baud: 19200, Parity: ParityMark}, "19200 8M1"},
		{Mode{Baud: 19200, Parity: ParitySpace}, "19200 8S1"},
		{Mode{Baud: 1, Parity: "foo"}, "1 8?1"},
	}
	for _, tt := range tests {
		if got := tt.mode.String(); got != tt.want {
			t.Errorf("%+v: got %q, want %q", tt.mode, got, tt.want)
		}
	}
}

// TestEncodeFlags checks the bits that encode sets, against termios(3)
// rather than against decode.
func TestEncodeFlags(t *testing.T) {
	tests := []struct {
		mode        Mode
		cflag, none uint64 // bits that must be set, and clear
		iflag       uint64 // bits that must be set
	}{
		{Mode{DataBits: 5}, unix.CS5, unix.PARENB | unix.CSTOPB | unix.CRTSCTS, 0},
		{Mode{DataBits: 6}, unix.CS6, unix.PARENB, 0},
		{Mode{DataBits: 7, Parity: ParityEven}, unix.CS7 | unix.PARENB, unix.PARODD, unix.INPCK},
		{Mode{Parity: ParityOdd}, unix.CS8 | unix.PARENB | unix.PARODD, 0, unix.INPCK},
		{Mode{StopBits: 2}, unix.CSTOPB, unix.PARENB, 0},
		{Mode{Flow: FlowRTSCTS}, unix.CRTSCTS, 0, 0},
		{Mode{Flow: FlowXONXOFF}, 0, unix.CRTSCTS, unix.IXON | unix.IXOFF},
	}
	for _, tt := range tests {
		tt.mode.Baud = 9600
		m := tt.mode.withDefaults()
		var ts unix.Termios
		ts.Cflag = unix.CRTSCTS | unix.PARODD // left over from a previous user
		if err := encode(&ts, m); err != nil {
			t.Fatalf("%v: %v", m, err)
		}
		cflag, iflag := uint64(ts.Cflag), uint64(ts.Iflag)
		if cflag&unix.CSIZE != tt.cflag&unix.CSIZE && tt.cflag&unix.CSIZE != 0 {
			t.Errorf("%v: CSIZE %#x, want %#x", m, cflag&unix.CSIZE, tt.cflag&unix.CSIZE)
		}
		if want := tt.cflag &^ unix.CSIZE; cflag&want != want {
			t.Errorf("%v: cflag %#x lacks %#x", m, cflag, want)
		}
		if cflag&tt.none != 0 {
			t.Errorf("%v: cflag %#x has %#x", m, cflag, cflag&tt.none)
		}
		if iflag&tt.iflag != tt.iflag {
			t.Errorf("%v: iflag %#x lacks %#x", m, iflag, tt.iflag)
		}
		if cflag&(unix.CLOCAL|unix.CREAD) != unix.CLOCAL|unix.CREAD || ts.Cc[unix.VMIN] != 1 || ts.Cc[unix.VTIME] != 0 {
			t.Errorf("%v: not raw: cflag %#x VMIN %d VTIME %d", m, cflag, ts.Cc[unix.VMIN], ts.Cc[unix.VTIME])
		}
	}
}

// TestEncodeDecode round-trips every combination of settings.
func TestEncodeDecode(t *testing.T) {
	parities := []Parity{ParityNone, ParityEven, ParityOdd, ParityMark, ParitySpace}
	for _, baud := range []int{50, 9600, 31250, 250000, 4000000} {
		for bits := 5; bits <= 8; bits++ {
			for _, parity := range parities {
				for stop := 1; stop <= 2; stop++ {
					for _, flow := range []Flow{FlowNone, FlowRTSCTS, FlowXONXOFF} {
						m := Mode{Baud: baud, DataBits: bits, Parity: parity, StopBits: stop, Flow: flow}
						var ts unix.Termios
						err := encode(&ts, m)
						if (parity == ParityMark || parity == ParitySpace) && cmspar == 0 {
							if !errors.Is(err, ErrNotSupported) {
								t.Errorf("%v: got %v, want ErrNotSupported", m, err)
							}
							continue
						}
						if err != nil {
							t.Fatalf("%v: %v", m, err)
						}
						if got := decode(&ts); got != m {
							t.Errorf("encoded %v, decoded %v", m, got)
						}
					}
				}
			}
		}
	}
}

func TestCompare(t *testing.T) {
	base := Mode{Baud: 250000, DataBits: 8, Parity: ParityNone, StopBits: 1, Flow: FlowNone}
	tests := []struct {
		kept func(*Mode)
		want string // "" when the driver took the mode
	}{
		{func(*Mode) {}, ""},
		{func(m *Mode) { m.Baud = 249600 }, ""}, // rounded by the UART's divisor
		{func(m *Mode) { m.Baud = 255000 }, ""},
		{func(m *Mode) { m.Baud = 9600 }, "driver kept 9600 baud, asked 250000"},
		{func(m *Mode) { m.Baud = 256000 }, "driver kept 256000 baud, asked 250000"},
		{func(m *Mode) { m.DataBits = 7 }, "driver kept 7 data bits, asked 8"},
		{func(m *Mode) { m.Parity = ParityEven }, "driver kept parity even, asked none"},
		{func(m *Mode) { m.StopBits = 2 }, "driver kept 2 stop bits, asked 1"},
		{func(m *Mode) { m.Flow = FlowXONXOFF }, "driver kept flow xonxoff, asked none"},
	}
	for _, tt := range tests {
		kept := base
		tt.kept(&kept)
		err := compare(base, kept)
		if tt.want == "" {
			if err != nil {
				t.Errorf("kept %v: %v", kept, err)
			}
			continue
		}
		if err == nil || err.Error() != tt.want || !errors.Is(err, ErrNotSupported) {
			t.Errorf("kept %v: got %v, want %q wrapping ErrNotSupported", kept, err, tt.want)
		}
	}
}
