package mqttauth_test

import (
	"errors"
	"os"
	"testing"

	"github.com/iogate/iogate/mqttauth"
)

// Whatever a password file holds, ParsePasswords returns passwords or a
// *LineError, never both or neither, and never panics.
func FuzzParsePasswords(f *testing.F) {
	data, err := os.ReadFile("testdata/passwd")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte(aliceLine + "\n" + aliceLine))
	f.Add([]byte("# c\n\nbob:$6$qtXfVi7bjS1XyJkC$AAAA\n"))
	f.Add([]byte("x:$7$1$$\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := mqttauth.ParsePasswords(data)
		if (p == nil) == (err == nil) {
			t.Fatalf("passwords %v and error %v", p, err)
		}
		var le *mqttauth.LineError
		if err != nil {
			if !errors.As(err, &le) || le.Line < 1 {
				t.Fatalf("error %v is not a *LineError with a line", err)
			}
			return
		}
		for _, u := range p.Users() {
			if !p.Has(u) || !p.Same(u, p) {
				t.Fatalf("user %q listed but not found", u)
			}
		}
	})
}

// Whatever an ACL file holds, ParseACL returns an ACL or a *LineError, and
// the ACL answers any question without panicking.
func FuzzParseACL(f *testing.F) {
	f.Add([]byte(aclFile))
	f.Add([]byte("user u\ntopic read a/#\npattern deny a/%u\n"))
	f.Add([]byte("pattern readwrite %c/%u/%%/%\n"))
	f.Add([]byte("topic read\ntopic deny +/+/#\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := mqttauth.ParseACL(data)
		if (a == nil) == (err == nil) {
			t.Fatalf("acl %v and error %v", a, err)
		}
		var le *mqttauth.LineError
		if err != nil {
			if !errors.As(err, &le) || le.Line < 1 {
				t.Fatalf("error %v is not a *LineError with a line", err)
			}
			return
		}
		users := append(a.Users(), "", "x/+")
		for _, u := range users {
			for _, topic := range []string{"a", "a/b", "$SYS/x", "/", u + "/c"} {
				r := a.Allows(u, "c%u", topic, mqttauth.Read)
				w := a.Allows(u, "c%u", topic, mqttauth.Write)
				if rw := a.Allows(u, "c%u", topic, mqttauth.Read|mqttauth.Write); rw != (r || w) {
					t.Fatalf("Allows(%q, %q): read %t, write %t, either %t", u, topic, r, w, rw)
				}
			}
		}
	})
}
