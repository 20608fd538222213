package poller

import "golang.org/x/sys/unix"

// pollPeerClosed asks poll(2) to report a socket whose peer shut down its
// writing side, which Linux otherwise reports only as readable.
const pollPeerClosed = unix.POLLRDHUP
