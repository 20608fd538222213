package config

import (
	"bufio"
	"bytes"
	"cmp"
	"slices"
	"strconv"
	"strings"
)

// positions finds the line of each key in a TOML file, so that errors the
// decoder cannot place (unknown keys, invalid values) still name a line.
// It understands what a config file holds: [table] and [[array]] headers,
// arrays of tables nested in the last element of another
// ([[device.slave.point]] under [[device.slave]] under [[device]]), and
// key = value lines. A key it cannot find is reported without a line.
type positions struct {
	keys    map[string]int // "device.2.baud" or "mqtt.qos" -> line
	headers map[string]int // "device.2", "device.0.slave.1" or "mqtt" -> line
}

func locate(data []byte) positions {
	p := positions{keys: map[string]int{}, headers: map[string]int{}}
	counts := map[string]int{}     // an array's indexed path ("device.0.slave") -> its elements so far
	current := map[string]string{} // an array as written ("device.slave") -> its last element ("device.0.slave.1")
	table := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(s, "[["):
			parts := headerParts(s)
			name := strings.Join(parts, ".")
			// The new element belongs to the last element of each array
			// its name goes through, as TOML has it.
			array := resolve(current, parts[:len(parts)-1])
			if array != "" {
				array += "."
			}
			array += parts[len(parts)-1]
			table = array + "." + strconv.Itoa(counts[array])
			counts[array]++
			for k := range current {
				if strings.HasPrefix(k, name+".") {
					delete(current, k) // arrays inside the element before
				}
			}
			current[name] = table
			p.headers[table] = line
		case strings.HasPrefix(s, "["):
			table = resolve(current, headerParts(s))
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

// headerParts splits the name of a [table] or [[array]] header into its
// dotted parts, quotes and spaces taken off.
func headerParts(header string) []string {
	name := strings.TrimSpace(strings.Trim(cutComment(header), "[] \t"))
	parts := strings.Split(name, ".")
	for i, part := range parts {
		parts[i] = strings.Trim(strings.TrimSpace(part), `"'`)
	}
	return parts
}

// resolve turns a table name as written into its path with array
// indexes: "device.slave" is "device.0.slave.1" when those are the last
// elements seen.
func resolve(current map[string]string, parts []string) string {
	written, path := "", ""
	for _, part := range parts {
		if written != "" {
			written += "."
			path += "."
		}
		written += part
		path += part
		if element, ok := current[written]; ok {
			path = element
		}
	}
	return path
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

// find returns every key and header written in the file whose path,
// without its array indexes, is key ("device.slave.point.typo"), by line:
// the places of a key the decoder reports without saying which element
// of an array it is in.
func (p positions) find(key string) []string {
	var found []string
	for _, m := range []map[string]int{p.keys, p.headers} {
		for k := range m {
			if withoutIndexes(k) == key {
				found = append(found, k)
			}
		}
	}
	slices.SortFunc(found, func(a, b string) int { return cmp.Compare(p.line(a), p.line(b)) })
	return found
}

// withoutIndexes drops the array indexes of a dotted path:
// "device.0.slave.1.id" is "device.slave.id".
func withoutIndexes(path string) string {
	parts := strings.Split(path, ".")
	kept := parts[:0]
	for _, part := range parts {
		if _, err := strconv.Atoi(part); err != nil {
			kept = append(kept, part)
		}
	}
	return strings.Join(kept, ".")
}

func cutComment(s string) string {
	s, _, _ = strings.Cut(s, "#")
	return s
}
