package main

import (
	"os"
	"strings"
	"testing"
)

// iogate check describes a device on the network by its address and
// protocol, and with rfc2217 by the line it sets on the remote port.
func TestCheckTCPDevice(t *testing.T) {
	path := t.TempDir() + "/remote.toml"
	if err := os.WriteFile(path, []byte("[gateway]\nid = \"x\"\n"+
		"[[device]]\nname = \"meter\"\nkind = \"tcp\"\naddress = \"nport-3.lan:4001\"\ntcp_protocol = \"rfc2217\"\nbaud = 19200\nparity = \"even\"\ntcp_idle_timeout = \"1m\"\n"+
		"[[device]]\nname = \"sensor\"\nkind = \"tcp\"\naddress = \"192.168.1.50:5000\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI("check", "-c", path)
	for _, want := range []string{
		"device meter: tcp nport-3.lan:4001 (rfc2217) 19200 8E1, redialled after 1m0s of silence, line framing",
		"device sensor: tcp 192.168.1.50:5000 (raw), line framing",
	} {
		if code != exitOK || !strings.Contains(stdout, want) {
			t.Errorf("exit %d, check output lacks %q:\n%s%s", code, want, stdout, stderr)
		}
	}
}
