package rfc2217

import "strconv"

// Op is what one side says about the port: one of RFC 2217's commands, a
// telnet BRK, or the server's word on COM-PORT-OPTION.
type Op uint8

// The Ops that Server.Decode and Client.Decode return. The zero Op means
// no command.
const (
	OpNone               Op = iota
	OpSetBaudRate           // Value: bits per second; 0 asks for the rate in force
	OpSetDataSize           // Value: 5 to 8; 0 asks
	OpSetParity             // Value: 1 none, 2 odd, 3 even, 4 mark, 5 space; 0 asks
	OpSetStopSize           // Value: 1, 2, or 3 for 1.5; 0 asks
	OpSetControl            // Value: a Control
	OpNotifyLineState       // a poll of the line state; Value is 0
	OpNotifyModemState      // a poll of the modem lines; Value is 0
	OpFlowControlSuspend    // stop sending to the client, data and commands
	OpFlowControlResume     // send to the client again
	OpPurgeData             // Value: a Purge value
	OpBreak                 // telnet's IAC BRK: send a break on the line
	OpComPort               // Client.Decode only: the server agreed to COM-PORT-OPTION (Value 1), or refused or ended it (0)
)

// codes are the commands' codes on the wire, by Op.
var codes = [...]byte{
	OpSetBaudRate:        1,
	OpSetDataSize:        2,
	OpSetParity:          3,
	OpSetStopSize:        4,
	OpSetControl:         5,
	OpNotifyLineState:    6,
	OpNotifyModemState:   7,
	OpFlowControlSuspend: 8,
	OpFlowControlResume:  9,
	OpPurgeData:          12,
}

// The codes of the commands that Decode answers itself.
const (
	codeSignature         = 0
	codeSetLineStateMask  = 10
	codeSetModemStateMask = 11
)

var opNames = [...]string{
	OpNone:               "none",
	OpSetBaudRate:        "SET-BAUDRATE",
	OpSetDataSize:        "SET-DATASIZE",
	OpSetParity:          "SET-PARITY",
	OpSetStopSize:        "SET-STOPSIZE",
	OpSetControl:         "SET-CONTROL",
	OpNotifyLineState:    "NOTIFY-LINESTATE",
	OpNotifyModemState:   "NOTIFY-MODEMSTATE",
	OpFlowControlSuspend: "FLOWCONTROL-SUSPEND",
	OpFlowControlResume:  "FLOWCONTROL-RESUME",
	OpPurgeData:          "PURGE-DATA",
	OpBreak:              "BREAK",
	OpComPort:            "COM-PORT-OPTION",
}

// String returns the name RFC 2217 gives op, such as "SET-BAUDRATE".
func (op Op) String() string {
	if int(op) < len(opNames) {
		return opNames[op]
	}
	return "Op(" + strconv.Itoa(int(op)) + ")"
}

// Command is a command from the client for the caller to carry out and
// answer with Server.Reply; or, from Client.Decode, what the server said.
type Command struct {
	Op    Op
	Value uint32 // the argument, as each Op says
}

// String returns cmd as a log line would show it: "SET-BAUDRATE 115200",
// "SET-PARITY even", "SET-CONTROL DTR on", "COM-PORT-OPTION agreed".
func (cmd Command) String() string {
	s := cmd.Op.String()
	var v string
	switch cmd.Op {
	case OpSetBaudRate, OpSetDataSize:
		v = strconv.FormatUint(uint64(cmd.Value), 10)
		if cmd.Value == 0 {
			v = "?"
		}
	case OpSetParity:
		v = name(parityNames[:], cmd.Value)
	case OpSetStopSize:
		v = name(stopNames[:], cmd.Value)
	case OpSetControl:
		v = name(controlNames[:], cmd.Value)
	case OpPurgeData:
		v = name(purgeNames[:], cmd.Value)
	case OpComPort:
		v = "refused"
		if cmd.Value != 0 {
			v = "agreed"
		}
	default:
		return s
	}
	return s + " " + v
}

func name(names []string, v uint32) string {
	if v < uint32(len(names)) && names[v] != "" {
		return names[v]
	}
	return strconv.FormatUint(uint64(v), 10)
}

// The values of SET-PARITY and SET-STOPSIZE.
const (
	parityNone  = 1
	parityOdd   = 2
	parityEven  = 3
	parityMark  = 4
	paritySpace = 5
	stopOne     = 1
	stopTwo     = 2
	stopOneHalf = 3
)

var parityNames = [...]string{"?", parityNone: "none", parityOdd: "odd", parityEven: "even", parityMark: "mark", paritySpace: "space"}

var stopNames = [...]string{"?", stopOne: "1", stopTwo: "2", stopOneHalf: "1.5"}

// The values of SET-CONTROL. Outbound flow control is the one that holds
// back what the port sends, inbound the one that holds back what it
// receives; "both" values set the two.
const (
	ControlFlowRequest         = 0  // ask for the flow control (outbound/both)
	ControlFlowNone            = 1  // no flow control (outbound/both)
	ControlFlowXONXOFF         = 2  // XON/XOFF (outbound/both)
	ControlFlowHardware        = 3  // RTS/CTS (outbound/both)
	ControlBreakRequest        = 4  // ask for the break state
	ControlBreakOn             = 5  // start a break
	ControlBreakOff            = 6  // end a break
	ControlDTRRequest          = 7  // ask for the DTR line
	ControlDTROn               = 8  // raise DTR
	ControlDTROff              = 9  // drop DTR
	ControlRTSRequest          = 10 // ask for the RTS line
	ControlRTSOn               = 11 // raise RTS
	ControlRTSOff              = 12 // drop RTS
	ControlInboundFlowRequest  = 13 // ask for the inbound flow control
	ControlInboundFlowNone     = 14 // no inbound flow control
	ControlInboundFlowXONXOFF  = 15 // inbound XON/XOFF
	ControlInboundFlowHardware = 16 // inbound RTS/CTS
	ControlFlowDCD             = 17 // DCD flow control (outbound/both)
	ControlInboundFlowDTR      = 18 // DTR flow control (inbound)
	ControlFlowDSR             = 19 // DSR flow control (outbound/both)
)

var controlNames = [...]string{
	ControlFlowRequest:         "flow?",
	ControlFlowNone:            "flow none",
	ControlFlowXONXOFF:         "flow xonxoff",
	ControlFlowHardware:        "flow rtscts",
	ControlBreakRequest:        "BREAK?",
	ControlBreakOn:             "BREAK on",
	ControlBreakOff:            "BREAK off",
	ControlDTRRequest:          "DTR?",
	ControlDTROn:               "DTR on",
	ControlDTROff:              "DTR off",
	ControlRTSRequest:          "RTS?",
	ControlRTSOn:               "RTS on",
	ControlRTSOff:              "RTS off",
	ControlInboundFlowRequest:  "inbound flow?",
	ControlInboundFlowNone:     "inbound flow none",
	ControlInboundFlowXONXOFF:  "inbound flow xonxoff",
	ControlInboundFlowHardware: "inbound flow rtscts",
	ControlFlowDCD:             "flow dcd",
	ControlInboundFlowDTR:      "inbound flow dtr",
	ControlFlowDSR:             "flow dsr",
}

// The values of PURGE-DATA. The server's receive buffer holds what the
// device sent and the client has not had yet, its transmit buffer what the
// client sent and the device has not had yet.
const (
	PurgeReceive  = 1 // serial.Port.DiscardInput
	PurgeTransmit = 2 // serial.Port.DiscardOutput
	PurgeBoth     = 3 // both
)

var purgeNames = [...]string{"?", PurgeReceive: "receive", PurgeTransmit: "transmit", PurgeBoth: "both"}

// ModemState is the state of the modem input lines as NOTIFY-MODEMSTATE
// carries it: four lines and, in the low bits, which of them changed.
type ModemState uint8

// The bits of a ModemState.
const (
	ModemCTSDelta       ModemState = 1 << iota // CTS changed
	ModemDSRDelta                              // DSR changed
	ModemRITrailingEdge                        // RI went off
	ModemCDDelta                               // CD changed
	ModemCTS                                   // clear to send
	ModemDSR                                   // data set ready
	ModemRI                                    // ring indicator
	ModemCD                                    // carrier detect
)

// modemLines are the bits of a ModemState that are lines, not changes.
const modemLines = ModemCTS | ModemDSR | ModemRI | ModemCD

// LineState is the state of the serial line as NOTIFY-LINESTATE carries
// it: what the port's UART reports, its errors among it.
type LineState uint8

// The bits of a LineState.
const (
	LineDataReady    LineState = 1 << iota // data is waiting
	LineOverrun                            // bytes were lost: the UART was not read in time
	LineParityError                        // a character with the wrong parity
	LineFramingError                       // a character without its stop bit
	LineBreak                              // a break came in
	LineHoldingEmpty                       // the transmit holding register is empty
	LineShiftEmpty                         // the transmit shift register is empty
	LineTimeout                            // a timeout error
)
