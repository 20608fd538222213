//go:build dragonfly || freebsd || linux || netbsd

package tcp

import "golang.org/x/sys/unix"

// keepAliveTiming sets when keep-alive probes go out, in seconds.
func keepAliveTiming(fd, idle, interval, count int) error {
	if err := setInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, "TCP_KEEPIDLE", idle); err != nil {
		return err
	}
	if err := setInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, "TCP_KEEPINTVL", interval); err != nil {
		return err
	}
	return setInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPCNT, "TCP_KEEPCNT", count)
}
