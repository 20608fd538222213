package rfc2217

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// plainData is the data a telnet stream carries, taken out the plain way,
// a byte at a time: the model Decode's data must agree with.
func plainData(in []byte) []byte {
	var out []byte
	st := stData
	for i := 0; i < len(in); i++ {
		c := in[i]
		switch st {
		case stData:
			if c == iac {
				st = stIAC
			} else {
				out = append(out, c)
			}
		case stIAC:
			switch {
			case c == iac:
				out = append(out, c)
				st = stData
			case c >= will:
				st = stOption
			case c == sb:
				st = stSBOption
			default:
				st = stData
			}
		case stOption:
			st = stData
		case stSBOption:
			st = stSB
		case stSB:
			if c == iac {
				st = stSBIAC
			}
		case stSBIAC:
			switch c {
			case iac:
				st = stSB
			case se:
				st = stData
			default:
				st = stIAC
				i--
			}
		}
	}
	return out
}

// fuzzChunks cuts stream into reads: mostly short ones, where commands
// straddle them, some long.
func fuzzChunks(stream []byte, seed uint64) [][]byte {
	rng := rand.New(rand.NewPCG(seed, seed>>32))
	var chunks [][]byte
	for len(stream) > 0 {
		n := 1 + rng.IntN(8)
		if rng.IntN(4) == 0 {
			n = rng.IntN(300)
		}
		n = min(n, len(stream))
		chunks = append(chunks, stream[:n])
		stream = stream[n:]
	}
	return chunks
}

// checkCommand fails the test for a command Decode should never return.
func checkCommand(t *testing.T, cmd Command) {
	t.Helper()
	ok := true
	switch cmd.Op {
	case OpSetBaudRate, OpSetDataSize, OpSetParity, OpSetStopSize:
		ok = cmd.Op == OpSetBaudRate || cmd.Value <= 0xff
	case OpSetControl:
		ok = cmd.Value <= ControlFlowDSR
	case OpPurgeData:
		ok = cmd.Value >= PurgeReceive && cmd.Value <= PurgeBoth
	case OpNotifyLineState, OpNotifyModemState, OpFlowControlSuspend, OpFlowControlResume, OpBreak:
		ok = cmd.Value == 0
	default:
		ok = false
	}
	if !ok {
		t.Fatalf("command %#v", cmd)
	}
}

// FuzzDecode feeds any stream to a Server that sent no greeting, one that
// did, or one whose client agreed to everything, whole, in random reads
// and a byte at a time, and holds it to the rules of the package: the same
// result however the stream is cut, the data the plain model takes out,
// no more data or answers than the stream warrants, a bounded buffer, and
// data that goes back to the client escaped and arrives as it was.
func FuzzDecode(f *testing.F) {
	starts := []func() *Server{fresh, greeted, agreed}
	for i, tt := range decodeTests {
		f.Add([]byte(tt.in), uint8(i), uint64(len(tt.in)))
	}
	for i, session := range pyserialSessions() {
		f.Add(session, uint8(1), uint64(i))
	}
	f.Fuzz(func(t *testing.T, stream []byte, start uint8, seed uint64) {
		newServer := starts[int(start)%len(starts)]
		whole := decode(t, newServer(), [][]byte{stream})
		for _, chunks := range [][][]byte{fuzzChunks(stream, seed), bytewise(stream)} {
			if r := decode(t, newServer(), chunks); !r.equal(whole) {
				t.Fatalf("cut in %d:\n got %v\nwant %v (whole)", len(chunks), r, whole)
			}
		}
		if want := plainData(stream); !bytes.Equal(whole.data, want) {
			t.Fatalf("data %q, want %q", whole.data, want)
		}
		if n := bytes.Count(whole.data, []byte{iac}); 2*n > bytes.Count(stream, []byte{iac}) {
			t.Fatalf("%d 0xff in the data from %d IACs", n, bytes.Count(stream, []byte{iac}))
		}
		// The longest answer for its request is a SIGNATURE's: 17 bytes
		// of "iogate test" for 6.
		if len(whole.reply) > 3*len(stream) {
			t.Fatalf("%d bytes of answers to %d", len(whole.reply), len(stream))
		}
		for _, cmd := range whole.cmds {
			checkCommand(t, cmd)
		}
		back := decode(t, agreed(), [][]byte{Escape(nil, whole.data)})
		if !bytes.Equal(back.data, whole.data) || len(back.reply) != 0 || len(back.cmds) != 0 || back.stats != (Stats{}) {
			t.Fatalf("%q escaped decodes to %v", whole.data, back)
		}
	})
}

// checkAnswer fails the test for a Command a Client's Decode should never
// return.
func checkAnswer(t *testing.T, cmd Command) {
	t.Helper()
	ok := true
	switch cmd.Op {
	case OpComPort:
		ok = cmd.Value <= 1
	case OpSetBaudRate:
	case OpSetDataSize, OpSetParity, OpSetStopSize, OpNotifyLineState, OpNotifyModemState:
		ok = cmd.Value <= 0xff
	case OpSetControl:
		ok = cmd.Value <= ControlFlowDSR
	case OpPurgeData:
		ok = cmd.Value >= PurgeReceive && cmd.Value <= PurgeBoth
	case OpFlowControlSuspend, OpFlowControlResume:
		ok = cmd.Value == 0
	default:
		ok = false
	}
	if !ok {
		t.Fatalf("answer %#v", cmd)
	}
}

// FuzzClientDecode feeds any stream to a Client that sent no greeting, one
// that did, or one whose server agreed to everything, whole, in random
// reads and a byte at a time, and holds it to the rules of the package:
// the same result however the stream is cut, the data the plain model
// takes out, no more answers than the stream warrants, a bounded buffer,
// and a Line that adds up.
func FuzzClientDecode(f *testing.F) {
	starts := []func() *Client{clientFresh, clientGreeted, clientAgreed}
	for i, tt := range clientDecodeTests {
		f.Add([]byte(tt.in), uint8(i), uint64(len(tt.in)))
	}
	f.Fuzz(func(t *testing.T, stream []byte, start uint8, seed uint64) {
		newClient := starts[int(start)%len(starts)]
		c := newClient()
		whole := decode(t, c, [][]byte{stream})
		for _, chunks := range [][][]byte{fuzzChunks(stream, seed), bytewise(stream)} {
			if r := decode(t, newClient(), chunks); !r.equal(whole) {
				t.Fatalf("cut in %d:\n got %v\nwant %v (whole)", len(chunks), r, whole)
			}
		}
		if want := plainData(stream); !bytes.Equal(whole.data, want) {
			t.Fatalf("data %q, want %q", whole.data, want)
		}
		// The longest answer for its request is to DO COM-PORT-OPTION:
		// WILL and the five commands, 41 bytes for 3.
		if len(whole.reply) > 14*len(stream) {
			t.Fatalf("%d bytes of answers to %d", len(whole.reply), len(stream))
		}
		for _, cmd := range whole.cmds {
			checkAnswer(t, cmd)
		}
		l := c.Line()
		if l.Confirmed&^l.Answered != 0 || l.Answered&^l.Sent != 0 || (l.Sent != 0 && l.Sent != AllSettings) ||
			(l.Refused && c.ComPort()) || l.Mode != clientMode {
			t.Fatalf("line %+v, ComPort %v", l, c.ComPort())
		}
	})
}

// The telnet commands from NOP to GA, which mean nothing to the server.
const nop, ga = 241, 249

// script turns fuzz bytes into well-formed telnet commands, none of them
// data: negotiations, COM-PORT-OPTION commands with any code and value,
// other options' subnegotiations, and commands that mean nothing.
func script(b []byte) []byte {
	var out []byte
	next := func() byte {
		if len(b) == 0 {
			return 0
		}
		c := b[0]
		b = b[1:]
		return c
	}
	for len(b) > 0 {
		switch k := next(); k % 6 {
		case 0:
			out = append(out, iac, will+k/6%4, next())
		case 1, 2: // a COM-PORT-OPTION command, its value up to 8 bytes
			v := make([]byte, int(next()%9))
			for i := range v {
				v[i] = next()
			}
			out = Escape(append(out, iac, sb, optComPort), []byte{next()})
			out = append(Escape(out, v), iac, se)
		case 3:
			out = append(out, iac, sb, next())
			out = append(Escape(out, []byte{next(), next()}), iac, se)
		case 4:
			out = append(out, iac, nop+k/6%(ga-nop+1))
		case 5:
			out = append(out, iac, sb, optComPort, codeSignature)
			out = append(Escape(out, bytes.Repeat([]byte{next()}, int(next()%(maxSubnegotiation-1)))), iac, se)
		}
	}
	return out
}

// FuzzInterleave puts well-formed commands between two runs of escaped
// data: the data must come out whole, not a byte of a command in it, and
// no command be cut, however the stream is read.
func FuzzInterleave(f *testing.F) {
	f.Add([]byte("hello\xff"), []byte("\xff\xff world"), []byte{1, 5, 1, 0, 0x25, 0x80, 0, 44}, uint64(1))
	f.Add([]byte(""), []byte("x"), []byte{6, 1, 11, 9, 2, 0xff, 30, 17, 200, 3}, uint64(2))
	f.Fuzz(func(t *testing.T, a, b, commands []byte, seed uint64) {
		stream := Escape(nil, a)
		stream = append(stream, script(commands)...)
		stream = Escape(stream, b)
		s := agreed()
		r := decode(t, s, fuzzChunks(stream, seed))
		if want := append(a[:len(a):len(a)], b...); !bytes.Equal(r.data, want) {
			t.Fatalf("data %q, want %q", r.data, want)
		}
		if r.stats.Overlong != 0 || s.state != stData {
			t.Fatalf("stats %+v, state %d after well-formed commands", r.stats, s.state)
		}
	})
}
