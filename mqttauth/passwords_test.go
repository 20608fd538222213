package mqttauth_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/iogate/iogate/mqttauth"
)

// testdata/passwd was written by Debian's mosquitto_passwd 2.0.11:
// -c -b passwd alice 'correct horse'; -b passwd bob 'p@ss:wörd';
// -H sha512 -b passwd carol old-style (a $6$ line); and dave smith with
// an empty password.
func TestPasswordsFromMosquittoPasswd(t *testing.T) {
	data, err := os.ReadFile("testdata/passwd")
	if err != nil {
		t.Fatal(err)
	}
	p, err := mqttauth.ParsePasswords(data)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := p.Users(), []string{"alice", "bob", "carol", "dave smith"}; !slices.Equal(got, want) {
		t.Errorf("Users() = %q, want %q", got, want)
	}
	for _, c := range []struct {
		user, password string
		ok             bool
	}{
		{"alice", "correct horse", true},
		{"alice", "correct horse ", false},
		{"alice", "Correct horse", false},
		{"alice", "", false},
		{"bob", "p@ss:wörd", true},
		{"bob", "p@ss", false},
		{"carol", "old-style", true},
		{"carol", "old-styl", false},
		{"dave smith", "", true},
		{"dave smith", "x", false},
		{"eve", "correct horse", false},
		{"", "", false},
	} {
		if got := p.Check(c.user, c.password); got != c.ok {
			t.Errorf("Check(%q, %q) = %t, want %t", c.user, c.password, got, c.ok)
		}
	}
}

// A file made here and now by mosquitto_passwd, in both of its formats.
func TestPasswordsFreshFromMosquittoPasswd(t *testing.T) {
	tool, err := exec.LookPath("mosquitto_passwd")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("mosquitto_passwd is missing; CI must have it (apt-get install mosquitto)")
		}
		t.Skip("mosquitto_passwd is not installed (Debian's mosquitto package has it)")
	}
	file := filepath.Join(t.TempDir(), "passwd")
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(tool, args...).CombinedOutput(); err != nil {
			t.Fatalf("mosquitto_passwd %q: %v: %s", args, err, out)
		}
	}
	run("-c", "-b", file, "viewer", "s3cret")
	run("-H", "sha512", "-b", file, "legacy", "also s3cret")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	p, err := mqttauth.ParsePasswords(data)
	if err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	if !p.Check("viewer", "s3cret") || !p.Check("legacy", "also s3cret") {
		t.Errorf("the right passwords are refused:\n%s", data)
	}
	if p.Check("viewer", "also s3cret") || p.Check("legacy", "s3cret") {
		t.Errorf("a wrong password is accepted:\n%s", data)
	}
	before := p
	run("-b", file, "viewer", "s3cret") // the same password again: a new salt
	if data, err = os.ReadFile(file); err != nil {
		t.Fatal(err)
	}
	if p, err = mqttauth.ParsePasswords(data); err != nil {
		t.Fatal(err)
	}
	if before.Same("viewer", p) || !before.Same("legacy", p) {
		t.Errorf("Same: viewer %t (want false, set again), legacy %t (want true, untouched)",
			before.Same("viewer", p), before.Same("legacy", p))
	}
	run("-D", file, "legacy")
	if data, err = os.ReadFile(file); err != nil {
		t.Fatal(err)
	}
	if p, err = mqttauth.ParsePasswords(data); err != nil {
		t.Fatal(err)
	}
	if p.Has("legacy") || before.Same("legacy", p) {
		t.Error("a deleted user is still there")
	}
}

const aliceLine = "alice:$7$101$qtXfVi7bjS1XyJkC$Z+i/YMbjZhnSQxDjukw9YOvbkZoviba75YzB0RooyzpYZH02wqKnhQNqyNyOQ6v/PbcVE2ai3ThGd7bbcHC/ag=="

func TestParsePasswordsErrors(t *testing.T) {
	for _, c := range []struct {
		name, text string
		line       int
		want       string
	}{
		{"no colon", "# users\n\nalice\n", 3, "want user:hash"},
		{"plain text", "alice:secret\n", 1, "plain-text passwords are not accepted"},
		{"empty hash", "alice:\n", 1, "not a hash"},
		{"empty user", ":$6$x$y\n", 1, "empty user name"},
		{"unknown type", "alice:$5$abc$def\n", 1, "hash type $5$"},
		{"7 without iterations", "alice:$7$qtXfVi7bjS1XyJkC$Z+i/\n", 1, "want $7$iterations$salt$hash"},
		{"zero iterations", strings.Replace(aliceLine, "$101$", "$0$", 1), 1, "iterations \"0\""},
		{"too many iterations", strings.Replace(aliceLine, "$101$", "$99999999999$", 1), 1, "iterations"},
		{"short salt", strings.Replace(aliceLine, "qtXfVi7bjS1XyJkC", "qtXfVi7b", 1), 1, "salt: 6 bytes, want 12"},
		{"bad base64", strings.Replace(aliceLine, "Z+i/", "Z*i/", 1), 1, "hash: \"Z*i/"},
		{"short hash", "alice:$6$qtXfVi7bjS1XyJkC$AAAA\n", 1, "hash: 3 bytes, want 64"},
		{"extra field", aliceLine + "$x", 1, "want $7$iterations$salt$hash"},
		{"duplicate", aliceLine + "\n" + aliceLine + "\n", 2, `user "alice" is already on line 1`},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := mqttauth.ParsePasswords([]byte(c.text))
			var le *mqttauth.LineError
			if !errors.As(err, &le) {
				t.Fatalf("ParsePasswords = %v, %v; want a *LineError", p, err)
			}
			if le.Line != c.line || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q at line %d, want %q at line %d", err, le.Line, c.want, c.line)
			}
		})
	}
}

func TestParsePasswordsLayout(t *testing.T) {
	text := "# made by mosquitto_passwd\r\n\r\n  " + aliceLine + "  \r\n#bob:$6$...\n"
	p, err := mqttauth.ParsePasswords([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.Users(), []string{"alice"}) || !p.Check("alice", "correct horse") {
		t.Errorf("users %q, alice's password checked %t", p.Users(), p.Check("alice", "correct horse"))
	}
	empty, err := mqttauth.ParsePasswords(nil)
	if err != nil || len(empty.Users()) != 0 || empty.Check("", "") {
		t.Errorf("an empty file: %v, %v", empty, err)
	}
}
