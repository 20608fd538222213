package integration

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// pyserialClient is a pyserial program that opens the device's port as
// rfc2217://, trades a line both ways, changes the baud rate and flow
// control, and prints what it saw. pyserial raises when the server answers
// a setting with another value, or does not answer.
const pyserialClient = `
import sys, serial
s = serial.serial_for_url("rfc2217://" + sys.argv[1] + "?timeout=10", baudrate=57600, timeout=10)
print("open", s.baudrate, flush=True)
s.write(b"AT\r\n")
print("reply", s.read_until(b"\n").decode().strip(), flush=True)
s.baudrate = 19200
s.rtscts = True
s.dtr = False
print("set", s.baudrate, s.rtscts, flush=True)
s.close()
`

// pyserial, the client most RFC 2217 users have, drives a device's port.
func TestRFC2217WithPyserial(t *testing.T) {
	t.Parallel()
	python := "/usr/bin/python3" // Debian's, which python3-serial installs into
	if err := exec.Command(python, "-c", "import serial.rfc2217").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("pyserial is missing; CI must have it (apt-get install python3-serial): %v", err)
		}
		t.Skipf("pyserial is not installed (apt-get install python3-serial): %v", err)
	}
	mq := startMosquitto(t)
	dev := plug(t, "modem")
	sub := subscribe(t, mq.url(), prefix+"/#")
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	gw := startGateway(t, mq.url(), dev.toml(fmt.Sprintf("writable = true\ntcp_protocol = \"rfc2217\"\ntcp_listen = %q", addr)))
	waitOnline(t, sub, dev)

	out := newLogLines()
	py := start(t, out.add, python, "-c", pyserialClient, addr)
	out.waitUntil(t, "pyserial's open", func() bool { return out.contains("open 57600") })
	if got := dev.read(4); got != "AT\r\n" {
		t.Fatalf("device got %q", got)
	}
	dev.write("OK\r\n")
	out.waitUntil(t, "pyserial's settings", func() bool { return out.contains("set 19200 True") })
	<-py.done
	if py.err != nil {
		t.Fatalf("pyserial: %v", py.err)
	}
	if !out.contains("reply OK") {
		t.Errorf("pyserial did not read the device's reply")
	}
	// The rfc2217 client's settings were taken, and given back when it left.
	gw.log.waitFor(t, "the settings restored", func(e entry) bool {
		return e.is("info", "rfc2217: the controlling client left; configured line settings restored")
	})
	if n := gw.log.count("rfc2217: ", "refused"); n != 0 {
		t.Errorf("%d settings refused; log above", n)
	}
	changed := gw.log.entries(func(e entry) bool {
		mode, _ := e["mode"].(string)
		return e.is("info", "rfc2217: line settings changed by the client") && strings.HasPrefix(mode, "19200 ")
	})
	if len(changed) == 0 {
		t.Errorf("no log line says the baud rate changed to 19200")
	}
}
