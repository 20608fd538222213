package unix

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
)

func TestPermit(t *testing.T) {
	const self, group = 2147480998, 2147480997
	groups := func(uid int) ([]string, error) {
		switch uid {
		case 1000:
			return []string{"1000", "27", strconv.Itoa(group)}, nil
		case 1001:
			return []string{"1001", "27"}, nil
		}
		return nil, errors.New("user: unknown userid " + strconv.Itoa(uid))
	}
	for _, tc := range []struct {
		name string
		peer Cred
		gid  int
		ok   bool
		why  string
	}{
		{"root", Cred{PID: 1, UID: 0, GID: 0}, group, true, ""},
		{"the gateway's user", Cred{PID: 2, UID: self, GID: 5}, group, true, ""},
		{"primary group", Cred{PID: 3, UID: 4242, GID: group}, group, true, ""},
		{"supplementary group", Cred{PID: 4, UID: 1000, GID: 1000}, group, true, ""},
		{"another group", Cred{PID: 5, UID: 1001, GID: 1001}, group, false, "uid 1001 is neither root nor the gateway's uid 2147480998, nor a member of group 2147480997"},
		{"no such user", Cred{PID: 6, UID: 4242, GID: 4242}, group, false, "its groups are unknown (user: unknown userid 4242)"},
		{"unknown peer", Cred{PID: -1, UID: -1, GID: -1}, group, false, "the peer's user is unknown"},
		{"no group", Cred{PID: 7, UID: 1000, GID: -1}, -1, false, "nor a member of group -1"},
	} {
		err := permit(tc.peer, self, tc.gid, groups)
		if tc.ok != (err == nil) || (err != nil && (!errors.Is(err, os.ErrPermission) || !strings.Contains(err.Error(), tc.why))) {
			t.Errorf("%s: permit(%+v) = %v, want ok %v with %q", tc.name, tc.peer, err, tc.ok, tc.why)
		}
	}
}

// The group lookup is the system's: a user is a member of its own
// primary group in the database.
func TestGroupsOf(t *testing.T) {
	ids, err := groupsOf(os.Getuid())
	if err != nil {
		t.Skipf("this user is not in the user database: %v", err)
	}
	gid := strconv.Itoa(os.Getgid())
	found := false
	for _, id := range ids {
		found = found || id == gid
	}
	if !found {
		t.Fatalf("groups of uid %d: %v, without its gid %s", os.Getuid(), ids, gid)
	}
	if err := Permit(Cred{PID: 1, UID: 2147483000, GID: 2147483000}, os.Getgid()); !errors.Is(err, os.ErrPermission) {
		t.Fatalf("Permit of a user nobody knows: %v", err)
	}
}
