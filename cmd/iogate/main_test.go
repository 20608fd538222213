package main

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/iogate/iogate/resources/serial"
)

func runCLI(args ...string) (code int, stdout, stderr string) {
	var out, errOut lockedBuffer
	code = run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// lockedBuffer is a bytes.Buffer that goroutines may write while the test
// reads it: the embedded broker's connection goroutines can log a moment
// after the command returned.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestUsageAndExitCodes(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		code     int
		inStdout string
		inStderr string
	}{
		{nil, exitUsage, "", "usage: iogate <command>"},
		{[]string{"help"}, exitOK, "usage: iogate <command>", ""},
		{[]string{"--help"}, exitOK, "ports", ""},
		{[]string{"bogus"}, exitUsage, "", `unknown command "bogus"`},
		{[]string{"version"}, exitOK, "iogate ", ""},
		{[]string{"--version"}, exitOK, "iogate ", ""},
		{[]string{"version", "extra"}, exitUsage, "", `unexpected argument "extra"`},
		{[]string{"ports", "-h"}, exitOK, "", "usage: iogate ports [flags]"},
		{[]string{"ports", "--bogus"}, exitUsage, "", "flag provided but not defined"},
	} {
		code, stdout, stderr := runCLI(tc.args...)
		if code != tc.code || !strings.Contains(stdout, tc.inStdout) || !strings.Contains(stderr, tc.inStderr) {
			t.Errorf("iogate %v: exit %d, stdout %q, stderr %q; want exit %d with %q / %q",
				tc.args, code, stdout, stderr, tc.code, tc.inStdout, tc.inStderr)
		}
	}
}

// ports --json prints what serial.Ports finds, as a JSON array even when
// there is nothing; the table has a row per port.
func TestPorts(t *testing.T) {
	want, err := serial.Ports()
	if err != nil {
		t.Skipf("no port enumeration here: %v", err)
	}
	code, stdout, stderr := runCLI("ports", "--json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var got []serial.PortInfo
	if err := json.Unmarshal([]byte(stdout), &got); err != nil || got == nil {
		t.Fatalf("not a JSON array: %q (%v)", stdout, err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d ports in JSON, Ports found %d", len(got), len(want))
	}
	code, stdout, stderr = runCLI("ports")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if len(want) == 0 {
		if !strings.Contains(stderr, "no serial ports") {
			t.Fatalf("stderr %q", stderr)
		}
		return
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != len(want)+1 || !strings.HasPrefix(lines[0], "PATH") {
		t.Fatalf("table:\n%s", stdout)
	}
	for i, p := range want {
		if !strings.HasPrefix(lines[i+1], p.Path) {
			t.Errorf("row %d %q is not %s", i, lines[i+1], p.Path)
		}
	}
}

func TestPrintPorts(t *testing.T) {
	var out bytes.Buffer
	err := printPorts(&out, []serial.PortInfo{
		{Path: "/dev/ttyUSB0", ByID: "/dev/serial/by-id/usb-Prolific-if00", USB: true, VID: "067b", PID: "2303", SerialNumber: "A1", Manufacturer: "Prolific", Product: "USB-Serial"},
		{Path: "/dev/ttyS0"},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"/dev/ttyUSB0", "usb-Prolific-if00", "067b:2303", "A1", "Prolific USB-Serial", "/dev/ttyS0    -"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}

func TestCheck(t *testing.T) {
	code, stdout, stderr := runCLI("check", "-c", "../../config.example.toml")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"config.example.toml: ok", "device gps: serial /dev/ttyUSB0 9600 8N1", "frames -> iogate/edge-01/gps/rx (text)"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("check output lacks %q:\n%s", want, stdout)
		}
	}

	served := t.TempDir() + "/served.toml"
	if err := os.WriteFile(served, []byte("[gateway]\nid = \"x\"\n[metrics]\nlisten = \"127.0.0.1:9108\"\n"+
		"[[device]]\nname = \"port\"\npath = \"/dev/ttyUSB0\"\nwritable = true\ntcp_listen = \"127.0.0.1:4001\"\ntcp_protocol = \"rfc2217\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = runCLI("check", "-c", served)
	for _, want := range []string{"metrics: http://127.0.0.1:9108/metrics and /healthz", "tcp (rfc2217) on 127.0.0.1:4001, read-write, up to 4 clients"} {
		if code != exitOK || !strings.Contains(stdout, want) {
			t.Errorf("exit %d, check output lacks %q:\n%s%s", code, want, stdout, stderr)
		}
	}

	bad := t.TempDir() + "/bad.toml"
	if err := os.WriteFile(bad, []byte("[gateway]\nid = \"x/y\"\n[mqtt]\nqos = 3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = runCLI("check", "-c", bad)
	if code != exitUsage || !strings.Contains(stderr, bad+":2: gateway.id:") || !strings.Contains(stderr, bad+":4: mqtt.qos:") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	t.Setenv("IOGATE_CONFIG", bad)
	if code, _, _ := runCLI("check"); code != exitUsage {
		t.Fatalf("$IOGATE_CONFIG not used: exit %d", code)
	}
	if code, _, stderr := runCLI("check", "-c", "/nonexistent.toml"); code != exitUsage || !strings.Contains(stderr, "/nonexistent.toml") {
		t.Fatalf("missing file: exit %d, %q", code, stderr)
	}
}

// The demo shows frames from its sensor on the embedded broker, and stops
// cleanly after the messages asked for.
func TestDemo(t *testing.T) {
	code, stdout, stderr := runCLI("demo", "--messages", "30", "--rate", "50")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"iogate/demo/status online", "iogate/demo/gps/status online", `iogate/demo/gps/rx {"device":"gps","seq":1,`, "$GPGGA,",
		"iogate/demo/meter/sdm120/status online", "iogate/demo/meter/sdm120/voltage 2"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("demo output lacks %q:\n%s", want, stdout)
		}
	}
	if !strings.Contains(stderr, "mosquitto_sub -h 127.0.0.1") {
		t.Errorf("no hint on stderr: %s", stderr)
	}
}
