package unix

import (
	"fmt"
	"os"
	"os/user"
	"slices"
	"strconv"
)

// Permit says whether a peer may use the gateway: it returns nil for root,
// for the gateway's own user, and for a member of group gid (the socket's
// group; its primary group, or a supplementary one in the group database),
// and otherwise an error wrapping os.ErrPermission that says why not.
//
// The kernel checked the socket file's mode when the peer connected, so
// with mode 0660 Permit only says no when the mode or the group are not
// what the gateway set. Supplementary groups are looked up in the system's
// group database, /etc/group (through NSS when cgo is on), only for a peer
// that is none of the others.
func Permit(peer Cred, gid int) error {
	return permit(peer, os.Getuid(), gid, groupsOf)
}

// permit is Permit with the gateway's uid and the group lookup given.
func permit(peer Cred, self, gid int, groups func(uid int) ([]string, error)) error {
	if peer.UID == 0 || peer.UID == self || (gid >= 0 && peer.GID == gid) {
		return nil
	}
	if peer.UID < 0 {
		return fmt.Errorf("the peer's user is unknown: %w", os.ErrPermission)
	}
	ids, err := groups(peer.UID)
	if err != nil {
		return fmt.Errorf("uid %d is neither root nor the gateway's uid %d, and its groups are unknown (%v): %w", peer.UID, self, err, os.ErrPermission)
	}
	if gid >= 0 && slices.Contains(ids, strconv.Itoa(gid)) {
		return nil
	}
	return fmt.Errorf("uid %d is neither root nor the gateway's uid %d, nor a member of group %s: %w", peer.UID, self, groupName(gid), os.ErrPermission)
}

func groupsOf(uid int) ([]string, error) {
	u, err := user.LookupId(strconv.Itoa(uid))
	if err != nil {
		return nil, err
	}
	return u.GroupIds()
}

// groupName is "iogate (gid 998)", or the number alone when the group has
// no name.
func groupName(gid int) string {
	if g, err := user.LookupGroupId(strconv.Itoa(gid)); err == nil {
		return fmt.Sprintf("%s (gid %d)", g.Name, gid)
	}
	return strconv.Itoa(gid)
}
