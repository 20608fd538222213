package config

import (
	"slices"
	"testing"
)

// Nested arrays of tables are placed in the last element of their parent,
// as TOML has it; a sub-table after them belongs to its own parent.
func TestLocateNested(t *testing.T) {
	text := `[gateway]
id = "g"
[[device]]
name = "a"
[[device.slave]]
id = 1
[[device.slave.point]]
name = "p0"
[[device.slave.point]]
name = "p1"
[[device.slave]]
id = 2
[[device.slave.point]]
name = "q0"
[[device.poll]]
name = "x"
[[device]]
name = "b"
[[device.slave]]
[[device.slave.point]]
 "name" = "r0"
[device.extra]
k = 1
[[device.slave]]
id = 9
[mqtt]
qos = 1
`
	p := locate([]byte(text))
	for key, line := range map[string]int{
		"device.0":                       3,
		"device.0.name":                  4,
		"device.0.slave.0":               5,
		"device.0.slave.0.id":            6,
		"device.0.slave.0.point.0.name":  8,
		"device.0.slave.0.point.1":       9,
		"device.0.slave.0.point.1.name":  10,
		"device.0.slave.1.id":            12,
		"device.0.slave.1.point.0.name":  14,
		"device.0.slave.1.point.0.type":  13, // not written: its table's line
		"device.0.poll.0.name":           16,
		"device.1.name":                  18,
		"device.1.slave.0":               19,
		"device.1.slave.0.point.0.name":  21,
		"device.1.extra.k":               23,
		"device.1.slave.1.id":            25,
		"device.1.slave.1.point.0.table": 24,
		"mqtt.qos":                       27,
		"device.2.name":                  0,
	} {
		if got := p.line(key); got != line {
			t.Errorf("%s: line %d, want %d", key, got, line)
		}
	}
	if got, want := p.find("device.slave.point.name"), []string{
		"device.0.slave.0.point.0.name", "device.0.slave.0.point.1.name", "device.0.slave.1.point.0.name", "device.1.slave.0.point.0.name",
	}; !slices.Equal(got, want) {
		t.Errorf("find: %v, want %v", got, want)
	}
	if got, want := p.find("device.slave"), []string{"device.0.slave.0", "device.0.slave.1", "device.1.slave.0", "device.1.slave.1"}; !slices.Equal(got, want) {
		t.Errorf("find tables: %v, want %v", got, want)
	}
}
