//go:build unix && !linux

package poller_test

import (
	"testing"

	"golang.org/x/sys/unix"
)

// threadID returns 0: without gettid and tgkill here, interrupt and
// waitUntilBlocked make do without a thread id.
func threadID() int { return 0 }

// interrupt signals the process: any thread may take the signal, so only
// some of them interrupt the Wait.
func interrupt(int) error { return unix.Kill(unix.Getpid(), unix.SIGUSR1) }

// waitUntilBlocked cannot see thread states here, so the Wake may come
// before Wait blocks; Wait must return either way.
func waitUntilBlocked(*testing.T, int) {}
