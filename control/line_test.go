package control

import (
	"bytes"
	"flag"
	"os"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := "testdata/" + name
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -run %s -update rewrites it):\n got:\n%s\nwant:\n%s", path, t.Name(), got, want)
	}
}

// The product contract's example, to the byte.
func TestAppendLineContract(t *testing.T) {
	ev := Event{Time: time.Date(2026, 12, 4, 2, 20, 4, 123456789, time.UTC), Device: "d0", Dir: RX, Data: []byte("$GPGGA,1\n")}
	if got, want := string(AppendLine(nil, ev, true)), "2026-12-04T02:20:04.123456Z d0 rx 9  24 47 50 47 47 41 2c 31 0a  |$GPGGA,1.|\n"; got != want {
		t.Errorf("with hex:\n got %q\nwant %q", got, want)
	}
	if got, want := string(AppendLine(nil, ev, false)), "2026-12-04T02:20:04.123456Z d0 rx 9  |$GPGGA,1.|\n"; got != want {
		t.Errorf("without hex:\n got %q\nwant %q", got, want)
	}
}

func traceCases() []any {
	t0 := time.Date(2026, 12, 4, 2, 20, 4, 123456789, time.FixedZone("CET", 3600))
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	return []any{
		Event{Time: t0, Device: "d0", Dir: RX, Data: []byte("$GPGGA,1\n")},
		Event{Time: t0.Add(time.Microsecond), Device: "d0", Dir: TX, Data: []byte("READ?\r\n")},
		Event{Time: t0.Add(999 * time.Nanosecond), Device: "bus", Dir: TX, Data: []byte{0x01, 0x03, 0x00, 0x00, 0x00, 0x02, 0xc4, 0x0b}},
		Event{Time: t0, Device: "empty", Dir: RX},
		Lost{Time: t0.Add(time.Second), Count: 1},
		Lost{Time: t0.Add(time.Second), Count: 12},
		Event{Time: t0, Device: "all-bytes", Dir: RX, Data: all},
		Event{Time: t0, Device: "long", Dir: RX, Data: []byte(strings.Repeat("0123456789", 30))},
	}
}

// Golden trace lines, with and without hex, and the JSON of the same
// events, which `iogate trace --json` prints.
func TestAppendLineGolden(t *testing.T) {
	var hex, plain, js []byte
	for _, c := range traceCases() {
		switch c := c.(type) {
		case Event:
			hex = AppendLine(hex, c, true)
			plain = AppendLine(plain, c, false)
			js = AppendEvent(js, c)
		case Lost:
			hex = AppendLostLine(hex, c)
			plain = AppendLostLine(plain, c)
			js = AppendLost(js, c)
		}
	}
	golden(t, "trace-hex.golden", hex)
	golden(t, "trace.golden", plain)
	golden(t, "trace-json.golden", js)
}

// A 64 KiB read is one line, of four bytes per byte with hex.
func TestAppendLineLong(t *testing.T) {
	data := bytes.Repeat([]byte{0xc0, 'A'}, 32<<10)
	ev := Event{Time: time.Unix(0, 0), Device: "d", Dir: RX, Data: data}
	line := AppendLine(nil, ev, true)
	prefix := "1970-01-01T00:00:00.000000Z d rx 65536  "
	if bytes.Count(line, []byte("\n")) != 1 || len(line) != len(prefix)+3*len(data)-1+2+len(data)+3 || !bytes.HasPrefix(line, []byte(prefix+"c0 41 c0")) {
		t.Fatalf("line of %d bytes: %.60q...%q", len(line), line, line[len(line)-10:])
	}
}
