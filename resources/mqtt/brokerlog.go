package mqtt

import (
	"context"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
)

// logEvery is how often one kind of broker event from one address is
// logged; those in between are counted and reported with the next line.
const logEvery = 10 * time.Second

// maxLogKeys bounds the limiter's memory when many addresses misbehave.
const maxLogKeys = 1024

// limiter rate-limits log lines by key. Safe for concurrent use: the
// broker's clients each run on their own goroutine.
type limiter struct {
	mu         sync.Mutex
	last       map[string]time.Time
	suppressed map[string]int
}

func newLimiter() *limiter {
	return &limiter{last: map[string]time.Time{}, suppressed: map[string]int{}}
}

// allow reports whether a line for key may be logged now, and how many
// were suppressed since the last one.
func (l *limiter) allow(key string, now time.Time) (ok bool, suppressed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if last, seen := l.last[key]; seen && now.Sub(last) < logEvery {
		l.suppressed[key]++
		return false, 0
	}
	if len(l.last) >= maxLogKeys {
		for k, t := range l.last {
			if now.Sub(t) >= logEvery {
				delete(l.last, k)
				delete(l.suppressed, k)
			}
		}
	}
	l.last[key] = now
	suppressed = l.suppressed[key]
	delete(l.suppressed, key)
	return true, suppressed
}

// rateLog is the broker's own log: warnings, each kind at most once per
// logEvery per client address.
type rateLog struct {
	l     *slog.Logger
	limit *limiter
}

func newRateLog(l *slog.Logger) *rateLog { return &rateLog{l: l, limit: newLimiter()} }

// warn logs msg with the attributes, unless a line of the same kind from
// the same host was logged less than logEvery ago.
func (r *rateLog) warn(kind, remote, msg string, args ...any) {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	ok, n := r.limit.allow(kind+" "+host, time.Now())
	if !ok {
		return
	}
	if n > 0 {
		args = append(args, "suppressed", n)
	}
	r.l.Warn(msg, args...)
}

// mochiLog passes on mochi's warnings and errors, rate-limited by message
// and with only the attributes that carry no data: mochi logs whole
// packets with some, payloads and passwords included.
type mochiLog struct {
	h     slog.Handler
	limit *limiter
}

func newMochiLog(h slog.Handler) mochiLog { return mochiLog{h: h, limit: newLimiter()} }

// mochiAttrs are the attributes of mochi's records that are passed on.
var mochiAttrs = map[string]bool{"error": true, "client": true, "listener": true, "remote": true, "hook": true}

func (m mochiLog) Enabled(ctx context.Context, level slog.Level) bool {
	return level >= slog.LevelWarn && m.h.Enabled(ctx, level)
}

func (m mochiLog) Handle(ctx context.Context, r slog.Record) error {
	// A listener logs every connection that ends with an error, with no
	// message: refused logins, which the auth hook logs, and clients going
	// away. A publish the ACL refused is logged by the auth hook too.
	if r.Message == "" || r.Message == "publish packet error" && deniedPublish(r) {
		return nil
	}
	ok, n := m.limit.allow(r.Message, r.Time)
	if !ok {
		return nil
	}
	out := slog.NewRecord(r.Time, r.Level, "broker: "+r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		if mochiAttrs[a.Key] {
			out.AddAttrs(a)
		}
		return true
	})
	if n > 0 {
		out.AddAttrs(slog.Int("suppressed", n))
	}
	return m.h.Handle(ctx, out)
}

func deniedPublish(r slog.Record) bool {
	denied := false
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "error" && a.Value.Any() == packets.ErrNotAuthorized {
			denied = true
		}
		return !denied
	})
	return denied
}

func (m mochiLog) WithAttrs(attrs []slog.Attr) slog.Handler {
	var kept []slog.Attr
	for _, a := range attrs {
		if mochiAttrs[a.Key] {
			kept = append(kept, a)
		}
	}
	return mochiLog{h: m.h.WithAttrs(kept), limit: m.limit}
}

func (m mochiLog) WithGroup(name string) slog.Handler {
	return mochiLog{h: m.h.WithGroup(name), limit: m.limit}
}
