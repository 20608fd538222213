package spool

import (
	"os"

	"golang.org/x/sys/unix"
)

// datasync flushes f's data and the metadata needed to read it back (its
// size), but not its times: one journal commit less than fsync on ext4.
func datasync(f *os.File) error {
	for {
		err := unix.Fdatasync(int(f.Fd()))
		switch err {
		case nil:
			return nil
		case unix.EINTR:
			continue
		}
		return &os.PathError{Op: "fdatasync", Path: f.Name(), Err: err}
	}
}

// syncDir makes the directory's entries (created, removed and truncated
// segments) durable.
func syncDir(d *os.File) error { return d.Sync() }
