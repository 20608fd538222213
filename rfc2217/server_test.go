package rfc2217

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// Telnet byte strings for the tests, written the way RFC 854 names them.
const (
	IAC  = "\xff"
	SB   = "\xfa"
	SE   = "\xf0"
	WILL = "\xfb"
	WONT = "\xfc"
	DO   = "\xfd"
	DONT = "\xfe"

	BINARY = "\x00"
	ECHO   = "\x01"
	SGA    = "\x03"
	CPO    = "\x2c" // COM-PORT-OPTION
	TTYPE  = "\x18" // an option the server does not know
	NAWS   = "\x1f" // another
)

// cpo is a COM-PORT-OPTION subnegotiation: IAC SB 44 payload IAC SE, with
// payload as written (escape it first if needed).
func cpo(payload string) string { return IAC + SB + CPO + payload + IAC + SE }

// result is everything a Server made of a stream.
type result struct {
	data, reply []byte
	cmds        []Command
	at          []int // len(data) when each command was returned
	stats       Stats
}

func (r result) String() string {
	return fmt.Sprintf("data %q reply % x cmds %v at %v stats %+v", r.data, r.reply, r.cmds, r.at, r.stats)
}

func (r result) equal(o result) bool {
	return bytes.Equal(r.data, o.data) && bytes.Equal(r.reply, o.reply) &&
		slices.Equal(r.cmds, o.cmds) && slices.Equal(r.at, o.at) && r.stats == o.stats
}

// decoder is a Server or a Client.
type decoder interface {
	Decode(data, reply, in []byte) ([]byte, []byte, int, Command)
	Stats() Stats
	buffered() int
}

// buffered is how much of a subnegotiation the decoder holds.
func (t *telnet) buffered() int { return t.n }

// decode feeds chunks to s in turn, looping over Decode as a caller does,
// and returns what came out, with the replies of the greeting, if any, not
// counted.
func decode(t testing.TB, s decoder, chunks [][]byte) result {
	var r result
	before := s.Stats()
	for _, in := range chunks {
		for len(in) > 0 {
			var n int
			var cmd Command
			r.data, r.reply, n, cmd = s.Decode(r.data, r.reply, in)
			if n <= 0 || n > len(in) {
				t.Fatalf("Decode consumed %d of %d bytes", n, len(in))
			}
			if cmd.Op == OpNone && n != len(in) {
				t.Fatalf("Decode stopped at %d of %d bytes with no command", n, len(in))
			}
			if s.buffered() > maxSubnegotiation {
				t.Fatalf("subnegotiation buffer holds %d bytes", s.buffered())
			}
			in = in[n:]
			if cmd.Op != OpNone {
				r.cmds = append(r.cmds, cmd)
				r.at = append(r.at, len(r.data))
			}
		}
	}
	r.stats = s.Stats()
	r.stats.Commands -= before.Commands
	r.stats.Refused -= before.Refused
	r.stats.Ignored -= before.Ignored
	r.stats.Malformed -= before.Malformed
	r.stats.Overlong -= before.Overlong
	return r
}

// splits returns the ways the tests cut a stream into Decode calls: whole,
// a byte at a time, at every single point, and at every pair of points.
func splits(in []byte) [][][]byte {
	ways := [][][]byte{{in}, bytewise(in)}
	for i := 1; i < len(in); i++ {
		ways = append(ways, [][]byte{in[:i], in[i:]})
		for j := i + 1; j < len(in); j++ {
			ways = append(ways, [][]byte{in[:i], in[i:j], in[j:]})
		}
	}
	return ways
}

// bytewise cuts in into reads of a byte.
func bytewise(in []byte) [][]byte {
	var chunks [][]byte
	for i := range in {
		chunks = append(chunks, in[i:i+1])
	}
	return chunks
}

// feedSplits decodes in, cut every way splits has, each time on a fresh
// Server or Client from newDecoder, and fails the test unless every way
// gives the same result. It returns that result.
func feedSplits[D decoder](t *testing.T, newDecoder func() D, in []byte) result {
	t.Helper()
	var first result
	for k, chunks := range splits(in) {
		r := decode(t, newDecoder(), chunks)
		if k == 0 {
			first = r
			continue
		}
		if !r.equal(first) {
			t.Fatalf("cut as %q:\n got %v\nwant %v (whole)", chunks, r, first)
		}
	}
	return first
}

// fresh is a Server that sent no greeting and agreed to nothing.
func fresh() *Server { return NewServer("iogate test") }

// greeted is a Server that sent the greeting and has no answer yet.
func greeted() *Server {
	s := fresh()
	s.Greeting(nil)
	return s
}

// agreed is a Server after the greeting, answered by a client that took
// every option, as pyserial does.
func agreed() *Server {
	s := greeted()
	answers := IAC + DO + SGA + IAC + DO + ECHO + IAC + WILL + BINARY + IAC + DO + BINARY + IAC + WILL + CPO
	_, reply, _, _ := s.Decode(nil, nil, []byte(answers))
	if len(reply) != 0 || !s.ComPort() {
		panic(fmt.Sprintf("the greeting's answers were answered % x", reply))
	}
	return s
}

var decodeTests = []struct {
	name    string
	server  func() *Server
	in      string
	data    string
	reply   string
	cmds    []Command
	at      []int
	stats   Stats
	comPort bool // ComPort after
}{
	{name: "data", server: fresh, in: "hello\r\n\x00\x7f\x80\xfe", data: "hello\r\n\x00\x7f\x80\xfe"},
	{name: "empty", server: fresh},
	{name: "iac iac is 0xff", server: fresh, in: "a" + IAC + IAC + "b" + IAC + IAC + IAC + IAC, data: "a\xffb\xff\xff"},
	{name: "commands that mean nothing", server: fresh,
		in:   "a" + IAC + "\xf1" + "b" + IAC + "\xf9" + IAC + "\xf2" + IAC + "\xf4" + IAC + "\xf5" + IAC + "\xf6" + IAC + "\xf7" + IAC + "\xf8" + "c",
		data: "abc", stats: Stats{Ignored: 8}},
	{name: "se outside a subnegotiation", server: fresh, in: "a" + IAC + SE + "b", data: "ab", stats: Stats{Ignored: 1}},
	{name: "iac before a byte that is no command", server: fresh, in: "a" + IAC + "xb" + IAC + "\x00c", data: "abc", stats: Stats{Ignored: 2}},
	{name: "break", server: fresh, in: "ab" + IAC + "\xf3" + "cd", data: "abcd", cmds: []Command{{Op: OpBreak}}, at: []int{2}},

	// Negotiation, on a server that asked for nothing.
	{name: "will binary", server: fresh, in: IAC + WILL + BINARY, reply: IAC + DO + BINARY},
	{name: "do binary", server: fresh, in: IAC + DO + BINARY, reply: IAC + WILL + BINARY},
	{name: "sga both ways", server: fresh, in: IAC + WILL + SGA + IAC + DO + SGA, reply: IAC + DO + SGA + IAC + WILL + SGA},
	{name: "do echo", server: fresh, in: IAC + DO + ECHO, reply: IAC + WILL + ECHO},
	{name: "will echo refused", server: fresh, in: IAC + WILL + ECHO, reply: IAC + DONT + ECHO, stats: Stats{Refused: 1}},
	{name: "will com port", server: fresh, in: IAC + WILL + CPO, reply: IAC + DO + CPO, comPort: true},
	{name: "do com port refused", server: fresh, in: IAC + DO + CPO, reply: IAC + WONT + CPO, stats: Stats{Refused: 1}},
	{name: "unknown options refused", server: fresh,
		in:    IAC + WILL + TTYPE + IAC + DO + NAWS + IAC + DO + IAC + IAC + WILL + "\x06",
		reply: IAC + DONT + TTYPE + IAC + WONT + NAWS + IAC + WONT + IAC + IAC + DONT + "\x06", stats: Stats{Refused: 4}},
	{name: "refusals not answered", server: fresh, in: IAC + WONT + TTYPE + IAC + DONT + NAWS + IAC + WONT + BINARY + IAC + DONT + ECHO},
	{name: "a request for the state in force is not answered", server: fresh,
		in:    IAC + WILL + BINARY + IAC + WILL + BINARY + IAC + DO + SGA + IAC + DO + SGA + IAC + WILL + TTYPE + IAC + WILL + TTYPE,
		reply: IAC + DO + BINARY + IAC + WILL + SGA + IAC + DONT + TTYPE + IAC + DONT + TTYPE, stats: Stats{Refused: 2}},
	{name: "on, off, on", server: fresh,
		in:    IAC + WILL + BINARY + IAC + WONT + BINARY + IAC + WILL + BINARY + IAC + DO + ECHO + IAC + DONT + ECHO,
		reply: IAC + DO + BINARY + IAC + DONT + BINARY + IAC + DO + BINARY + IAC + WILL + ECHO + IAC + WONT + ECHO},
	{name: "negotiation amid data", server: fresh, in: "ab" + IAC + WILL + BINARY + "c" + IAC + IAC + "d", data: "abc\xffd", reply: IAC + DO + BINARY},

	// The greeting's answers, and a client that turns some down.
	{name: "greeting answered", server: greeted,
		in: IAC + DO + SGA + IAC + DO + ECHO + IAC + DO + BINARY + IAC + WILL + BINARY + IAC + WILL + CPO, comPort: true},
	{name: "greeting turned down", server: greeted,
		in: IAC + DONT + ECHO + IAC + WONT + CPO + IAC + DONT + BINARY + IAC + WONT + BINARY},
	{name: "turned down, then asked for", server: greeted,
		in: IAC + DONT + ECHO + IAC + WONT + CPO + IAC + DO + ECHO + IAC + WILL + CPO, reply: IAC + WILL + ECHO + IAC + DO + CPO, comPort: true},
	{name: "com port turned off", server: agreed,
		in: IAC + WONT + CPO + cpo("\x02\x07"), reply: IAC + DONT + CPO, stats: Stats{Ignored: 1}},
	{name: "pyserial asks for what the greeting asked", server: greeted,
		in:    IAC + DO + ECHO + IAC + WILL + SGA + IAC + DO + SGA + IAC + DO + CPO + IAC + WILL + CPO,
		reply: IAC + DO + SGA + IAC + WONT + CPO, stats: Stats{Refused: 1}, comPort: true},

	// COM-PORT-OPTION commands.
	{name: "set baudrate", server: agreed, in: cpo("\x01\x00\x01\xc2\x00"), cmds: []Command{{OpSetBaudRate, 115200}}, at: []int{0}, stats: Stats{Commands: 1}, comPort: true},
	{name: "set baudrate with an escaped 0xff", server: agreed, in: cpo("\x01\x00\x01\xc2" + IAC + IAC), cmds: []Command{{OpSetBaudRate, 0x1c2ff}}, at: []int{0}, stats: Stats{Commands: 1}, comPort: true},
	{name: "ask the baudrate", server: agreed, in: cpo("\x01\x00\x00\x00\x00"), cmds: []Command{{OpSetBaudRate, 0}}, at: []int{0}, stats: Stats{Commands: 1}, comPort: true},
	{name: "baudrate too short", server: agreed, in: cpo("\x01\x00\x25\x80"), stats: Stats{Malformed: 1}, comPort: true},
	{name: "baudrate too long", server: agreed, in: cpo("\x01\x00\x00\x00\x25\x80"), stats: Stats{Malformed: 1}, comPort: true},
	{name: "cisco's one-byte baudrate", server: agreed, in: cpo("\x01\x08"), stats: Stats{Malformed: 1}, comPort: true},
	{name: "datasize parity stopsize", server: agreed, in: cpo("\x02\x07") + cpo("\x03\x03") + cpo("\x04\x02") + cpo("\x04\x00"),
		cmds: []Command{{OpSetDataSize, 7}, {OpSetParity, 3}, {OpSetStopSize, 2}, {OpSetStopSize, 0}}, at: []int{0, 0, 0, 0}, stats: Stats{Commands: 4}, comPort: true},
	{name: "datasize without a value", server: agreed, in: cpo("\x02"), stats: Stats{Malformed: 1}, comPort: true},
	{name: "set control", server: agreed, in: cpo("\x05\x08") + cpo("\x05\x00") + cpo("\x05\x13"),
		cmds: []Command{{OpSetControl, ControlDTROn}, {OpSetControl, ControlFlowRequest}, {OpSetControl, ControlFlowDSR}}, at: []int{0, 0, 0}, stats: Stats{Commands: 3}, comPort: true},
	{name: "set control beyond 19", server: agreed, in: cpo("\x05\x14") + cpo("\x05\x7f"), stats: Stats{Malformed: 2}, comPort: true},
	{name: "polls", server: agreed, in: cpo("\x06") + cpo("\x07") + cpo("\x07\x00"),
		cmds: []Command{{Op: OpNotifyLineState}, {Op: OpNotifyModemState}, {Op: OpNotifyModemState}}, at: []int{0, 0, 0}, stats: Stats{Commands: 3}, comPort: true},
	{name: "flow control suspend resume", server: agreed, in: "a" + cpo("\x08") + "b" + cpo("\x09") + "c",
		data: "abc", cmds: []Command{{Op: OpFlowControlSuspend}, {Op: OpFlowControlResume}}, at: []int{1, 2}, stats: Stats{Commands: 2}, comPort: true},
	{name: "purge", server: agreed, in: cpo("\x0c\x01") + cpo("\x0c\x02") + cpo("\x0c\x03"),
		cmds: []Command{{OpPurgeData, PurgeReceive}, {OpPurgeData, PurgeTransmit}, {OpPurgeData, PurgeBoth}}, at: []int{0, 0, 0}, stats: Stats{Commands: 3}, comPort: true},
	{name: "purge of nothing", server: agreed, in: cpo("\x0c\x00") + cpo("\x0c\x04"), stats: Stats{Malformed: 2}, comPort: true},
	{name: "unknown codes", server: agreed, in: cpo("\x0d\x00") + cpo("\x65\x00\x00\x25\x80") + cpo(""), stats: Stats{Malformed: 3}, comPort: true},
	{name: "signature asked", server: agreed, in: cpo("\x00"), reply: cpo("\x64iogate test"), stats: Stats{Commands: 1}, comPort: true},
	{name: "signature given", server: agreed, in: cpo("\x00pyserial " + IAC + IAC), stats: Stats{Commands: 1}, comPort: true},
	{name: "signature with an 0xff", server: func() *Server { s := NewServer("a\xffb"); s.him[comPort] = qYes; return s },
		in: cpo("\x00"), reply: cpo("\x64a" + IAC + IAC + "b"), stats: Stats{Commands: 1}, comPort: true},
	{name: "masks", server: agreed, in: cpo("\x0a\x00") + cpo("\x0b\x30") + cpo("\x0b"+IAC+IAC),
		reply: cpo("\x6e\x00") + cpo("\x6f\x30") + cpo("\x6f"+IAC+IAC), stats: Stats{Commands: 3}, comPort: true},
	{name: "mask without a value", server: agreed, in: cpo("\x0b"), stats: Stats{Malformed: 1}, comPort: true},
	{name: "commands amid data", server: agreed, in: "ab" + cpo("\x01\x00\x00\x25\x80") + "c" + IAC + IAC + cpo("\x05\x0b") + "d",
		data: "abc\xffd", cmds: []Command{{OpSetBaudRate, 9600}, {OpSetControl, ControlRTSOn}}, at: []int{2, 4}, stats: Stats{Commands: 2}, comPort: true},

	// Subnegotiations the server does not take.
	{name: "com port not agreed", server: fresh, in: "a" + cpo("\x01\x00\x00\x25\x80") + "b", data: "ab", stats: Stats{Ignored: 1}},
	// pyserial's reader thread can take the greeting's DO for the answer to
	// a WILL that its main thread then does not send.
	{name: "com port asked, used without a will", server: greeted,
		in: cpo("\x02\x07") + IAC + WILL + CPO, cmds: []Command{{OpSetDataSize, 7}}, at: []int{0}, stats: Stats{Commands: 1}, comPort: true},
	{name: "com port asked, refused, then used", server: greeted,
		in: IAC + WONT + CPO + cpo("\x02\x07"), stats: Stats{Ignored: 1}},
	{name: "another option's subnegotiation", server: agreed, in: IAC + SB + NAWS + "\x00\x50\x00\x18" + IAC + SE + "x", data: "x", stats: Stats{Ignored: 1}, comPort: true},
	{name: "overlong", server: agreed, in: IAC + SB + CPO + "\x00" + strings.Repeat("s", 200) + IAC + SE + "x" + cpo("\x02\x07"),
		data: "x", cmds: []Command{{OpSetDataSize, 7}}, at: []int{1}, stats: Stats{Overlong: 1, Commands: 1}, comPort: true},
	{name: "longest signature", server: agreed, in: cpo("\x00" + strings.Repeat("s", maxSubnegotiation-1)), stats: Stats{Commands: 1}, comPort: true},
	{name: "signature one byte too long", server: agreed, in: cpo("\x00" + strings.Repeat("s", maxSubnegotiation)), stats: Stats{Overlong: 1}, comPort: true},
	{name: "overlong of escaped 0xff", server: agreed, in: IAC + SB + CPO + strings.Repeat(IAC+IAC, 130) + IAC + SE, stats: Stats{Overlong: 1}, comPort: true},
	{name: "cut short by negotiation", server: agreed, in: IAC + SB + CPO + "\x01\x00" + IAC + WILL + TTYPE + "x",
		data: "x", reply: IAC + DONT + TTYPE, stats: Stats{Malformed: 1, Refused: 1}, comPort: true},
	{name: "cut short by another subnegotiation", server: agreed, in: IAC + SB + CPO + "\x01\x00" + cpo("\x02\x07"),
		cmds: []Command{{OpSetDataSize, 7}}, at: []int{0}, stats: Stats{Malformed: 1, Commands: 1}, comPort: true},
	{name: "cut short by break", server: agreed, in: IAC + SB + CPO + "\x01" + IAC + "\xf3" + "x",
		data: "x", cmds: []Command{{Op: OpBreak}}, at: []int{0}, stats: Stats{Malformed: 1}, comPort: true},
	{name: "unterminated", server: agreed, in: "a" + IAC + SB + CPO + "\x02\x07" + "bcd", data: "a", comPort: true},
}

func TestDecode(t *testing.T) {
	for _, tt := range decodeTests {
		t.Run(tt.name, func(t *testing.T) {
			got := feedSplits(t, tt.server, []byte(tt.in))
			want := result{data: []byte(tt.data), reply: []byte(tt.reply), cmds: tt.cmds, at: tt.at, stats: tt.stats}
			if !got.equal(want) {
				t.Errorf("\n got %v\nwant %v", got, want)
			}
			s := tt.server()
			decode(t, s, [][]byte{[]byte(tt.in)})
			if s.ComPort() != tt.comPort {
				t.Errorf("ComPort %v, want %v", s.ComPort(), tt.comPort)
			}
		})
	}
}

func TestGreeting(t *testing.T) {
	s := fresh()
	want := IAC + WILL + SGA + IAC + WILL + ECHO + IAC + DO + BINARY + IAC + WILL + BINARY + IAC + DO + CPO
	if got := s.Greeting(nil); string(got) != want {
		t.Errorf("greeting % x, want % x", got, want)
	}
	if got := s.Greeting(nil); len(got) != 0 {
		t.Errorf("second greeting % x, want nothing", got)
	}
	if s.ComPort() {
		t.Error("ComPort before the client agreed")
	}

	// Options the client asked for first are not asked for again.
	s = fresh()
	_, reply, _, _ := s.Decode(nil, nil, []byte(IAC+DO+BINARY+IAC+WILL+CPO))
	if want := IAC + WILL + BINARY + IAC + DO + CPO; string(reply) != want {
		t.Fatalf("reply % x, want % x", reply, want)
	}
	want = IAC + WILL + SGA + IAC + WILL + ECHO + IAC + DO + BINARY
	if got := s.Greeting([]byte("x")); string(got) != "x"+want {
		t.Errorf("greeting % x, want % x after x", got, want)
	}
}

func TestReply(t *testing.T) {
	tests := []struct {
		op    Op
		value uint32
		want  string
	}{
		{OpSetBaudRate, 9600, cpo("\x65\x00\x00\x25\x80")},
		{OpSetBaudRate, 0xff00ffff, cpo("\x65" + IAC + IAC + "\x00" + IAC + IAC + IAC + IAC)},
		{OpSetDataSize, 8, cpo("\x66\x08")},
		{OpSetParity, 1, cpo("\x67\x01")},
		{OpSetStopSize, 2, cpo("\x68\x02")},
		{OpSetControl, ControlDTROff, cpo("\x69\x09")},
		{OpNotifyLineState, 0x60, cpo("\x6a\x60")},
		{OpPurgeData, PurgeBoth, cpo("\x70\x03")},
		{OpFlowControlSuspend, 0, ""},
		{OpFlowControlResume, 0, ""},
		{OpBreak, 0, ""},
		{OpNone, 0, ""},
	}
	for _, tt := range tests {
		s := agreed()
		if got := s.Reply([]byte("x"), tt.op, tt.value); string(got) != "x"+tt.want {
			t.Errorf("%v %d: got % x, want % x after x", tt.op, tt.value, got, tt.want)
		}
	}
}

// TestModemState follows a client's view of the modem lines: a first
// notification whatever the lines, then one per change that the mask lets
// through, with the delta bits of what changed; polls are always
// answered.
func TestModemState(t *testing.T) {
	s := fresh()
	if got := s.NotifyModemState(nil, ModemCTS); len(got) != 0 {
		t.Fatalf("notified % x before COM-PORT-OPTION was agreed", got)
	}
	s = agreed()
	steps := []struct {
		do    string // "notify", "poll", or "mask" to set lines as the mask
		lines ModemState
		want  string // the value sent, "" for nothing
	}{
		{"notify", 0, "\x00"}, // the first, though nothing is set
		{"notify", 0, ""},
		{"notify", ModemCTS | ModemDSR, "\x33"},
		{"notify", ModemCTS | ModemDSR | ModemCTSDelta, ""}, // delta bits given are not lines
		{"notify", ModemDSR | ModemCD, "\xa9"},              // CTS off, CD on
		{"notify", ModemDSR | ModemCD | ModemRI, "\xe0"},    // RI's leading edge is no change
		{"notify", ModemDSR | ModemCD, "\xa4"},              // its trailing edge is
		{"mask", 0x10, ""},
		{"notify", ModemCD, ""}, // DSR dropped: masked away
		{"notify", ModemCD | ModemCTS, "\x10"},
		{"poll", ModemCD | ModemCTS, "\x90"}, // not masked, no change
		{"mask", 0xff, ""},
		{"poll", ModemCTS, "\x18"},
		{"mask", 0, ""},
		{"notify", 0, ""},
		{"poll", ModemRI, "\x40"},
	}
	for i, st := range steps {
		var got []byte
		switch st.do {
		case "notify":
			got = s.NotifyModemState(nil, st.lines)
		case "poll":
			got = s.Reply(nil, OpNotifyModemState, uint32(st.lines))
		case "mask":
			mask := string(Escape(nil, []byte{byte(st.lines)}))
			_, got, _, _ = s.Decode(nil, nil, []byte(cpo("\x0b"+mask)))
			if want := cpo("\x6f" + mask); string(got) != want {
				t.Fatalf("step %d: mask answered % x, want % x", i, got, want)
			}
			continue
		}
		want := ""
		if st.want != "" {
			want = cpo("\x6b" + st.want)
		}
		if string(got) != want {
			t.Errorf("step %d: %s %#x: got % x, want % x", i, st.do, st.lines, got, want)
		}
	}
}

func TestEscape(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"abc", "abc"},
		{"\xff", "\xff\xff"},
		{"\xff\xff", "\xff\xff\xff\xff"},
		{"a\xffb\xfe\xff", "a\xff\xffb\xfe\xff\xff"},
	}
	for _, tt := range tests {
		got := Escape([]byte("x"), []byte(tt.in))
		if string(got) != "x"+tt.want {
			t.Errorf("Escape(%q) = %q, want %q after x", tt.in, got, tt.want)
		}
		// The client's server, or a server's client, gets it back.
		r := feedSplits(t, agreed, got[1:])
		if string(r.data) != tt.in || len(r.reply) != 0 || len(r.cmds) != 0 || r.stats != (Stats{}) {
			t.Errorf("%q escaped decodes to %v", tt.in, r)
		}
	}
}

// TestAllocs holds Decode, Reply, NotifyModemState and Escape to no
// allocation once the caller's buffers are large enough.
func TestAllocs(t *testing.T) {
	in := []byte("data" + IAC + IAC + IAC + WILL + TTYPE + cpo("\x00") + cpo("\x0b\x30") + cpo("\x01\x00\x01\xc2\x00") +
		IAC + SB + NAWS + "\x00\x50" + IAC + SE + "more" + cpo("\x05\x08") + "end")
	s := agreed()
	data, reply := make([]byte, 0, 4096), make([]byte, 0, 4096)
	allocs := testing.AllocsPerRun(100, func() {
		d, r := data[:0], reply[:0]
		for p := in; len(p) > 0; {
			var n int
			var cmd Command
			d, r, n, cmd = s.Decode(d, r, p)
			p = p[n:]
			r = s.Reply(r, cmd.Op, 115200)
		}
		r = s.NotifyModemState(r, ModemCTS)
		r = s.NotifyModemState(r, ModemDSR)
		data, reply = d, Escape(r, in)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per run", allocs)
	}
	if len(data) == 0 || len(reply) == 0 {
		t.Errorf("data %q, reply % x", data, reply)
	}
}

func TestCommandString(t *testing.T) {
	tests := []struct {
		cmd  Command
		want string
	}{
		{Command{OpSetBaudRate, 115200}, "SET-BAUDRATE 115200"},
		{Command{OpSetBaudRate, 0}, "SET-BAUDRATE ?"},
		{Command{OpSetDataSize, 7}, "SET-DATASIZE 7"},
		{Command{OpSetParity, 3}, "SET-PARITY even"},
		{Command{OpSetParity, 0}, "SET-PARITY ?"},
		{Command{OpSetParity, 9}, "SET-PARITY 9"},
		{Command{OpSetStopSize, 3}, "SET-STOPSIZE 1.5"},
		{Command{OpSetControl, ControlDTROn}, "SET-CONTROL DTR on"},
		{Command{OpSetControl, ControlInboundFlowHardware}, "SET-CONTROL inbound flow rtscts"},
		{Command{OpPurgeData, PurgeReceive}, "PURGE-DATA receive"},
		{Command{Op: OpNotifyModemState}, "NOTIFY-MODEMSTATE"},
		{Command{Op: OpBreak}, "BREAK"},
		{Command{}, "none"},
		{Command{Op: 99}, "Op(99)"},
	}
	for _, tt := range tests {
		if got := tt.cmd.String(); got != tt.want {
			t.Errorf("%#v: %q, want %q", tt.cmd, got, tt.want)
		}
	}
}
