package rfc2217

import (
	"fmt"
	"strings"
	"testing"

	"github.com/iogate/iogate/resources/serial"
)

// clientMode is the mode the test clients ask for: 19200 7E1.
var clientMode = serial.Mode{Baud: 19200, DataBits: 7, Parity: serial.ParityEven, StopBits: 1, Flow: serial.FlowNone}

// clientSets is what a client asking for clientMode sends once the server
// agreed to COM-PORT-OPTION.
const clientSets = IAC + SB + CPO + "\x01\x00\x00\x4b\x00" + IAC + SE +
	IAC + SB + CPO + "\x02\x07" + IAC + SE +
	IAC + SB + CPO + "\x03\x03" + IAC + SE +
	IAC + SB + CPO + "\x04\x01" + IAC + SE +
	IAC + SB + CPO + "\x05\x01" + IAC + SE

// ser2netGreeting is what ser2net 4.3.11's telnet(rfc2217) sends on
// connect.
const ser2netGreeting = IAC + WILL + SGA + IAC + DO + SGA + IAC + WILL + ECHO + IAC + DONT + ECHO +
	IAC + DO + BINARY + IAC + WILL + BINARY + IAC + DO + CPO

// clientFresh is a Client that sent no greeting and agreed to nothing.
func clientFresh() *Client { return NewClient("iogate test", clientMode) }

// clientGreeted is a Client that sent the greeting and has no answer yet.
func clientGreeted() *Client {
	c := clientFresh()
	c.Greeting(nil)
	return c
}

// clientAgreed is a Client after the greeting, answered by a server that
// took every option, and that sent its commands.
func clientAgreed() *Client {
	c := clientGreeted()
	answers := []byte(IAC + DO + BINARY + IAC + WILL + BINARY + IAC + DO + SGA + IAC + WILL + SGA + IAC + DO + CPO)
	_, reply, n, cmd := c.Decode(nil, nil, answers)
	if string(reply) != clientSets || cmd != (Command{OpComPort, 1}) || n != len(answers) {
		panic(fmt.Sprintf("the greeting's answers were answered % x, %v", reply, cmd))
	}
	return c
}

// sent is a Line of clientMode whose settings were all sent.
func sent(answered, confirmed Settings) Line {
	return Line{Mode: clientMode, Sent: AllSettings, Answered: answered, Confirmed: confirmed}
}

var clientDecodeTests = []struct {
	name    string
	client  func() *Client
	in      string
	data    string
	reply   string
	cmds    []Command
	at      []int
	stats   Stats
	comPort bool // ComPort after
	line    Line // Line after; its Mode is always clientMode
}{
	{name: "data", client: clientFresh, in: "hello\r\n\x00\x7f\x80\xfe", data: "hello\r\n\x00\x7f\x80\xfe"},
	{name: "empty", client: clientFresh},
	{name: "iac iac is 0xff", client: clientFresh, in: "a" + IAC + IAC + "b" + IAC + IAC + IAC + IAC, data: "a\xffb\xff\xff"},
	{name: "commands that mean nothing", client: clientFresh, in: "a" + IAC + "\xf1" + "b" + IAC + "\xf9" + IAC + "\xf3" + IAC + SE + "c",
		data: "abc", stats: Stats{Ignored: 4}},

	// Negotiation, on a client that asked for nothing.
	{name: "will binary", client: clientFresh, in: IAC + WILL + BINARY, reply: IAC + DO + BINARY},
	{name: "do binary", client: clientFresh, in: IAC + DO + BINARY, reply: IAC + WILL + BINARY},
	{name: "sga both ways", client: clientFresh, in: IAC + WILL + SGA + IAC + DO + SGA, reply: IAC + DO + SGA + IAC + WILL + SGA},
	{name: "echo refused both ways", client: clientFresh, in: IAC + WILL + ECHO + IAC + DO + ECHO, reply: IAC + DONT + ECHO + IAC + WONT + ECHO, stats: Stats{Refused: 2}},
	{name: "will com port refused", client: clientFresh, in: IAC + WILL + CPO, reply: IAC + DONT + CPO, stats: Stats{Refused: 1}},
	{name: "do com port", client: clientFresh, in: "a" + IAC + DO + CPO + "b", data: "ab", reply: IAC + WILL + CPO + clientSets,
		cmds: []Command{{OpComPort, 1}}, at: []int{1}, comPort: true, line: sent(0, 0)},
	{name: "unknown options refused", client: clientFresh, in: IAC + WILL + TTYPE + IAC + DO + NAWS,
		reply: IAC + DONT + TTYPE + IAC + WONT + NAWS, stats: Stats{Refused: 2}},
	{name: "refusals not answered", client: clientFresh, in: IAC + WONT + TTYPE + IAC + DONT + NAWS + IAC + WONT + BINARY + IAC + DONT + CPO},

	// The greeting's answers.
	{name: "ser2net's greeting", client: clientGreeted, in: ser2netGreeting, reply: IAC + DONT + ECHO + clientSets,
		cmds: []Command{{OpComPort, 1}}, at: []int{0}, stats: Stats{Refused: 1}, comPort: true, line: sent(0, 0)},
	{name: "ser2net's greeting, then its notification", client: clientGreeted, in: ser2netGreeting + IAC + DO + SGA + cpo("\x6b\x00"),
		reply: IAC + DONT + ECHO + clientSets, cmds: []Command{{OpComPort, 1}, {OpNotifyModemState, 0}}, at: []int{0, 0},
		stats: Stats{Refused: 1, Commands: 1}, comPort: true, line: sent(0, 0)},
	{name: "com port refused", client: clientGreeted, in: IAC + DO + BINARY + IAC + DONT + CPO + "x", data: "x",
		cmds: []Command{{Op: OpComPort}}, at: []int{0}, line: Line{Refused: true}},
	{name: "wont com port is not about the client's side", client: clientGreeted, in: IAC + WONT + CPO},
	{name: "com port ended, then agreed again", client: clientAgreed, in: IAC + DONT + CPO + IAC + DO + CPO,
		reply: IAC + WONT + CPO + IAC + WILL + CPO + clientSets, cmds: []Command{{Op: OpComPort}, {OpComPort, 1}}, at: []int{0, 0},
		comPort: true, line: sent(0, 0)},
	{name: "a second do is not answered", client: clientAgreed, in: IAC + DO + CPO, comPort: true, line: sent(0, 0)},

	// The server's answers.
	{name: "every setting confirmed", client: clientAgreed,
		in:   cpo("\x65\x00\x00\x4b\x00") + cpo("\x66\x07") + cpo("\x67\x03") + cpo("\x68\x01") + cpo("\x69\x01"),
		cmds: []Command{{OpSetBaudRate, 19200}, {OpSetDataSize, 7}, {OpSetParity, 3}, {OpSetStopSize, 1}, {OpSetControl, ControlFlowNone}},
		at:   []int{0, 0, 0, 0, 0}, stats: Stats{Commands: 5}, comPort: true, line: sent(AllSettings, AllSettings)},
	{name: "other values in force", client: clientAgreed,
		in:   cpo("\x65\x00\x00\x25\x80") + cpo("\x66\x08") + cpo("\x69\x03"),
		cmds: []Command{{OpSetBaudRate, 9600}, {OpSetDataSize, 8}, {OpSetControl, ControlFlowHardware}}, at: []int{0, 0, 0},
		stats: Stats{Commands: 3}, comPort: true, line: sent(SettingBaud|SettingDataBits|SettingFlow, 0)},
	{name: "a value taken, then another", client: clientAgreed, in: cpo("\x66\x07") + cpo("\x66\x08"),
		cmds: []Command{{OpSetDataSize, 7}, {OpSetDataSize, 8}}, at: []int{0, 0}, stats: Stats{Commands: 2}, comPort: true,
		line: sent(SettingDataBits, 0)},
	{name: "baudrate with an escaped 0xff", client: clientAgreed, in: cpo("\x65\x00\x00\x4a" + IAC + IAC),
		cmds: []Command{{OpSetBaudRate, 0x4aff}}, at: []int{0}, stats: Stats{Commands: 1}, comPort: true, line: sent(SettingBaud, 0)},
	{name: "flow answered the inbound way", client: clientAgreed, in: cpo("\x69\x0e"),
		cmds: []Command{{OpSetControl, ControlInboundFlowNone}}, at: []int{0}, stats: Stats{Commands: 1}, comPort: true,
		line: sent(SettingFlow, SettingFlow)},
	{name: "flow that no mode holds", client: clientAgreed, in: cpo("\x69\x11"),
		cmds: []Command{{OpSetControl, ControlFlowDCD}}, at: []int{0}, stats: Stats{Commands: 1}, comPort: true, line: sent(SettingFlow, 0)},
	{name: "control answers not about flow", client: clientAgreed, in: cpo("\x69\x08") + cpo("\x69\x00") + cpo("\x69\x0d"),
		cmds: []Command{{OpSetControl, ControlDTROn}, {OpSetControl, ControlFlowRequest}, {OpSetControl, ControlInboundFlowRequest}},
		at:   []int{0, 0, 0}, stats: Stats{Commands: 3}, comPort: true, line: sent(0, 0)},
	{name: "answers amid data", client: clientAgreed, in: "ab" + cpo("\x67\x03") + "c" + IAC + IAC + cpo("\x68\x02") + "d",
		data: "abc\xffd", cmds: []Command{{OpSetParity, 3}, {OpSetStopSize, 2}}, at: []int{2, 4}, stats: Stats{Commands: 2},
		comPort: true, line: sent(SettingParity|SettingStopBits, SettingParity)},

	// The server's notifications and other commands.
	{name: "notifications", client: clientAgreed, in: cpo("\x6b\x30") + cpo("\x6a\x02") + cpo("\x6b"+IAC+IAC),
		cmds: []Command{{OpNotifyModemState, 0x30}, {OpNotifyLineState, uint32(LineOverrun)}, {OpNotifyModemState, 0xff}},
		at:   []int{0, 0, 0}, stats: Stats{Commands: 3}, comPort: true, line: sent(0, 0)},
	{name: "notifications without a value", client: clientAgreed, in: cpo("\x6b") + cpo("\x6a\x00\x00"), stats: Stats{Malformed: 2},
		comPort: true, line: sent(0, 0)},
	{name: "flow control suspend resume", client: clientAgreed, in: "a" + cpo("\x6c") + "b" + cpo("\x6d\x00") + "c", data: "abc",
		cmds: []Command{{Op: OpFlowControlSuspend}, {Op: OpFlowControlResume}}, at: []int{1, 2}, stats: Stats{Commands: 2},
		comPort: true, line: sent(0, 0)},
	{name: "purge answered", client: clientAgreed, in: cpo("\x70\x03"), cmds: []Command{{OpPurgeData, PurgeBoth}}, at: []int{0},
		stats: Stats{Commands: 1}, comPort: true, line: sent(0, 0)},
	{name: "signature asked", client: clientAgreed, in: cpo("\x64"), reply: cpo("\x00iogate test"), stats: Stats{Commands: 1},
		comPort: true, line: sent(0, 0)},
	{name: "signature given", client: clientAgreed, in: cpo("\x64ser2net"), stats: Stats{Commands: 1}, comPort: true, line: sent(0, 0)},
	{name: "mask answers", client: clientAgreed, in: cpo("\x6e\x00") + cpo("\x6f"+IAC+IAC), stats: Stats{Commands: 2}, comPort: true,
		line: sent(0, 0)},

	// What a server must not send.
	{name: "a client's commands", client: clientAgreed, in: cpo("\x01\x00\x00\x25\x80") + cpo("\x00") + cpo("\x0c\x01"),
		stats: Stats{Malformed: 3}, comPort: true, line: sent(0, 0)},
	{name: "unknown codes", client: clientAgreed, in: cpo("\x71\x00") + cpo("\xff\xff") + cpo(""), stats: Stats{Malformed: 3},
		comPort: true, line: sent(0, 0)},
	{name: "answers of the wrong length", client: clientAgreed, in: cpo("\x65\x00\x4b\x00") + cpo("\x66") + cpo("\x67\x03\x00") + cpo("\x6e"),
		stats: Stats{Malformed: 4}, comPort: true, line: sent(0, 0)},
	{name: "control beyond 19, purge of nothing", client: clientAgreed, in: cpo("\x69\x14") + cpo("\x70\x00"), stats: Stats{Malformed: 2},
		comPort: true, line: sent(0, 0)},
	{name: "com port not agreed", client: clientGreeted, in: "a" + cpo("\x6b\x30") + "b", data: "ab", stats: Stats{Ignored: 1}},
	{name: "another option's subnegotiation", client: clientAgreed, in: IAC + SB + NAWS + "\x00\x50\x00\x18" + IAC + SE + "x", data: "x",
		stats: Stats{Ignored: 1}, comPort: true, line: sent(0, 0)},
	{name: "overlong", client: clientAgreed, in: IAC + SB + CPO + "\x64" + strings.Repeat("s", 200) + IAC + SE + "x" + cpo("\x66\x07"),
		data: "x", cmds: []Command{{OpSetDataSize, 7}}, at: []int{1}, stats: Stats{Overlong: 1, Commands: 1}, comPort: true,
		line: sent(SettingDataBits, SettingDataBits)},
	{name: "cut short by negotiation", client: clientAgreed, in: IAC + SB + CPO + "\x65\x00" + IAC + WILL + TTYPE + "x",
		data: "x", reply: IAC + DONT + TTYPE, stats: Stats{Malformed: 1, Refused: 1}, comPort: true, line: sent(0, 0)},
	{name: "cut short by another subnegotiation", client: clientAgreed, in: IAC + SB + CPO + "\x65\x00" + cpo("\x66\x07"),
		cmds: []Command{{OpSetDataSize, 7}}, at: []int{0}, stats: Stats{Malformed: 1, Commands: 1}, comPort: true,
		line: sent(SettingDataBits, SettingDataBits)},
	{name: "unterminated", client: clientAgreed, in: "a" + IAC + SB + CPO + "\x66\x07" + "bcd", data: "a", comPort: true, line: sent(0, 0)},
}

func TestClientDecode(t *testing.T) {
	for _, tt := range clientDecodeTests {
		t.Run(tt.name, func(t *testing.T) {
			got := feedSplits(t, tt.client, []byte(tt.in))
			want := result{data: []byte(tt.data), reply: []byte(tt.reply), cmds: tt.cmds, at: tt.at, stats: tt.stats}
			if !got.equal(want) {
				t.Errorf("\n got %v\nwant %v", got, want)
			}
			c := tt.client()
			decode(t, c, [][]byte{[]byte(tt.in)})
			if c.ComPort() != tt.comPort {
				t.Errorf("ComPort %v, want %v", c.ComPort(), tt.comPort)
			}
			tt.line.Mode = clientMode
			if c.Line() != tt.line {
				t.Errorf("line %+v, want %+v", c.Line(), tt.line)
			}
		})
	}
}

func TestClientGreeting(t *testing.T) {
	c := clientFresh()
	want := IAC + WILL + BINARY + IAC + DO + BINARY + IAC + WILL + SGA + IAC + DO + SGA + IAC + WILL + CPO
	if got := c.Greeting(nil); string(got) != want {
		t.Errorf("greeting % x, want % x", got, want)
	}
	if got := c.Greeting(nil); len(got) != 0 {
		t.Errorf("second greeting % x, want nothing", got)
	}
	if c.ComPort() {
		t.Error("ComPort before the server agreed")
	}

	// Options the server asked for first are not asked for again, and
	// the commands go with the answer to its DO.
	c = clientFresh()
	_, reply, _, cmd := c.Decode(nil, nil, []byte(IAC+WILL+BINARY+IAC+DO+CPO))
	if want := IAC + DO + BINARY + IAC + WILL + CPO + clientSets; string(reply) != want || cmd != (Command{OpComPort, 1}) {
		t.Fatalf("reply % x %v, want % x", reply, cmd, want)
	}
	want = IAC + WILL + BINARY + IAC + WILL + SGA + IAC + DO + SGA
	if got := c.Greeting([]byte("x")); string(got) != "x"+want {
		t.Errorf("greeting % x, want % x after x", got, want)
	}
}

// TestClientCommands checks the bytes of each mode's commands.
func TestClientCommands(t *testing.T) {
	tests := []struct {
		mode serial.Mode
		want string
	}{
		{clientMode, clientSets},
		{serial.Mode{Baud: 115200}, cpo("\x01\x00\x01\xc2\x00") + cpo("\x02\x08") + cpo("\x03\x01") + cpo("\x04\x01") + cpo("\x05\x01")},
		{serial.Mode{Baud: 1200, DataBits: 5, Parity: serial.ParityOdd, StopBits: 2, Flow: serial.FlowRTSCTS},
			cpo("\x01\x00\x00\x04\xb0") + cpo("\x02\x05") + cpo("\x03\x02") + cpo("\x04\x02") + cpo("\x05\x03")},
		{serial.Mode{Baud: 0x1ff00ff, Parity: serial.ParityMark, Flow: serial.FlowXONXOFF},
			cpo("\x01\x01"+IAC+IAC+"\x00"+IAC+IAC) + cpo("\x02\x08") + cpo("\x03\x04") + cpo("\x04\x01") + cpo("\x05\x02")},
		{serial.Mode{Parity: serial.ParitySpace}, cpo("\x01\x00\x00\x00\x00") + cpo("\x02\x08") + cpo("\x03\x05") + cpo("\x04\x01") + cpo("\x05\x01")},
	}
	for _, tt := range tests {
		c := NewClient("", tt.mode)
		c.Greeting(nil)
		_, reply, _, _ := c.Decode(nil, nil, []byte(IAC+DO+CPO))
		if string(reply) != tt.want {
			t.Errorf("%v: sent\n% x\nwant\n% x", tt.mode, reply, tt.want)
		}
	}
}

// TestSetMode asks for a mode before the server agreed, and another after.
func TestSetMode(t *testing.T) {
	c := clientGreeted()
	m := serial.Mode{Baud: 115200}
	if got := c.SetMode([]byte("x"), m); string(got) != "x" {
		t.Errorf("SetMode before the agreement sent % x", got[1:])
	}
	r := decode(t, c, [][]byte{[]byte(IAC + DO + CPO + cpo("\x65\x00\x01\xc2\x00"))})
	if want := cpo("\x01\x00\x01\xc2\x00") + cpo("\x02\x08") + cpo("\x03\x01") + cpo("\x04\x01") + cpo("\x05\x01"); string(r.reply) != want {
		t.Errorf("sent % x, want % x", r.reply, want)
	}
	if l := c.Line(); l != (Line{Mode: m, Sent: AllSettings, Answered: SettingBaud, Confirmed: SettingBaud}) {
		t.Errorf("line %+v", l)
	}
	if got := c.SetMode(nil, clientMode); string(got) != clientSets {
		t.Errorf("SetMode sent % x, want % x", got, clientSets)
	}
	if l := c.Line(); l != sent(0, 0) {
		t.Errorf("line %+v after SetMode", l)
	}

	// Refused: the mode is kept for nothing.
	c = clientGreeted()
	c.Decode(nil, nil, []byte(IAC+DONT+CPO))
	if got := c.SetMode(nil, m); len(got) != 0 || c.Line() != (Line{Mode: m, Refused: true}) {
		t.Errorf("SetMode after a refusal sent % x, line %+v", got, c.Line())
	}
}

func TestSettingsString(t *testing.T) {
	tests := []struct {
		s    Settings
		want string
	}{
		{0, "none"},
		{AllSettings, "baud, data bits, parity, stop bits, flow"},
		{SettingParity | SettingFlow, "parity, flow"},
	}
	for _, tt := range tests {
		if got := tt.s.String(); got != tt.want {
			t.Errorf("%#x: %q, want %q", uint8(tt.s), got, tt.want)
		}
	}
}

// TestClientAllocs holds Greeting, Decode, SetMode and Escape to no
// allocation once the caller's buffers are large enough.
func TestClientAllocs(t *testing.T) {
	in := []byte(ser2netGreeting + "data" + IAC + IAC + cpo("\x6b\x00") + cpo("\x65\x00\x00\x4b\x00") + cpo("\x66\x07") +
		cpo("\x64") + IAC + SB + NAWS + "\x00\x50" + IAC + SE + "more" + cpo("\x6a\x10") + IAC + DONT + CPO + "end")
	data, reply := make([]byte, 0, 4096), make([]byte, 0, 4096)
	clients := make([]*Client, 200)
	for i := range clients {
		clients[i] = clientFresh()
	}
	runs := 0
	allocs := testing.AllocsPerRun(100, func() {
		c := clients[runs]
		runs++
		d, r := data[:0], c.Greeting(reply[:0])
		for p := in; len(p) > 0; {
			var n int
			d, r, n, _ = c.Decode(d, r, p)
			p = p[n:]
		}
		r = c.SetMode(r, clientMode)
		data, reply = d, Escape(r, in)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per run", allocs)
	}
	if len(data) == 0 || len(reply) == 0 {
		t.Errorf("data %q, reply % x", data, reply)
	}
}
