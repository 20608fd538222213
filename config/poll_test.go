package config_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/iogate/iogate/config"
)

// poll is minimal's device with one poll of the keys given.
func poll(keys string) string {
	return minimal + "[[device.poll]]\nname = \"temp\"\n" + keys
}

func TestPolls(t *testing.T) {
	c, err := config.Parse("t.toml", []byte(minimal+`
[[device.poll]]
name = "temp"
send = "READ?\n"
every = "10s"
[[device.poll]]
name = "modbus_raw"
send_hex = "01 03 00 00 00 02 c4 0b"
every = "10ms"
timeout = "250ms"
[[device.poll]]
name = "id-2"
send_hex = "0103 0000"
every = "1m"
`))
	if err != nil {
		t.Fatal(err)
	}
	polls := c.Devices[0].Polls
	if len(polls) != 3 {
		t.Fatalf("%d polls", len(polls))
	}
	for i, want := range []config.Poll{
		{Name: "temp", Send: []byte("READ?\n"), Every: 10 * time.Second, Timeout: time.Second},
		{Name: "modbus_raw", Send: []byte{1, 3, 0, 0, 0, 2, 0xc4, 0x0b}, Every: 10 * time.Millisecond, Timeout: 250 * time.Millisecond},
		{Name: "id-2", Send: []byte{1, 3, 0, 0}, Every: time.Minute, Timeout: time.Second},
	} {
		p := polls[i]
		if p.Name != want.Name || !bytes.Equal(p.Send, want.Send) || p.Every != want.Every || p.Timeout != want.Timeout {
			t.Errorf("poll %d: %+v, want %+v", i, p, want)
		}
	}
}

func TestPollErrors(t *testing.T) {
	checkErrors(t, []errorCase{
		{"reserved name", minimal + "[[device.poll]]\nname = \"rx\"\nsend = \"x\"\nevery = \"1s\"\n", `name = "rx"`,
			`device[0].poll[0].name: "rx" is a topic of the gateway's own here; not one of rx, tx, status, error, request, reply`},
		{"reply", minimal + "[[device.poll]]\nname = \"reply\"\nsend = \"x\"\nevery = \"1s\"\n", `name = "reply"`,
			`device[0].poll[0].name: "reply" is a topic of the gateway's own here`},
		{"name level", minimal + "[[device.poll]]\nname = \"a+\"\nsend = \"x\"\nevery = \"1s\"\n", `name = "a+"`,
			`device[0].poll[0].name: "a+": want 1 to 64 letters`},
		{"name missing", minimal + "[[device.poll]]\nsend = \"x\"\nevery = \"1s\"\n", "[[device.poll]]", "device[0].poll[0].name: required"},
		{"name twice", poll("send = \"x\"\nevery = \"1s\"\n[[device.poll]]\nname = \"temp\" # again\nsend = \"y\"\nevery = \"1s\"\n"), "# again",
			`device[0].poll[1].name: "temp" is already the name of device[0].poll[0]`},
		{"no send", poll("every = \"1s\"\n"), "[[device.poll]]", "device[0].poll[0]: a poll needs send (text, with TOML escapes) or send_hex"},
		{"both sends", poll("send = \"x\"\nsend_hex = \"78\"\nevery = \"1s\"\n"), "send_hex", "device[0].poll[0].send_hex: give send or send_hex, not both"},
		{"empty send", poll("send = \"\"\nevery = \"1s\"\n"), "send =", "device[0].poll[0].send: must not be empty"},
		{"empty hex", poll("send_hex = \" \"\nevery = \"1s\"\n"), "send_hex", "device[0].poll[0].send_hex: must not be empty"},
		{"hex prefix", poll("send_hex = \"0x01 0x03\"\nevery = \"1s\"\n"), "send_hex", `device[0].poll[0].send_hex: "0x01 0x03": want bytes as pairs of hex digits`},
		{"hex odd", poll("send_hex = \"01 3\"\nevery = \"1s\"\n"), "send_hex", `device[0].poll[0].send_hex: "01 3": want bytes as pairs`},
		{"every missing", poll("send = \"x\"\n"), "[[device.poll]]", "device[0].poll[0].every: required: how often to send, at least 10ms"},
		{"every short", poll("send = \"x\"\nevery = \"5ms\"\n"), "every", "device[0].poll[0].every: 5ms: want at least 10ms"},
		{"timeout", poll("send = \"x\"\nevery = \"1s\"\ntimeout = \"0s\"\n"), "timeout", "device[0].poll[0].timeout: 0s: must be more than 0"},
		{"timeout type", poll("send = \"x\"\nevery = \"1s\"\ntimeout = 5\n"), "timeout", "device[0].poll[0].timeout: want a duration string"},
		{"second device", minimal + "[[device]]\nname = \"b\"\npath = \"/dev/ttyUSB1\"\n[[device.poll]]\nname = \"tx\"\nsend = \"x\"\nevery = \"1s\"\n", `name = "tx"`,
			`device[1].poll[0].name: "tx" is a topic of the gateway's own here`},
	})
}
