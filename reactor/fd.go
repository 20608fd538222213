package reactor

import (
	"io"

	"golang.org/x/sys/unix"
)

// ReadFd is the read every transport does on its non-blocking descriptor:
// it retries EINTR, returns ErrWouldBlock when nothing is there and io.EOF
// when the descriptor reports end of file (a read of nothing into a
// non-empty p). Any other error is the bare errno, for the resource to put
// in context. The count is never negative.
func ReadFd(fd int, p []byte) (int, error) {
	for {
		n, err := unix.Read(fd, p)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return 0, err
		case n == 0 && len(p) > 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

// WriteFd is the write every transport does on its non-blocking
// descriptor: it retries EINTR and returns ErrWouldBlock when the
// descriptor takes nothing now. Any other error is the bare errno, for the
// resource to put in context. The count is never negative.
func WriteFd(fd int, p []byte) (int, error) {
	for {
		n, err := unix.Write(fd, p)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return 0, err
		}
		return n, nil
	}
}
