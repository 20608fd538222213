package mqttauth_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/iogate/iogate/mqttauth"
)

func TestMatch(t *testing.T) {
	for _, c := range []struct {
		filter, topic string
		want          bool
	}{
		{"a/b", "a/b", true},
		{"a/b", "a/c", false},
		{"a/b", "a/b/c", false},
		{"a/b/c", "a/b", false},
		{"a/+", "a/b", true},
		{"a/+", "a/", true},
		{"a/+", "a/b/c", false},
		{"+/+", "/x", true},
		{"+", "a", true},
		{"+", "a/b", false},
		{"a/#", "a", true},
		{"a/#", "a/b/c", true},
		{"a/#", "ab", false},
		{"#", "a/b", true},
		{"#", "/", true},
		{"+/b/#", "x/b", true},
		{"#", "$SYS/broker/uptime", false},
		{"+/broker/uptime", "$SYS/broker/uptime", false},
		{"$SYS/#", "$SYS/broker/uptime", true},
		{"$SYS/+/uptime", "$SYS/broker/uptime", true},
		{"$SYS/#", "SYS/broker", false},
	} {
		if got := mqttauth.Match(c.filter, c.topic); got != c.want {
			t.Errorf("Match(%q, %q) = %t, want %t", c.filter, c.topic, got, c.want)
		}
	}
}

// A viewer and an operator as docs/operations.md sets them up, and the
// rules of mosquitto's aclfile.example.
const aclFile = `# lines before any user: anonymous clients
topic read $SYS/broker/uptime

user viewer
topic read iogate/#
topic deny iogate/+/secret/#

user operator
topic readwrite iogate/#
topic write   other/in
topic nothing-but-a-topic

# patterns are for everyone, wherever they are
pattern read devices/%u/#
pattern write clients/%c/out
pattern deny devices/%u/locked
pattern readwrite percent/%%c/%q
`

func TestACL(t *testing.T) {
	a, err := mqttauth.ParseACL([]byte(aclFile))
	if err != nil {
		t.Fatal(err)
	}
	const r, w = mqttauth.Read, mqttauth.Write
	for _, c := range []struct {
		user, client, topic string
		access              mqttauth.Access
		want                bool
	}{
		{"", "c1", "$SYS/broker/uptime", r, true},
		{"", "c1", "$SYS/broker/uptime", w, false},
		{"", "c1", "iogate/edge/gps/rx", r, false},
		{"viewer", "c1", "iogate/edge/gps/rx", r, true},
		{"viewer", "c1", "iogate/edge/gps/tx", w, false},
		{"viewer", "c1", "iogate/edge/secret/x", r, false},
		{"viewer", "c1", "$SYS/broker/uptime", r, false}, // the anonymous section is not a viewer's
		{"operator", "c1", "iogate/edge/gps/tx", w, true},
		{"operator", "c1", "iogate/edge/gps/rx", r, true},
		{"operator", "c1", "other/in", w, true},
		{"operator", "c1", "other/in", r, false},
		{"operator", "c1", "nothing-but-a-topic", w, true},
		{"operator", "c1", "iogate", r, true},
		{"nobody", "c1", "iogate/edge/gps/rx", r, false},
		// Patterns, for a user in no section too.
		{"nobody", "c1", "devices/nobody/temp", r, true},
		{"nobody", "c1", "devices/nobody/temp", w, false},
		{"nobody", "c1", "devices/other/temp", r, false},
		{"nobody", "c1", "devices/nobody/locked", r, false},
		{"viewer", "c1", "devices/viewer/x", r, true},
		{"", "c1", "devices//x", r, false}, // %u patterns skip anonymous clients
		{"", "c1", "clients/c1/out", w, true},
		{"", "c1", "clients/c2/out", w, false},
		{"nobody", "c1", "percent/%c1/%q", r, true},
		// Wildcards in names would widen the patterns: nothing from them.
		{"a/#", "c1", "devices/a/x", r, false},
		{"nobody", "c/+", "clients/c/x/out", w, false},
	} {
		if got := a.Allows(c.user, c.client, c.topic, c.access); got != c.want {
			t.Errorf("Allows(%q, %q, %q, %d) = %t, want %t", c.user, c.client, c.topic, c.access, got, c.want)
		}
	}
	if got := a.Users(); !slices.Equal(got, []string{"operator", "viewer"}) {
		t.Errorf("Users() = %q", got)
	}
	if a.Rules() != 10 || a.Patterns() != 4 || !a.Anonymous() {
		t.Errorf("Rules() = %d, Patterns() = %d, Anonymous() = %t; want 10, 4, true", a.Rules(), a.Patterns(), a.Anonymous())
	}
}

// A user's grant is found before a pattern's deny, and a user section
// written twice is one section: mosquitto's order.
func TestACLOrder(t *testing.T) {
	a, err := mqttauth.ParseACL([]byte("user u\ntopic read a/#\npattern deny a/%u\nuser v\ntopic read b\nuser u\ntopic deny a/secret\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		user, topic string
		want        bool
	}{
		{"u", "a/u", true},
		{"u", "a/secret", false},
		{"v", "b", true},
		{"v", "a/v", false},
	} {
		if got := a.Allows(c.user, "c", c.topic, mqttauth.Read); got != c.want {
			t.Errorf("Allows(%q, %q) = %t, want %t", c.user, c.topic, got, c.want)
		}
	}
}

func TestACLEmpty(t *testing.T) {
	a, err := mqttauth.ParseACL([]byte("# nothing\n\n"))
	if err != nil {
		t.Fatal(err)
	}
	if a.Allows("", "c", "a", mqttauth.Read) || a.Allows("u", "c", "a", mqttauth.Write) || a.Anonymous() {
		t.Error("an empty ACL file grants something: in mosquitto it denies everything")
	}
}

func TestParseACLErrors(t *testing.T) {
	for _, c := range []struct {
		name, text string
		line       int
		want       string
	}{
		{"unknown keyword", "topic read a\nallow read b\n", 2, `"allow read b": want a line starting with topic, pattern or user`},
		{"tab after keyword", "topic\tread a\n", 1, "want a line starting with topic"},
		{"missing topic", "topic\n", 1, "topic: missing topic filter"},
		{"bad access", "topic readonly a/b\n", 1, `access "readonly"`},
		{"bad wildcard", "\n\ntopic read a/b#\n", 3, "'+' and '#' must fill a level"},
		{"hash not last", "pattern read #/a\n", 1, "'#' must be the last level"},
		{"missing user", "user\n", 1, "user: missing user name"},
		{"inline comment", "topic read a # all of a\n", 1, "'+' and '#' must fill a level"},
		{"invalid utf-8", "topic read a/\xff\n", 1, "not valid UTF-8"},
	} {
		t.Run(c.name, func(t *testing.T) {
			a, err := mqttauth.ParseACL([]byte(c.text))
			var le *mqttauth.LineError
			if !errors.As(err, &le) {
				t.Fatalf("ParseACL = %v, %v; want a *LineError", a, err)
			}
			if le.Line != c.line || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q at line %d, want %q at line %d", err, le.Line, c.want, c.line)
			}
		})
	}
}
