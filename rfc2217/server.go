package rfc2217

// serverSides are the sides of each option the server takes: BINARY and
// SUPPRESS-GO-AHEAD both ways, ECHO on its own side, and COM-PORT-OPTION on
// the client's.
var serverSides = sides{
	{us: true, him: true},  // BINARY
	{us: true, him: false}, // ECHO
	{us: true, him: true},  // SUPPRESS-GO-AHEAD
	{us: false, him: true}, // COM-PORT-OPTION
}

// serverGreeting is what the server asks for on connect, in ser2net's order.
var serverGreeting = [...]request{
	{will, optSGA},
	{will, optEcho},
	{do, optBinary},
	{will, optBinary},
	{do, optComPort},
}

// Server is the server side of one telnet connection. Make one with
// NewServer for each client.
type Server struct {
	telnet
	signature []byte

	modemMask ModemState
	modem     ModemState // the lines of the last NOTIFY-MODEMSTATE sent
	notified  bool       // a NOTIFY-MODEMSTATE was sent
}

// NewServer returns a Server for a new connection. signature is the text
// it answers a client's SIGNATURE request with, such as "iogate gps".
func NewServer(signature string) *Server {
	return &Server{telnet: telnet{sides: &serverSides}, signature: []byte(signature), modemMask: 0xFF}
}

// Greeting appends the options the server asks for on connect to dst, and
// returns the extended slice: WILL SUPPRESS-GO-AHEAD, WILL ECHO, DO and
// WILL BINARY, and DO COM-PORT-OPTION. It asks only for what is not yet
// agreed or asked for, so it may also come after the client spoke first.
func (s *Server) Greeting(dst []byte) []byte { return s.greet(dst, serverGreeting[:]) }

// ComPort reports whether the client has agreed to COM-PORT-OPTION, with
// WILL or with a command after the greeting asked for it: until then
// Decode takes no commands, and NotifyModemState sends nothing.
func (s *Server) ComPort() bool { return s.him[comPort] == qYes }

// Stats returns the counters of s.
func (s *Server) Stats() Stats { return s.stats }

// Decode reads in, what the client sent, up to its end or up to the first
// command for the port. It appends the data bytes for the device to data
// and the server's answers to the client to reply, and returns both, how
// many bytes of in it consumed, and the command, if it stopped at one:
// cmd.Op is OpNone when it consumed all of in. The caller writes the data
// to the device before it carries out the command, answers the command
// with Reply, and calls Decode again with the rest of in.
//
// A command may arrive cut anywhere across calls: Decode keeps what it
// has of it. It keeps no reference to in, data or reply.
func (s *Server) Decode(data, reply, in []byte) (dataOut, replyOut []byte, n int, cmd Command) {
	for n < len(in) {
		var k int
		var ev event
		data, reply, k, ev = s.decode(data, reply, in[n:])
		n += k
		switch ev {
		case evBreak:
			return data, reply, n, Command{Op: OpBreak}
		case evSubnegotiation:
			if reply, cmd = s.subnegotiation(reply); cmd.Op != OpNone {
				return data, reply, n, cmd
			}
		}
	}
	return data, reply, n, Command{}
}

// subnegotiation handles the subnegotiation just read: it answers the
// commands that need nothing of the port and returns the others.
func (s *Server) subnegotiation(reply []byte) ([]byte, Command) {
	if s.opt != optComPort || s.him[comPort] == qNo {
		s.stats.Ignored++
		return reply, Command{}
	}
	// A command while the greeting's DO is unanswered is the client's yes:
	// pyserial's reader thread takes the DO for the answer to a WILL that
	// its main thread then no longer sends.
	s.him[comPort] = qYes
	p := s.sb[:s.n]
	if len(p) == 0 {
		s.stats.Malformed++
		return reply, Command{}
	}
	code, v := p[0], p[1:]
	var cmd Command
	switch {
	case code == codeSignature:
		if len(v) == 0 { // a request; a client's own signature needs no answer
			reply = appendCommand(reply, codeSignature, s.signature)
		}
	case code == codeSetLineStateMask && len(v) == 1:
		// No line state is ever notified, so the mask only needs its answer.
		reply = appendCommand(reply, codeSetLineStateMask, v)
	case code == codeSetModemStateMask && len(v) == 1:
		s.modemMask = ModemState(v[0])
		reply = appendCommand(reply, codeSetModemStateMask, v)
	default:
		if cmd = command(code, v); cmd.Op == OpNone {
			s.stats.Malformed++
			return reply, cmd
		}
	}
	s.stats.Commands++
	return reply, cmd
}

// command returns the command that code and its value v make, or a
// Command with OpNone if they make none.
func command(code byte, v []byte) Command {
	var op Op
	for o := OpSetBaudRate; o <= OpPurgeData; o++ {
		if codes[o] == code {
			op = o
		}
	}
	switch op {
	case OpSetBaudRate:
		if len(v) == 4 {
			return Command{op, uint32(v[0])<<24 | uint32(v[1])<<16 | uint32(v[2])<<8 | uint32(v[3])}
		}
	case OpSetDataSize, OpSetParity, OpSetStopSize:
		if len(v) == 1 {
			return Command{op, uint32(v[0])}
		}
	case OpSetControl:
		if len(v) == 1 && v[0] <= ControlFlowDSR {
			return Command{op, uint32(v[0])}
		}
	case OpPurgeData:
		if len(v) == 1 && v[0] >= PurgeReceive && v[0] <= PurgeBoth {
			return Command{op, uint32(v[0])}
		}
	case OpNotifyLineState, OpNotifyModemState, OpFlowControlSuspend, OpFlowControlResume:
		// These carry no value; pyserial sends none, others a 0.
		if len(v) <= 1 {
			return Command{Op: op}
		}
	}
	return Command{}
}

// Reply appends the server's answer to a command Decode returned to dst,
// and returns the extended slice: op's code plus 100 with value, the
// setting in force after the command (see ModeValue and LinesValue), or
// for a poll the state of the lines (the line state, or a ModemState).
// FLOWCONTROL-SUSPEND, FLOWCONTROL-RESUME and BREAK take no answer: Reply
// appends nothing for them.
//
// A poll of NOTIFY-MODEMSTATE is answered whatever the mask; the delta
// bits say what changed since the last notification, as for
// NotifyModemState.
func (s *Server) Reply(dst []byte, op Op, value uint32) []byte {
	switch op {
	case OpSetBaudRate:
		return appendCommand(dst, codes[op], []byte{byte(value >> 24), byte(value >> 16), byte(value >> 8), byte(value)})
	case OpSetDataSize, OpSetParity, OpSetStopSize, OpSetControl, OpNotifyLineState, OpPurgeData:
		return appendCommand(dst, codes[op], []byte{byte(value)})
	case OpNotifyModemState:
		return s.modemState(dst, ModemState(value), true)
	}
	return dst
}

// NotifyModemState appends to dst a NOTIFY-MODEMSTATE that tells the
// client the state of the modem input lines (the CTS, DSR, RI and CD bits
// of lines, see ModemStateOf), and returns the extended slice. It sends
// one only when the lines changed since the last notification, with the
// delta bits of those that changed, and only if the client's
// SET-MODEMSTATE-MASK lets a bit of it through; the first is sent
// whatever the lines and the mask, so that the client knows them (pyserial
// refuses to read CTS before it had one). Before the client agreed to
// COM-PORT-OPTION it appends nothing.
//
// The caller polls the lines, since a port does not report their changes,
// and calls NotifyModemState after each poll, and once COM-PORT-OPTION
// is agreed (see ComPort).
func (s *Server) NotifyModemState(dst []byte, lines ModemState) []byte {
	return s.modemState(dst, lines, false)
}

func (s *Server) modemState(dst []byte, lines ModemState, poll bool) []byte {
	if !s.ComPort() {
		return dst
	}
	lines &= modemLines
	first := !s.notified
	if !poll && !first && lines == s.modem {
		return dst
	}
	changed := (lines ^ s.modem) >> 4
	if lines&ModemRI != 0 { // RI counts only its trailing edge
		changed &^= ModemRITrailingEdge
	}
	v := lines | changed
	s.modem, s.notified = lines, true
	if !poll {
		if v &= s.modemMask; v == 0 && !first {
			return dst
		}
	}
	return appendCommand(dst, codes[OpNotifyModemState], []byte{byte(v)})
}

// appendCommand appends the server's command code, plus 100, with value.
func appendCommand(dst []byte, code byte, value []byte) []byte {
	return appendSubnegotiation(dst, code+serverCode, value)
}
