package poller_test

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func threadID() int { return unix.Gettid() }

// interrupt signals one thread, so that the signal lands in its Wait.
func interrupt(tid int) error { return unix.Tgkill(unix.Getpid(), tid, unix.SIGUSR1) }

// waitUntilBlocked waits until thread tid is asleep in the kernel, which for
// a thread calling Wait means blocked in it. The thread might also sleep for
// the scheduler just before; that only makes the test weaker, not wrong.
func waitUntilBlocked(t *testing.T, tid int) {
	t.Helper()
	path := fmt.Sprintf("/proc/self/task/%d/stat", tid)
	deadline := time.Now().Add(patience)
	for time.Now().Before(deadline) {
		stat, err := os.ReadFile(path)
		if err != nil {
			t.Logf("cannot tell whether Wait blocks yet: %v", err)
			return
		}
		// The state follows the command name, which is in parentheses.
		if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) && stat[i+2] == 'S' {
			return
		}
		runtime.Gosched()
	}
	t.Fatalf("thread %d did not block in Wait within %v", tid, patience)
}
