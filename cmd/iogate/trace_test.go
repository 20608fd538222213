package main

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iogate/iogate/control"
)

// traceEvents is what the fake gateway sends a tracer: a read, a write,
// three events dropped, and two more reads.
func traceEvents() []any {
	t0 := time.Date(2026, 12, 4, 2, 20, 4, 123456000, time.UTC)
	return []any{
		control.Event{Time: t0, Device: "d0", Dir: control.RX, Data: []byte("$GPGGA,1\n")},
		control.Event{Time: t0.Add(time.Millisecond), Device: "d1", Dir: control.TX, Data: []byte{0x01, 0x03, 0x00, 0x00, 0x00, 0x02, 0xc4, 0x0b}},
		3,
		control.Event{Time: t0.Add(time.Second), Device: "d0", Dir: control.RX, Data: []byte("$GPRMC,2\r\n")},
		control.Event{Time: t0.Add(2 * time.Second), Device: "d0", Dir: control.RX, Data: []byte("x")},
	}
}

// A trace prints every event in the format asked for, and the lost
// events where they were lost. The gateway hangs up after them: exit 1.
func TestTraceFormats(t *testing.T) {
	for _, tc := range []struct {
		flags []string
		want  string
	}{
		{nil, "" +
			"2026-12-04T02:20:04.123456Z d0 rx 9  |$GPGGA,1.|\n" +
			"2026-12-04T02:20:04.124456Z d1 tx 8  |........|\n" +
			"2026-12-04T02:20:05.123456Z lost 3 lines\n" +
			"2026-12-04T02:20:05.123456Z d0 rx 10  |$GPRMC,2..|\n" +
			"2026-12-04T02:20:06.123456Z d0 rx 1  |x|\n"},
		{[]string{"--hex"}, "" +
			"2026-12-04T02:20:04.123456Z d0 rx 9  24 47 50 47 47 41 2c 31 0a  |$GPGGA,1.|\n" +
			"2026-12-04T02:20:04.124456Z d1 tx 8  01 03 00 00 00 02 c4 0b  |........|\n" +
			"2026-12-04T02:20:05.123456Z lost 3 lines\n" +
			"2026-12-04T02:20:05.123456Z d0 rx 10  24 47 50 52 4d 43 2c 32 0d 0a  |$GPRMC,2..|\n" +
			"2026-12-04T02:20:06.123456Z d0 rx 1  78  |x|\n"},
		{[]string{"--json"}, "" +
			`{"type":"trace","time":"2026-12-04T02:20:04.123456Z","device":"d0","dir":"rx","data":"JEdQR0dBLDEK"}` + "\n" +
			`{"type":"trace","time":"2026-12-04T02:20:04.124456Z","device":"d1","dir":"tx","data":"AQMAAAACxAs="}` + "\n" +
			`{"type":"lost","time":"2026-12-04T02:20:05.123456Z","count":3}` + "\n" +
			`{"type":"trace","time":"2026-12-04T02:20:05.123456Z","device":"d0","dir":"rx","data":"JEdQUk1DLDINCg=="}` + "\n" +
			`{"type":"trace","time":"2026-12-04T02:20:06.123456Z","device":"d0","dir":"rx","data":"eA=="}` + "\n"},
	} {
		g := startGateway(t)
		g.events, g.hangUp = traceEvents(), true
		// Flags after the devices are flags too.
		args := append([]string{"trace", "-c", g.config, "d0", "d1"}, tc.flags...)
		code, stdout, stderr := runCLI(args...)
		wantErr := "tracing d0, d1 on the gateway with state_dir " + g.dir + "; Ctrl-C stops\niogate trace: the gateway closed the connection\n"
		if code != exitFailure || stdout != tc.want || stderr != wantErr {
			t.Errorf("trace %v: exit %d, stderr %q, stdout:\n%s\nwant exit 1, stderr %q, stdout:\n%s", tc.flags, code, stderr, stdout, wantErr, tc.want)
		}
	}
}

func TestTraceUsage(t *testing.T) {
	g := startGateway(t)
	for _, tc := range []struct {
		args   []string
		stderr string
	}{
		{[]string{"trace", "-c", g.config}, "iogate trace: name the devices to trace, as in: iogate trace gps\n"},
		{[]string{"trace", "-c", g.config, "d0", "--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"trace", "-c", g.config, "d0", "nope", "d1", "gone"}, `iogate trace: no device "nope", "gone" in this gateway` + "\n"},
	} {
		code, stdout, stderr := runCLI(tc.args...)
		if code != exitUsage || stdout != "" || !strings.Contains(stderr, tc.stderr) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 2 and %q", tc.args, code, stdout, stderr, tc.stderr)
		}
	}
}

// Ctrl-C (SIGINT) and SIGTERM end a trace cleanly: exit 0, with what was
// printed flushed.
func TestTraceSignals(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		g := startGateway(t)
		g.events = traceEvents()[:1]
		var stdout, stderr lockedBuffer
		done := make(chan int, 1)
		go func() { done <- run([]string{"trace", "-c", g.config, "d0"}, &stdout, &stderr) }()
		// The line is printed once the trace runs, and the signals are
		// caught from before it started.
		want := "2026-12-04T02:20:04.123456Z d0 rx 9  |$GPGGA,1.|\n"
		for end := time.Now().Add(deadline); stdout.String() != want; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(end) {
				t.Fatalf("%v: no trace line after %v: stdout %q, stderr %q", sig, deadline, stdout.String(), stderr.String())
			}
		}
		if err := syscall.Kill(syscall.Getpid(), sig); err != nil {
			t.Fatal(err)
		}
		select {
		case code := <-done:
			if code != exitOK || stdout.String() != want || strings.Contains(stderr.String(), "iogate trace:") {
				t.Errorf("%v: exit %d, stdout %q, stderr %q", sig, code, stdout.String(), stderr.String())
			}
		case <-time.After(deadline):
			t.Fatalf("%v: trace still running after %v", sig, deadline)
		}
	}
}

// A gateway that sends something else than trace events ends the trace.
func TestTraceGarbage(t *testing.T) {
	g := startGateway(t)
	g.hello = string(control.AppendHello(nil, "v1")) + string(control.AppendTracing(nil, []string{"d0"})) + `{"type":"status","status":{}}` + "\n"
	code, _, stderr := runCLI("trace", "-c", g.config, "d0")
	if code != exitFailure || !strings.Contains(stderr, "iogate trace: the gateway sent a status message during a trace") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}
