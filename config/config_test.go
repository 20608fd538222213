package config_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iogate/iogate/config"
)

const minimal = `
[gateway]
id = "edge-01"

[[device]]
name = "gps"
path = "/dev/ttyUSB0"
`

func TestDefaults(t *testing.T) {
	c, err := config.Parse("test.toml", []byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	if c.Gateway.StateDir != "/var/lib/iogate" || c.Gateway.Poller != "auto" {
		t.Errorf("gateway %+v", c.Gateway)
	}
	m := c.MQTT
	if m.Kind != config.BrokerRemote || m.Address != "127.0.0.1:1883" || m.TLS || m.ClientID != "iogate-edge-01" ||
		m.TopicPrefix != "iogate/edge-01" || m.QoS != 1 || m.Keepalive != 30*time.Second {
		t.Errorf("mqtt %+v", m)
	}
	if c.Spool.MaxBytes != 64<<20 || c.Spool.Overflow != "drop-oldest" {
		t.Errorf("spool %+v", c.Spool)
	}
	if c.Metrics.Listen != "" || c.Metrics.StatsInterval != time.Minute {
		t.Errorf("metrics %+v", c.Metrics)
	}
	if len(c.Devices) != 1 {
		t.Fatalf("%d devices", len(c.Devices))
	}
	d := c.Devices[0]
	want := config.Device{
		Name: "gps", Kind: "serial", Path: "/dev/ttyUSB0", Baud: 9600, DataBits: 8, Parity: "none",
		StopBits: 1, Flow: "none", Framing: "line", Delimiter: []byte("\n"), IdleGap: 5 * time.Millisecond,
		MaxFrame: 4096, Encoding: "text", Publish: true, TCPMaxClients: 4, TCPOverflow: "refuse", TCPProtocol: "raw",
		ReconnectMin: 100 * time.Millisecond, ReconnectMax: 30 * time.Second,
		ModbusTimeout: 500 * time.Millisecond, ModbusRetries: 2,
	}
	if fmt.Sprintf("%+v", d) != fmt.Sprintf("%+v", want) {
		t.Errorf("device\n got %+v\nwant %+v", d, want)
	}
}

func TestValues(t *testing.T) {
	c, err := config.Parse("test.toml", []byte(`
[gateway]
id = "box_7"
[mqtt]
broker = "ssl://broker.example:8884"
topic_prefix = "plant/{gateway}/io"
keepalive = "1m30s"
qos = 0
[metrics]
listen = "127.0.0.1:9108"
stats_interval = "15s"
[spool]
max_bytes = "512KiB"
[[device]]
name = "meter"
usb = "067B:2303"
usb_serial = "A1"
baud = 250000
parity = "mark"
framing = "delimiter"
delimiter = "\r\n"
publish = false
tcp_listen = "0.0.0.0:4001"
tcp_overflow = "kick-oldest"
tcp_protocol = "rfc2217"
tcp_idle_timeout = "10m"
tcp_allow = ["192.168.1.0/24", "10.0.0.7"]
[[device]]
name = "fifo"
kind = "file"
path = "/run/sensor.fifo"
framing = "fixed"
frame_size = 16
`))
	if err != nil {
		t.Fatal(err)
	}
	if c.MQTT.Address != "broker.example:8884" || !c.MQTT.TLS || c.MQTT.TopicPrefix != "plant/box_7/io" ||
		c.MQTT.Keepalive != 90*time.Second || c.MQTT.QoS != 0 {
		t.Errorf("mqtt %+v", c.MQTT)
	}
	if c.Metrics.Listen != "127.0.0.1:9108" || c.Metrics.StatsInterval != 15*time.Second {
		t.Errorf("metrics %+v", c.Metrics)
	}
	if c.Spool.MaxBytes != 512<<10 {
		t.Errorf("max_bytes %d", c.Spool.MaxBytes)
	}
	d := c.Devices[0]
	if d.USB != "067b:2303" || d.Baud != 250000 || string(d.Delimiter) != "\r\n" || d.Publish || d.TCPListen != "0.0.0.0:4001" {
		t.Errorf("device %+v", d)
	}
	if d.TCPOverflow != "kick-oldest" || d.TCPProtocol != "rfc2217" || d.TCPIdleTimeout != 10*time.Minute ||
		fmt.Sprint(d.TCPAllow) != "[192.168.1.0/24 10.0.0.7/32]" {
		t.Errorf("tcp settings %v %v %v", d.TCPOverflow, d.TCPIdleTimeout, d.TCPAllow)
	}
	if f := c.Devices[1]; f.Kind != "file" || f.FrameSize != 16 {
		t.Errorf("device %+v", f)
	}
}

func TestBrokers(t *testing.T) {
	for _, tc := range []struct{ broker, kind, addr string }{
		{"tcp://10.0.0.5", config.BrokerRemote, "10.0.0.5:1883"},
		{"mqtt://[::1]:1884", config.BrokerRemote, "[::1]:1884"},
		{"ssl://b.example", config.BrokerRemote, "b.example:8883"},
		{"embedded", config.BrokerEmbedded, "127.0.0.1:1883"},
		{"none", config.BrokerNone, ""},
	} {
		c, err := config.Parse("t.toml", []byte(fmt.Sprintf("[gateway]\nid = \"g\"\n[mqtt]\nbroker = %q\n", tc.broker)))
		if err != nil {
			t.Errorf("%s: %v", tc.broker, err)
			continue
		}
		if c.MQTT.Kind != tc.kind || c.MQTT.Address != tc.addr {
			t.Errorf("%s: kind %s address %s", tc.broker, c.MQTT.Kind, c.MQTT.Address)
		}
	}
}

// Every bad value is reported with the file, the line and the key.
func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       []string
	}{
		{"syntax", "[gateway]\nid = \"g\nx", []string{"t.toml:2:"}},
		{"unknown top key", "[gateway]\nid = \"g\"\n[mqtt]\nbrokr = \"tcp://x\"\n", []string{"t.toml:4: mqtt.brokr: unknown key"}},
		{"unknown table", "[gateway]\nid = \"g\"\n[gatway]\nid = \"x\"\n", []string{"t.toml:3: gatway: unknown table"}},
		{"unknown device key", minimal + "\n[[device]]\nname = \"b\"\npath = \"/dev/x\"\nbuad = 9600\n", []string{"t.toml:12: device[1].buad: unknown key"}},
		{"wrong type", "[gateway]\nid = \"g\"\n[mqtt]\nqos = \"1\"\n", []string{"t.toml:4: mqtt.qos:", "incompatible types"}},
		{"wrong type in device", minimal + "baud = \"fast\"\n", []string{"t.toml:8: device[0].baud:", "incompatible types"}},
		{"bad duration", "[gateway]\nid = \"g\"\n[mqtt]\nkeepalive = \"30 seconds\"\n", []string{"t.toml:4: mqtt.keepalive:", "duration"}},
		{"duration as number", "[gateway]\nid = \"g\"\n[mqtt]\nkeepalive = 30\n", []string{"t.toml:4: mqtt.keepalive:", "duration string"}},
		{"bad size", "[gateway]\nid = \"g\"\n[spool]\nmax_bytes = \"lots\"\n", []string{"t.toml:4: spool.max_bytes:", "size"}},
		{"missing id", "[gateway]\nstate_dir = \"/tmp\"\n", []string{"t.toml:1: gateway.id: required"}},
		{"id with slash", "[gateway]\nid = \"a/b\"\n", []string{"t.toml:2: gateway.id: \"a/b\""}},
		{"device name wildcard", "[gateway]\nid = \"g\"\n[[device]]\nname = \"x+\"\npath = \"/dev/x\"\n", []string{"t.toml:4: device[0].name: \"x+\""}},
		{"duplicate names", minimal + "[[device]]\nname = \"gps\"\npath = \"/dev/y\"\n", []string{"t.toml:9: device[1].name: \"gps\" is already the name of device[0]"}},
		{"duplicate listen", minimal + "tcp_listen = \"127.0.0.1:4001\"\n[[device]]\nname = \"b\"\npath = \"/dev/y\"\ntcp_listen = \"127.0.0.1:4001\"\n", []string{"t.toml:12: device[1].tcp_listen: 127.0.0.1:4001 is already taken by device[0].tcp_listen"}},
		{"no path", "[gateway]\nid = \"g\"\n[[device]]\nname = \"x\"\n", []string{"t.toml:3: device[0].path: a serial device needs a path"}},
		{"bad usb", "[gateway]\nid = \"g\"\n[[device]]\nname = \"x\"\nusb = \"67b:2303\"\n", []string{"t.toml:5: device[0].usb:"}},
		{"fixed without size", minimal + "framing = \"fixed\"\n", []string{"device[0].frame_size:"}},
		{"line delimiter", minimal + "delimiter = \";\"\n", []string{"t.toml:8: device[0].delimiter:", "framing = \"delimiter\""}},
		{"bad enum", minimal + "parity = \"even-ish\"\n", []string{"t.toml:8: device[0].parity: \"even-ish\" is not one of none, even, odd, mark, space"}},
		{"prefix wildcard", "[gateway]\nid = \"g\"\n[mqtt]\ntopic_prefix = \"a/#\"\n", []string{"t.toml:4: mqtt.topic_prefix:"}},
		{"bad broker", "[gateway]\nid = \"g\"\n[mqtt]\nbroker = \"http://x\"\n", []string{"t.toml:4: mqtt.broker:", "http"}},
		{"listen without host", minimal + "tcp_listen = \":4001\"\n", []string{"t.toml:8: device[0].tcp_listen:", "0.0.0.0"}},
		{"bad protocol", minimal + "tcp_protocol = \"telnet\"\n", []string{"t.toml:8: device[0].tcp_protocol: \"telnet\" is not one of raw, rfc2217"}},
		{"rfc2217 on a file", "[gateway]\nid = \"g\"\n[[device]]\nname = \"f\"\nkind = \"file\"\npath = \"/run/f\"\ntcp_protocol = \"rfc2217\"\n", []string{"t.toml:7: device[0].tcp_protocol: rfc2217"}},
		{"bad overflow", minimal + "tcp_overflow = \"kick\"\n", []string{"t.toml:8: device[0].tcp_overflow:"}},
		{"bad allow", minimal + "tcp_allow = [\"10.0.0.0/8\", \"nope\"]\n", []string{"t.toml:8: device[0].tcp_allow: \"nope\""}},
		{"stats too often", "[gateway]\nid = \"g\"\n[metrics]\nstats_interval = \"100ms\"\n", []string{"t.toml:4: metrics.stats_interval: 100ms: want 1s to 24h"}},
		{"metrics listen", "[gateway]\nid = \"g\"\n[metrics]\nlisten = \"9108\"\n", []string{"t.toml:4: metrics.listen:"}},
		{"reconnect order", minimal + "reconnect_min = \"5s\"\nreconnect_max = \"1s\"\n", []string{"t.toml:9: device[0].reconnect_max:"}},
		{"broker reconnect order", "[gateway]\nid = \"g\"\n[mqtt]\nreconnect_min = \"5s\"\nreconnect_max = \"1s\"\n", []string{"t.toml:5: mqtt.reconnect_max: 1s: must not be less than reconnect_min (5s)"}},
		{"syntax at end of line", "[gateway]\nid = \"g\"\n[[device]\nname = \"x\"\n", []string{"t.toml:3: expected end of table array"}},
		{"type error in device alone", minimal + "baud = \"fast\"\nencoding = \"hex\"\n", []string{"t.toml:8: device[0].baud:"}},
		{"missing id alone", "[gateway]\nstate_dir = \"/tmp\"\n", []string{"t.toml:1: gateway.id: required"}},
		{"all at once", "[gateway]\nid = \"\"\n[log]\nlevel = \"loud\"\n[mqtt]\nqos = 2\n", []string{"gateway.id", "t.toml:4: log.level", "t.toml:6: mqtt.qos"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Parse("t.toml", []byte(tc.text))
			if err == nil {
				t.Fatal("accepted")
			}
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Fatalf("%v is not a *config.Error", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// A password is read from its file or the environment and never printed.
func TestPasswordIsSecret(t *testing.T) {
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwFile, []byte("hunter2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := config.Parse("t.toml", []byte(fmt.Sprintf("[gateway]\nid = \"g\"\n[mqtt]\nusername = \"u\"\npassword_file = %q\n", pwFile)))
	if err != nil {
		t.Fatal(err)
	}
	if string(c.MQTT.Password) != "hunter2" {
		t.Fatalf("password %q", string(c.MQTT.Password))
	}
	for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
		if out := fmt.Sprintf(f, c); strings.Contains(out, "hunter2") {
			t.Errorf("%s prints the password: %s", f, out)
		}
	}
	t.Setenv(config.PasswordEnv, "from-env")
	c, err = config.Parse("t.toml", []byte("[gateway]\nid = \"g\"\n"))
	if err != nil || string(c.MQTT.Password) != "from-env" {
		t.Fatalf("env password: %v %q", err, string(c.MQTT.Password))
	}
	_, err = config.Parse("t.toml", []byte("[gateway]\nid = \"g\"\n[mqtt]\npassword_file = \"/nonexistent/pw\"\n"))
	if err == nil || !strings.Contains(err.Error(), "t.toml:4: mqtt.password_file:") {
		t.Fatalf("missing password file: %v", err)
	}
}

// The shipped example is valid and documents every key the loader knows.
func TestExampleIsValid(t *testing.T) {
	c, err := config.Load("../config.example.toml")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Devices) == 0 {
		t.Fatal("the example has no device")
	}
}

// One mistake is one error: nothing the decoder did not reach, and nothing
// derived from the mistaken value, is reported besides it.
func TestOneMistakeOneError(t *testing.T) {
	for _, text := range []string{
		minimal + "baud = \"fast\"\nencoding = \"hex\"\nwritable = true\n",
		"[gateway]\nstate_dir = \"/tmp\"\n",
		"[gateway]\nid = \"g\"\n[mqqt]\nqos = 1\nbroker = \"x\"\n",
		"[gateway]\nid = \"g\"\n[[device]\nname = \"x\"\n",
	} {
		_, err := config.Parse("t.toml", []byte(text))
		var errs config.Errors
		if !errors.As(err, &errs) || len(errs) != 1 {
			t.Errorf("%q:\n%v\nwant exactly one error", text, err)
		}
	}
}
