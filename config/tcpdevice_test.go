package config_test

import (
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/iogate/iogate/config"
)

const gateway = "[gateway]\nid = \"g\"\n"

func TestTCPDevice(t *testing.T) {
	c, err := config.Parse("t.toml", []byte(gateway+`
[[device]]
name = "meter"
kind = "tcp"
address = "nport-3.plant.example:4001"
tcp_protocol = "rfc2217"
tcp_idle_timeout = "2m"
baud = 19200
data_bits = 7
parity = "even"
flow = "rtscts"
tcp_listen = "127.0.0.1:5001"
[[device]]
name = "sensor"
kind = "tcp"
address = "[fe80::1%eth0]:5000"
framing = "raw"
`))
	if err != nil {
		t.Fatal(err)
	}
	d := c.Devices[0]
	if d.Remote != (config.Remote{Address: "nport-3.plant.example:4001", Protocol: "rfc2217", IdleTimeout: 2 * time.Minute}) {
		t.Errorf("remote %+v", d.Remote)
	}
	// The device's own listener is raw, and its clients have no idle timeout.
	if d.Kind != "tcp" || d.TCPProtocol != "raw" || d.TCPIdleTimeout != 0 || d.TCPListen != "127.0.0.1:5001" {
		t.Errorf("device %+v", d)
	}
	if d.Baud != 19200 || d.DataBits != 7 || d.Parity != "even" || d.StopBits != 1 || d.Flow != "rtscts" || d.Path != "" {
		t.Errorf("line %d %d %s %d %s", d.Baud, d.DataBits, d.Parity, d.StopBits, d.Flow)
	}
	if s := c.Devices[1]; s.Remote != (config.Remote{Address: "[fe80::1%eth0]:5000", Protocol: "raw"}) || s.TCPProtocol != "raw" {
		t.Errorf("device %+v", s)
	}
}

func TestTCPAddress(t *testing.T) {
	for _, tc := range []struct {
		address string
		ok      bool
	}{
		{"192.168.1.50:4001", true},
		{"[::1]:1", true},
		{"[fe80::1%eth0]:65535", true},
		{"localhost:4001", true},
		{"nport_3.local.:4001", true},
		{"a-b.c:4001", true},
		{"", false},
		{"192.168.1.50", false},
		{"::1:4001", false},
		{":4001", false},
		{"host:", false},
		{"host:0", false},
		{"host:65536", false},
		{"host:telnet", false},
		{"-host:4001", false},
		{"host-.lan:4001", false},
		{"a..b:4001", false},
		{"a b:4001", false},
		{"tcp://host:4001", false},
		{"[host]:4001", false},
		{strings.Repeat("a", 64) + ".lan:4001", false},
	} {
		text := gateway + "[[device]]\nname = \"d\"\nkind = \"tcp\"\naddress = \"" + tc.address + "\"\n"
		_, err := config.Parse("t.toml", []byte(text))
		if tc.ok && err != nil {
			t.Errorf("%q: %v", tc.address, err)
		}
		if !tc.ok && (err == nil || !strings.Contains(err.Error(), "t.toml:6: device[0].address: ")) {
			t.Errorf("%q: %v, want an error at t.toml:6: device[0].address", tc.address, err)
		}
	}
}

// Every mistake on a kind = "tcp" device, or about one, is reported with
// the file, the line and the key.
func TestTCPDeviceErrors(t *testing.T) {
	const tcp = gateway + "[[device]]\nname = \"d\"\nkind = \"tcp\"\naddress = \"10.0.0.9:4001\"\n" // device[0] is lines 3 to 6
	const rfc2217 = tcp + "tcp_protocol = \"rfc2217\"\n"                                            // line 7
	for _, tc := range []struct {
		name, text string
		want       string
	}{
		{"no address", gateway + "[[device]]\nname = \"d\"\nkind = \"tcp\"\n", "t.toml:3: device[0].address: required for kind = \"tcp\""},
		{"bad address", gateway + "[[device]]\nname = \"d\"\nkind = \"tcp\"\naddress = \"10.0.0.9\"\n", "t.toml:6: device[0].address: \"10.0.0.9\": want host:port"},
		{"port 0", gateway + "[[device]]\nname = \"d\"\nkind = \"tcp\"\naddress = \"h:0\"\n", "t.toml:6: device[0].address: \"h:0\": port must be a number from 1 to 65535"},
		{"bad host", gateway + "[[device]]\nname = \"d\"\nkind = \"tcp\"\naddress = \"a b:1\"\n", "t.toml:6: device[0].address: \"a b:1\": \"a b\" is neither"},
		{"path", tcp + "path = \"/dev/ttyUSB0\"\n", "t.toml:7: device[0].path: a tcp device is reached at its address"},
		{"usb", tcp + "usb = \"067b:2303\"\n", "t.toml:7: device[0].usb: usb matching is for serial devices"},
		{"usb serial", tcp + "usb_serial = \"A1\"\n", "t.toml:7: device[0].usb_serial:"},
		{"bad protocol", tcp + "tcp_protocol = \"telnet\"\n", "t.toml:7: device[0].tcp_protocol: \"telnet\" is not one of raw, rfc2217"},
		{"negative idle", tcp + "tcp_idle_timeout = \"-1s\"\n", "t.toml:7: device[0].tcp_idle_timeout: -1s: must not be negative"},
		{"rfc2217 baud", rfc2217 + "baud = 0\n", "t.toml:8: device[0].baud: 0: want 1 to 2147483647"},
		{"rfc2217 baud beyond 32 bits", rfc2217 + "baud = 4294977296\n", "t.toml:8: device[0].baud: 4294977296: want 1 to 2147483647"},
		{"rfc2217 data bits", rfc2217 + "data_bits = 9\n", "t.toml:8: device[0].data_bits: 9: want 5, 6, 7 or 8"},
		{"rfc2217 parity", rfc2217 + "parity = \"E\"\n", "t.toml:8: device[0].parity: \"E\" is not one of none, even, odd, mark, space"},
		{"rfc2217 stop bits", rfc2217 + "stop_bits = 3\n", "t.toml:8: device[0].stop_bits: 3: want 1 or 2"},
		{"rfc2217 flow", rfc2217 + "flow = \"hardware\"\n", "t.toml:8: device[0].flow: \"hardware\" is not one of none, rtscts, xonxoff"},
		{"address on serial", minimal + "address = \"10.0.0.9:4001\"\n", "t.toml:8: device[0].address: is for kind = \"tcp\": a serial device"},
		{"address on file", gateway + "[[device]]\nname = \"f\"\nkind = \"file\"\npath = \"/run/f\"\naddress = \"h:1\"\n", "t.toml:7: device[0].address: is for kind = \"tcp\": a file device"},
		{"unknown kind", gateway + "[[device]]\nname = \"d\"\nkind = \"net\"\naddress = \"h:1\"\n", "t.toml:5: device[0].kind: \"net\" is not one of serial, file, tcp"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Parse("t.toml", []byte(tc.text))
			var errs config.Errors
			if !errors.As(err, &errs) || len(errs) != 1 {
				t.Fatalf("%v\nwant exactly one error", err)
			}
			if !strings.HasPrefix(errs[0].Error(), tc.want) {
				t.Errorf("error %q, want %q", errs[0], tc.want)
			}
		})
	}
}

// The line settings of a raw tcp device are not sent anywhere, so they are
// not checked: the line is set on the serial server itself.
func TestTCPRawLineIgnored(t *testing.T) {
	c, err := config.Parse("t.toml", []byte(gateway+"[[device]]\nname = \"d\"\nkind = \"tcp\"\naddress = \"h:1\"\nbaud = 0\n"))
	if err != nil {
		t.Fatal(err)
	}
	if d := c.Devices[0]; d.Remote.Protocol != "raw" {
		t.Errorf("remote %+v", d.Remote)
	}
}

// settingLine is a commented-out line of config.example.toml that is a
// setting: "# [[device]]" or "# key = value".
var settingLine = regexp.MustCompile(`^# (\[\[device\]\]|[a-z_]+ = )`)

// The example's commented-out devices are valid once uncommented.
func TestExampleTCPDevices(t *testing.T) {
	data, err := os.ReadFile("../config.example.toml")
	if err != nil {
		t.Fatal(err)
	}
	var blocks []string
	for _, block := range strings.Split(string(data), "\n\n") {
		if !strings.Contains(block, "# kind = \"tcp\"") {
			continue
		}
		var b strings.Builder
		for _, line := range strings.Split(block, "\n") {
			if settingLine.MatchString(line) {
				b.WriteString(strings.TrimPrefix(line, "# ") + "\n")
			}
		}
		blocks = append(blocks, b.String())
	}
	if len(blocks) != 2 {
		t.Fatalf("%d commented tcp devices in the example, want 2", len(blocks))
	}
	c, err := config.Parse("example.toml", []byte(gateway+strings.Join(blocks, "\n")))
	if err != nil {
		t.Fatalf("%v\n%s", err, strings.Join(blocks, "\n"))
	}
	if d := c.Devices[0]; d.Remote.Protocol != "rfc2217" {
		t.Errorf("first example: remote %+v, want rfc2217", d.Remote)
	}
	if d := c.Devices[1]; d.Remote.Protocol != "raw" {
		t.Errorf("second example: remote %+v, want raw", d.Remote)
	}
}
