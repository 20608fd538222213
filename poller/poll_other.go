//go:build unix && !linux

package poller

import "golang.org/x/sys/unix"

// pollPeerClosed is POLLHUP where poll(2) has no POLLRDHUP: asking for it is
// harmless, since the kernel reports a hangup whether asked or not.
const pollPeerClosed = unix.POLLHUP
