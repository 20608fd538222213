package tcp

import (
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// The keep-alive timing that accepted and dialed connections start with.
const (
	keepAliveIdle     = 30 * time.Second
	keepAliveInterval = 10 * time.Second
	keepAliveCount    = 3
)

func setInt(fd, level, opt int, name string, value int) error {
	if err := unix.SetsockoptInt(fd, level, opt, value); err != nil {
		return os.NewSyscallError("setsockopt "+name, err)
	}
	return nil
}

func setNoDelay(fd int, on bool) error {
	return setInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, "TCP_NODELAY", boolInt(on))
}

// setKeepAlive turns keep-alive on with the given timing, or off when idle
// is not positive. It turns it on before setting the timing, so that where
// the timing cannot be set (OpenBSD) the system-wide one applies.
func setKeepAlive(fd int, idle, interval time.Duration, count int) error {
	if idle <= 0 {
		return setInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE, "SO_KEEPALIVE", 0)
	}
	if interval <= 0 || count <= 0 {
		return fmt.Errorf("keep-alive interval %v and count %d must be positive", interval, count)
	}
	if err := setInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE, "SO_KEEPALIVE", 1); err != nil {
		return err
	}
	return keepAliveTiming(fd, seconds(idle), seconds(interval), count)
}

// tune gives a new connection the package's defaults. Where keep-alive
// timing is system-wide, keep-alive is on with that timing, which is as
// close to the defaults as the system allows.
func tune(fd int) error {
	if err := setNoDelay(fd, true); err != nil {
		return err
	}
	err := setKeepAlive(fd, keepAliveIdle, keepAliveInterval, keepAliveCount)
	if errors.Is(err, errors.ErrUnsupported) {
		return nil
	}
	return err
}

// seconds rounds up: the kernel counts whole seconds, and zero would be
// refused or mean something else.
func seconds(d time.Duration) int {
	return int((d + time.Second - 1) / time.Second)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
