package bridge

import "time"

// logEvery is how often one kind of problem of one device is logged; the
// occurrences in between are counted and reported with the next line.
const logEvery = 10 * time.Second

// limiter rate-limits log lines by key, so a device spewing garbage costs
// one line per logEvery, not one per frame.
type limiter struct {
	last       map[string]time.Time
	suppressed map[string]int
}

func newLimiter() *limiter {
	return &limiter{last: map[string]time.Time{}, suppressed: map[string]int{}}
}

// allow reports whether a line for key may be logged now, and how many
// were suppressed since the last one.
func (l *limiter) allow(key string, now time.Time) (ok bool, suppressed int) {
	if last, seen := l.last[key]; seen && now.Sub(last) < logEvery {
		l.suppressed[key]++
		return false, 0
	}
	l.last[key] = now
	suppressed = l.suppressed[key]
	delete(l.suppressed, key)
	return true, suppressed
}
