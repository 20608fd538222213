package bridge_test

import (
	"bytes"
	"fmt"
	"net"
	"testing"
	"time"
)

// Telnet and RFC 2217 bytes.
const (
	iac, will, do, sb, se = 255, 251, 253, 250, 240
	comPort               = 44
)

// comCmd is an RFC 2217 subnegotiation: IAC SB COM-PORT-OPTION code value IAC SE.
func comCmd(code byte, value ...byte) []byte {
	return append(append([]byte{iac, sb, comPort, code}, value...), iac, se)
}

func baud(code byte, rate uint32) []byte {
	return comCmd(code, byte(rate>>24), byte(rate>>16), byte(rate>>8), byte(rate))
}

// readUntil reads from c until what it got contains want, and returns
// everything after it.
func readUntil(t *testing.T, c net.Conn, want []byte) []byte {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(deadline))
	var got []byte
	buf := make([]byte, 512)
	for {
		if i := bytes.Index(got, want); i >= 0 {
			return got[i+len(want):]
		}
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("waiting for % x: %v; got % x", want, err, got)
		}
		got = append(got, buf[:n]...)
	}
}

// comClient connects an RFC 2217 client and agrees to COM-PORT-OPTION; it
// returns once it has the first modem-state notification, which a pty
// reports as CTS, DSR and CD on, all changed (from nothing known).
func comClient(t *testing.T, addr string) net.Conn {
	t.Helper()
	c := dial(t, addr)
	readUntil(t, c, []byte{iac, do, comPort})
	c.Write([]byte{iac, will, comPort})
	readUntil(t, c, comCmd(107, 0xbb))
	return c
}

// A device with tcp_protocol = "rfc2217" is a remote serial port: the
// first client to change its line controls it until it leaves, the data is
// telnet-escaped both ways, and MQTT keeps working beside it.
func TestRFC2217(t *testing.T) {
	w := newWorld(t, "port")
	addr := freeAddr(t)
	w.run(map[string]string{"port": fmt.Sprintf("writable = true\nbaud = 9600\ntcp_protocol = \"rfc2217\"\ntcp_listen = %q", addr)})
	w.expectPayload("iogate/gw/port/status", "online")

	a := comClient(t, addr)
	a.Write(baud(1, 57600))
	readUntil(t, a, baud(101, 57600))

	// 0xFF is doubled on the wire, and undoubled on its way to the device.
	w.write("port", "a\xffb\n")
	readUntil(t, a, []byte("a\xff\xffb\n"))
	w.expectPayload("iogate/gw/port/rx", "a\xffb")
	a.Write([]byte("X\xff\xffY"))
	if got := w.read("port", 3); got != "X\xffY" {
		t.Fatalf("device got %q", got)
	}

	// A second client may look, not change: it is told the rate in force.
	b := comClient(t, addr)
	b.Write(baud(1, 9600))
	readUntil(t, b, baud(101, 57600))
	b.Write(comCmd(5, 8)) // SET-CONTROL DTR on: taken by nobody else either
	readUntil(t, b, comCmd(105, 8))

	// A setting the port refuses is answered with the one in force: a pty
	// keeps no parity.
	a.Write(comCmd(3, 3)) // SET-PARITY even
	readUntil(t, a, comCmd(103, 1))

	// The controller leaves: the configured line is back.
	a.Close()
	deadlineAt := time.Now().Add(deadline)
	for {
		b.Write(baud(1, 0)) // a query
		rest := readUntil(t, b, []byte{iac, sb, comPort, 101})
		if bytes.HasPrefix(rest, []byte{0, 0, 0x25, 0x80}) { // 9600
			break
		}
		if time.Now().After(deadlineAt) {
			t.Fatalf("the rate stayed % x after the controller left", rest)
		}
	}
	// Now b may change it.
	b.Write(baud(1, 115200))
	readUntil(t, b, baud(101, 115200))
}

// A device that is not writable answers every client with the settings in
// force and changes nothing.
func TestRFC2217ReadOnly(t *testing.T) {
	w := newWorld(t, "port")
	addr := freeAddr(t)
	w.run(map[string]string{"port": fmt.Sprintf("baud = 19200\ntcp_protocol = \"rfc2217\"\ntcp_listen = %q", addr)})
	w.expectPayload("iogate/gw/port/status", "online")
	c := comClient(t, addr)
	c.Write(baud(1, 57600))
	readUntil(t, c, baud(101, 19200))
}
