package bridge

import "strings"

// topic is one topic the gateway publishes on. Messages hold a *topic, not
// its name, so that a reload that changes mqtt.topic_prefix moves the
// messages already queued with it: the name is made when the message is
// published. The tail, the name below the prefix ("gps/rx"), is also the
// key of a frame's record in the spool.
type topic struct {
	tail   string
	name   string // prefix + "/" + tail
	retain bool
}

// topics interns the gateway's topics by tail. It keeps every topic it
// made: a message for a device removed by a reload still has its topic,
// and the set is bounded by the configurations the gateway ran.
type topics struct {
	prefix string
	byTail map[string]*topic
	byName map[string]*topic // absolute topics, outside the prefix
}

func newTopics(prefix string) *topics {
	return &topics{prefix: prefix, byTail: map[string]*topic{}, byName: map[string]*topic{}}
}

// get returns the topic with the given tail, made on first use.
func (ts *topics) get(tail string, retain bool) *topic {
	t := ts.byTail[tail]
	if t == nil {
		t = &topic{tail: tail, name: ts.prefix + "/" + tail}
		ts.byTail[tail] = t
	}
	t.retain = retain
	return t
}

// absolute returns the topic named name in full, outside the prefix (Home
// Assistant's discovery configs), made on first use: a new prefix does not
// rename it. It has no tail, so it is never a frame's.
func (ts *topics) absolute(name string, retain bool) *topic {
	t := ts.byName[name]
	if t == nil {
		t = &topic{name: name}
		ts.byName[name] = t
	}
	t.retain = retain
	return t
}

// setPrefix renames every topic under a new prefix.
func (ts *topics) setPrefix(prefix string) {
	if prefix == ts.prefix {
		return
	}
	ts.prefix = prefix
	for _, t := range ts.byTail {
		t.name = prefix + "/" + t.tail
	}
}

// spooled is the topic of a record read back from the spool. A record of
// a version that keyed frames by device name alone is a frame on rx.
func (ts *topics) spooled(key []byte) *topic {
	if t := ts.byTail[string(key)]; t != nil { // no allocation: the compiler reads the map with the bytes
		return t
	}
	tail := string(key)
	if !strings.Contains(tail, "/") {
		tail += "/rx"
	}
	return ts.get(tail, false)
}

// deviceOf is the device a topic tail belongs to: its first level.
func deviceOf(tail []byte) string {
	for i, c := range tail {
		if c == '/' {
			return string(tail[:i])
		}
	}
	return string(tail)
}
