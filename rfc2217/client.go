package rfc2217

import (
	"strings"

	"github.com/iogate/iogate/resources/serial"
)

// clientSides are the sides of each option the client takes: BINARY and
// SUPPRESS-GO-AHEAD both ways, and COM-PORT-OPTION on its own side. ECHO
// is refused both ways: a server that echoed would hand back, as if the
// device had sent them, the bytes written to the device.
var clientSides = sides{
	{us: true, him: true},   // BINARY
	{us: false, him: false}, // ECHO
	{us: true, him: true},   // SUPPRESS-GO-AHEAD
	{us: true, him: false},  // COM-PORT-OPTION
}

// clientGreeting is what the client asks for on connect.
var clientGreeting = [...]request{
	{will, optBinary},
	{do, optBinary},
	{will, optSGA},
	{do, optSGA},
	{will, optComPort},
}

// Settings is a set of the line settings that a Client sets on the remote
// port, one bit for each of its commands.
type Settings uint8

// The Settings, in the order the client sends them.
const (
	SettingBaud     Settings = 1 << iota // SET-BAUDRATE
	SettingDataBits                      // SET-DATASIZE
	SettingParity                        // SET-PARITY
	SettingStopBits                      // SET-STOPSIZE
	SettingFlow                          // SET-CONTROL's flow control, both ways

	AllSettings = SettingBaud | SettingDataBits | SettingParity | SettingStopBits | SettingFlow
)

var settingNames = [...]string{"baud", "data bits", "parity", "stop bits", "flow"}

// String lists the settings in s, as "baud, parity", or says "none".
func (s Settings) String() string {
	var names []string
	for i, name := range settingNames {
		if s&(1<<i) != 0 {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// settingOf returns the setting that op, from OpSetBaudRate to
// OpSetControl, is about.
func settingOf(op Op) Settings { return 1 << (op - OpSetBaudRate) }

// Line is what a Client knows of the line settings of the remote port.
// The settings sent but not answered (Sent &^ Answered) may have been
// taken or not: RFC 2217 servers leave unanswered what they cannot do.
type Line struct {
	Mode      serial.Mode // asked for, by NewClient or SetMode
	Sent      Settings    // the settings of Mode sent to the server
	Answered  Settings    // the settings the server answered
	Confirmed Settings    // those it answered with the value of Mode
	Refused   bool        // the server refused COM-PORT-OPTION, or ended it: the line cannot be set
}

// Client is the client side of one telnet connection to an RFC 2217
// server, such as ser2net's telnet(rfc2217) or a Moxa NPort in RFC 2217
// mode. Make one with NewClient for each connection.
type Client struct {
	telnet
	signature []byte
	line      Line
}

// NewClient returns a Client for a new connection, that will set the
// remote port to m. signature is the text it answers the server's
// SIGNATURE request with, such as "iogate gps".
//
// Each field of m is sent as ModeValue gives it: a zero field but Baud is
// the default that serial.Open takes (8 data bits, no parity, 1 stop bit,
// no flow control), and a zero Baud asks for the rate in force without
// setting it.
func NewClient(signature string, m serial.Mode) *Client {
	return &Client{telnet: telnet{sides: &clientSides}, signature: []byte(signature), line: Line{Mode: m}}
}

// Greeting appends the options the client asks for on connect to dst, and
// returns the extended slice: WILL and DO BINARY, WILL and DO
// SUPPRESS-GO-AHEAD, and WILL COM-PORT-OPTION. It asks only for what is
// not yet agreed or asked for, so it may also come after the server spoke
// first.
func (c *Client) Greeting(dst []byte) []byte { return c.greet(dst, clientGreeting[:]) }

// ComPort reports whether the server has agreed to COM-PORT-OPTION: until
// then the client sends no command, and takes none of the server's.
func (c *Client) ComPort() bool { return c.us[comPort] == qYes }

// Line returns what the client asked of the remote port and what the
// server answered.
func (c *Client) Line() Line { return c.line }

// Stats returns the counters of c.
func (c *Client) Stats() Stats { return c.stats }

// SetMode appends to dst the commands that set the remote port to m, and
// returns the extended slice; it appends nothing until the server agrees
// to COM-PORT-OPTION, when Decode sends them instead. What the server
// answered to the mode asked before is forgotten, though an answer still
// on its way is taken for the new one: RFC 2217 does not tell the two
// apart.
func (c *Client) SetMode(dst []byte, m serial.Mode) []byte {
	c.line = Line{Mode: m, Refused: c.line.Refused}
	if c.ComPort() {
		dst = c.sendMode(dst)
	}
	return dst
}

// sendMode appends the five commands of the mode asked for.
func (c *Client) sendMode(dst []byte) []byte {
	m := c.line.Mode
	for op := OpSetBaudRate; op <= OpSetControl; op++ {
		v := ModeValue(m, Command{op, ControlFlowNone}) // the outbound (both ways) value of SET-CONTROL
		if op == OpSetBaudRate {
			dst = appendSubnegotiation(dst, codes[op], []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
		} else {
			dst = appendSubnegotiation(dst, codes[op], []byte{byte(v)})
		}
	}
	c.line.Sent, c.line.Answered, c.line.Confirmed = AllSettings, 0, 0
	return dst
}

// Decode reads in, what the server sent, up to its end or up to the first
// thing the server said about the port. It appends the data bytes from
// the device to data and the client's answers to the server to reply, and
// returns both, how many bytes of in it consumed, and what the server
// said, if it stopped there: cmd.Op is OpNone when it consumed all of in.
// The caller hands the data on, sends the reply, and calls Decode again
// with the rest of in.
//
// What the server says comes as a Command:
//   - OpComPort: the server agreed to COM-PORT-OPTION (Value 1), and the
//     commands of the mode asked for are in reply; or it refused or ended
//     it (Value 0).
//   - OpSetBaudRate to OpSetControl: the server's answer to a command,
//     with the value now in force; Line says whether it is the value
//     asked for.
//   - OpNotifyLineState with a LineState, OpNotifyModemState with a
//     ModemState: the server's notifications.
//   - OpFlowControlSuspend, OpFlowControlResume: the server asks the
//     client to stop sending, or to send again.
//   - OpPurgeData: the server's answer to a purge.
//
// A command may arrive cut anywhere across calls: Decode keeps what it
// has of it. It keeps no reference to in, data or reply.
func (c *Client) Decode(data, reply, in []byte) (dataOut, replyOut []byte, n int, cmd Command) {
	for n < len(in) {
		var k int
		var ev event
		data, reply, k, ev = c.decode(data, reply, in[n:])
		n += k
		switch ev {
		case evBreak:
			c.stats.Ignored++ // the client has no line for a server to break
		case evComPort:
			reply, cmd = c.comPortChanged(reply)
			return data, reply, n, cmd
		case evSubnegotiation:
			if reply, cmd = c.subnegotiation(reply); cmd.Op != OpNone {
				return data, reply, n, cmd
			}
		}
	}
	return data, reply, n, Command{}
}

// comPortChanged follows the server's DO or DONT COM-PORT-OPTION: the
// client's side is the only one it takes, so the change is there.
func (c *Client) comPortChanged(reply []byte) ([]byte, Command) {
	if !c.ComPort() {
		c.line.Refused = true
		return reply, Command{Op: OpComPort}
	}
	c.line.Refused = false
	return c.sendMode(reply), Command{OpComPort, 1}
}

// subnegotiation handles the subnegotiation just read: it answers a
// SIGNATURE request and returns the server's other commands but the
// answers to the masks, which the client never sets.
func (c *Client) subnegotiation(reply []byte) ([]byte, Command) {
	if c.opt != optComPort || !c.ComPort() {
		c.stats.Ignored++
		return reply, Command{}
	}
	p := c.sb[:c.n]
	if len(p) == 0 || p[0] < serverCode {
		c.stats.Malformed++
		return reply, Command{}
	}
	code, v := p[0]-serverCode, p[1:]
	var cmd Command
	switch {
	case code == codeSignature:
		if len(v) == 0 { // a request; the server's own signature needs no answer
			reply = appendSubnegotiation(reply, codeSignature, c.signature)
		}
	case (code == codeSetLineStateMask || code == codeSetModemStateMask) && len(v) == 1:
	case code == codes[OpNotifyLineState] || code == codes[OpNotifyModemState]:
		if len(v) != 1 {
			c.stats.Malformed++
			return reply, cmd
		}
		cmd = Command{OpNotifyLineState, uint32(v[0])}
		if code == codes[OpNotifyModemState] {
			cmd.Op = OpNotifyModemState
		}
	default:
		if cmd = command(code, v); cmd.Op == OpNone {
			c.stats.Malformed++
			return reply, cmd
		}
		c.answered(cmd)
	}
	c.stats.Commands++
	return reply, cmd
}

// answered records the server's answer cmd, if it is about a setting.
func (c *Client) answered(cmd Command) {
	if cmd.Op < OpSetBaudRate || cmd.Op > OpSetControl {
		return
	}
	if v := cmd.Value; cmd.Op == OpSetControl && (v < ControlFlowNone || v > ControlFlowHardware && v < ControlInboundFlowNone) {
		return // a request, or about the break, DTR or RTS
	}
	s := settingOf(cmd.Op)
	c.line.Answered |= s
	if cmd.Value == ModeValue(c.line.Mode, cmd) {
		c.line.Confirmed |= s
	} else {
		c.line.Confirmed &^= s
	}
}
