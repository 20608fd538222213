package report

import "testing"

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in        []float64
		m, lo, hi float64
	}{
		{nil, 0, 0, 0},
		{[]float64{3}, 3, 3, 3},
		{[]float64{5, 1, 3}, 3, 1, 5},
		{[]float64{4, 1, 3, 2}, 2.5, 1, 4},
	} {
		in := append([]float64(nil), tc.in...)
		m, lo, hi := Median(in)
		if m != tc.m || lo != tc.lo || hi != tc.hi {
			t.Errorf("Median(%v) = %v, %v, %v; want %v, %v, %v", tc.in, m, lo, hi, tc.m, tc.lo, tc.hi)
		}
		for i := range in {
			if in[i] != tc.in[i] {
				t.Errorf("Median(%v) reordered its argument: %v", tc.in, in)
			}
		}
	}
}

func TestRatio(t *testing.T) {
	if got := Ratio(3, 2); got != "1.50×" {
		t.Errorf("Ratio(3, 2) = %q", got)
	}
	if got := Ratio(3, 0); got != "–" {
		t.Errorf("Ratio(3, 0) = %q", got)
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -12345: "-12,345"} {
		if got := Thousands(n); got != want {
			t.Errorf("Thousands(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestMedianOf(t *testing.T) {
	type run struct{ rate float64 }
	m, lo, hi := MedianOf([]run{{5}, {1}, {3}}, func(r run) float64 { return r.rate })
	if m != 3 || lo != 1 || hi != 5 {
		t.Errorf("MedianOf = %v, %v, %v; want 3, 1, 5", m, lo, hi)
	}
}
