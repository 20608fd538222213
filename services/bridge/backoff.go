package bridge

import (
	"math/rand/v2"
	"time"
)

// backoff is the wait before reopening a device or reconnecting to the
// broker: it doubles from min to max at each failure, and starts again
// from min only once the thing stayed up longer than the wait it had, so
// that a broker that accepts and then kicks (a clashing client id, an ACL)
// or a device that opens and fails at once is retried less and less often.
type backoff struct {
	min, max time.Duration
	wait     time.Duration // the next wait; 0 before the first failure
	jitter   bool          // spread the waits of a fleet: wait/2 to 3*wait/2
}

// next returns the wait after a failure; up is how long the thing stayed
// up before it (0 if it never came up).
func (b *backoff) next(up time.Duration) time.Duration {
	if b.wait == 0 || up > b.wait {
		b.wait = b.min
	}
	wait := b.wait
	b.wait = min(b.wait*2, b.max)
	if b.jitter {
		wait = wait/2 + rand.N(wait)
	}
	return wait
}

// reset makes the next failure wait min again: the settings changed.
func (b *backoff) reset() { b.wait = 0 }
