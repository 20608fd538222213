package unix

import (
	"os"

	"golang.org/x/sys/unix"
)

// peer reads LOCAL_PEERCRED, what getpeereid(3) reads: the peer's uid and
// groups at connect, the first of which is its effective gid. The pid is
// in a field x/sys/unix does not name.
func peer(fd int) (Cred, error) {
	x, err := unix.GetsockoptXucred(fd, unix.SOL_LOCAL, unix.LOCAL_PEERCRED)
	if err != nil {
		return Cred{}, os.NewSyscallError("getsockopt LOCAL_PEERCRED", err)
	}
	c := Cred{PID: -1, UID: int(x.Uid), GID: -1}
	if x.Ngroups > 0 {
		c.GID = int(x.Groups[0])
	}
	return c, nil
}
