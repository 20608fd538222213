package rfc2217

import "bytes"

// maxSubnegotiation bounds what a subnegotiation may carry after its
// option: RFC 2217's longest command is SET-BAUDRATE's five bytes, so this
// leaves room for a SIGNATURE text.
const maxSubnegotiation = 128

// Stats counts what a Server or a Client has decoded since it was made.
type Stats struct {
	Commands  uint64 // COM-PORT-OPTION commands from the other side, whether Decode answered or returned them
	Refused   uint64 // requests to enable an option this side does not take: WILL or DO answered DONT or WONT
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

// An option's state on one side, after RFC 1143. Neither side ever asks
// to disable an option, so there is no WANTNO.
type qstate uint8

const (
	qNo qstate = iota
	qYes
	qWantYes // asked for, not answered yet
)

// options are the options the package knows.
var options = [...]byte{optBinary, optEcho, optSGA, optComPort}

const comPort = 3 // the index of optComPort in options

// option returns the index of opt in options, or -1.
func option(opt byte) int {
	for k, o := range options {
		if o == opt {
			return k
		}
	}
	return -1
}

// sides are the sides of each option that one end takes: us when the
// other end sends DO, him when it sends WILL.
type sides [len(options)]struct{ us, him bool }

// request is an option that a greeting asks for: IAC verb opt.
type request struct{ verb, opt byte }

// An event is where telnet.decode stops for the end that owns it.
type event uint8

const (
	evNone           event = iota // all of in was read
	evBreak                       // IAC BRK
	evSubnegotiation              // a subnegotiation of opt, sb[:n], ended; overlong ones are not reported
	evComPort                     // COM-PORT-OPTION's state changed on one side
)

// telnet is what the two ends share: the decoder of the stream, the
// subnegotiation being read, and the option negotiation.
type telnet struct {
	sides *sides

	state byte
	verb  byte // stOption: WILL, WONT, DO or DONT
	opt   byte // the option of the subnegotiation being read
	sb    [maxSubnegotiation]byte
	n     int  // bytes of sb in use
	long  bool // the subnegotiation outgrew sb and is being discarded

	us, him [len(options)]qstate

	stats Stats
}

// greet appends each request in reqs whose option is not yet agreed or
// asked for to dst.
func (t *telnet) greet(dst []byte, reqs []request) []byte {
	for _, r := range reqs {
		st := &t.him[option(r.opt)]
		if r.verb == will {
			st = &t.us[option(r.opt)]
		}
		if *st == qNo {
			*st = qWantYes
			dst = append(dst, iac, r.verb, r.opt)
		}
	}
	return dst
}

// decode reads in, up to its end or up to the first event, appending the
// data bytes to data and the answers to the negotiation to reply. It
// returns both, how many bytes of in it consumed, and the event, evNone
// when it consumed all of in.
func (t *telnet) decode(data, reply, in []byte) (dataOut, replyOut []byte, n int, ev event) {
	for i := 0; i < len(in); {
		if t.state == stData {
			j := bytes.IndexByte(in[i:], iac)
			if j < 0 {
				return append(data, in[i:]...), reply, len(in), evNone
			}
			data = append(data, in[i:i+j]...)
			i += j + 1
			t.state = stIAC
			continue
		}
		c := in[i]
		i++
		switch t.state {
		case stIAC:
			t.state = stData
			switch {
			case c == iac:
				data = append(data, iac)
			case c >= will:
				t.verb, t.state = c, stOption
			case c == sb:
				t.state = stSBOption
			case c == brk:
				return data, reply, i, evBreak
			default:
				t.stats.Ignored++
			}
		case stOption:
			t.state = stData
			var changed bool
			if reply, changed = t.negotiate(reply, t.verb, c); changed {
				return data, reply, i, evComPort
			}
		case stSBOption:
			t.opt, t.n, t.long, t.state = c, 0, false, stSB
		case stSB:
			if c == iac {
				t.state = stSBIAC
			} else {
				t.put(c)
			}
		case stSBIAC:
			switch c {
			case iac:
				t.put(iac)
				t.state = stSB
			case se:
				t.state = stData
				if !t.long {
					return data, reply, i, evSubnegotiation
				}
			default:
				// The subnegotiation is cut short by a command, which is
				// read as one: a peer that lost its IAC SE recovers.
				t.stats.Malformed++
				t.state = stIAC
				i--
			}
		}
	}
	return data, reply, len(in), evNone
}

// put adds c to the subnegotiation, or starts discarding one that grew too
// long.
func (t *telnet) put(c byte) {
	if t.long {
		return
	}
	if t.n == len(t.sb) {
		t.long = true
		t.stats.Overlong++
		return
	}
	t.sb[t.n] = c
	t.n++
}

// negotiate answers IAC verb opt, after the Q method of RFC 1143: a
// request to enter the state an option is in is not answered, which keeps
// two sides from answering each other forever. It reports whether
// COM-PORT-OPTION's state changed on either side.
func (t *telnet) negotiate(reply []byte, verb, opt byte) ([]byte, bool) {
	k := option(opt)
	var st *qstate
	var take bool
	yes, no := byte(will), byte(wont)
	if verb == will || verb == wont {
		yes, no = do, dont
		if k >= 0 {
			st, take = &t.him[k], t.sides[k].him
		}
	} else if k >= 0 {
		st, take = &t.us[k], t.sides[k].us
	}
	cur := qNo
	if st != nil {
		cur = *st
	}
	next := cur
	if verb == will || verb == do {
		switch {
		case cur == qWantYes: // the answer to the greeting
			next = qYes
		case cur == qNo && take:
			next = qYes
			reply = append(reply, iac, yes, opt)
		case cur == qNo:
			t.stats.Refused++
			reply = append(reply, iac, no, opt)
		}
	} else {
		switch cur {
		case qWantYes: // the greeting refused
			next = qNo
		case qYes:
			next = qNo
			reply = append(reply, iac, no, opt)
		}
	}
	if next == cur {
		return reply, false
	}
	*st = next
	return reply, k == comPort
}

// appendSubnegotiation appends IAC SB COM-PORT-OPTION code value IAC SE,
// with the IACs of value doubled.
func appendSubnegotiation(dst []byte, code byte, value []byte) []byte {
	dst = append(dst, iac, sb, optComPort, code)
	dst = Escape(dst, value)
	return append(dst, iac, se)
}
