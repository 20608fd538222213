package control

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// Server is the gateway's side of one control connection: it decodes what
// the client sends, answers the hello itself, hands the status and trace
// requests to its caller, and keeps the count of trace events dropped.
// Create one per accepted connection with NewServer. A Server is not safe
// for concurrent use: like its connection, it belongs to the reactor
// goroutine.
//
// What the gateway does around it, on the reactor thread:
//   - Accepted: admit the peer (resources/unix: Listener.Admit), make a
//     Server, register the connection. A client that sends no complete
//     request in a few seconds is closed.
//   - Received: call Decode until the input is used up, sending what it
//     appends; answer KindStatus with AppendStatus of a fresh Status, and
//     KindTrace with AppendTracing once the devices are tapped, or with
//     Fail(UnknownDevices(...)). After an error, send the reply and close.
//   - Each read from or write to a traced device: if the connection is
//     congested (its output past the reactor's high watermark), Drop;
//     else send Trace's bytes. A device is never paused for a tracer.
//   - Drained: send Drained's bytes, if any, and take events again.
//   - A connection congested for long (its client reads nothing) is
//     closed, as is one whose Send overflows.
type Server struct {
	version string // the gateway's iogate version, for the hello
	line    []byte // a request cut across reads, at most MaxRequest bytes
	state   serverState
	err     *Error // why the connection failed, once it has
	lost    uint64 // trace events dropped since the last notice
}

type serverState uint8

const (
	awaitHello serverState = iota
	ready                  // after the hello: status and trace requests
	tracing                // after a trace request: nothing more
	failed                 // after an error: the caller closes
)

// Request is what a client asked for.
type Request struct {
	// Kind is KindHello, KindStatus or KindTrace; it is empty when Decode
	// used up its input without completing a request.
	Kind    Kind
	Version string   // KindHello: the client's iogate version, for a log line
	Devices []string // KindTrace: the devices to trace, as the client named them
}

// NewServer returns the server side of a new connection; version is the
// gateway's iogate version, sent in its hello.
func NewServer(version string) *Server { return &Server{version: version} }

// Decode reads in, what the client sent, up to its end or up to the end of
// the first request. It appends the server's answers to reply (its hello,
// or an error message) and returns reply, how many bytes of in it
// consumed, and the request, if it completed one. A request may arrive cut
// anywhere across calls: Decode keeps what it has of it.
//
// The caller answers a status request with AppendStatus, and a trace
// request with AppendTracing once it taps the devices (or with Fail and
// UnknownDevices), and calls Decode again with the rest of in. A hello
// needs nothing from the caller: Decode has answered it.
//
// An error (an *Error: ErrVersion, ErrMalformed, ErrTooLong or
// ErrUnexpected) means the connection is over: its message is in reply,
// for the caller to send before it closes. Decode returns the same error
// for all later input, and appends nothing more.
func (s *Server) Decode(reply, in []byte) (replyOut []byte, n int, req Request, err error) {
	if s.state == failed {
		return reply, len(in), Request{}, s.err
	}
	for n < len(in) {
		i := bytes.IndexByte(in[n:], '\n')
		if i < 0 {
			if len(s.line)+len(in)-n > MaxRequest {
				return s.tooLong(reply), len(in), Request{}, s.err
			}
			s.line = append(s.line, in[n:]...)
			return reply, len(in), Request{}, nil
		}
		line := in[n : n+i]
		n += i + 1
		if len(s.line)+len(line) > MaxRequest {
			return s.tooLong(reply), len(in), Request{}, s.err
		}
		if len(s.line) > 0 {
			s.line = append(s.line, line...)
			line = s.line
			s.line = s.line[:0] // line is used up before the next append
		}
		reply, req = s.request(reply, line)
		if s.state == failed {
			return reply, len(in), Request{}, s.err
		}
		if req.Kind != "" {
			return reply, n, req, nil
		}
	}
	return reply, n, Request{}, nil
}

// wireRequest is every field a request may carry.
type wireRequest struct {
	Type     Kind     `json:"type"`
	Protocol int      `json:"protocol"`
	Version  string   `json:"version"`
	Devices  []string `json:"devices"`
}

// request handles one line: it returns the request, or nothing for a
// blank line or a hello, or fails s.
func (s *Server) request(reply, line []byte) ([]byte, Request) {
	line = bytes.TrimSuffix(line, []byte("\r"))
	if len(bytes.TrimSpace(line)) == 0 {
		return reply, Request{}
	}
	if s.state == tracing {
		return s.Fail(reply, &Error{Code: ErrUnexpected, Message: "a request after a trace request: a trace is the last request of a connection"}), Request{}
	}
	var w wireRequest
	if err := json.Unmarshal(line, &w); err != nil {
		return s.Fail(reply, &Error{Code: ErrMalformed, Message: "a request that is not a JSON object of the control protocol: " + err.Error()}), Request{}
	}
	switch w.Type {
	case "":
		return s.Fail(reply, &Error{Code: ErrMalformed, Message: `a request without a "type"`}), Request{}
	case KindHello:
		if s.state != awaitHello {
			return s.Fail(reply, &Error{Code: ErrUnexpected, Message: "a second hello"}), Request{}
		}
		reply = AppendHello(reply, s.version)
		if w.Protocol != Version {
			return s.Fail(reply, &Error{Code: ErrVersion, Message: fmt.Sprintf(
				"the client speaks control protocol %d, this gateway speaks %d: use the same iogate version (client %s, gateway %s)",
				w.Protocol, Version, w.Version, s.version)}), Request{}
		}
		s.state = ready
		return reply, Request{Kind: KindHello, Version: w.Version}
	case KindStatus, KindTrace:
		if s.state == awaitHello {
			return s.Fail(reply, &Error{Code: ErrUnexpected, Message: fmt.Sprintf("a %s request before the hello", w.Type)}), Request{}
		}
		if w.Type == KindStatus {
			return reply, Request{Kind: KindStatus}
		}
		if len(w.Devices) == 0 {
			return s.Fail(reply, &Error{Code: ErrMalformed, Message: "a trace request that names no device"}), Request{}
		}
		for _, d := range w.Devices {
			if d == "" {
				return s.Fail(reply, &Error{Code: ErrMalformed, Message: "a trace request with an empty device name"}), Request{}
			}
		}
		s.state = tracing
		return reply, Request{Kind: KindTrace, Devices: w.Devices}
	default:
		return s.Fail(reply, &Error{Code: ErrUnexpected, Message: fmt.Sprintf("a request of unknown type %q", w.Type)}), Request{}
	}
}

func (s *Server) tooLong(reply []byte) []byte {
	s.line = nil
	return s.Fail(reply, &Error{Code: ErrTooLong, Message: fmt.Sprintf("a request longer than %d bytes", MaxRequest)})
}

// Fail ends the connection with e: it appends the error message to reply,
// for the caller to send before it closes, and makes Decode return e from
// now on. Only the first failure is sent.
func (s *Server) Fail(reply []byte, e *Error) []byte {
	if s.state == failed {
		return reply
	}
	s.state, s.err, s.line = failed, e, nil
	return AppendError(reply, e)
}

// Tracing reports whether the client asked for a trace.
func (s *Server) Tracing() bool { return s.state == tracing }

// Trace appends ev for the client, after the notice of the events dropped
// before it, if any. It does not allocate when dst has the room.
func (s *Server) Trace(dst []byte, ev Event) []byte {
	if s.lost > 0 {
		dst = AppendLost(dst, Lost{Time: ev.Time, Count: s.lost})
		s.lost = 0
	}
	return AppendEvent(dst, ev)
}

// Drop counts an event the client is not sent, because its output is
// full: the count goes out before the next event, or from Drained.
func (s *Server) Drop() { s.lost++ }

// Drained appends the notice of the events dropped, if any: the caller
// calls it when the connection's output has drained, so that the client
// hears of its loss even if no event follows soon.
func (s *Server) Drained(dst []byte, now time.Time) []byte {
	if s.lost == 0 {
		return dst
	}
	dst = AppendLost(dst, Lost{Time: now, Count: s.lost})
	s.lost = 0
	return dst
}
