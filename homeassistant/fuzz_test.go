package homeassistant_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iogate/iogate/homeassistant"
)

// FuzzOpen feeds the state file anything: Open never fails to give an
// Announcer, and what it accepts is only config topics, which a Plan then
// clears.
func FuzzOpen(f *testing.F) {
	for _, seed := range []string{
		`{"version":1,"topics":["homeassistant/sensor/iogate_g_a_rx/config","ha/x/binary_sensor/n/o/config"]}`,
		`{"version":1,"topics":[]}`,
		`{"version":1,"topics":null}`,
		`{"version":2}`,
		`{"version":1,"topics":["homeassistant/light/x/config"]}`,
		`[]`,
		"",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, homeassistant.StateFile), data, 0o600); err != nil {
			t.Fatal(err)
		}
		a, err := homeassistant.Open(dir)
		if a == nil {
			t.Fatal("no announcer")
		}
		if err != nil && len(a.Announced()) != 0 {
			t.Fatalf("%v, and announced %q", err, a.Announced())
		}
		for _, topic := range a.Announced() {
			if !strings.HasSuffix(topic, "/config") || strings.ContainsAny(topic, "+#\x00") {
				t.Fatalf("accepted %q", topic)
			}
		}
		p, err := a.Plan("homeassistant", gateway("a"))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range p.Clear {
			if len(m.Payload) != 0 {
				t.Fatalf("clear with a payload: %q", m.Payload)
			}
		}
	})
}
