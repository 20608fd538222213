package bridge

import (
	"time"

	"github.com/sirupsen/logrus"
)

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

// logLimited logs a recurring problem at most once per logEvery per key,
// saying how many were left out since.
func logLimited(l *limiter, now time.Time, e *logrus.Entry, key string, level logrus.Level, msg string, err error) {
	ok, suppressed := l.allow(key, now)
	if !ok {
		return
	}
	if suppressed > 0 {
		e = e.WithField("suppressed", suppressed)
	}
	if err != nil {
		e = e.WithError(err)
	}
	e.Log(level, msg)
}
