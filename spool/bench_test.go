package spool

import (
	"testing"
	"time"
)

// BenchmarkAppend appends 64-byte frames as a busy sensor would, with the
// broker acknowledging 1000 frames behind (so segments are reclaimed) and
// a background group sync every 1000 frames or none.
func BenchmarkAppend(b *testing.B) {
	for _, bc := range []struct {
		name      string
		syncEvery int
	}{{"nosync", 0}, {"sync1000", 1000}} {
		b.Run(bc.name, func(b *testing.B) {
			s, _, err := Open(b.TempDir(), Options{SyncEvery: bc.syncEvery})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			payload := make([]byte, 64)
			now := time.Now()
			b.SetBytes(int64(len(payload)))
			b.ReportAllocs()
			for b.Loop() {
				seq, err := s.Append("gps", payload, now)
				if err != nil {
					b.Fatal(err)
				}
				if seq > 1000 {
					s.Ack(seq - 1000)
				}
			}
		})
	}
}

// The steady state of a spool, appending and acknowledging across
// segments with group syncs, does not allocate.
func TestAppendDoesNotAllocate(t *testing.T) {
	s, _ := open(t, t.TempDir(), Options{MaxBytes: 1 << 20, SegmentBytes: 64 << 10, SyncEvery: 100})
	payload := make([]byte, 64)
	var seq uint64
	step := func() {
		seq, _ = s.Append("gps", payload, t0)
		if seq > 100 {
			s.Ack(seq - 100)
		}
	}
	for range 20000 { // warm up: every buffer grown, a few segments gone by
		step()
	}
	if a := testing.AllocsPerRun(10000, step); a != 0 {
		t.Fatalf("%v allocations per Append and Ack", a)
	}
}
