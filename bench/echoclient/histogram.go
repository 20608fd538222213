package echoclient

import (
	"math"
	"math/bits"
	"time"
)

// Histogram records durations in log-linear buckets: values below 128 ns
// exactly, larger ones with 64 buckets per power of two, so any quantile is
// within 1/64 (1.6%) of the recorded value. It is a fixed-size array, so
// recording never allocates.
type Histogram struct {
	counts [histBuckets]uint64
	total  uint64
}

const (
	subBits     = 6
	subCount    = 1 << subBits
	histBuckets = (64-subBits)*subCount + subCount
)

func bucketOf(v uint64) int {
	if v < 2*subCount {
		return int(v)
	}
	e := bits.Len64(v) - 1 // v is in [2^e, 2^(e+1)), e > subBits
	shift := e - subBits
	return (shift+1)*subCount + int(v>>shift) - subCount
}

// lowestOf is the smallest value that falls in bucket i.
func lowestOf(i int) uint64 {
	if i < 2*subCount {
		return uint64(i)
	}
	shift := i/subCount - 1
	mantissa := uint64(i%subCount + subCount)
	return mantissa << shift
}

// Record adds one duration; negative ones count as zero.
func (h *Histogram) Record(d time.Duration) {
	h.counts[bucketOf(uint64(max(d, 0)))]++
	h.total++
}

// Count is the number of durations recorded.
func (h *Histogram) Count() uint64 { return h.total }

// Reset forgets everything recorded.
func (h *Histogram) Reset() { *h = Histogram{} }

// Quantile returns the duration below which the fraction q of the recorded
// ones fall, as the middle of its bucket; zero when nothing was recorded.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.total)))
	rank = min(max(rank, 1), h.total)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			lo := lowestOf(i)
			hi := lowestOf(i + 1)
			return time.Duration(lo + (hi-lo)/2)
		}
	}
	return 0
}
