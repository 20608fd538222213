// Package control is the protocol that `iogate status` and `iogate trace`
// speak with the running gateway over its Unix socket,
// <state_dir>/iogate.sock: the messages, their encoders and decoders, the
// status document, and the trace line a person reads.
//
// It is not I/O: it neither reads nor writes, keeps no time and starts no
// goroutine. The gateway's side is a Server per connection, fed the bytes
// the client sent and answering into buffers the caller owns; the client
// parses each line it reads with ParseMessage. Encoders append to the
// caller's buffer. The trace path (AppendEvent, Server.AppendTrace,
// AppendLine) is written by hand and does not allocate; the status document
// and the requests, which are rare, go through encoding/json.
//
// # The protocol
//
// Messages are JSON objects, one per line ending in "\n", with a "type".
// The client speaks first; every message the server sends answers one,
// except the events of a trace. A session:
//
//	client  {"type":"hello","protocol":1,"version":"v1.2.3"}
//	server  {"type":"hello","protocol":1,"version":"v1.2.3"}
//	client  {"type":"status"}
//	server  {"type":"status","status":{...}}               (see Status)
//	client  {"type":"trace","devices":["gps","bus"]}
//	server  {"type":"tracing","devices":["gps","bus"]}
//	server  {"type":"trace","time":"2026-12-04T02:20:04.123456Z","device":"gps","dir":"rx","data":"JEdQR0dBLDEK"}
//	server  {"type":"lost","time":"2026-12-04T02:20:05.000001Z","count":12}
//	server  {"type":"error","code":"unknown-device","error":"no device \"x\" in this gateway","devices":["x"]}
//
// The rules:
//   - The first request is a hello carrying Version, the protocol the client
//     speaks, and its iogate version. The server answers with its own hello
//     whatever the client's protocol, so that each side can say which
//     versions differ; if they do, an error with code "version" follows and
//     the server closes. The hello's shape is fixed for all versions.
//   - Status requests may follow, any number, each answered by one status
//     message in order.
//   - A trace request names one or more devices and is the last request of
//     the connection. The server answers "tracing" once it taps them, then
//     sends a "trace" event per read from a device (dir "rx") and per write
//     to it (dir "tx"): the bytes, in base64, and the time of the read or
//     write in UTC with microseconds. Events are never split or merged, so
//     a line of output is what one system call carried.
//   - The server never slows a device for a tracer: events that do not fit
//     in the connection's output are dropped and counted, and a "lost" event
//     with the count comes before the next event that is sent (or as soon
//     as the output drains). Its time is when it was sent.
//   - Every error ends the connection: the server sends one "error" message
//     and closes. Codes: "version", "malformed" (not a JSON object, a field
//     of the wrong type), "too-long" (a line over MaxRequest bytes),
//     "unexpected" (a request out of order, or of an unknown type),
//     "unknown-device" (with the names in "devices"), "busy" (too many
//     clients), "unavailable" (the gateway cannot answer, e.g. stopping),
//     "permission" (the peer is neither root, nor the gateway's user, nor
//     in the socket's group; sent before the hello is answered).
//   - Blank lines and a "\r" before the "\n" are accepted, so a person can
//     type requests with `socat - UNIX-CONNECT:/var/lib/iogate/iogate.sock`.
//     Unknown fields are ignored.
//
// Version is raised when a message changes meaning or loses a field; a
// field added to a message or to the status document leaves it as it is,
// and old clients ignore the new field. The versions must then be equal:
// the CLI and the gateway come from the same package.
package control

import (
	"path/filepath"
	"strconv"
	"time"
)

// Version is the protocol this package speaks.
const Version = 1

// SocketName is the socket's name in the gateway's state_dir.
const SocketName = "iogate.sock"

// SocketPath is where the gateway with state directory stateDir listens.
func SocketPath(stateDir string) string { return filepath.Join(stateDir, SocketName) }

const (
	// MaxRequest bounds a line from a client, which the server holds
	// until its end arrives; a longer one is an error.
	MaxRequest = 64 << 10
	// MaxMessage bounds a line from the server, for a client's reader: a
	// status document of hundreds of devices, or a trace event of a read
	// far longer than the reactor's 64 KiB.
	MaxMessage = 16 << 20
)

// Kind is a message's "type".
type Kind string

// The kinds of messages. The client sends hello, status and trace; the
// server sends hello, status, tracing, trace, lost and error.
const (
	KindHello   Kind = "hello"
	KindStatus  Kind = "status"
	KindTrace   Kind = "trace"
	KindTracing Kind = "tracing"
	KindLost    Kind = "lost"
	KindError   Kind = "error"
)

// Dir is the direction of a trace event.
type Dir uint8

// The directions.
const (
	RX Dir = iota // read from the device
	TX            // written to the device
)

// String returns "rx" or "tx".
func (d Dir) String() string {
	switch d {
	case RX:
		return "rx"
	case TX:
		return "tx"
	}
	return "Dir(" + strconv.Itoa(int(d)) + ")"
}

// MarshalText encodes d as "rx" or "tx".
func (d Dir) MarshalText() ([]byte, error) {
	if d > TX {
		return nil, &Error{Code: ErrMalformed, Message: "direction " + d.String()}
	}
	return []byte(d.String()), nil
}

// UnmarshalText takes "rx" or "tx".
func (d *Dir) UnmarshalText(b []byte) error {
	switch string(b) {
	case "rx":
		*d = RX
	case "tx":
		*d = TX
	default:
		return &Error{Code: ErrMalformed, Message: "direction " + strconv.Quote(string(b)) + ": want rx or tx"}
	}
	return nil
}

// Event is one read from a device or one write to it, as a trace sees it.
type Event struct {
	Time   time.Time // of the read or write
	Device string
	Dir    Dir
	Data   []byte // what was read or written
}

// Lost says that Count trace events were dropped because the client did
// not read them fast enough.
type Lost struct {
	Time  time.Time // when the notice was sent
	Count uint64
}

// Code says what kind of error a protocol error is. Codes are errors
// themselves, so errors.Is(err, control.ErrVersion) tells an *Error's kind.
type Code string

// The error codes.
const (
	ErrVersion       Code = "version"        // the two sides speak different protocol versions
	ErrMalformed     Code = "malformed"      // a line that is not a JSON object, or a field of the wrong type
	ErrTooLong       Code = "too-long"       // a line longer than MaxRequest
	ErrUnexpected    Code = "unexpected"     // a request out of order, or of an unknown type
	ErrUnknownDevice Code = "unknown-device" // a trace of a device the gateway does not have
	ErrBusy          Code = "busy"           // the gateway serves as many control clients as it will
	ErrUnavailable   Code = "unavailable"    // the gateway cannot answer now, as when it is stopping
	ErrPermission    Code = "permission"     // the peer may not use the gateway
)

func (c Code) Error() string { return "control protocol: " + string(c) }

// Error is an error message of the protocol: what the server sends before
// it closes, and what a client reads.
type Error struct {
	Code    Code
	Message string   // for a person, without "error:" or the like
	Devices []string // the unknown devices, for ErrUnknownDevice
}

func (e *Error) Error() string {
	if e.Message == "" {
		return string(e.Code)
	}
	return e.Message
}

// Unwrap returns the code, for errors.Is.
func (e *Error) Unwrap() error { return e.Code }

// UnknownDevices is the error for a trace of devices the gateway does not
// have.
func UnknownDevices(names ...string) *Error {
	msg := "no device "
	for i, n := range names {
		if i > 0 {
			msg += ", "
		}
		msg += strconv.Quote(n)
	}
	return &Error{Code: ErrUnknownDevice, Message: msg + " in this gateway", Devices: names}
}
