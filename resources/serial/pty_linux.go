package serial

import (
	"fmt"
	"strconv"

	"golang.org/x/sys/unix"
)

// OpenPTY creates a pseudo-terminal pair, as posix_openpt, unlockpt and
// ptsname do, with the terminal in raw mode: until a Port sets its own
// mode, nothing the device side writes is echoed back or translated.
func OpenPTY() (*PTY, error) {
	const ptmx = "/dev/ptmx"
	m, err := unix.Open(ptmx, unix.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open pty: open %s: %w", ptmx, err)
	}
	path, err := unlock(m)
	if err != nil {
		unix.Close(m)
		return nil, fmt.Errorf("open pty: %w", err)
	}
	s, err := rawTerminal(path)
	if err != nil {
		unix.Close(m)
		return nil, fmt.Errorf("open pty: %w", err)
	}
	t := &PTY{slave: s, path: path}
	t.master = Port{fd: m, path: ptmx, desc: "pty " + path, dev: ptmx}
	return t, nil
}

// unlock unlocks the terminal of the master m and returns its path.
func unlock(m int) (string, error) {
	if err := unix.IoctlSetPointerInt(m, unix.TIOCSPTLCK, 0); err != nil {
		return "", fmt.Errorf("unlock: %w", err)
	}
	n, err := unix.IoctlGetUint32(m, unix.TIOCGPTN)
	if err != nil {
		return "", fmt.Errorf("terminal number: %w", err)
	}
	return "/dev/pts/" + strconv.FormatUint(uint64(n), 10), nil
}

// rawTerminal opens the terminal at path in raw mode.
func rawTerminal(path string) (int, error) {
	s, err := unix.Open(path, unix.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("open %s: %w", path, err)
	}
	t, err := getTermios(s)
	if err == nil {
		makeRaw(t)
		err = setTermios(s, t)
	}
	if err != nil {
		unix.Close(s)
		return -1, fmt.Errorf("raw mode on %s: %w", path, err)
	}
	return s, nil
}
