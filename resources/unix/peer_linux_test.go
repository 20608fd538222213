package unix_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// nobody is the unprivileged user the tests connect as, through socat.
func nobody(t *testing.T) (uid, gid int) {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("connecting as another user needs root")
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Skip(err)
	}
	uid, _ = strconv.Atoi(u.Uid)
	gid, _ = strconv.Atoi(u.Gid)
	return uid, gid
}

// connectAs runs socat as uid:gid connected to the socket at path, until
// the returned stop is called; stop returns what socat said on stderr.
func connectAs(t *testing.T, path string, uid, gid int) (cmd *exec.Cmd, stop func() (string, error)) {
	t.Helper()
	cmd = exec.Command(need(t, "socat"), "-", "UNIX-CONNECT:"+path)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}}
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr, cmd.Stdout = &stderr, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop = func() (string, error) {
		if stopped {
			return stderr.String(), nil
		}
		stopped = true
		in.Close()
		err := cmd.Wait()
		return stderr.String(), err
	}
	t.Cleanup(func() { stop() })
	return cmd, stop
}

// The kernel enforces the mode at connect; Peer names the other user's
// process, and Admit applies the rule to it.
func TestPeerOtherUser(t *testing.T) {
	uid, gid := nobody(t)

	// 0660 root:root: nobody may not connect at all.
	path := sockDir(t)
	listen(t, path, 0o660, 0)
	_, stop := connectAs(t, path, uid, gid)
	if out, err := stop(); err == nil || !strings.Contains(out, "Permission denied") {
		t.Fatalf("socat as nobody on a 0660 root:root socket: %v, %q", err, out)
	}

	// 0666: the kernel lets it in, and Admit turns it away.
	path = sockDir(t)
	l := listen(t, path, 0o666, 0)
	cmd, _ := connectAs(t, path, uid, gid)
	c := accept(t, l)
	cred, err := c.Peer()
	if err != nil {
		t.Fatal(err)
	}
	if cred.PID != cmd.Process.Pid || cred.UID != uid || cred.GID != gid {
		t.Fatalf("Peer() = %+v, want pid %d uid %d gid %d", cred, cmd.Process.Pid, uid, gid)
	}
	if _, err := l.Admit(c); !errors.Is(err, os.ErrPermission) {
		t.Fatalf("Admit of nobody on a root:root socket: %v", err)
	}

	// 0660 with nobody's group: in through the kernel and Admit.
	path = sockDir(t)
	l = listen(t, path, 0o660, gid)
	connectAs(t, path, uid, gid)
	c = accept(t, l)
	if cred, err := l.Admit(c); err != nil || cred.UID != uid {
		t.Fatalf("Admit of nobody on a socket of its group: %+v, %v", cred, err)
	}
}
