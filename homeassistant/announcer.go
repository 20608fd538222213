package homeassistant

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
)

// StateFile is the name of the Announcer's file in the state directory.
const StateFile = "homeassistant.json"

// ErrCorrupt is the error, wrapped, of a state file that cannot be read as
// one: it is taken as nothing announced.
var ErrCorrupt = errors.New("not a list of announced Home Assistant configs")

// An Announcer remembers the config topics announced to Home Assistant, in
// a file of the state directory, so that an entity whose device or point
// left the configuration is removed, after a restart too.
//
// Plan gives the configs to publish and the topics to clear; Commit, once
// they are published, makes the new set the one remembered. Until then the
// file holds the old set and the new one together, so that a crash between
// the two forgets no topic that may have reached the broker: the next Plan
// clears what is not in its model.
//
// The file is written only when the set changes: Home Assistant's birth
// message and a reload that changes nothing cost no I/O. A write is a
// temporary file, fsync and rename, so the file is whole or the previous
// one. An Announcer belongs to one goroutine.
type Announcer struct {
	path  string
	known map[string]bool // the topics in the file
	seq   uint64          // of the last Plan
}

// Plan is what to publish, retained, to bring Home Assistant to a model:
// Clear first (an empty payload for each entity that left), then Publish.
type Plan struct {
	Clear   []Message
	Publish []Message

	seq    uint64
	topics map[string]bool
}

// Messages is Clear followed by Publish.
func (p *Plan) Messages() []Message { return slices.Concat(p.Clear, p.Publish) }

// stateFile is the file's content.
type stateFile struct {
	Version int      `json:"version"`
	Topics  []string `json:"topics"`
}

// announcedTopic is what a topic in the file must look like: a config of
// one of the components announced here, so that a hand-edited file cannot
// make the gateway clear anything else.
var announcedTopic = regexp.MustCompile(`^[^#+\x00]+/(sensor|binary_sensor|number|switch)/[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)?/config$`)

// Open loads what was announced from stateDir's StateFile. The Announcer
// is usable whatever the error: a missing file (the first start, an error
// that errors.Is fs.ErrNotExist, worth a debug line at most) or a corrupt
// one (ErrCorrupt) means nothing was announced, so nothing from before
// will be cleared.
func Open(stateDir string) (*Announcer, error) {
	a := &Announcer{path: filepath.Join(stateDir, StateFile), known: map[string]bool{}}
	data, err := os.ReadFile(a.path)
	if err != nil {
		return a, fmt.Errorf("home assistant state: %w", err)
	}
	var f stateFile
	if err := json.Unmarshal(data, &f); err != nil {
		return a, fmt.Errorf("home assistant state %s: %w: %v", a.path, ErrCorrupt, err)
	}
	if f.Version != 1 {
		return a, fmt.Errorf("home assistant state %s: %w: version %d", a.path, ErrCorrupt, f.Version)
	}
	for _, t := range f.Topics {
		if !announcedTopic.MatchString(t) {
			return a, fmt.Errorf("home assistant state %s: %w: %q is not a config topic", a.path, ErrCorrupt, t)
		}
	}
	for _, t := range f.Topics {
		a.known[t] = true
	}
	return a, nil
}

// Announced is the set of config topics the file holds, sorted.
func (a *Announcer) Announced() []string { return slices.Sorted(maps.Keys(a.known)) }

// Plan returns the configs of g under prefix and the topics to clear: all
// the ones announced before that g has not. When g adds topics, the file
// is written first; an error says the write failed, and the Plan is still
// to be published (only a crash before the next write could then leave an
// entity behind).
func (a *Announcer) Plan(prefix string, g *Gateway) (*Plan, error) {
	return a.plan(Configs(prefix, g))
}

// Withdraw plans the removal of everything announced: for a gateway whose
// discovery was turned off, or that is going away for good.
func (a *Announcer) Withdraw() (*Plan, error) { return a.plan(nil) }

func (a *Announcer) plan(configs []Message) (*Plan, error) {
	a.seq++
	p := &Plan{Publish: configs, seq: a.seq, topics: make(map[string]bool, len(configs))}
	for _, m := range configs {
		p.topics[m.Topic] = true
	}
	for _, t := range a.Announced() {
		if !p.topics[t] {
			p.Clear = append(p.Clear, Message{Topic: t})
		}
	}
	grown := false
	for t := range p.topics {
		if !a.known[t] {
			grown = true
			break
		}
	}
	if !grown {
		return p, nil
	}
	union := maps.Clone(a.known)
	maps.Copy(union, p.topics)
	if err := a.write(union); err != nil {
		return p, err
	}
	a.known = union
	return p, nil
}

// Commit records that p was published: its configs are what is announced.
// A Plan that a later Plan replaced is not committed (its successor will
// be), so a late Commit cannot forget topics announced since.
func (a *Announcer) Commit(p *Plan) error {
	if p.seq != a.seq || maps.Equal(a.known, p.topics) {
		return nil
	}
	if err := a.write(p.topics); err != nil {
		return err
	}
	a.known = maps.Clone(p.topics)
	return nil
}

// write replaces the file with topics: a temporary file beside it, synced,
// renamed over it, and the directory synced.
func (a *Announcer) write(topics map[string]bool) error {
	data, err := json.MarshalIndent(stateFile{Version: 1, Topics: slices.Sorted(maps.Keys(topics))}, "", "\t")
	if err != nil {
		return err
	}
	data = append(data, '\n')
	dir := filepath.Dir(a.path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("home assistant state: %w", err)
	}
	tmp, err := os.CreateTemp(dir, StateFile+".*.tmp")
	if err != nil {
		return fmt.Errorf("home assistant state: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a rename, there is nothing left to remove
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("home assistant state: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("home assistant state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("home assistant state: %w", err)
	}
	if err := os.Rename(tmp.Name(), a.path); err != nil {
		return fmt.Errorf("home assistant state: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("home assistant state: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("home assistant state: sync %s: %w", dir, err)
	}
	return nil
}
