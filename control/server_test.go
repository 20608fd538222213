package control

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// session is what a Server made of a client's input: the requests it
// returned, what it answered, and the error it ended with.
type session struct {
	requests []Request
	reply    string
	err      error
}

// serve feeds in to a new Server in chunks of size (all at once when
// size is 0), handing each chunk on until it is used up, as a reactor
// handler would.
func serve(in string, size int) session {
	s := NewServer("v9.9.9")
	var out session
	var reply []byte
	for len(in) > 0 {
		chunk := in
		if size > 0 && len(chunk) > size {
			chunk = chunk[:size]
		}
		in = in[len(chunk):]
		data := []byte(chunk)
		for len(data) > 0 {
			var n int
			var req Request
			var err error
			reply, n, req, err = s.Decode(reply, data)
			data = data[n:]
			if req.Kind != "" {
				out.requests = append(out.requests, req)
			}
			if err != nil {
				out.err = err
			}
		}
	}
	out.reply = string(reply)
	return out
}

const (
	hello       = `{"type":"hello","protocol":1,"version":"v1.0.0"}` + "\n"
	serverHello = `{"type":"hello","protocol":1,"version":"v9.9.9"}` + "\n"
)

func TestServerDecode(t *testing.T) {
	for _, tc := range []struct {
		name  string
		in    string
		kinds []Kind
		reply string // prefix of what the server answered
		err   Code   // "" for none
		msg   string // in the error's message
	}{
		{"hello", hello, []Kind{KindHello}, serverHello, "", ""},
		{"status twice", hello + `{"type":"status"}` + "\n" + `{"type":"status"}` + "\n",
			[]Kind{KindHello, KindStatus, KindStatus}, serverHello, "", ""},
		{"trace", hello + `{"type":"trace","devices":["d0","d1"]}` + "\n", []Kind{KindHello, KindTrace}, serverHello, "", ""},
		{"typed by hand", "\r\n  \n" + strings.TrimSuffix(hello, "\n") + "\r\n\n" + `{"type":"status","extra":[1,{"x":2}]}` + "\r\n",
			[]Kind{KindHello, KindStatus}, serverHello, "", ""},
		{"cut before the end", hello + `{"type":"sta`, []Kind{KindHello}, serverHello, "", ""},
		{"newer protocol", `{"type":"hello","protocol":2,"version":"v2.0.0"}` + "\n" + `{"type":"status"}` + "\n", nil,
			serverHello + `{"type":"error","code":"version","error":"the client speaks control protocol 2, this gateway speaks 1: use the same iogate version (client v2.0.0, gateway v9.9.9)"}` + "\n",
			ErrVersion, "speaks control protocol 2"},
		{"no protocol", `{"type":"hello"}` + "\n", nil, serverHello, ErrVersion, "control protocol 0"},
		{"status first", `{"type":"status"}` + "\n", nil, `{"type":"error","code":"unexpected"`, ErrUnexpected, "before the hello"},
		{"second hello", hello + hello, []Kind{KindHello}, serverHello + `{"type":"error","code":"unexpected"`, ErrUnexpected, "second hello"},
		{"after trace", hello + `{"type":"trace","devices":["d0"]}` + "\n" + `{"type":"status"}` + "\n", []Kind{KindHello, KindTrace},
			serverHello + `{"type":"error"`, ErrUnexpected, "last request"},
		{"garbage", "GET / HTTP/1.1\r\n", nil, `{"type":"error","code":"malformed"`, ErrMalformed, "not a JSON object"},
		{"array", "[1,2]\n", nil, `{"type":"error","code":"malformed"`, ErrMalformed, "not a JSON object"},
		{"null", "null\n", nil, `{"type":"error","code":"malformed"`, ErrMalformed, `without a "type"`},
		{"two objects", `{"type":"hello","protocol":1}{"type":"status"}` + "\n", nil, `{"type":"error","code":"malformed"`, ErrMalformed, ""},
		{"wrong field type", `{"type":"hello","protocol":"1"}` + "\n", nil, `{"type":"error","code":"malformed"`, ErrMalformed, ""},
		{"unknown type", hello + `{"type":"reboot"}` + "\n", []Kind{KindHello}, serverHello + `{"type":"error","code":"unexpected"`, ErrUnexpected, `"reboot"`},
		{"trace of nothing", hello + `{"type":"trace","devices":[]}` + "\n", []Kind{KindHello}, serverHello, ErrMalformed, "names no device"},
		{"trace of an empty name", hello + `{"type":"trace","devices":["d0",""]}` + "\n", []Kind{KindHello}, serverHello, ErrMalformed, "empty device name"},
		{"long line", hello + strings.Repeat(" ", MaxRequest+1), []Kind{KindHello}, serverHello + `{"type":"error","code":"too-long"`, ErrTooLong, "longer than 65536 bytes"},
		{"long request", hello + `{"type":"status","x":"` + strings.Repeat("x", MaxRequest) + `"}` + "\n", []Kind{KindHello}, serverHello, ErrTooLong, ""},
		{"longest request", hello + `{"type":"status","x":"` + strings.Repeat("x", MaxRequest-len(`{"type":"status","x":""}`)) + `"}` + "\n",
			[]Kind{KindHello, KindStatus}, serverHello, "", ""},
	} {
		for _, size := range []int{0, 1, 7, 4096} {
			got := serve(tc.in, size)
			var kinds []Kind
			for _, r := range got.requests {
				kinds = append(kinds, r.Kind)
			}
			if strings.Join(kindStrings(kinds), ",") != strings.Join(kindStrings(tc.kinds), ",") {
				t.Errorf("%s, reads of %d: requests %v, want %v", tc.name, size, kinds, tc.kinds)
			}
			if !strings.HasPrefix(got.reply, tc.reply) {
				t.Errorf("%s, reads of %d: reply %.200q, want it to start with %q", tc.name, size, got.reply, tc.reply)
			}
			switch {
			case tc.err == "" && got.err != nil:
				t.Errorf("%s, reads of %d: error %v", tc.name, size, got.err)
			case tc.err != "":
				var e *Error
				if !errors.Is(got.err, tc.err) || !errors.As(got.err, &e) || !strings.Contains(e.Message, tc.msg) {
					t.Errorf("%s, reads of %d: error %v, want %s with %q", tc.name, size, got.err, tc.err, tc.msg)
				}
				// The error message is sent once, last, and parses.
				lines := strings.Split(strings.TrimSuffix(got.reply, "\n"), "\n")
				m, err := ParseMessage([]byte(lines[len(lines)-1]))
				if err != nil || m.Kind != KindError || m.Err.Code != tc.err || strings.Count(got.reply, `"type":"error"`) != 1 {
					t.Errorf("%s, reads of %d: reply %.200q does not end with one error (%v)", tc.name, size, got.reply, err)
				}
			}
		}
	}
}

func kindStrings(kinds []Kind) []string {
	s := make([]string, len(kinds))
	for i, k := range kinds {
		s[i] = string(k)
	}
	return s
}

func TestServerRequests(t *testing.T) {
	got := serve(hello+`{"type":"trace","devices":["gps","bus"]}`+"\n", 0)
	if len(got.requests) != 2 || got.requests[0].Version != "v1.0.0" || strings.Join(got.requests[1].Devices, ",") != "gps,bus" {
		t.Fatalf("requests %+v", got.requests)
	}
}

// Decode stops at each request and leaves the rest of the input for the
// next call, so that the caller answers in order.
func TestServerDecodeStopsAtEachRequest(t *testing.T) {
	s := NewServer("v1")
	in := []byte(hello + `{"type":"status"}` + "\n" + `{"type":"status"}` + "\n")
	reply, n, req, err := s.Decode(nil, in)
	if err != nil || req.Kind != KindHello || n != len(hello) || string(reply) != string(AppendHello(nil, "v1")) {
		t.Fatalf("Decode = %q, %d, %v, %v", reply, n, req, err)
	}
	_, m, req, err := s.Decode(nil, in[n:])
	if err != nil || req.Kind != KindStatus || n+m != len(in)-len(`{"type":"status"}`+"\n") {
		t.Fatalf("Decode = %d, %v, %v", m, req, err)
	}
}

// After an error, nothing more is decoded or answered.
func TestServerFailIsFinal(t *testing.T) {
	s := NewServer("v1")
	reply, _, req, err := s.Decode(nil, []byte(hello+`{"type":"trace","devices":["nope"]}`+"\n"))
	if err != nil || req.Kind != KindHello {
		t.Fatal(req, err)
	}
	_, _, req, err = s.Decode(nil, []byte(`{"type":"trace","devices":["nope"]}`+"\n"))
	if err != nil || req.Kind != KindTrace || !s.Tracing() {
		t.Fatal(req, err)
	}
	reply = s.Fail(reply[:0], UnknownDevices("nope", "x"))
	want := `{"type":"error","code":"unknown-device","error":"no device \"nope\", \"x\" in this gateway","devices":["nope","x"]}` + "\n"
	if string(reply) != want {
		t.Fatalf("Fail = %q, want %q", reply, want)
	}
	if again := s.Fail(nil, &Error{Code: ErrBusy}); len(again) != 0 {
		t.Fatalf("a second Fail sent %q", again)
	}
	reply, n, req, err := s.Decode(nil, []byte(`{"type":"status"}`+"\n"))
	if len(reply) != 0 || n != len(`{"type":"status"}`+"\n") || req.Kind != "" || !errors.Is(err, ErrUnknownDevice) {
		t.Fatalf("Decode after Fail = %q, %d, %v, %v", reply, n, req, err)
	}
}

// Dropped events are announced once, before the next event or when the
// output drains, with their count.
func TestServerLost(t *testing.T) {
	s := NewServer("v1")
	t0 := time.Date(2026, 12, 4, 2, 20, 4, 123456789, time.UTC)
	ev := Event{Time: t0, Device: "d0", Dir: RX, Data: []byte("x")}
	buf := s.Trace(nil, ev)
	if m := parseAll(t, buf); len(m) != 1 || m[0].Kind != KindTrace {
		t.Fatalf("%q", buf)
	}
	s.Drop()
	s.Drop()
	buf = s.Trace(buf[:0], ev)
	m := parseAll(t, buf)
	if len(m) != 2 || m[0].Kind != KindLost || m[0].Lost.Count != 2 || !m[0].Lost.Time.Equal(t0.Truncate(time.Microsecond)) || m[1].Kind != KindTrace {
		t.Fatalf("%q", buf)
	}
	if buf = s.Drained(buf[:0], t0); len(buf) != 0 {
		t.Fatalf("Drained with nothing lost: %q", buf)
	}
	s.Drop()
	buf = s.Drained(buf[:0], t0.Add(time.Second))
	if string(buf) != `{"type":"lost","time":"2026-12-04T02:20:05.123456Z","count":1}`+"\n" {
		t.Fatalf("Drained: %q", buf)
	}
	if buf = s.Trace(buf[:0], ev); len(parseAll(t, buf)) != 1 {
		t.Fatalf("the loss was announced twice: %q", buf)
	}
}

func parseAll(t *testing.T, buf []byte) []Message {
	t.Helper()
	var ms []Message
	for _, line := range strings.SplitAfter(string(buf), "\n") {
		if line == "" {
			continue
		}
		m, err := ParseMessage([]byte(line))
		if err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		ms = append(ms, m)
	}
	return ms
}
