// Package unix provides a Unix-domain stream listener and its connections
// as reactor resources: the gateway's control socket, which `iogate
// status` and `iogate trace` connect to.
//
// A *Listener and a *Conn each own one non-blocking, close-on-exec socket,
// made with the system calls directly rather than through package net, so
// that the reactor polls them beside the devices with no goroutine per
// client. Listen makes the socket file with the mode and group it is
// given, taking the place of a stale one that a crashed gateway left, but
// never of a file that is not a socket or of a socket that another process
// still answers on. Accept, Read and Write never block: they return
// reactor.ErrWouldBlock when the socket is not ready.
//
// The kernel checks the socket file's mode at every connect. Peer says who
// connected (SO_PEERCRED on Linux, LOCAL_PEERCRED on darwin and FreeBSD),
// and Permit and Listener.Admit apply the gateway's rule on top of the
// mode: root, the gateway's own user, or a member of the socket's group.
//
// It is not package net: there are no blocking calls, no deadlines and no
// datagrams, and a *Conn is not a net.Conn. Like every resource, a
// Listener or a Conn belongs to the goroutine running its reactor and is
// not safe for concurrent use.
//
// Apart from reactor.ErrWouldBlock and io.EOF, which come bare, errors are
// *net.OpError values naming the operation and the socket's path, as in
// "listen unix /var/lib/iogate/iogate.sock: bind: permission denied". They
// wrap the system's error, so errors.Is(err, syscall.EACCES) works; a
// closed Listener or Conn reports net.ErrClosed.
//
// The package builds for Linux, darwin, FreeBSD, NetBSD, OpenBSD and
// DragonFly.
package unix

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"syscall"

	"github.com/iogate/iogate/reactor"
	"golang.org/x/sys/unix"
)

// ErrInUse is what Listen returns when another process answers on the
// socket it was to take the place of: another gateway with the same
// state_dir.
var ErrInUse = errors.New("another process is listening on this socket")

// Listener is a listening Unix-domain stream socket: a reactor.Listener
// whose Accept hands out *Conn transports. Listeners come from Listen
// only; the zero value is not usable.
type Listener struct {
	fd   int
	path string
	gid  int    // the socket file's group
	dev  uint64 // the socket file's identity, so that Close removes
	ino  uint64 // its own file and not a successor's
}

var _ reactor.Listener = (*Listener)(nil)

// maxPath is the longest path a socket can have: sun_path less its NUL.
var maxPath = len(syscall.RawSockaddrUnix{}.Path) - 1

// Listen makes a socket file at path, with mode (the permission bits, such
// as 0660) and group gid (-1 keeps the group the system gives it), and
// listens on it. A socket file already at path is removed first when
// nobody answers on it, as after a crash; Listen fails with ErrInUse when
// somebody does, and without touching it when path is anything but a
// socket. The mode and group are set before the socket listens, so no
// client ever connects through a wider mode.
func Listen(path string, mode fs.FileMode, gid int) (*Listener, error) {
	l, err := listen(path, mode, gid)
	if err != nil {
		return nil, &net.OpError{Op: "listen", Net: "unix", Addr: unixAddr(path), Err: err}
	}
	return l, nil
}

func listen(path string, mode fs.FileMode, gid int) (*Listener, error) {
	if len(path) > maxPath {
		return nil, fmt.Errorf("the path is %d bytes long, and a socket's may be %d at most", len(path), maxPath)
	}
	if mode&^fs.ModePerm != 0 {
		return nil, fmt.Errorf("mode %v is more than permission bits", mode)
	}
	if err := removeStale(path); err != nil {
		return nil, err
	}
	fd, err := socket()
	if err != nil {
		return nil, err
	}
	l := &Listener{fd: fd, path: path}
	if err := l.bind(mode, gid); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return l, nil
}

// bind makes the socket file, sets its mode and group, and listens.
func (l *Listener) bind(mode fs.FileMode, gid int) error {
	if err := syscall.Bind(l.fd, &syscall.SockaddrUnix{Name: l.path}); err != nil {
		return os.NewSyscallError("bind", err)
	}
	err := func() error {
		if err := os.Chmod(l.path, mode); err != nil {
			return err
		}
		if gid >= 0 {
			if err := os.Lchown(l.path, -1, gid); err != nil {
				return err
			}
		}
		var st unix.Stat_t
		if err := unix.Lstat(l.path, &st); err != nil {
			return &fs.PathError{Op: "lstat", Path: l.path, Err: err}
		}
		l.dev, l.ino, l.gid = uint64(st.Dev), uint64(st.Ino), int(st.Gid)
		if err := unix.Listen(l.fd, unix.SOMAXCONN); err != nil {
			return os.NewSyscallError("listen", err)
		}
		return nil
	}()
	if err != nil {
		os.Remove(l.path)
	}
	return err
}

// removeStale removes the socket file at path if nobody answers on it.
func removeStale(path string) error {
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return err
	case fi.Mode().Type() != fs.ModeSocket:
		return fmt.Errorf("%s is a %s, not a socket: not removing it", path, kindOf(fi.Mode()))
	}
	live, err := answers(path)
	switch {
	case err != nil:
		return fmt.Errorf("cannot tell whether another process listens on the socket: %w", err)
	case live:
		return ErrInUse
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing the stale socket: %w", err)
	}
	return nil
}

// answers tries to connect to the socket at path, without blocking: a
// refusal means nobody listens, a full backlog that somebody does.
func answers(path string) (bool, error) {
	fd, err := socket()
	if err != nil {
		return false, err
	}
	defer unix.Close(fd)
	switch err := syscall.Connect(fd, &syscall.SockaddrUnix{Name: path}); err {
	case nil, syscall.EAGAIN, syscall.EINPROGRESS:
		return true, nil
	case syscall.ECONNREFUSED, syscall.ENOENT:
		return false, nil
	default:
		return false, os.NewSyscallError("connect", err)
	}
}

func kindOf(m fs.FileMode) string {
	switch m.Type() {
	case 0:
		return "regular file"
	case fs.ModeDir:
		return "directory"
	case fs.ModeSymlink:
		return "symbolic link"
	case fs.ModeNamedPipe:
		return "named pipe"
	case fs.ModeDevice, fs.ModeDevice | fs.ModeCharDevice:
		return "device"
	}
	return "file of mode " + m.Type().String()
}

// Path is the socket file's path.
func (l *Listener) Path() string { return l.path }

// GID is the socket file's group: the group whose members Admit lets in.
func (l *Listener) GID() int { return l.gid }

// Fd is the listening socket, or -1 once the listener is closed, so that a
// closed listener never names a descriptor that has been reused since.
func (l *Listener) Fd() int { return l.fd }

// Close closes the listening socket and removes its file, unless the file
// is not the one Listen made any more. Connections it accepted stay open.
// Closing it again returns an error wrapping net.ErrClosed.
func (l *Listener) Close() error {
	if l.fd < 0 {
		return l.opError("close", net.ErrClosed)
	}
	fd := l.fd
	l.fd = -1
	var st unix.Stat_t
	if unix.Lstat(l.path, &st) == nil && uint64(st.Dev) == l.dev && uint64(st.Ino) == l.ino {
		os.Remove(l.path)
	}
	if err := unix.Close(fd); err != nil {
		return l.opError("close", os.NewSyscallError("close", err))
	}
	return nil
}

// Accept returns the next pending connection as a *Conn. It returns
// reactor.ErrWouldBlock when none is pending, and an error wrapping
// net.ErrClosed once the listener is closed.
func (l *Listener) Accept() (reactor.Transport, error) {
	if l.fd < 0 {
		return nil, l.opError("accept", net.ErrClosed)
	}
	for {
		fd, err := accept(l.fd)
		switch err {
		case nil:
			return &Conn{fd: fd, path: l.path}, nil
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return nil, reactor.ErrWouldBlock
		default:
			return nil, l.opError("accept", err)
		}
	}
}

// Admit tells whether the peer of c may use the gateway: it returns the
// peer's credentials and nil when Permit says yes for the socket's group,
// or why not. Where the system cannot name the peer (NetBSD, OpenBSD,
// DragonFly), it admits every peer: the socket file's mode, which the
// kernel checked at connect, is then the only rule.
func (l *Listener) Admit(c *Conn) (Cred, error) {
	cred, err := c.Peer()
	switch {
	case errors.Is(err, errors.ErrUnsupported):
		return Cred{PID: -1, UID: -1, GID: -1}, nil
	case err != nil:
		return cred, err
	}
	return cred, Permit(cred, l.gid)
}

func (l *Listener) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: "unix", Addr: unixAddr(l.path), Err: err}
}

func unixAddr(path string) net.Addr { return &net.UnixAddr{Name: path, Net: "unix"} }
