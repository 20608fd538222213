package metrics

import "time"

// Buckets is a histogram with fixed upper bounds, cheap enough to observe
// on the data path: no allocation, a short scan. Its zero value is not
// usable; make one with NewBuckets. A copy is a snapshot.
type Buckets struct {
	bounds []float64 // upper bounds, ascending; shared between copies
	counts []uint64  // per bucket, not cumulative; the +Inf bucket is count - sum(counts)
	sum    float64
	count  uint64
}

// LatencyBounds are the upper bounds, in seconds, of a latency histogram
// from a millisecond on a LAN to tens of seconds across an outage.
var LatencyBounds = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// NewBuckets makes a histogram with the given ascending upper bounds.
func NewBuckets(bounds []float64) Buckets {
	return Buckets{bounds: bounds, counts: make([]uint64, len(bounds))}
}

// Observe counts one value.
func (h *Buckets) Observe(v float64) {
	for i, le := range h.bounds {
		if v <= le {
			h.counts[i]++
			break
		}
	}
	h.sum += v
	h.count++
}

// ObserveDuration counts a duration, in seconds.
func (h *Buckets) ObserveDuration(d time.Duration) { h.Observe(d.Seconds()) }

// Clone returns a copy that later observations of h do not change.
func (h *Buckets) Clone() Buckets {
	c := *h
	c.counts = append([]uint64(nil), h.counts...)
	return c
}

// Count is the number of values observed.
func (h *Buckets) Count() uint64 { return h.count }

// Sum is the sum of the values observed.
func (h *Buckets) Sum() float64 { return h.sum }

// Quantile estimates the q-quantile (0 < q < 1) by linear interpolation
// within its bucket, as Prometheus's histogram_quantile does; values past
// the last bound report the last bound. It is 0 with no values.
func (h *Buckets) Quantile(q float64) float64 {
	if h.count == 0 {
		return 0
	}
	rank := q * float64(h.count)
	var cum float64
	lower := 0.0
	for i, le := range h.bounds {
		n := float64(h.counts[i])
		if cum+n >= rank && n > 0 {
			return lower + (le-lower)*(rank-cum)/n
		}
		cum += n
		lower = le
	}
	return h.bounds[len(h.bounds)-1]
}
