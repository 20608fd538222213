package homeassistant_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/iogate/iogate/homeassistant"
)

func gateway(devices ...string) *homeassistant.Gateway {
	g := &homeassistant.Gateway{ID: "g", Version: "1", StatusTopic: "iogate/g/status"}
	for _, d := range devices {
		g.Devices = append(g.Devices, homeassistant.Device{
			Name: d, StatusTopic: "iogate/g/" + d + "/status", RxTopic: "iogate/g/" + d + "/rx", Encoding: "text",
		})
	}
	return g
}

func topics(msgs []homeassistant.Message) []string {
	var ts []string
	for _, m := range msgs {
		ts = append(ts, m.Topic)
	}
	slices.Sort(ts)
	return ts
}

const (
	aStatus = "homeassistant/binary_sensor/iogate_g_a_status/config"
	aRx     = "homeassistant/sensor/iogate_g_a_rx/config"
	bStatus = "homeassistant/binary_sensor/iogate_g_b_status/config"
	bRx     = "homeassistant/sensor/iogate_g_b_rx/config"
)

func plan(t *testing.T, a *homeassistant.Announcer, g *homeassistant.Gateway) *homeassistant.Plan {
	t.Helper()
	p, err := a.Plan("homeassistant", g)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func reopen(t *testing.T, dir string) *homeassistant.Announcer {
	t.Helper()
	a, err := homeassistant.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// A device that leaves is cleared, after a restart too, and only once it
// is committed is it forgotten.
func TestAnnouncerRemoval(t *testing.T) {
	dir := t.TempDir()
	a, err := homeassistant.Open(dir)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("first open: %v, want a missing file", err)
	}
	p := plan(t, a, gateway("a", "b"))
	if len(p.Clear) != 0 || !slices.Equal(topics(p.Publish), []string{aStatus, bStatus, aRx, bRx}) {
		t.Fatalf("first plan: clear %v publish %v", topics(p.Clear), topics(p.Publish))
	}
	// Written before publishing: a crash now still knows what may be out.
	if got := reopen(t, dir).Announced(); len(got) != 4 {
		t.Fatalf("after plan: %v", got)
	}
	if err := a.Commit(p); err != nil {
		t.Fatal(err)
	}

	a = reopen(t, dir) // a restart
	p = plan(t, a, gateway("a"))
	if !slices.Equal(topics(p.Clear), []string{bStatus, bRx}) || len(p.Publish) != 2 {
		t.Fatalf("b left: clear %v publish %v", topics(p.Clear), topics(p.Publish))
	}
	for _, m := range p.Clear {
		if len(m.Payload) != 0 {
			t.Errorf("clear %s carries %q", m.Topic, m.Payload)
		}
	}
	if got := p.Messages(); len(got) != 4 || len(got[0].Payload) != 0 || len(got[3].Payload) == 0 {
		t.Errorf("messages: clears first, then configs: %v", topics(got))
	}
	// Not committed (a crash before the clears went out): the next start
	// clears them again.
	a = reopen(t, dir)
	p = plan(t, a, gateway("a"))
	if !slices.Equal(topics(p.Clear), []string{bStatus, bRx}) {
		t.Fatalf("uncommitted removal forgotten: %v", topics(p.Clear))
	}
	if err := a.Commit(p); err != nil {
		t.Fatal(err)
	}
	a = reopen(t, dir)
	if got := a.Announced(); !slices.Equal(got, []string{aStatus, aRx}) {
		t.Fatalf("after commit: %v", got)
	}
	if p := plan(t, a, gateway("a")); len(p.Clear) != 0 {
		t.Fatalf("cleared again: %v", topics(p.Clear))
	}
}

// A plan replaced by a newer one is not committed, so what the newer one
// added is not forgotten.
func TestAnnouncerStaleCommit(t *testing.T) {
	dir := t.TempDir()
	a, _ := homeassistant.Open(dir)
	first := plan(t, a, gateway("a"))
	second := plan(t, a, gateway("a", "b"))
	if err := a.Commit(first); err != nil {
		t.Fatal(err)
	}
	if got := reopen(t, dir).Announced(); !slices.Contains(got, bRx) {
		t.Fatalf("a stale commit forgot b: %v", got)
	}
	if err := a.Commit(second); err != nil {
		t.Fatal(err)
	}
	if got := reopen(t, dir).Announced(); len(got) != 4 {
		t.Fatalf("after the second commit: %v", got)
	}
}

// Nothing changes, nothing is written: Home Assistant's birth message
// costs no I/O.
func TestAnnouncerWritesOnlyChanges(t *testing.T) {
	dir := t.TempDir()
	a, _ := homeassistant.Open(dir)
	p := plan(t, a, gateway("a"))
	if err := a.Commit(p); err != nil {
		t.Fatal(err)
	}
	// The file replaced by a directory that a rename cannot replace: any
	// write would fail, even as root.
	file := filepath.Join(dir, homeassistant.StateFile)
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(file, "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		p, err := a.Plan("homeassistant", gateway("a"))
		if err != nil {
			t.Fatalf("unchanged plan wrote: %v", err)
		}
		if err := a.Commit(p); err != nil {
			t.Fatalf("unchanged commit wrote: %v", err)
		}
	}
	// A change must write, and says that it could not.
	if _, err := a.Plan("homeassistant", gateway("a", "b")); err == nil {
		t.Fatal("a failed write was not reported")
	}
}

// A corrupt or foreign file is nothing announced, with an error; it is
// replaced whole by the next write, and no temporary file is left.
func TestAnnouncerCorruptFile(t *testing.T) {
	for _, tc := range []struct{ name, content string }{
		{"truncated", `{"version":1,"topics":["homeassistant/sensor/iogate_g_a_rx/con`},
		{"not json", "\x00\x01garbage"},
		{"other version", `{"version":2,"topics":[]}`},
		{"foreign topic", `{"version":1,"topics":["homeassistant/light/kitchen/config"]}`},
		{"wildcard", `{"version":1,"topics":["homeassistant/sensor/+/config"]}`},
		{"not a config", `{"version":1,"topics":["iogate/g/a/rx"]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			file := filepath.Join(dir, homeassistant.StateFile)
			if err := os.WriteFile(file, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			a, err := homeassistant.Open(dir)
			if !errors.Is(err, homeassistant.ErrCorrupt) || !strings.Contains(err.Error(), file) {
				t.Fatalf("open: %v, want ErrCorrupt naming %s", err, file)
			}
			if len(a.Announced()) != 0 {
				t.Fatalf("announced %v", a.Announced())
			}
			p := plan(t, a, gateway("a"))
			if len(p.Clear) != 0 {
				t.Fatalf("clears from a corrupt file: %v", topics(p.Clear))
			}
			if got := reopen(t, dir).Announced(); !slices.Equal(got, []string{aStatus, aRx}) {
				t.Fatalf("rewritten: %v", got)
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != 1 {
				t.Errorf("left in the directory: %v", entries)
			}
			if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("state file mode: %v %v", fi.Mode(), err)
			}
		})
	}
}

// Withdraw clears everything, for a gateway whose discovery was turned off.
func TestAnnouncerWithdraw(t *testing.T) {
	dir := t.TempDir()
	a, _ := homeassistant.Open(dir)
	if err := a.Commit(plan(t, a, gateway("a", "b"))); err != nil {
		t.Fatal(err)
	}
	a = reopen(t, dir)
	p, err := a.Withdraw()
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Publish) != 0 || len(p.Clear) != 4 {
		t.Fatalf("withdraw: clear %v publish %v", topics(p.Clear), topics(p.Publish))
	}
	if err := a.Commit(p); err != nil {
		t.Fatal(err)
	}
	if got := reopen(t, dir).Announced(); len(got) != 0 {
		t.Fatalf("after withdraw: %v", got)
	}
}

// A state directory that does not exist yet is made.
func TestAnnouncerMakesStateDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	a, _ := homeassistant.Open(dir)
	plan(t, a, gateway("a"))
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("state dir: %v %v", fi, err)
	}
}
