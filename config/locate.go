package config

import (
	"bufio"
	"bytes"
	"strconv"
	"strings"
)

// positions finds the line of each key in a TOML file, so that errors the
// decoder cannot place (unknown keys, invalid values) still name a line.
// It understands what a config file holds: [table] and [[array]] headers and
// key = value lines. A key it cannot find is reported without a line.
type positions struct {
	keys    map[string]int // "device.2.baud" or "mqtt.qos" -> line
	headers map[string]int // "device.2" or "mqtt" -> line
}

func locate(data []byte) positions {
	p := positions{keys: map[string]int{}, headers: map[string]int{}}
	counts := map[string]int{}
	table := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(s, "[["):
			name := strings.TrimSpace(strings.Trim(cutComment(s), "[] \t"))
			table = name + "." + strconv.Itoa(counts[name])
			counts[name]++
			p.headers[table] = line
		case strings.HasPrefix(s, "["):
			table = strings.TrimSpace(strings.Trim(cutComment(s), "[] \t"))
			p.headers[table] = line
		default:
			key, _, ok := strings.Cut(s, "=")
			key = strings.Trim(strings.TrimSpace(key), `"'`)
			if !ok || key == "" || strings.HasPrefix(key, "#") {
				continue
			}
			if table != "" {
				key = table + "." + key
			}
			if _, seen := p.keys[key]; !seen {
				p.keys[key] = line
			}
		}
	}
	return p
}

// line is where key (dotted, with array indexes: "device.0.baud") is, or
// where its table starts, or 0.
func (p positions) line(key string) int {
	if n, ok := p.keys[key]; ok {
		return n
	}
	for k := key; k != ""; {
		if n, ok := p.headers[k]; ok {
			return n
		}
		i := strings.LastIndexByte(k, '.')
		if i < 0 {
			break
		}
		k = k[:i]
	}
	return 0
}

func cutComment(s string) string {
	s, _, _ = strings.Cut(s, "#")
	return s
}
