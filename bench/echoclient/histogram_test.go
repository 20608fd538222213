package echoclient

import (
	"testing"
	"time"
)

func TestBuckets(t *testing.T) {
	prev := -1
	for _, v := range []uint64{0, 1, 127, 128, 129, 255, 256, 1000, 1 << 20, 1<<40 + 12345, 1<<63 + 5} {
		i := bucketOf(v)
		if i < prev || i >= histBuckets {
			t.Fatalf("bucketOf(%d) = %d after %d (of %d)", v, i, prev, histBuckets)
		}
		prev = i
		lo, hi := lowestOf(i), lowestOf(i+1)
		if v < lo || (i+1 < histBuckets && v >= hi) {
			t.Errorf("value %d in bucket %d = [%d, %d)", v, i, lo, hi)
		}
	}
}

func TestQuantile(t *testing.T) {
	tests := []struct {
		name   string
		values []time.Duration
		q      float64
		want   time.Duration
	}{
		{"empty", nil, 0.5, 0},
		{"one", []time.Duration{100}, 0.99, 100},
		{"median", []time.Duration{10 * time.Microsecond, 20 * time.Microsecond, 30 * time.Microsecond}, 0.5, 20 * time.Microsecond},
		{"tail", []time.Duration{1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, time.Millisecond}, 0.99, time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h Histogram
			for _, v := range tt.values {
				h.Record(v)
			}
			got := h.Quantile(tt.q)
			if diff := got - tt.want; diff < -tt.want/60 || diff > tt.want/60 {
				t.Errorf("Quantile(%v) = %v, want %v within 1.6%%", tt.q, got, tt.want)
			}
		})
	}
}

func TestRecordDoesNotAllocate(t *testing.T) {
	var h Histogram
	if n := testing.AllocsPerRun(100, func() { h.Record(time.Duration(12345)) }); n != 0 {
		t.Errorf("Record allocates %v times", n)
	}
}
