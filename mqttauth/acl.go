package mqttauth

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Access is what a client wants to do with a topic.
type Access uint8

// The accesses an ACL line grants.
const (
	Read  Access = 1 << iota // receive the messages published to it
	Write                    // publish to it
)

// ACL is a parsed ACL file. It is safe for concurrent use; it never
// changes once parsed.
type ACL struct {
	anonymous *rules            // the lines before the first user line; nil if none
	users     map[string]*rules // each user section, merged by name
	patterns  rules             // pattern lines, wherever they are: they apply to everyone
	lines     int               // topic and pattern lines
}

// rules are one section's lines. As mosquitto keeps them: a deny line wins
// wherever it is, then the first line that matches and grants the access.
type rules struct {
	deny  []rule
	allow []rule
}

type rule struct {
	filter   string
	access   Access
	user     bool // a pattern with %u: skipped for clients without a user name
	expanded bool // a pattern with %u or %c
}

// ParseACL reads an ACL file in mosquitto's format:
//
//	# comment
//	topic read $SYS/#              lines before any user line: anonymous clients
//	user operator
//	topic readwrite iogate/#       the section of user operator
//	topic deny iogate/+/secret     deny wins over every grant
//	pattern read iogate/%u/#       for every client: %u its user name, %c its client id
//
// The access word is read, write, readwrite or deny; without one, a line
// grants readwrite (so "topic read" grants readwrite on the topic "read",
// as in mosquitto). An error is a *LineError.
func ParseACL(data []byte) (*ACL, error) {
	a := &ACL{users: map[string]*rules{}}
	var section *rules // nil until a line needs the anonymous section
	user := ""
	err := lines(data, func(_ int, line string) error {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			return nil
		}
		word, rest := cutWord(line)
		switch word {
		case "user":
			if rest == "" {
				return errors.New("user: missing user name")
			}
			user = rest
			if a.users[user] == nil {
				a.users[user] = &rules{}
			}
			section = a.users[user]
			return nil
		case "topic", "pattern":
			r, err := parseRule(word, rest)
			if err != nil {
				return err
			}
			a.lines++
			if word == "pattern" {
				a.patterns.add(r)
				return nil
			}
			if section == nil {
				a.anonymous = &rules{}
				section = a.anonymous
			}
			section.add(r)
			return nil
		}
		return fmt.Errorf("%q: want a line starting with topic, pattern or user", line)
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// cutWord splits off the first word of s. Words are separated by spaces
// only, as mosquitto's strtok(" ") does; the rest is trimmed of blanks, tabs
// too, as its misc__trimblanks does.
func cutWord(s string) (word, rest string) {
	s = strings.TrimLeft(s, " ")
	i := strings.IndexByte(s, ' ')
	if i < 0 {
		return s, ""
	}
	return s[:i], strings.TrimSpace(s[i+1:])
}

func parseRule(kind, text string) (rule, error) {
	word, filter := cutWord(text)
	if word == "" {
		return rule{}, fmt.Errorf("%s: missing topic filter", kind)
	}
	if filter == "" {
		word, filter = "readwrite", word
	}
	var r rule
	switch word {
	case "read":
		r.access = Read
	case "write":
		r.access = Write
	case "readwrite":
		r.access = Read | Write
	case "deny":
	default:
		return rule{}, fmt.Errorf("%s %s: access %q is not read, write, readwrite or deny", kind, filter, word)
	}
	if err := checkFilter(filter); err != nil {
		return rule{}, fmt.Errorf("%s: %w", kind, err)
	}
	r.filter = filter
	if kind == "pattern" {
		r.user = strings.Contains(filter, "%u")
		r.expanded = r.user || strings.Contains(filter, "%c")
	}
	return r, nil
}

func (rs *rules) add(r rule) {
	if r.access == 0 {
		rs.deny = append(rs.deny, r)
	} else {
		rs.allow = append(rs.allow, r)
	}
}

// Allows reports whether a client may have access to topic. user is ""
// for a client that did not log in (the anonymous section applies);
// clientID stands for %c in patterns. A client with a user name or client
// id holding '+' or '#' gets nothing from patterns, as in mosquitto: it
// could otherwise widen its own %u and %c.
func (a *ACL) Allows(user, clientID, topic string, access Access) bool {
	var own *rules
	if user == "" {
		own = a.anonymous
	} else {
		own = a.users[user]
	}
	if own != nil {
		for _, r := range own.deny {
			if Match(r.filter, topic) {
				return false
			}
		}
		for _, r := range own.allow {
			if r.access&access != 0 && Match(r.filter, topic) {
				return true
			}
		}
	}
	if len(a.patterns.deny)+len(a.patterns.allow) == 0 {
		return false
	}
	if strings.ContainsAny(user, "+#") || strings.ContainsAny(clientID, "+#") {
		return false
	}
	for _, r := range a.patterns.deny {
		if r.matches(user, clientID, topic) {
			return false
		}
	}
	for _, r := range a.patterns.allow {
		if r.access&access != 0 && r.matches(user, clientID, topic) {
			return true
		}
	}
	return false
}

// matches reports whether a pattern, with %u and %c replaced, matches topic.
func (r *rule) matches(user, clientID, topic string) bool {
	if r.user && user == "" {
		return false
	}
	if !r.expanded {
		return Match(r.filter, topic)
	}
	var b strings.Builder
	f := r.filter
	for {
		i := strings.IndexByte(f, '%')
		if i < 0 || i == len(f)-1 {
			b.WriteString(f)
			break
		}
		b.WriteString(f[:i])
		switch f[i+1] {
		case 'u':
			b.WriteString(user)
		case 'c':
			b.WriteString(clientID)
		default:
			b.WriteByte('%') // and what follows is read again: "%%c" is '%' and the client id
			f = f[i+1:]
			continue
		}
		f = f[i+2:]
	}
	return Match(b.String(), topic)
}

// Users returns the names of the user sections, sorted.
func (a *ACL) Users() []string {
	users := make([]string, 0, len(a.users))
	for u := range a.users {
		users = append(users, u)
	}
	slices.Sort(users)
	return users
}

// Rules is the number of topic and pattern lines.
func (a *ACL) Rules() int { return a.lines }

// Patterns is the number of pattern lines.
func (a *ACL) Patterns() int { return len(a.patterns.deny) + len(a.patterns.allow) }

// Anonymous reports whether the file has lines for anonymous clients
// (topic lines before the first user line).
func (a *ACL) Anonymous() bool { return a.anonymous != nil }
