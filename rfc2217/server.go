package rfc2217

import "bytes"

// maxSubnegotiation bounds what a subnegotiation may carry after its
// option: RFC 2217's longest command is SET-BAUDRATE's five bytes, so this
// leaves room for a SIGNATURE text.
const maxSubnegotiation = 128

// Stats counts what a Server has decoded since NewServer.
type Stats struct {
	Commands  uint64 // COM-PORT-OPTION commands, whether Decode answered or returned them
	Refused   uint64 // requests to enable an option the server does not take: WILL or DO answered DONT or WONT
	Ignored   uint64 // telnet commands that mean nothing here, and subnegotiations of options not agreed
	Malformed uint64 // COM-PORT-OPTION commands of an unknown code, length or value, and broken subnegotiations
	Overlong  uint64 // subnegotiations longer than 128 bytes
}

// Decoder states: where the next byte falls.
const (
	stData     = iota // data
	stIAC             // after IAC
	stOption          // after IAC WILL, WONT, DO or DONT
	stSBOption        // after IAC SB
	stSB              // in a subnegotiation
	stSBIAC           // after IAC in a subnegotiation
)

// An option's state on one side, after RFC 1143. The server never asks to
// disable an option, so there is no WANTNO.
type qstate uint8

const (
	qNo qstate = iota
	qYes
	qWantYes // asked for, not answered yet
)

// options are the options the server knows, and the sides of each it
// takes: us when the client sends DO, him when it sends WILL.
var options = [...]struct {
	code    byte
	us, him bool
}{
	{optBinary, true, true},
	{optEcho, true, false},
	{optSGA, true, true},
	{optComPort, false, true},
}

const comPort = 3 // the index of optComPort in options

// option returns the index of opt in options, or -1.
func option(opt byte) int {
	for k, o := range options {
		if o.code == opt {
			return k
		}
	}
	return -1
}

// greeting is what the server asks for on connect, in ser2net's order.
var greeting = [...]struct{ verb, opt byte }{
	{will, optSGA},
	{will, optEcho},
	{do, optBinary},
	{will, optBinary},
	{do, optComPort},
}

// Server is the server side of one telnet connection. Make one with
// NewServer for each client.
type Server struct {
	signature []byte

	state byte
	verb  byte // stOption: WILL, WONT, DO or DONT
	opt   byte // the option of the subnegotiation being read
	sb    [maxSubnegotiation]byte
	n     int  // bytes of sb in use
	long  bool // the subnegotiation outgrew sb and is being discarded

	us, him [len(options)]qstate

	modemMask ModemState
	modem     ModemState // the lines of the last NOTIFY-MODEMSTATE sent
	notified  bool       // a NOTIFY-MODEMSTATE was sent

	stats Stats
}

// NewServer returns a Server for a new connection. signature is the text
// it answers a client's SIGNATURE request with, such as "iogate gps".
func NewServer(signature string) *Server {
	return &Server{signature: []byte(signature), modemMask: 0xFF}
}

// Greeting appends the options the server asks for on connect to dst, and
// returns the extended slice: WILL SUPPRESS-GO-AHEAD, WILL ECHO, DO and
// WILL BINARY, and DO COM-PORT-OPTION. It asks only for what is not yet
// agreed or asked for, so it may also come after the client spoke first.
func (s *Server) Greeting(dst []byte) []byte {
	for _, g := range greeting {
		st := &s.him[option(g.opt)]
		if g.verb == will {
			st = &s.us[option(g.opt)]
		}
		if *st == qNo {
			*st = qWantYes
			dst = append(dst, iac, g.verb, g.opt)
		}
	}
	return dst
}

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
	for i := 0; i < len(in); {
		if s.state == stData {
			j := bytes.IndexByte(in[i:], iac)
			if j < 0 {
				return append(data, in[i:]...), reply, len(in), Command{}
			}
			data = append(data, in[i:i+j]...)
			i += j + 1
			s.state = stIAC
			continue
		}
		c := in[i]
		i++
		switch s.state {
		case stIAC:
			s.state = stData
			switch {
			case c == iac:
				data = append(data, iac)
			case c >= will:
				s.verb, s.state = c, stOption
			case c == sb:
				s.state = stSBOption
			case c == brk:
				return data, reply, i, Command{Op: OpBreak}
			default:
				s.stats.Ignored++
			}
		case stOption:
			reply = s.negotiate(reply, s.verb, c)
			s.state = stData
		case stSBOption:
			s.opt, s.n, s.long, s.state = c, 0, false, stSB
		case stSB:
			if c == iac {
				s.state = stSBIAC
			} else {
				s.put(c)
			}
		case stSBIAC:
			switch c {
			case iac:
				s.put(iac)
				s.state = stSB
			case se:
				s.state = stData
				if reply, cmd = s.subnegotiation(reply); cmd.Op != OpNone {
					return data, reply, i, cmd
				}
			default:
				// The subnegotiation is cut short by a command, which is
				// read as one: a client that lost its IAC SE recovers.
				s.stats.Malformed++
				s.state = stIAC
				i--
			}
		}
	}
	return data, reply, len(in), Command{}
}

// put adds c to the subnegotiation, or starts discarding one that grew too
// long.
func (s *Server) put(c byte) {
	if s.long {
		return
	}
	if s.n == len(s.sb) {
		s.long = true
		s.stats.Overlong++
		return
	}
	s.sb[s.n] = c
	s.n++
}

// negotiate answers IAC verb opt, after the Q method of RFC 1143: a
// request to enter the state an option is in is not answered, which keeps
// two sides from answering each other forever.
func (s *Server) negotiate(reply []byte, verb, opt byte) []byte {
	k := option(opt)
	var st *qstate
	var take bool
	yes, no := byte(will), byte(wont)
	if verb == will || verb == wont {
		yes, no = do, dont
		if k >= 0 {
			st, take = &s.him[k], options[k].him
		}
	} else if k >= 0 {
		st, take = &s.us[k], options[k].us
	}
	cur := qNo
	if st != nil {
		cur = *st
	}
	if verb == will || verb == do {
		switch {
		case cur == qWantYes: // the answer to the greeting
			*st = qYes
		case cur == qNo && take:
			*st = qYes
			reply = append(reply, iac, yes, opt)
		case cur == qNo:
			s.stats.Refused++
			reply = append(reply, iac, no, opt)
		}
		return reply
	}
	switch cur {
	case qWantYes: // the greeting refused
		*st = qNo
	case qYes:
		*st = qNo
		reply = append(reply, iac, no, opt)
	}
	return reply
}

// subnegotiation handles the subnegotiation just read: it answers the
// commands that need nothing of the port and returns the others.
func (s *Server) subnegotiation(reply []byte) ([]byte, Command) {
	if s.long {
		return reply, Command{}
	}
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

// appendCommand appends IAC SB COM-PORT-OPTION code+100 value IAC SE,
// with the IACs of value doubled.
func appendCommand(dst []byte, code byte, value []byte) []byte {
	dst = append(dst, iac, sb, optComPort, code+serverCode)
	dst = Escape(dst, value)
	return append(dst, iac, se)
}
