// Package file opens character devices and FIFOs as reactor transports.
//
// A File is one non-blocking descriptor on a character device (a sensor's
// /dev/hidraw0, a pty, a vendor driver's node) or a FIFO, read by the reactor
// like any socket. Serial ports belong to package serial, which also sets
// their line settings; regular files and directories are refused, since they
// are always "ready" and a reactor would spin on them. File knows nothing of
// frames or topics.
package file

import (
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"

	"github.com/iogate/iogate/reactor"
)

// Access says which directions a File is opened for.
type Access int

// The accesses a File can be opened with.
const (
	ReadOnly Access = iota
	ReadWrite
	WriteOnly
)

func (a Access) flags() (int, error) {
	switch a {
	case ReadOnly:
		return unix.O_RDONLY, nil
	case ReadWrite:
		return unix.O_RDWR, nil
	case WriteOnly:
		return unix.O_WRONLY, nil
	}
	return 0, fmt.Errorf("access %d: want ReadOnly, ReadWrite or WriteOnly", a)
}

// Kind is what a File's path turned out to be.
type Kind int

// The kinds of node a File can be.
const (
	CharDevice Kind = iota
	FIFO
)

func (k Kind) String() string {
	if k == FIFO {
		return "fifo"
	}
	return "character device"
}

// Errors a File reports, wrapped in *os.PathError with the path.
var (
	// ErrNotPollable: the path is a regular file, a directory or a block
	// device, which a reactor cannot wait on.
	ErrNotPollable = errors.New("not a character device or FIFO (cannot be polled)")
	// ErrWriterGone: the last writer of a FIFO closed it. Reopen the FIFO
	// to wait for the next writer.
	ErrWriterGone = errors.New("last writer closed the fifo")
	// ErrNoReader: a FIFO opened for writing has no reader yet.
	ErrNoReader = errors.New("fifo has no reader")
)

// File is a character device or FIFO open in non-blocking mode. It
// implements reactor.Transport.
type File struct {
	fd     int
	path   string
	kind   Kind
	closed bool
}

// Open opens path for the given access without blocking and without
// making it the controlling terminal. A FIFO opened for reading succeeds
// with no writer; one opened for writing needs a reader (ErrNoReader).
func Open(path string, access Access) (*File, error) {
	flags, err := access.flags()
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	fd, err := unix.Open(path, flags|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	for err == unix.EINTR {
		fd, err = unix.Open(path, flags|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	}
	if err == unix.ENXIO && access == WriteOnly {
		err = ErrNoReader
	}
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	// The type is checked on the open descriptor, so a path swapped
	// between a check and the open cannot slip through.
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, &os.PathError{Op: "fstat", Path: path, Err: err}
	}
	f := &File{fd: fd, path: path}
	switch uint32(st.Mode) & unix.S_IFMT {
	case unix.S_IFCHR:
		f.kind = CharDevice
	case unix.S_IFIFO:
		f.kind = FIFO
	default:
		unix.Close(fd)
		return nil, &os.PathError{Op: "open", Path: path, Err: fmt.Errorf("%w: it is a %s", ErrNotPollable, typeName(uint32(st.Mode)))}
	}
	return f, nil
}

func typeName(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG:
		return "regular file"
	case unix.S_IFDIR:
		return "directory"
	case unix.S_IFBLK:
		return "block device"
	case unix.S_IFSOCK:
		return "socket"
	}
	return "special file"
}

// Fd is the descriptor, or -1 once the File is closed.
func (f *File) Fd() int {
	if f.closed {
		return -1
	}
	return f.fd
}

// Path is the path the File was opened with.
func (f *File) Path() string { return f.path }

// Kind says whether the File is a character device or a FIFO.
func (f *File) Kind() Kind { return f.kind }

// Read reads what is available. It returns reactor.ErrWouldBlock (EAGAIN)
// when nothing is, ErrWriterGone when a FIFO's last writer has closed, and
// io.EOF when a character device reports end of file.
func (f *File) Read(p []byte) (int, error) {
	n, err := reactor.ReadFd(f.fd, p)
	switch {
	case err == io.EOF && f.kind == FIFO:
		return 0, &os.PathError{Op: "read", Path: f.path, Err: ErrWriterGone}
	case err != nil && err != io.EOF && err != reactor.ErrWouldBlock:
		return 0, &os.PathError{Op: "read", Path: f.path, Err: err}
	}
	return n, err
}

// Write writes what the device takes now, and reactor.ErrWouldBlock
// (EAGAIN) when it takes nothing.
func (f *File) Write(p []byte) (int, error) {
	n, err := reactor.WriteFd(f.fd, p)
	if err != nil && err != reactor.ErrWouldBlock {
		return 0, &os.PathError{Op: "write", Path: f.path, Err: err}
	}
	return n, err
}

// Close closes the descriptor. Closing twice is an error, never a close of
// a descriptor number reused since.
func (f *File) Close() error {
	if f.closed {
		return &os.PathError{Op: "close", Path: f.path, Err: os.ErrClosed}
	}
	f.closed = true
	if err := unix.Close(f.fd); err != nil {
		return &os.PathError{Op: "close", Path: f.path, Err: err}
	}
	return nil
}
