package rfc2217

import (
	"bytes"
	"encoding/hex"
	"testing"

	"github.com/iogate/iogate/resources/serial"
)

// Sessions of pyserial 3.5's RFC 2217 client (Debian's python3-serial
// 3.5-1.1) with a server made of this package over a loopback port (what
// it is sent comes back), which greeted it with Greeting and answered as
// loopback below does. The client ran:
//
//	s = serial.serial_for_url('rfc2217://127.0.0.1:PORT', baudrate=115200, timeout=2)
//	s.write(b'hello\xffworld'); s.read(11)
//	s.baudrate = 57600; s.bytesize = 7; s.parity = serial.PARITY_EVEN
//	s.stopbits = serial.STOPBITS_TWO; s.rtscts = True; s.dtr = False; s.rts = False
//	s.break_condition = True; s.break_condition = False
//	s.reset_input_buffer(); s.reset_output_buffer()
//	s.cts, s.dsr, s.ri, s.cd; s.close()
//
// and read its data back, CTS and DSR on, and the settings it asked for.
// On connect it asks for ECHO, SGA both ways and COM-PORT-OPTION both
// ways, but its reader thread answers the greeting meanwhile and marks
// what the greeting asked for as agreed, and the main thread then does not
// ask for it: so how pyserial opens varies from run to run. Ten runs gave
// these three openings, then the same commands, and the same answers.
var (
	pyserialOpenings = []string{
		// Asked for all before it read the greeting.
		"fffd01fffb03fffd03fffd2cfffb2cfffb00fffd00",
		// Read the greeting's WILL SGA first, so did not send DO SGA.
		"fffd01fffb03fffd2cfffb2cfffb00fffd00",
		// Read the whole greeting first: it answers BINARY, asks for SGA
		// and COM-PORT-OPTION the server's way, and never says WILL
		// COM-PORT-OPTION, which the greeting's DO asked for.
		"fffb00fffd00fffb03fffd2c",
	}
	// pyserialCommands is what the client sent after its opening.
	pyserialCommands = unhex("" +
		"fffa2c010001c200fff0fffa2c0208fff0fffa2c0301fff0fffa2c0401fff0fffa2c0501fff0fffa2c0508fff0fffa2c" +
		"050bfff0fffa2c0c01fff0fffa2c0c02fff068656c6c6fffff776f726c64fffa2c010000e100fff0fffa2c0208fff0ff" +
		"fa2c0301fff0fffa2c0401fff0fffa2c0501fff0fffa2c010000e100fff0fffa2c0207fff0fffa2c0301fff0fffa2c04" +
		"01fff0fffa2c0501fff0fffa2c010000e100fff0fffa2c0207fff0fffa2c0303fff0fffa2c0401fff0fffa2c0501fff0" +
		"fffa2c010000e100fff0fffa2c0207fff0fffa2c0303fff0fffa2c0402fff0fffa2c0501fff0fffa2c010000e100fff0" +
		"fffa2c0207fff0fffa2c0303fff0fffa2c0402fff0fffa2c0503fff0fffa2c0509fff0fffa2c050cfff0fffa2c0505ff" +
		"f0fffa2c0506fff0fffa2c0c01fff0fffa2c0c02fff0")
	// pyserialAnswered is what the server sent after its greeting, which
	// the client took: every answer had the value the client asked for.
	pyserialAnswered = unhex("" +
		"fffd03fffc2cfffa2c6b33fff0fffa2c650001c200fff0fffa2c6608fff0fffa2c6701fff0fffa2c6801fff0fffa2c69" +
		"01fff0fffa2c6908fff0fffa2c690bfff0fffa2c7001fff0fffa2c7002fff068656c6c6fffff776f726c64fffa2c6500" +
		"00e100fff0fffa2c6608fff0fffa2c6701fff0fffa2c6801fff0fffa2c6901fff0fffa2c650000e100fff0fffa2c6607" +
		"fff0fffa2c6701fff0fffa2c6801fff0fffa2c6901fff0fffa2c650000e100fff0fffa2c6607fff0fffa2c6703fff0ff" +
		"fa2c6801fff0fffa2c6901fff0fffa2c650000e100fff0fffa2c6607fff0fffa2c6703fff0fffa2c6802fff0fffa2c69" +
		"01fff0fffa2c650000e100fff0fffa2c6607fff0fffa2c6703fff0fffa2c6802fff0fffa2c6903fff0fffa2c6909fff0" +
		"fffa2c690cfff0fffa2c6905fff0fffa2c6906fff0fffa2c7001fff0fffa2c7002fff0")
)

func unhex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// loopback is a caller of a Server in front of a port that sends back what
// it is sent, with CTS and DSR on, and a mode and lines that take every
// setting.
type loopback struct {
	srv      *Server
	mode     serial.Mode
	lines    Lines
	notified bool
	out      []byte // to the client
}

// received is what the caller does with each read from the client.
func (l *loopback) received(in []byte) {
	var data []byte
	for len(in) > 0 {
		var n int
		var cmd Command
		data, l.out, n, cmd = l.srv.Decode(data[:0], l.out, in)
		in = in[n:]
		l.out = Escape(l.out, data) // the port's echo, before the command is carried out
		// The first notification goes as soon as the client agreed: a
		// client may ask for CTS at once.
		if l.srv.ComPort() && !l.notified {
			l.out = l.srv.NotifyModemState(l.out, ModemCTS|ModemDSR)
			l.notified = true
		}
		if next, ok := ApplyMode(l.mode, cmd); ok {
			l.mode = next
			l.out = l.srv.Reply(l.out, cmd.Op, ModeValue(l.mode, cmd))
		} else if next, ok := ApplyLines(l.lines, cmd); ok {
			l.lines = next
			l.out = l.srv.Reply(l.out, cmd.Op, LinesValue(l.lines, cmd))
		} else if cmd.Op == OpNotifyModemState {
			l.out = l.srv.Reply(l.out, cmd.Op, uint32(ModemCTS|ModemDSR))
		} else {
			l.out = l.srv.Reply(l.out, cmd.Op, cmd.Value) // PURGE-DATA: nothing to purge
		}
	}
}

// pyserialSessions are the three sessions, whole.
func pyserialSessions() [][]byte {
	var sessions [][]byte
	for _, o := range pyserialOpenings {
		sessions = append(sessions, append(unhex(o), pyserialCommands...))
	}
	return sessions
}

// TestPyserial replays each session cut every way at one point, and a byte
// at a time: each must get the answers the client took.
func TestPyserial(t *testing.T) {
	for k, sent := range pyserialSessions() {
		cuts := [][][]byte{{sent}, bytewise(sent)}
		for i := 1; i < len(sent); i++ {
			cuts = append(cuts, [][]byte{sent[:i], sent[i:]})
		}
		for _, chunks := range cuts {
			l := &loopback{srv: NewServer("iogate test"), mode: serial.Mode{Baud: 9600}, lines: Lines{DTR: true, RTS: true}}
			l.srv.Greeting(nil)
			for _, in := range chunks {
				l.received(in)
			}
			if !bytes.Equal(l.out, pyserialAnswered) {
				t.Fatalf("session %d cut in %d: answered\n%x\nwant\n%x", k, len(chunks), l.out, pyserialAnswered)
			}
			if want := (serial.Mode{Baud: 57600, DataBits: 7, Parity: serial.ParityEven, StopBits: 2, Flow: serial.FlowRTSCTS}); l.mode != want {
				t.Errorf("session %d cut in %d: mode %v, want %v", k, len(chunks), l.mode, want)
			}
			if l.lines != (Lines{}) {
				t.Errorf("session %d cut in %d: lines %+v, want all off", k, len(chunks), l.lines)
			}
			if st := l.srv.Stats(); st != (Stats{Commands: 40, Refused: 1}) {
				t.Errorf("session %d cut in %d: stats %+v", k, len(chunks), st)
			}
		}
	}
}
