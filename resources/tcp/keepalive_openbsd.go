package tcp

import (
	"errors"
	"fmt"
)

// keepAliveTiming cannot set anything: OpenBSD times keep-alive for the
// whole system (sysctl net.inet.tcp.keepidle and keepintvl).
func keepAliveTiming(_, _, _, _ int) error {
	return fmt.Errorf("keep-alive timing is system-wide on OpenBSD: %w", errors.ErrUnsupported)
}
