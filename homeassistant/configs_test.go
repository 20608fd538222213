package homeassistant_test

import (
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/iogate/iogate/homeassistant"
)

func slaveGateway(points ...homeassistant.Point) *homeassistant.Gateway {
	for i := range points {
		p := &points[i]
		p.StateTopic = "iogate/g/bus/s/" + p.Name
		if p.Writable {
			p.SetTopic = p.StateTopic + "/set"
		}
	}
	return &homeassistant.Gateway{ID: "g", StatusTopic: "iogate/g/status", Devices: []homeassistant.Device{{
		Name: "bus", StatusTopic: "iogate/g/bus/status",
		Slaves: []homeassistant.Slave{{ID: 1, Name: "s", StatusTopic: "iogate/g/bus/s/status", Points: points}},
	}}}
}

func find(t *testing.T, msgs []homeassistant.Message, component, id string) map[string]any {
	t.Helper()
	topic := homeassistant.ConfigTopic("homeassistant", component, id)
	for _, m := range msgs {
		if m.Topic == topic {
			var p map[string]any
			if err := json.Unmarshal(m.Payload, &p); err != nil {
				t.Fatal(err)
			}
			return p
		}
	}
	return nil
}

// A writable holding register's range is its type's, through scale and
// offset, in steps of one raw unit.
func TestNumberRange(t *testing.T) {
	for _, tc := range []struct {
		typ           string
		scale, offset float64
		lo, hi, step  float64
	}{
		{"int16", 0.1, 0, -3276.8, 3276.7, 0.1},
		{"uint16", 1, 0, 0, 65535, 1},
		{"uint16", 0.01, -50, -50, 605.35, 0.01},
		{"int16", -1, 0, -32767, 32768, 1},
		{"int32", 0.001, 0, -2147483.648, 2147483.647, 0.001},
		{"uint32", 10, 0, 0, 42949672950, 10},
		{"uint16", 0.0001, 0, 0, 6.5535, 0.001},
		{"float32", 1, 0, -math.MaxFloat32, math.MaxFloat32, 0.001},
		{"float64", 2, 0, -math.MaxFloat64, math.MaxFloat64, 0.001},
	} {
		name := fmt.Sprintf("%s*%g+%g", tc.typ, tc.scale, tc.offset)
		g := slaveGateway(homeassistant.Point{Name: "p", Table: "holding", Type: tc.typ, Scale: tc.scale, Offset: tc.offset, Writable: true})
		msgs := homeassistant.Configs("homeassistant", g)
		checkAll(t, "homeassistant", msgs)
		n := find(t, msgs, homeassistant.Number, "iogate_g_bus_s_p_set")
		if n == nil {
			t.Errorf("%s: no number", name)
			continue
		}
		if n["min"] != tc.lo || n["max"] != tc.hi || n["step"] != tc.step {
			t.Errorf("%s: min %v max %v step %v, want %v %v %v", name, n["min"], n["max"], n["step"], tc.lo, tc.hi, tc.step)
		}
	}
	// No range, no number; the sensor stays.
	msgs := homeassistant.Configs("homeassistant", slaveGateway(homeassistant.Point{Name: "p", Table: "holding", Type: "uint16", Scale: 0, Writable: true}))
	if find(t, msgs, homeassistant.Number, "iogate_g_bus_s_p_set") != nil || find(t, msgs, homeassistant.Sensor, "iogate_g_bus_s_p") == nil {
		t.Error("scale 0")
	}
}

// What is writable gets a control beside its sensor; what is not, or has
// no set topic, gets none.
func TestControls(t *testing.T) {
	msgs := homeassistant.Configs("homeassistant", slaveGateway(
		homeassistant.Point{Name: "coil", Table: "coil", Type: "bool", Writable: true},
		homeassistant.Point{Name: "flag", Table: "holding", Type: "bool", Writable: true},
		homeassistant.Point{Name: "ro", Table: "coil", Type: "bool"},
		homeassistant.Point{Name: "in", Table: "input", Type: "uint16", Scale: 1, Writable: true},
		homeassistant.Point{Name: "text", Table: "holding", Type: "string", Writable: true},
	))
	checkAll(t, "homeassistant", msgs)
	for _, want := range []struct {
		component, id string
		present       bool
	}{
		{homeassistant.Switch, "iogate_g_bus_s_coil_set", true},
		{homeassistant.BinarySensor, "iogate_g_bus_s_coil", true},
		{homeassistant.Switch, "iogate_g_bus_s_flag_set", true},
		{homeassistant.Switch, "iogate_g_bus_s_ro_set", false},
		{homeassistant.Number, "iogate_g_bus_s_in_set", false},
		{homeassistant.Sensor, "iogate_g_bus_s_text", true},
	} {
		if got := find(t, msgs, want.component, want.id) != nil; got != want.present {
			t.Errorf("%s %s: present %v, want %v", want.component, want.id, got, want.present)
		}
	}
}

// unique_ids come from names, not positions: the same gateway in another
// order announces the same configs.
func TestIDsDoNotDependOnOrder(t *testing.T) {
	g := gateway("a", "b", "c")
	g.Devices[1].Polls = []homeassistant.Poll{{Name: "p", StateTopic: "iogate/g/b/p"}, {Name: "q", StateTopic: "iogate/g/b/q"}}
	want := map[string]string{}
	for _, m := range homeassistant.Configs("homeassistant", g) {
		want[m.Topic] = string(m.Payload)
	}
	slices.Reverse(g.Devices)
	slices.Reverse(g.Devices[1].Polls)
	got := homeassistant.Configs("homeassistant", g)
	if len(got) != len(want) {
		t.Fatalf("%d configs, want %d", len(got), len(want))
	}
	for _, m := range got {
		if want[m.Topic] != string(m.Payload) {
			t.Errorf("%s changed with the order:\n%s\n%s", m.Topic, m.Payload, want[m.Topic])
		}
	}
}

// Names that join to the same id on different levels still give distinct,
// stable ids.
func TestIDCollision(t *testing.T) {
	g := &homeassistant.Gateway{ID: "g", StatusTopic: "iogate/g/status", Devices: []homeassistant.Device{
		{Name: "a_b", StatusTopic: "iogate/g/a_b/status", Polls: []homeassistant.Poll{{Name: "c", StateTopic: "iogate/g/a_b/c"}}},
		{Name: "a", StatusTopic: "iogate/g/a/status", Polls: []homeassistant.Poll{{Name: "b_c", StateTopic: "iogate/g/a/b_c"}}},
	}}
	msgs := homeassistant.Configs("homeassistant", g)
	checkAll(t, "homeassistant", msgs)
	var polls []string
	for _, m := range msgs {
		if strings.Contains(m.Topic, "iogate_g_a_b_c") {
			polls = append(polls, m.Topic)
		}
	}
	if len(polls) != 2 || polls[0] == polls[1] {
		t.Fatalf("colliding polls: %v", polls)
	}
	slices.Reverse(g.Devices)
	again := homeassistant.Configs("homeassistant", g)
	if !slices.Contains(topics(again), polls[0]) || !slices.Contains(topics(again), polls[1]) {
		t.Errorf("the suffixes depend on the order: %v then %v", polls, topics(again))
	}
}

// A name with characters an object id cannot hold still gives a valid
// topic.
func TestIDCharacters(t *testing.T) {
	g := gateway("a")
	g.Devices[0].Polls = []homeassistant.Poll{{Name: "temp.1 °C", StateTopic: "iogate/g/a/temp.1 °C"}}
	msgs := homeassistant.Configs("homeassistant", g)
	checkAll(t, "homeassistant", msgs)
	if find(t, msgs, homeassistant.Sensor, "iogate_g_a_temp_1__C") == nil {
		t.Errorf("topics: %v", topics(msgs))
	}
}

// Only Home Assistant's "online" on its status topic is its birth.
func TestIsBirth(t *testing.T) {
	for _, tc := range []struct {
		topic, payload string
		want           bool
	}{
		{"homeassistant/status", "online", true},
		{"homeassistant/status", "offline", false},
		{"homeassistant/status", "online\n", false},
		{"homeassistant/status", "", false},
		{"other/status", "online", false},
		{"homeassistant/status/x", "online", false},
	} {
		if got := homeassistant.IsBirth("homeassistant", tc.topic, []byte(tc.payload)); got != tc.want {
			t.Errorf("%s %q: %v", tc.topic, tc.payload, got)
		}
	}
	if homeassistant.StatusTopic("ha/x") != "ha/x/status" {
		t.Error(homeassistant.StatusTopic("ha/x"))
	}
}

// Every golden model's payloads pass the validator under another prefix
// too, and the frames of a device without rx are not announced.
func TestPrefix(t *testing.T) {
	cases, _ := filepath.Glob("testdata/*/model.json")
	for _, c := range cases {
		in := readInput(t, c)
		msgs := homeassistant.Configs("site/ha", &in.Gateway)
		checkAll(t, "site/ha", msgs)
	}
	g := gateway("a")
	g.Devices[0].RxTopic = ""
	if msgs := homeassistant.Configs("homeassistant", g); len(msgs) != 1 {
		t.Errorf("without rx: %v", topics(msgs))
	}
}
