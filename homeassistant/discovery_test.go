package homeassistant_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/iogate/iogate/homeassistant"
	"github.com/iogate/iogate/homeassistant/hatest"
)

var update = flag.Bool("update", false, "rewrite the expected.json of every golden case")

// input is a case's model.json (and before.json): a discovery prefix and a
// gateway.
type input struct {
	Prefix  string
	Gateway homeassistant.Gateway
}

// expected is a case's expected.json: the topics cleared and the configs
// published, in order.
type expected struct {
	Clear   []string    `json:"clear"`
	Publish []published `json:"publish"`
}

type published struct {
	Topic   string          `json:"topic"`
	Payload json.RawMessage `json:"payload"`
}

func readInput(t *testing.T, path string) input {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var in input
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return in
}

// Each folder of testdata is a case: model.json, the gateway to announce;
// before.json, when present, a gateway announced and committed first;
// state.json, when present, the state file a previous run left; and
// expected.json, what is cleared and published. go test -update rewrites
// expected.json.
func TestGolden(t *testing.T) {
	cases, err := filepath.Glob("testdata/*/model.json")
	if err != nil || len(cases) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	for _, model := range cases {
		dir := filepath.Dir(model)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			stateDir := t.TempDir()
			if data, err := os.ReadFile(filepath.Join(dir, "state.json")); err == nil {
				if err := os.WriteFile(filepath.Join(stateDir, homeassistant.StateFile), data, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			a, err := homeassistant.Open(stateDir)
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("open: %v", err)
			}
			if _, err := os.Stat(filepath.Join(dir, "before.json")); err == nil {
				before := readInput(t, filepath.Join(dir, "before.json"))
				p, err := a.Plan(before.Prefix, &before.Gateway)
				if err != nil {
					t.Fatal(err)
				}
				checkAll(t, before.Prefix, p.Publish)
				if err := a.Commit(p); err != nil {
					t.Fatal(err)
				}
			}
			in := readInput(t, model)
			p, err := a.Plan(in.Prefix, &in.Gateway)
			if err != nil {
				t.Fatal(err)
			}
			checkAll(t, in.Prefix, p.Publish)
			got := expected{Clear: []string{}, Publish: []published{}}
			for _, m := range p.Clear {
				if len(m.Payload) != 0 {
					t.Errorf("clear %s has a payload: %q", m.Topic, m.Payload)
				}
				got.Clear = append(got.Clear, m.Topic)
			}
			for _, m := range p.Publish {
				got.Publish = append(got.Publish, published{Topic: m.Topic, Payload: m.Payload})
			}
			text, err := json.MarshalIndent(got, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			text = append(text, '\n')
			want := filepath.Join(dir, "expected.json")
			if *update {
				if err := os.WriteFile(want, text, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			wantText, err := os.ReadFile(want)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(text, wantText) {
				t.Errorf("got\n%s\nwant (%s)\n%s", text, want, wantText)
			}

			// Committed, the state file holds exactly what was published.
			if err := a.Commit(p); err != nil {
				t.Fatal(err)
			}
			b, err := homeassistant.Open(stateDir)
			if err != nil {
				t.Fatal(err)
			}
			var topics []string
			for _, m := range p.Publish {
				topics = append(topics, m.Topic)
			}
			slices.Sort(topics)
			if !slices.Equal(b.Announced(), topics) {
				t.Errorf("state file after commit: %q, want %q", b.Announced(), topics)
			}
		})
	}
}

// checkAll validates every payload as Home Assistant would, and checks
// that topics and unique_ids are unique.
func checkAll(t *testing.T, prefix string, msgs []homeassistant.Message) {
	t.Helper()
	topics := map[string]bool{}
	ids := map[string]bool{}
	for _, m := range msgs {
		if err := hatest.Validate(prefix, m.Topic, m.Payload); err != nil {
			t.Error(err)
		}
		if topics[m.Topic] {
			t.Errorf("%s announced twice", m.Topic)
		}
		topics[m.Topic] = true
		var p struct {
			UniqueID string `json:"unique_id"`
		}
		if err := json.Unmarshal(m.Payload, &p); err != nil {
			t.Fatal(err)
		}
		component := strings.Split(strings.TrimPrefix(m.Topic, prefix+"/"), "/")[0]
		if ids[component+" "+p.UniqueID] {
			t.Errorf("unique_id %s of a %s is not unique", p.UniqueID, component)
		}
		ids[component+" "+p.UniqueID] = true
	}
}
