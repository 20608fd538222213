//go:build !linux

package spool

import (
	"errors"
	"os"
	"syscall"
)

// datasync flushes f. Without fdatasync(2) in golang.org/x/sys/unix for
// this system, it is fsync(2) (F_FULLFSYNC on darwin, through os.File).
func datasync(f *os.File) error { return f.Sync() }

// syncDir makes the directory's entries durable where the system can sync
// a directory; some refuse it on a descriptor opened for reading, and
// there the entries are written with the next metadata flush.
func syncDir(d *os.File) error {
	err := d.Sync()
	if errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOTSUP) || errors.Is(err, syscall.EBADF) {
		return nil
	}
	return err
}
