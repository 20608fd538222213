// Package systemd tells the service manager how the process is doing,
// through the sd_notify protocol: a datagram to $NOTIFY_SOCKET.
//
// It is the part of libsystemd that a Type=notify service needs, and no
// more: readiness, stopping, status text, and the watchdog's interval and
// pings. Outside systemd (no $NOTIFY_SOCKET) every call does nothing.
package systemd

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"time"
)

// The states a service reports.
const (
	Ready    = "READY=1"
	Stopping = "STOPPING=1"
	Watchdog = "WATCHDOG=1"
)

// Notify sends state (one or more "KEY=value" lines) to the service
// manager. It reports whether there was one to send it to.
func Notify(state string) (bool, error) {
	socket := os.Getenv("NOTIFY_SOCKET")
	if socket == "" {
		return false, nil
	}
	addr := &net.UnixAddr{Name: socket, Net: "unixgram"}
	if socket[0] == '@' {
		addr.Name = "\x00" + socket[1:] // an abstract socket
	}
	conn, err := net.DialUnix("unixgram", nil, addr)
	if err != nil {
		return false, fmt.Errorf("sd_notify %s: %w", socket, err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(state)); err != nil {
		return false, fmt.Errorf("sd_notify %s: %w", socket, err)
	}
	return true, nil
}

// WatchdogInterval is the time within which the service manager wants a
// Watchdog ping (WatchdogSec=), or 0 when it wants none. Ping at half of
// it, as sd_watchdog_enabled(3) advises.
func WatchdogInterval() (time.Duration, error) {
	usec := os.Getenv("WATCHDOG_USEC")
	if usec == "" {
		return 0, nil
	}
	if pid := os.Getenv("WATCHDOG_PID"); pid != "" && pid != strconv.Itoa(os.Getpid()) {
		return 0, nil // meant for another process
	}
	n, err := strconv.ParseInt(usec, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("WATCHDOG_USEC=%q: not a positive number of microseconds", usec)
	}
	return time.Duration(n) * time.Microsecond, nil
}
