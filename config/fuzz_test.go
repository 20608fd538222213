package config_test

import (
	"errors"
	"os"
	"testing"

	"github.com/iogate/iogate/config"
)

// Whatever the file holds, Parse returns a config or *config.Errors: it
// never panics, and never returns both or neither.
func FuzzParse(f *testing.F) {
	example, err := os.ReadFile("../config.example.toml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(example)
	f.Add([]byte(minimal))
	f.Add([]byte("[gateway]\nid = \"g\"\n[[device]]\nname = \"x\"\nbaud = \"fast\"\n"))
	f.Add([]byte(bus("modbus_tcp_listen = \"127.0.0.1:5020\"\n", "")))
	f.Add([]byte(bus("", point("table = \"holding\"\naddress = 10\ntype = \"uint32\"\norder = \"CDAB\"\n[[device.slave.point]]\nname = \"q\"\ntable = \"holding\"\naddress = 11\ntyep = 1\n"))))
	f.Add([]byte(bus("", "[[device.slave]]\nid = \"one\"\n[[device.slaves]]\n[device.slave.point.x]\n")))
	f.Add([]byte(poll("send_hex = \"01 03 00 00 00 02 c4 0b\"\nevery = \"10s\"\n[[device.poll]]\nname = \"rx\"\nsend = 3\n")))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := config.Parse("fuzz.toml", data)
		if (c == nil) == (err == nil) {
			t.Fatalf("config %v and error %v", c, err)
		}
		var ce *config.Error
		if err != nil && !errors.As(err, &ce) {
			t.Fatalf("error %v is not a *config.Error", err)
		}
	})
}
