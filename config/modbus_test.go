package config_test

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/iogate/iogate/config"
	"github.com/iogate/iogate/modbus"
)

// bus is a config with one Modbus RTU device: dev adds keys to its
// [[device]] table, and slaves follows it (a slave with one point when
// empty).
func bus(dev, slaves string) string {
	if slaves == "" {
		slaves = "[[device.slave]]\nid = 1\nname = \"meter\"\n[[device.slave.point]]\nname = \"voltage\"\ntable = \"input\"\naddress = 0\ntype = \"float32\"\n"
	}
	return "[gateway]\nid = \"g\"\n[[device]]\nname = \"bus\"\npath = \"/dev/ttyUSB1\"\nprotocol = \"modbus-rtu\"\n" + dev + slaves
}

// point is a slave with one point given by keys.
func point(keys string) string {
	return "[[device.slave]]\nid = 1\nname = \"meter\"\n[[device.slave.point]]\nname = \"p\"\n" + keys
}

// lineOf is the line of the first line of text that contains marker.
func lineOf(text, marker string) int {
	for i, line := range strings.Split(text, "\n") {
		if strings.Contains(line, marker) {
			return i + 1
		}
	}
	return 0
}

// errorCase is a config that is refused with an error naming the file,
// the line that holds marker, and want ("key: message"). An empty marker
// expects no line.
type errorCase struct {
	name, text, marker, want string
}

func checkErrors(t *testing.T, cases []errorCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Parse("t.toml", []byte(tc.text))
			if err == nil {
				t.Fatal("accepted")
			}
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Fatalf("%v is not a *config.Error", err)
			}
			want := "t.toml: " + tc.want
			if tc.marker != "" {
				n := lineOf(tc.text, tc.marker)
				if n == 0 {
					t.Fatalf("no line holds %q", tc.marker)
				}
				want = fmt.Sprintf("t.toml:%d: %s", n, tc.want)
			}
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error\n%v\ndoes not say\n%s", err, want)
			}
		})
	}
}

func TestModbus(t *testing.T) {
	c, err := config.Parse("t.toml", []byte(bus(`baud = 19200
parity = "even"
rs485 = true
modbus_timeout = "250ms"
modbus_retries = 0
modbus_pause = "5ms"
modbus_tcp_listen = "127.0.0.1:5020"
framing = "fixed"
`, `[[device.slave]]
id = 1
name = "meter"
every = "2s"
[[device.slave.point]]
name = "voltage"
table = "input"
address = 0x0000
type = "float32"
unit = "V"
device_class = "voltage"
state_class = "measurement"
[[device.slave.point]]
name = "energy"
table = "input"
address = 0x0048
type = "float32"
order = "CDAB"
scale = 0.001
offset = -1
[[device.slave.point]]
name = "setpoint"
table = "holding"
address = 40
writable = true
scale = 0.1
[[device.slave.point]]
name = "relay"
table = "coil"
address = 3
writable = true
[[device.slave.point]]
name = "model"
table = "holding"
address = 100
type = "string"
count = 8
[[device.slave]]
id = 247
name = "inverter"
[[device.slave.point]]
name = "voltage"
table = "discrete"
address = 65535
`)))
	if err != nil {
		t.Fatal(err)
	}
	d := c.Devices[0]
	if d.Protocol != config.ProtocolModbusRTU || !d.RS485 || d.ModbusTimeout != 250*time.Millisecond || d.ModbusRetries != 0 ||
		d.ModbusPause != 5*time.Millisecond || d.ModbusTCPListen != "127.0.0.1:5020" || d.Baud != 19200 {
		t.Errorf("device %+v", d)
	}
	if len(d.Slaves) != 2 {
		t.Fatalf("%d slaves", len(d.Slaves))
	}
	s := d.Slaves[0]
	if s.ID != 1 || s.Name != "meter" || s.Every != 2*time.Second || len(s.Points) != 5 {
		t.Fatalf("slave %+v", s)
	}
	want := []config.Point{
		{Name: "voltage", Point: modbus.Point{Table: modbus.Input, Address: 0, Type: modbus.Float32, Scale: 1},
			Unit: "V", DeviceClass: "voltage", StateClass: "measurement"},
		{Name: "energy", Point: modbus.Point{Table: modbus.Input, Address: 0x48, Type: modbus.Float32, Order: modbus.CDAB, Scale: 0.001, Offset: -1}},
		{Name: "setpoint", Point: modbus.Point{Table: modbus.Holding, Address: 40, Type: modbus.Uint16, Scale: 0.1}, Writable: true},
		{Name: "relay", Point: modbus.Point{Table: modbus.Coil, Address: 3, Type: modbus.Bool, Scale: 1}, Writable: true},
		{Name: "model", Point: modbus.Point{Table: modbus.Holding, Address: 100, Type: modbus.String, Count: 8, Scale: 1}},
	}
	for i, p := range s.Points {
		if p != want[i] {
			t.Errorf("point %d\n got %+v\nwant %+v", i, p, want[i])
		}
	}
	s = d.Slaves[1]
	if s.ID != 247 || s.Every != 5*time.Second || s.Points[0].Point != (modbus.Point{Table: modbus.Discrete, Address: 65535, Type: modbus.Bool, Scale: 1}) {
		t.Errorf("slave %+v", s)
	}
	// What the config holds, the modbus package plans.
	var points []modbus.Point
	for _, p := range d.Slaves[0].Points {
		points = append(points, p.Point)
	}
	if reads, err := modbus.Plan(d.Slaves[0].ID, points); err != nil || len(reads) != 5 {
		t.Errorf("plan: %d reads, %v", len(reads), err)
	}

	// A stream device keeps the Modbus defaults, and no slaves.
	c, err = config.Parse("t.toml", []byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	if d := c.Devices[0]; d.Protocol != config.ProtocolStream || d.ModbusTimeout != 500*time.Millisecond || d.ModbusRetries != 2 || d.Slaves != nil {
		t.Errorf("stream device %+v", d)
	}
}

func TestModbusErrors(t *testing.T) {
	checkErrors(t, []errorCase{
		{"protocol", strings.Replace(bus("", ""), "modbus-rtu", "modbus", 1), "protocol =",
			`device[0].protocol: "modbus" is not one of "" (a byte stream), modbus-rtu, modbus-tcp`},
		{"modbus-tcp on a serial port", strings.Replace(bus("", ""), "modbus-rtu", "modbus-tcp", 1), "protocol =",
			`device[0].protocol: "modbus-tcp" is for a Modbus TCP device, kind = "tcp"`},
		{"no slaves", bus("", "\n"), "protocol =", `device[0].protocol: protocol = "modbus-rtu" needs at least one [[device.slave]]`},
		{"rs485 on a file", "[gateway]\nid = \"g\"\n[[device]]\nname = \"f\"\nkind = \"file\"\npath = \"/run/f\"\nrs485 = true\n", "rs485",
			`device[0].rs485: the kernel's RS-485 mode is a serial port's; kind = "file" has none`},
		{"timeout", bus("modbus_timeout = \"0s\"\n", ""), "modbus_timeout", "device[0].modbus_timeout: 0s: must be more than 0"},
		{"retries", bus("modbus_retries = 11\n", ""), "modbus_retries", "device[0].modbus_retries: 11: want 0 to 10"},
		{"pause", bus("modbus_pause = \"-1s\"\n", ""), "modbus_pause", "device[0].modbus_pause: -1s: must not be negative"},
		{"listen", bus("modbus_tcp_listen = \":5020\"\n", ""), "modbus_tcp_listen", `device[0].modbus_tcp_listen: ":5020": name the address`},
		{"listen port", bus("modbus_tcp_listen = \"127.0.0.1:x\"\n", ""), "modbus_tcp_listen", `device[0].modbus_tcp_listen: "127.0.0.1:x": port must be a number`},
		{"listen taken", "[gateway]\nid = \"g\"\n[metrics]\nlisten = \"127.0.0.1:5020\"\n" + strings.TrimPrefix(bus("modbus_tcp_listen = \"127.0.0.1:5020\"\n", ""), "[gateway]\nid = \"g\"\n"),
			"modbus_tcp_listen", "device[0].modbus_tcp_listen: 127.0.0.1:5020 is already taken by metrics.listen"},
		{"listen taken by a device", minimal + "tcp_listen = \"127.0.0.1:4001\"\n" + strings.TrimPrefix(bus("modbus_tcp_listen = \"127.0.0.1:4001\"\n", ""), "[gateway]\nid = \"g\"\n"),
			"modbus_tcp_listen", "device[1].modbus_tcp_listen: 127.0.0.1:4001 is already taken by device[0].tcp_listen"},
		{"raw tcp on a bus", bus("tcp_listen = \"127.0.0.1:4001\"\n", ""), "tcp_listen", "device[0].tcp_listen: raw TCP access is for byte streams"},
		{"modbus keys on a stream", minimal + "modbus_retries = 3\nmodbus_tcp_listen = \"127.0.0.1:5020\"\n", "modbus_retries",
			`device[0].modbus_retries: is for protocol = "modbus-rtu" or "modbus-tcp"`},
		{"modbus listen on a stream", minimal + "modbus_retries = 3\nmodbus_tcp_listen = \"127.0.0.1:5020\"\n", "modbus_tcp_listen",
			`device[0].modbus_tcp_listen: is for protocol`},
		{"slaves on a stream", minimal + "[[device.slave]]\nid = 1\nname = \"m\"\n", "[[device.slave]]",
			`device[0].slave[0]: slaves need protocol = "modbus-rtu"`},
		{"polls on a bus", bus("", "") + "[[device.poll]]\nname = \"p\"\nsend = \"x\"\nevery = \"1s\"\n", "[[device.poll]]",
			"device[0].poll[0]: polls are for byte streams; a Modbus device reads points"},

		{"slave id missing", bus("", "[[device.slave]]\nname = \"m\"\n"), "[[device.slave]]", "device[0].slave[0].id: required: the slave's address, 1 to 247"},
		{"slave id 0", bus("", "[[device.slave]]\nid = 0\nname = \"m\"\n"), "id = 0", "device[0].slave[0].id: 0: want 1 to 247 (0 is broadcast"},
		{"slave id 248", bus("", "[[device.slave]]\nid = 248\nname = \"m\"\n"), "id = 248", "device[0].slave[0].id: 248: want 1 to 247"},
		{"slave id twice", bus("", "[[device.slave]]\nid = 3\nname = \"a\"\n[[device.slave]]\nid = 3 # again\nname = \"b\"\n"), "# again",
			"device[0].slave[1].id: 3 is already the id of slave[0]"},
		{"slave name missing", bus("", "[[device.slave]]\nid = 1\n"), "[[device.slave]]", "device[0].slave[0].name: required"},
		{"slave name reserved", bus("", "[[device.slave]]\nid = 1\nname = \"status\"\n"), `name = "status"`,
			`device[0].slave[0].name: "status" is a topic of the gateway's own here; not one of rx, tx, status, error, request, reply`},
		{"slave name level", bus("", "[[device.slave]]\nid = 1\nname = \"a/b\"\n"), `name = "a/b"`, `device[0].slave[0].name: "a/b": want 1 to 64`},
		{"slave name twice", bus("", "[[device.slave]]\nid = 1\nname = \"m\"\n[[device.slave]]\nid = 2\nname = \"m\" # again\n"), "# again",
			`device[0].slave[1].name: "m" is already the name of device[0].slave[0]`},
		{"slave named as a poll", bus("[[device.poll]]\nname = \"meter\"\nsend = \"x\"\nevery = \"1s\"\n", "[[device.slave]]\nid = 1\nname = \"meter\" # again\n"), "# again",
			`device[0].slave[0].name: "meter" is already the name of device[0].poll[0]`},
		{"slave every", bus("", "[[device.slave]]\nid = 1\nname = \"m\"\nevery = \"1ms\"\n"), "every", "device[0].slave[0].every: 1ms: want at least 10ms"},

		{"point type", bus("", point("table = \"holding\"\naddress = 0\ntype = \"uint8\"\n")), "uint8",
			`device[0].slave[0].point[0].type: "uint8" is not one of bool, int16, uint16, int32, uint32, int64, uint64, float32, float64, string`},
		{"point table", bus("", point("table = \"register\"\naddress = 0\n")), "register",
			`device[0].slave[0].point[0].table: "register" is not one of coil, discrete, input, holding`},
		{"point table missing", bus("", point("address = 0\n")), "[[device.slave.point]]", `device[0].slave[0].point[0].table: required: one of coil`},
		{"bool register", bus("", point("table = \"holding\"\naddress = 0\ntype = \"bool\"\n")), `"bool"`,
			`device[0].slave[0].point[0].type: "bool" is for coil and discrete points`},
		{"coil number", bus("", point("table = \"coil\"\naddress = 0\ntype = \"uint16\"\n")), `"uint16"`,
			`device[0].slave[0].point[0].type: "uint16": a coil point is a bool`},
		{"order of a register", bus("", point("table = \"input\"\naddress = 0\ntype = \"int16\"\norder = \"CDAB\"\n")), "order",
			`device[0].slave[0].point[0].order: "CDAB" is for 32- and 64-bit types; "int16" has no words to order`},
		{"order", bus("", point("table = \"input\"\naddress = 0\ntype = \"int32\"\norder = \"cdab\"\n")), "order",
			`device[0].slave[0].point[0].order: "cdab" is not one of ABCD, CDAB, BADC, DCBA`},
		{"string without count", bus("", point("table = \"input\"\naddress = 0\ntype = \"string\"\n")), "[[device.slave.point]]",
			"device[0].slave[0].point[0].count: 0: a string needs its length in registers, 1 to 125"},
		{"string too long", bus("", point("table = \"input\"\naddress = 0\ntype = \"string\"\ncount = 126\n")), "count",
			"device[0].slave[0].point[0].count: 126: a string needs its length in registers, 1 to 125"},
		{"count of a number", bus("", point("table = \"input\"\naddress = 0\ncount = 2\n")), "count",
			`device[0].slave[0].point[0].count: 2: count is the length of a string; "uint16" has its own`},
		{"address missing", bus("", point("table = \"input\"\n")), "[[device.slave.point]]",
			"device[0].slave[0].point[0].address: required: the 0-based address"},
		{"address", bus("", point("table = \"input\"\naddress = 65536\n")), "address",
			"device[0].slave[0].point[0].address: 65536: want 0 to 65535"},
		{"address negative", bus("", point("table = \"input\"\naddress = -1\n")), "address",
			"device[0].slave[0].point[0].address: -1: want 0 to 65535"},
		{"address past the end", bus("", point("table = \"input\"\naddress = 65535\ntype = \"float32\"\n")), "address",
			`device[0].slave[0].point[0].address: 65535: float32 takes 2 registers, past 65535`},
		{"scale 0", bus("", point("table = \"input\"\naddress = 0\nscale = 0\n")), "scale", "device[0].slave[0].point[0].scale: must not be 0"},
		{"scale inf", bus("", point("table = \"input\"\naddress = 0\nscale = inf\n")), "scale", "device[0].slave[0].point[0].scale: +Inf: must be a finite number"},
		{"offset nan", bus("", point("table = \"input\"\naddress = 0\noffset = nan\n")), "offset", "device[0].slave[0].point[0].offset: NaN: must be a finite number"},
		{"writable input", bus("", point("table = \"input\"\naddress = 0\nwritable = true\n")), "writable",
			"device[0].slave[0].point[0].writable: a input point is read-only: only holding and coil points can be written"},
		{"point name missing", bus("", "[[device.slave]]\nid = 1\nname = \"m\"\n[[device.slave.point]]\ntable = \"input\"\naddress = 0\n"), "[[device.slave.point]]",
			"device[0].slave[0].point[0].name: required"},
		{"point name set", bus("", "[[device.slave]]\nid = 1\nname = \"m\"\n[[device.slave.point]]\nname = \"set\"\ntable = \"input\"\naddress = 0\n"), `"set"`,
			`device[0].slave[0].point[0].name: "set" is a topic of the gateway's own here; not one of rx, tx, status, error, request, reply, set`},
		{"point name twice", bus("", point("table = \"input\"\naddress = 0\n[[device.slave.point]]\nname = \"p\" # again\ntable = \"input\"\naddress = 1\n")), "# again",
			`device[0].slave[0].point[1].name: "p" is already the name of device[0].slave[0].point[0]`},
		{"overlap", bus("", point("table = \"holding\"\naddress = 10\ntype = \"uint32\"\n[[device.slave.point]]\nname = \"q\"\ntable = \"holding\"\naddress = 11\n")), "address = 11",
			`device[0].slave[0].point[1].address: holding register 11 overlaps point[0] "p" (holding registers 10 to 11)`},
		{"overlap before", bus("", point("table = \"coil\"\naddress = 7\n[[device.slave.point]]\nname = \"q\"\ntable = \"coil\"\naddress = 7 # again\n")), "# again",
			`device[0].slave[0].point[1].address: coil 7 overlaps point[0] "p" (coil 7)`},
	})
}

// Tables of the same addresses do not overlap, nor do points of other slaves.
func TestModbusNoOverlap(t *testing.T) {
	_, err := config.Parse("t.toml", []byte(bus("", `[[device.slave]]
id = 1
name = "a"
[[device.slave.point]]
name = "h"
table = "holding"
address = 10
type = "float64"
[[device.slave.point]]
name = "i"
table = "input"
address = 10
[[device.slave.point]]
name = "c"
table = "coil"
address = 10
[[device.slave.point]]
name = "d"
table = "discrete"
address = 10
[[device.slave.point]]
name = "next"
table = "holding"
address = 14
[[device.slave]]
id = 2
name = "b"
[[device.slave.point]]
name = "h"
table = "holding"
address = 10
type = "float64"
`)))
	if err != nil {
		t.Fatal(err)
	}
}

// Unknown keys and wrong types inside nested tables name their line and
// their place, and nothing besides.
func TestModbusUnknownKeys(t *testing.T) {
	two := bus("", point("table = \"input\"\naddress = 0\n")) + "[[device]]\nname = \"b2\"\npath = \"/dev/ttyUSB2\"\nprotocol = \"modbus-rtu\"\n" + point("table = \"input\"\naddress = 0\ntpye = \"x\"\n")
	checkErrors(t, []errorCase{
		{"in a point", bus("", point("table = \"input\"\naddress = 0\ntyep = \"float32\"\n")), "tyep", "device[0].slave[0].point[0].tyep: unknown key"},
		{"in a slave", bus("", "[[device.slave]]\nid = 1\nname = \"m\"\nevry = \"1s\"\n"), "evry", "device[0].slave[0].evry: unknown key"},
		{"in a poll", minimal + "[[device.poll]]\nname = \"p\"\nsend = \"x\"\nevery = \"1s\"\nsned = \"y\"\n", "sned", "device[0].poll[0].sned: unknown key"},
		{"in the second device", two, "tpye", "device[1].slave[0].point[0].tpye: unknown key"},
		{"an unknown array", bus("", "") + "[[device.slaves]]\nid = 2\n", "[[device.slaves]]", "device[0].slaves[0]: unknown table"},
		{"an unknown table", bus("", "") + "[device.slave.point.extra]\nk = 1\n", "[device.slave.point.extra]", "device[0].slave[0].point[0].extra: unknown table"},
		{"wrong type", bus("", point("table = \"input\"\naddress = \"0x10\"\n")), "address", "device[0].slave[0].point[0].address:"},
		{"wrong type of a slave", bus("", "[[device.slave]]\nid = \"one\"\nname = \"m\"\n"), `id = "one"`, "device[0].slave[0].id:"},
		{"slave not an array", bus("", "slave = 3\n"), "slave = 3", "device[0].slave:"},
	})
	// The same unknown key in two points is reported at both.
	text := bus("", point("table = \"input\"\naddress = 0\nfoo = 1\n[[device.slave.point]]\nname = \"q\"\ntable = \"input\"\naddress = 1\nfoo = 2\n"))
	_, err := config.Parse("t.toml", []byte(text))
	for _, want := range []string{
		fmt.Sprintf("t.toml:%d: device[0].slave[0].point[0].foo: unknown key", lineOf(text, "foo = 1")),
		fmt.Sprintf("t.toml:%d: device[0].slave[0].point[1].foo: unknown key", lineOf(text, "foo = 2")),
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not say %s", err, want)
		}
	}
	// One mistake, one error: a point that does not decode hides nothing
	// else and adds nothing.
	for _, text := range []string{
		bus("", point("table = \"input\"\naddress = \"0x10\"\ntype = \"float32\"\nunit = \"V\"\nscale = 0.1\n")),
		bus("", "[[device.slave]]\nid = \"one\"\nname = \"m\"\nevery = \"1s\"\n[[device.slave.point]]\nname = \"p\"\ntable = \"input\"\naddress = 0\n"),
		bus("", point("table = \"input\"\naddress = 0\ntyep = \"float32\"\n")),
	} {
		_, err := config.Parse("t.toml", []byte(text))
		var errs config.Errors
		if !errors.As(err, &errs) || len(errs) != 1 {
			t.Errorf("%s\n%v\nwant exactly one error", text, err)
		}
	}
}

// A Modbus device ignores its framing, whatever it says.
func TestModbusIgnoresFraming(t *testing.T) {
	if _, err := config.Parse("t.toml", []byte(bus("framing = \"fixed\"\ndelimiter = \"\"\n", ""))); err != nil {
		t.Error(err)
	}
}

// The commented Modbus example of config.example.toml is valid once
// uncommented, with the Eastron SDM120's registers.
func TestExampleModbus(t *testing.T) {
	example, err := os.ReadFile("../config.example.toml")
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile(`(?s)# --- Modbus RTU example ---\n(.*?)# --- end ---`).FindSubmatch(example)
	if block == nil {
		t.Fatal("no Modbus example in config.example.toml")
	}
	c, err := config.Parse("example", []byte("[gateway]\nid = \"g\"\n"+uncomment(block[1])))
	if err != nil {
		t.Fatal(err)
	}
	d := c.Devices[0]
	if d.Protocol != config.ProtocolModbusRTU || len(d.Slaves) != 1 {
		t.Fatalf("device %+v", d)
	}
	addrs := map[string]uint16{}
	for _, p := range d.Slaves[0].Points {
		if p.Table != modbus.Input || p.Type != modbus.Float32 {
			t.Errorf("%s: %s %s", p.Name, p.Table, p.Type)
		}
		addrs[p.Name] = p.Address
	}
	if fmt.Sprint(addrs) != "map[current:6 energy:72 frequency:70 power:12 voltage:0]" {
		t.Errorf("SDM120 registers %v", addrs)
	}

	// And so is its commented poll.
	poll := regexp.MustCompile(`(?s)\n(# \[\[device\.poll\]\]\n.*?# timeout = [^\n]*)\n`).FindSubmatch(example)
	if poll == nil {
		t.Fatal("no poll example in config.example.toml")
	}
	text := minimal + uncomment(poll[1])
	if c, err := config.Parse("example", []byte(text)); err != nil || len(c.Devices[0].Polls) != 1 {
		t.Errorf("%s\n%v", text, err)
	}
}

// uncomment takes "# " off the start of each line; "## " is left a comment.
func uncomment(block []byte) string {
	var lines []string
	for _, line := range strings.Split(string(block), "\n") {
		lines = append(lines, strings.TrimPrefix(strings.TrimPrefix(line, "#"), " "))
	}
	return strings.Join(lines, "\n")
}

// A point's device_class, state_class and unit are checked against Home
// Assistant's tables.
func TestPointClasses(t *testing.T) {
	base := "[gateway]\nid = \"g\"\n[[device]]\nname = \"bus\"\npath = \"/dev/ttyUSB0\"\nprotocol = \"modbus-rtu\"\n[[device.slave]]\nid = 1\nname = \"m\"\n[[device.slave.point]]\nname = \"e\"\ntable = \"input\"\naddress = 0\ntype = \"float32\"\n"
	for _, tc := range []struct{ extra, err string }{
		{"unit = \"kWh\"\ndevice_class = \"energy\"\nstate_class = \"total_increasing\"\n", ""},
		{"unit = \"kWh\"\ndevice_class = \"energy\"\nstate_class = \"measurement\"\n", "t.toml:17: device[0].slave[0].point[0].state_class:"},
		{"unit = \"kWh\"\ndevice_class = \"power\"\n", "device[0].slave[0].point[0].unit:"},
		{"device_class = \"loudness\"\n", "t.toml:15: device[0].slave[0].point[0].device_class:"},
	} {
		_, err := config.Parse("t.toml", []byte(base+tc.extra))
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%q: %v", tc.extra, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%q: error %v, want one saying %q", tc.extra, err, tc.err)
		}
	}
}
