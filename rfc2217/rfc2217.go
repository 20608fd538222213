// Package rfc2217 speaks the Telnet Com Port Control Option (RFC 2217),
// both sides of it.
//
// The server side is what a serial-port server such as ser2net's
// telnet(rfc2217) needs, so that a remote client (pyserial's
// rfc2217://host:port, a virtual COM port driver) can use a device's TCP
// port as a serial port and set its baud rate, data size, parity, stop
// bits, flow control and modem lines. The client side is what a gateway
// needs to use a remote serial server (ser2net, a Moxa NPort, a USR-TCP232)
// as its own port: it sets the remote port's line and reads the device's
// bytes out of the telnet stream.
//
// A Server is fed the bytes a TCP client sends. Decode unescapes the data
// bytes meant for the device, answers the telnet protocol itself (option
// negotiation, the notification masks, SIGNATURE) and stops at each
// command that involves the port, for its caller to carry out and answer
// with Reply. Escape escapes the bytes the device sends on their way to
// the client. ApplyMode and ApplyLines translate the commands to a
// serial.Mode and to the DTR, RTS and break lines, without touching a
// port; ModeValue and LinesValue give the answers.
//
// A Client is fed the bytes a server sends. Its Greeting asks for
// COM-PORT-OPTION; once the server agrees, Decode sends the commands that
// set the remote port to the client's serial.Mode, and SetMode sends
// those of another. Decode unescapes the device's data bytes, answers the
// negotiation itself, and stops at each thing the server says about the
// port (its agreement, its answer to a command, a notification) for its
// caller to log or use; Line tells which settings the server confirmed.
// Escape escapes what the caller writes to the device. Nothing waits for
// an answer: a server that leaves a command unanswered, as RFC 2217
// servers do with settings they cannot make, holds up no data.
//
// It is not I/O: it neither reads nor writes, logs nothing, keeps no time
// and starts no goroutine. Decode, Greeting, Reply, SetMode,
// NotifyModemState and Escape append to buffers the caller owns and
// reuses: they do not allocate in steady state. The subnegotiation being
// read is held in a fixed buffer inside the Server or Client. Neither is
// safe for concurrent use: like the connection it serves, each belongs to
// the reactor goroutine.
//
// The subset of telnet it implements:
//   - RFC 854, telnet: IAC IAC is a data 0xFF; every other command is
//     taken out of the data. NOP, GA, DM, IP, AO, AYT, EC, EL and a lone
//     SE are ignored; BRK is handed to a Server's caller, as ser2net does,
//     to send a break, and ignored by a Client. The data is 8-bit clean
//     whether or not BINARY was agreed: a serial line carries bytes, so the
//     NVT's CR NUL rule is not applied.
//   - RFC 855 and RFC 1143, option negotiation: the Q method without the
//     queue bit, so that two sides that ask at the same time never loop.
//     An option asked for is answered once; a request for a state the
//     option is already in is not answered. Unknown options are refused
//     (DONT or WONT), as RFC 854 says.
//   - The options: BINARY (RFC 856) both ways, SUPPRESS-GO-AHEAD
//     (RFC 858) both ways, ECHO (RFC 857) on the server's side only, and
//     COM-PORT-OPTION (RFC 2217) on the client's side only: "typically a
//     client will use WILL and WONT, while an access server will use DO and
//     DONT". A Server's Greeting opens with what ser2net sends: WILL SGA,
//     WILL ECHO (the device echoes, if anything does; it keeps a telnet
//     client from echoing locally), WILL and DO BINARY, and DO
//     COM-PORT-OPTION. A Client's asks for WILL and DO BINARY, WILL and DO
//     SGA, and WILL COM-PORT-OPTION, and refuses the server's ECHO: a
//     server that echoed would hand the gateway's own writes back to it as
//     the device's.
//   - Subnegotiations: IAC IAC within one is a 0xFF. One longer than 128
//     bytes is discarded and counted; one broken by another command
//     (IAC followed by anything but IAC or SE) is discarded and counted,
//     and the command is carried out. Subnegotiations of options not
//     agreed are ignored, but, on a Server, COM-PORT-OPTION's while the
//     greeting's DO is unanswered: a client that sends commands has
//     agreed, though pyserial, answering the greeting in one thread while
//     it asks in another, can forget to say so.
//   - RFC 2217's client-to-server commands, each checked for its length:
//     SET-BAUDRATE (four bytes, big-endian), SET-DATASIZE, SET-PARITY,
//     SET-STOPSIZE, SET-CONTROL (values 0 to 19), NOTIFY-LINESTATE and
//     NOTIFY-MODEMSTATE (polls), FLOWCONTROL-SUSPEND and -RESUME,
//     PURGE-DATA (1 to 3), for the caller; and SET-LINESTATE-MASK,
//     SET-MODEMSTATE-MASK and SIGNATURE, which Decode answers. A command
//     is answered with its code plus 100 and the value in force, which for
//     a SET is how the client learns whether its value was taken;
//     FLOWCONTROL-SUSPEND and -RESUME are not answered. A command of
//     another length or value is discarded and counted. Cisco's one-byte
//     SET-BAUDRATE codes are not understood.
//   - Server notifications: NOTIFY-MODEMSTATE, masked as the client asked,
//     with the delta bits computed from the last notification.
//     NOTIFY-LINESTATE is sent only to answer a poll: a serial.Port does
//     not report line errors.
//   - The client sends SET-BAUDRATE, SET-DATASIZE, SET-PARITY,
//     SET-STOPSIZE and SET-CONTROL's flow control (both ways), and no
//     other command; it never sets the masks, so the server's defaults
//     hold. It answers a SIGNATURE request, and takes the server's
//     commands (code plus 100) with the same checks as the server's: the
//     answers to the five SETs, NOTIFY-LINESTATE and NOTIFY-MODEMSTATE with
//     their values, FLOWCONTROL-SUSPEND and -RESUME, and PURGE-DATA's
//     answer go to the caller; the masks' answers and a signature are
//     taken and dropped.
package rfc2217

import "bytes"

// The telnet commands the package reads (RFC 854). Those from NOP (241) to
// GA (249) but BRK mean nothing to a serial port.
const (
	se   = 240 // end of subnegotiation
	brk  = 243 // break
	sb   = 250 // start of subnegotiation
	will = 251
	wont = 252
	do   = 253
	dont = 254
	iac  = 255 // interpret as command
)

// The options the package knows.
const (
	optBinary  = 0  // RFC 856
	optEcho    = 1  // RFC 857
	optSGA     = 3  // RFC 858, suppress go ahead
	optComPort = 44 // RFC 2217
)

// serverCode is added to a command's code in the server's answer.
const serverCode = 100

// Escape appends data to dst with every 0xFF doubled, as telnet carries it,
// and returns the extended slice. It allocates only when dst lacks the
// capacity: at most twice len(data) bytes.
func Escape(dst, data []byte) []byte {
	for {
		i := bytes.IndexByte(data, iac)
		if i < 0 {
			return append(dst, data...)
		}
		dst = append(dst, data[:i+1]...)
		dst = append(dst, iac)
		data = data[i+1:]
	}
}
