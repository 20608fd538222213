package poller_test

import (
	"os"
	"os/signal"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/iogate/iogate/poller"
)

type waitResult struct {
	n   int
	err error
}

// waitInBackground calls Wait on a goroutine locked to its thread, so that
// the test can watch and signal that thread, and returns the thread's id and
// where the result arrives.
func waitInBackground(p poller.Poller, timeout time.Duration) (tid int, done <-chan waitResult) {
	tids := make(chan int, 1)
	results := make(chan waitResult, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		tids <- threadID()
		n, err := p.Wait(make([]poller.Event, 8), timeout)
		results <- waitResult{n, err}
	}()
	return <-tids, results
}

// wokenUp waits for a background Wait that only a wake-up can end, and
// checks that it returned no events.
func wokenUp(t *testing.T, done <-chan waitResult, what string) {
	t.Helper()
	select {
	case r := <-done:
		if r.n != 0 || r.err != nil {
			t.Fatalf("%s: Wait = %d, %v; want 0, nil", what, r.n, r.err)
		}
	case <-time.After(patience):
		t.Fatalf("%s: Wait(-1) has not returned after %v", what, patience)
	}
}

func testWake(t *testing.T, p poller.Poller) {
	tid, done := waitInBackground(p, -1)
	waitUntilBlocked(t, tid)
	if err := p.Wake(); err != nil {
		t.Fatalf("Wake: %v", err)
	}
	wokenUp(t, done, "Wake from another goroutine")
}

// testWakeBurst checks that many wakes before a Wait end exactly one Wait,
// and that the next wake works again.
func testWakeBurst(t *testing.T, p poller.Poller) {
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			for range 100 {
				if err := p.Wake(); err != nil {
					t.Errorf("Wake: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	_, done := waitInBackground(p, -1)
	wokenUp(t, done, "after 1000 Wakes")

	// The one time check: the kernel never ends a wait before its timeout,
	// so a Wait that returns sooner was woken by a leftover of the burst.
	const timeout = 50 * time.Millisecond
	start := time.Now()
	n, err := p.Wait(make([]poller.Event, 8), timeout)
	if elapsed := time.Since(start); n != 0 || err != nil || elapsed < timeout {
		t.Errorf("second Wait after the burst = %d, %v after %v; want 0, nil after its %v timeout", n, err, elapsed, timeout)
	}

	if err := p.Wake(); err != nil {
		t.Fatalf("Wake: %v", err)
	}
	_, done = waitInBackground(p, -1)
	wokenUp(t, done, "a Wake after the burst was consumed")
}

// testEINTR signals the thread blocked in Wait again and again: each signal
// interrupts the system call, and Wait must retry it rather than return the
// error, with the time that is left so that it still ends.
func testEINTR(t *testing.T, p poller.Poller) {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGUSR1)
	defer signal.Stop(sigs)
	tid, done := waitInBackground(p, 200*time.Millisecond)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	giveUp := time.After(patience)
	delivered := 0
	for {
		select {
		case r := <-done:
			if r.err != nil || r.n != 0 {
				t.Fatalf("Wait interrupted by signals = %d, %v; want 0, nil", r.n, r.err)
			}
			if delivered == 0 {
				t.Fatal("no signal arrived while Wait blocked: the test proved nothing")
			}
			return
		case <-sigs:
			delivered++
		case <-tick.C:
			if err := interrupt(tid); err != nil {
				t.Fatalf("signal the waiting thread: %v", err)
			}
		case <-giveUp:
			tick.Stop()
			select { // let Wait end before the cleanup closes the poller
			case <-done:
			case <-time.After(patience):
			}
			t.Fatalf("Wait(200ms) still blocked after %v of signals: its timeout must shrink on each retry", patience)
		}
	}
}
