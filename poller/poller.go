// Package poller tells which file descriptors are ready for I/O.
//
// A Poller watches raw descriptors for read and write readiness and reports
// ready descriptors by the token the caller gave when adding them. It is a thin
// layer over the operating system's readiness API: epoll on Linux, kqueue on
// darwin and the BSDs, and poll(2) on any Unix. It does no I/O on the watched
// descriptors and knows nothing of what they are; buffering, timers and
// dispatch belong to package reactor.
//
// All engines are level-triggered: a descriptor stays reported as long as it
// is ready and its interest is set. A Poller is used from one goroutine,
// except Wake, which any goroutine may call.
package poller

import (
	"errors"
	"fmt"
	"math"
	"time"

	"golang.org/x/sys/unix"
)

// Interest is the set of readiness conditions a descriptor is watched for.
// Hangup and error conditions are always reported, whatever the interest,
// and so is the peer closing its side of a socket, unless PeerClosed says
// that the caller knows already.
type Interest uint8

// The interests a descriptor can be watched for.
const (
	Read Interest = 1 << iota
	Write
	// PeerClosed says the peer's half-close (a TCP FIN) has been seen: it
	// is no longer reported, only a full hangup or an error is. Without
	// Read, a half-closed socket would otherwise be reported forever.
	PeerClosed
)

// Flags describes the readiness of a descriptor in an Event.
type Flags uint8

// The conditions an Event reports, separately, so that a caller can read the
// data left in a descriptor before acting on its hangup.
const (
	Readable Flags = 1 << iota
	Writable
	Hangup // the peer closed; data may still be readable
	Error  // an error is pending on the descriptor
)

// Event is one ready descriptor, named by the token it was added with.
type Event struct {
	Token uint64
	Flags Flags
}

// Poller is a readiness notification engine.
type Poller interface {
	// Add watches fd for the given interest; events for it carry token,
	// which may be any value but ReservedToken.
	Add(fd int, token uint64, in Interest) error
	// Modify replaces the interest and token of a watched descriptor.
	Modify(fd int, token uint64, in Interest) error
	// Remove stops watching fd. It must be called before fd is closed.
	Remove(fd int) error
	// Wait blocks until at least one descriptor is ready, Wake is called, or
	// the timeout passes, and fills events with what is ready. A negative
	// timeout waits forever; zero returns at once. It returns the number of
	// events written; zero after a timeout or a wake-up. Interrupted system
	// calls are retried with the time that is left.
	Wait(events []Event, timeout time.Duration) (int, error)
	// Wake makes a blocked or the next Wait return. It is safe from any
	// goroutine, and a burst of calls before Wait returns costs one write.
	Wake() error
	// Close releases the engine. Watched descriptors are not closed.
	Close() error
	// Name is the engine's name: "epoll", "kqueue" or "poll".
	Name() string
}

// ReservedToken is the one token a caller may not use: engines mark their
// own wake-up with it.
const ReservedToken = ^uint64(0)

const wakeToken = ReservedToken

// ErrNotPollable is returned by Add for a descriptor that readiness cannot
// describe: a regular file or a directory is always ready, so it would spin,
// and epoll also refuses devices without poll support, such as /dev/null.
// (poll(2) reports those ready forever; no engine can tell them apart.)
var ErrNotPollable = errors.New("descriptor cannot be polled (a regular file, a directory, or a device without poll support)")

// ErrUnknownEngine is returned by New for a name that is not an engine, or an
// engine that this operating system does not have.
var ErrUnknownEngine = errors.New("poll engine not available")

// preference orders the engines from best to most portable.
var preference = []string{"epoll", "kqueue", "poll"}

// openers holds the engines built for this operating system, by name; each
// engine's file adds itself.
var openers = map[string]func() (Poller, error){}

// Engines returns the names of the engines available here, best first.
func Engines() []string {
	var names []string
	for _, name := range preference {
		if openers[name] != nil {
			names = append(names, name)
		}
	}
	return names
}

// New opens the engine with the given name; "auto" or "" picks the best one
// this operating system has.
func New(name string) (Poller, error) {
	if name == "auto" || name == "" {
		name = Engines()[0]
	}
	open := openers[name]
	if open == nil {
		return nil, fmt.Errorf("poller %q: %w (available here: %v)", name, ErrUnknownEngine, Engines())
	}
	return open()
}

// checkPollable refuses descriptors that are always ready. epoll refuses them
// by itself (EPERM); poll and kqueue would report them ready forever.
func checkPollable(fd int) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("fstat fd %d: %w", fd, err)
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG, unix.S_IFDIR:
		return fmt.Errorf("fd %d: %w", fd, ErrNotPollable)
	}
	return nil
}

// maxWait bounds one wait in the kernel: epoll_wait and poll take an int32 of
// milliseconds, and darwin's kevent refuses very long timeouts. A longer Wait
// returns zero events after maxWait, like any timeout; callers loop anyway.
const maxWait = math.MaxInt32 * time.Millisecond

// millis converts a Wait timeout to the milliseconds that epoll and poll take,
// rounding up so a timer due in 0.3 ms does not spin on zero-timeout waits.
func millis(d time.Duration) int {
	if d < 0 {
		return -1
	}
	return int((min(d, maxWait) + time.Millisecond - 1) / time.Millisecond)
}
