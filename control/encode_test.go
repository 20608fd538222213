package control

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// appendString agrees with encoding/json on what the string is, and writes
// valid JSON for any bytes.
func TestAppendString(t *testing.T) {
	for _, s := range []string{
		"", "gps", `a"b\c`, "tab\there\nnl\rcr", "\x00\x01\x1f\x7f", "é ünï 日本 🙂",
		"bad \xff utf-8 \xc3", "\xe2\x80\xa8 line separator", "<script>&",
	} {
		got := appendString(nil, s)
		if !json.Valid(got) {
			t.Errorf("%q: %s is not valid JSON", s, got)
			continue
		}
		var back, want string
		json.Unmarshal(got, &back)
		ref, _ := json.Marshal(s)
		json.Unmarshal(ref, &want)
		if back != want {
			t.Errorf("%q: appendString gives %s (%q), encoding/json %s (%q)", s, got, back, ref, want)
		}
	}
}

// Every message the encoders write is one line that ParseMessage reads
// back as what was encoded.
func TestRoundTrip(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 2, 20, 4, 123456000, time.UTC)
	st := sampleStatus()
	status, err := AppendStatus(nil, &st)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		line []byte
		want Message
	}{
		{AppendHello(nil, `v1.2.3 "dev"`), Message{Kind: KindHello, Protocol: Version, Version: `v1.2.3 "dev"`}},
		{AppendTracing(nil, []string{"gps", "bus"}), Message{Kind: KindTracing, Devices: []string{"gps", "bus"}}},
		{AppendEvent(nil, Event{Time: t0, Device: "gps", Dir: RX, Data: []byte("$GPGGA,1\n")}),
			Message{Kind: KindTrace, Event: Event{Time: t0, Device: "gps", Dir: RX, Data: []byte("$GPGGA,1\n")}}},
		{AppendEvent(nil, Event{Time: t0.In(time.FixedZone("CET", 3600)), Device: "d-1", Dir: TX, Data: []byte{0, 0xff, 0x80}}),
			Message{Kind: KindTrace, Event: Event{Time: t0, Device: "d-1", Dir: TX, Data: []byte{0, 0xff, 0x80}}}},
		{AppendLost(nil, Lost{Time: t0, Count: 1 << 40}), Message{Kind: KindLost, Lost: Lost{Time: t0, Count: 1 << 40}}},
		{AppendError(nil, UnknownDevices("x")), Message{Kind: KindError, Err: UnknownDevices("x")}},
		{AppendError(nil, &Error{Code: ErrBusy, Message: "too many clients"}), Message{Kind: KindError, Err: &Error{Code: ErrBusy, Message: "too many clients"}}},
		{status, Message{Kind: KindStatus, Status: &st}},
	} {
		if bytes.Count(tc.line, []byte("\n")) != 1 || !bytes.HasSuffix(tc.line, []byte("\n")) || !json.Valid(tc.line) {
			t.Errorf("%q is not one line of JSON", tc.line)
			continue
		}
		got, err := ParseMessage(tc.line)
		if err != nil {
			t.Errorf("%s: %v", tc.line, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.line, got, tc.want)
		}
	}
	// The requests are those the Server reads.
	s := NewServer("v1")
	in := AppendHello(nil, "v1")
	in = AppendStatusRequest(in)
	in = AppendTraceRequest(in, []string{"a", "b"})
	var kinds []Kind
	for len(in) > 0 {
		_, n, req, err := s.Decode(nil, in)
		if err != nil {
			t.Fatal(err)
		}
		in = in[n:]
		kinds = append(kinds, req.Kind)
	}
	if !reflect.DeepEqual(kinds, []Kind{KindHello, KindStatus, KindTrace}) {
		t.Fatalf("requests %v", kinds)
	}
}

// sampleStatus is a document with every field set.
func sampleStatus() Status {
	t0 := time.Date(2026, 12, 4, 2, 20, 4, 0, time.UTC)
	return Status{
		Gateway: "edge-01", Version: "v1.2.3", Time: t0, Started: t0.Add(-26 * time.Hour),
		Broker: Broker{State: LinkConnected, Address: "tcp://127.0.0.1:1883", Since: t0.Add(-192 * time.Second)},
		Spool:  &Spool{Frames: 12, Bytes: 3481, Oldest: t0.Add(-12 * time.Second), Drops: 1},
		Devices: []Device{
			{Name: "gps", Kind: "serial", State: Online, Since: t0.Add(-192 * time.Second), RxFrames: 1234, RxBytes: 81234,
				TxFrames: 2, TxBytes: 20, Drops: 1, Discarded: 3, Reopens: 1, TCPClients: 1, LastFrame: t0.Add(-200 * time.Millisecond)},
			{Name: "bus", Kind: "serial", State: Online, Since: t0.Add(-3720 * time.Second), RxFrames: 560, TxFrames: 560,
				LastFrame: t0.Add(-time.Second), Slaves: []Slave{
					{Name: "meter", ID: 1, State: Online, Since: t0.Add(-3720 * time.Second), LastAnswer: t0.Add(-time.Second)},
					{Name: "pump", ID: 7, State: Offline, Since: t0.Add(-12 * time.Second), LastAnswer: t0.Add(-302 * time.Second), Timeouts: 31},
				}},
			{Name: "door", Kind: "file", State: Offline, Error: "open /dev/door: no such file or directory"},
		},
	}
}

// The document's JSON names are the contract of `iogate status --json`.
func TestStatusJSON(t *testing.T) {
	st := sampleStatus()
	st.Devices = st.Devices[2:]
	st.Spool = nil
	st.Broker = Broker{State: LinkNone}
	b, err := json.Marshal(&st)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"gateway":"edge-01","version":"v1.2.3","time":"2026-12-04T02:20:04Z","started":"2026-12-03T00:20:04Z",` +
		`"broker":{"state":"none"},"spool":null,"devices":[{"name":"door","kind":"file","state":"offline",` +
		`"error":"open /dev/door: no such file or directory","rx_frames":0,"rx_bytes":0,"tx_frames":0,"tx_bytes":0,` +
		`"drops":0,"discarded":0,"reopens":0,"tcp_clients":0}]}`
	if string(b) != want {
		t.Fatalf("JSON\n%s\nwant\n%s", b, want)
	}
}

func TestProblems(t *testing.T) {
	st := sampleStatus()
	want := []string{"slave pump of device bus offline", "device door offline"}
	if got := st.Problems(); !reflect.DeepEqual(got, want) {
		t.Errorf("Problems() = %q, want %q", got, want)
	}
	st.Devices = st.Devices[:1]
	if got := st.Problems(); got != nil {
		t.Errorf("all up: Problems() = %q", got)
	}
	for _, state := range []LinkState{LinkConnecting, LinkDown} {
		st.Broker = Broker{State: state, LastError: "connection refused"}
		if got := st.Problems(); len(got) != 1 || got[0] != "broker "+string(state)+": connection refused" {
			t.Errorf("broker %s: Problems() = %q", state, got)
		}
	}
	st.Broker = Broker{State: LinkNone}
	if got := st.Problems(); got != nil {
		t.Errorf("no broker: Problems() = %q", got)
	}
}

func TestAge(t *testing.T) {
	st := sampleStatus()
	if a := st.Age(time.Time{}); a >= 0 {
		t.Errorf("Age(zero) = %v, want negative", a)
	}
	if a := st.Age(st.Time.Add(-3 * time.Second)); a != 3*time.Second {
		t.Errorf("Age = %v", a)
	}
	if a := st.Age(st.Time.Add(time.Second)); a != 0 {
		t.Errorf("Age of a moment after the status = %v, want 0", a)
	}
}

func TestParseMessageRejects(t *testing.T) {
	for _, line := range []string{
		"", "garbage", "[]", "null", `{"type":""}`, `{"type":"reboot"}`,
		`{"type":"hello","version":"v1"}`,
		`{"type":"status"}`,
		`{"type":"trace","device":"d0","dir":"rx","data":""}`,
		`{"type":"trace","time":"2026-12-04T02:20:04Z","dir":"rx"}`,
		`{"type":"trace","time":"2026-12-04T02:20:04Z","device":"d0"}`,
		`{"type":"trace","time":"2026-12-04T02:20:04Z","device":"d0","dir":"up"}`,
		`{"type":"trace","time":"2026-12-04T02:20:04Z","device":"d0","dir":"rx","data":"not base64!"}`,
		`{"type":"error","error":"no code"}`,
		`{"type":"lost","count":-1}`,
	} {
		if m, err := ParseMessage([]byte(line)); err == nil {
			t.Errorf("ParseMessage(%q) = %+v, want an error", line, m)
		}
	}
}

func TestCheckHello(t *testing.T) {
	if err := CheckHello(Message{Kind: KindHello, Protocol: Version}, "v1"); err != nil {
		t.Fatal(err)
	}
	err := CheckHello(Message{Kind: KindHello, Protocol: Version + 1, Version: "v3.0.0"}, "v1.0.0")
	want := "the gateway speaks control protocol 2, this iogate speaks 1: use the same iogate version (gateway v3.0.0, this iogate v1.0.0)"
	if !errors.Is(err, ErrVersion) || err.Error() != want {
		t.Fatalf("CheckHello = %v, want %q", err, want)
	}
	if err := CheckHello(Message{Kind: KindStatus}, "v1"); err == nil || !strings.Contains(err.Error(), "status") {
		t.Fatalf("CheckHello of a status = %v", err)
	}
}

func TestDirText(t *testing.T) {
	for _, d := range []Dir{RX, TX} {
		b, err := d.MarshalText()
		var back Dir
		if err != nil || back.UnmarshalText(b) != nil || back != d {
			t.Errorf("%v: %q, %v, back %v", d, b, err, back)
		}
	}
	if _, err := Dir(2).MarshalText(); err == nil {
		t.Error("Dir(2) encoded")
	}
}

// appendTime writes what AppendFormat with TimeLayout writes.
func TestAppendTime(t *testing.T) {
	for _, tm := range []time.Time{
		time.Date(2026, 12, 4, 2, 20, 4, 123456789, time.UTC),
		time.Date(2026, 12, 4, 2, 20, 4, 123456789, time.FixedZone("X", -7*3600-1800)),
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Unix(0, 999),
	} {
		if got, want := string(appendTime(nil, tm)), tm.UTC().Format(TimeLayout); got != want {
			t.Errorf("appendTime(%v) = %s, want %s", tm, got, want)
		}
	}
}
