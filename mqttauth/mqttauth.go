// Package mqttauth reads mosquitto's password and ACL files and answers the
// two questions a broker asks of them: may this user log in with this
// password, and may this client read or write this topic.
//
// The rules are mosquitto 2.0's (src/security_default.c), so a file that
// works there means the same here: the password file mosquitto_passwd
// writes (PBKDF2-SHA512, "$7$", or the older salted SHA-512, "$6$"), and the
// ACL file's user sections, topic and pattern lines with %u and %c. The
// parsers are stricter than mosquitto's in one way: a line mosquitto would
// skip or drop with a log line is an error here, so that `iogate check`
// finds it before a user is locked out.
//
// Package mqttauth does no I/O (the caller reads the files) and knows nothing
// of connections or MQTT packets: it is the embedded broker's account book,
// not a broker.
package mqttauth

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// LineError is a problem on one line of a password or ACL file.
type LineError struct {
	Line int // from 1
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }

func (e *LineError) Unwrap() error { return e.Err }

// lines calls fn with each line of data and its number, without the line
// ending ("\n" or "\r\n"), and stops at the first error.
func lines(data []byte, fn func(n int, line string) error) error {
	text := string(data)
	for n := 1; text != ""; n++ {
		line, rest, _ := strings.Cut(text, "\n")
		text = rest
		if err := fn(n, strings.TrimSuffix(line, "\r")); err != nil {
			return &LineError{Line: n, Err: err}
		}
	}
	return nil
}

// maxTopic is the longest topic or filter MQTT can carry.
const maxTopic = 65535

// checkFilter reports what makes filter an invalid MQTT topic filter, as
// mosquitto_sub_topic_check does: '+' and '#' fill a level, and '#' is
// the last one.
func checkFilter(filter string) error {
	switch {
	case filter == "":
		return fmt.Errorf("empty topic filter")
	case len(filter) > maxTopic:
		return fmt.Errorf("topic filter of %d bytes: MQTT allows %d", len(filter), maxTopic)
	case !utf8.ValidString(filter) || strings.ContainsRune(filter, 0):
		return fmt.Errorf("topic filter %q is not valid UTF-8 without NUL", filter)
	}
	for rest := filter; ; {
		level, more, found := strings.Cut(rest, "/")
		if strings.ContainsAny(level, "+#") && level != "+" && level != "#" {
			return fmt.Errorf("topic filter %q: '+' and '#' must fill a level on their own", filter)
		}
		if level == "#" && found {
			return fmt.Errorf("topic filter %q: '#' must be the last level", filter)
		}
		if !found {
			return nil
		}
		rest = more
	}
}

// Match reports whether topic matches filter by MQTT's rules: '+' matches
// one level (an empty one too), '#' the rest and the level above ("a/#"
// matches "a"), and wildcards in the first level do not match topics that
// begin with '$' ("#" does not match "$SYS/broker/uptime").
func Match(filter, topic string) bool {
	if strings.HasPrefix(filter, "$") != strings.HasPrefix(topic, "$") {
		return false
	}
	for {
		if filter == "#" {
			return true
		}
		f, frest, fmore := strings.Cut(filter, "/")
		t, trest, tmore := strings.Cut(topic, "/")
		if f != "+" && f != t {
			return false
		}
		if !tmore {
			return !fmore || frest == "#"
		}
		if !fmore {
			return false
		}
		filter, topic = frest, trest
	}
}
