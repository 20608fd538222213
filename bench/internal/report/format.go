package report

import (
	"fmt"
	"slices"
	"strings"
)

// Median is the median of v (the mean of the middle two when there are an
// even number), and its lowest and highest values; v is left as it was.
// All three are 0 when v is empty.
func Median(v []float64) (m, lo, hi float64) {
	if len(v) == 0 {
		return 0, 0, 0
	}
	s := slices.Sorted(slices.Values(v))
	n := len(s)
	m = s[n/2]
	if n%2 == 0 {
		m = (s[n/2-1] + s[n/2]) / 2
	}
	return m, s[0], s[n-1]
}

// MedianOf is Median of get applied to each of samples: the median of one
// column of a benchmark's runs.
func MedianOf[S any](samples []S, get func(S) float64) (m, lo, hi float64) {
	v := make([]float64, len(samples))
	for i, s := range samples {
		v[i] = get(s)
	}
	return Median(v)
}

// Ratio is a/b as "1.23×", or "–" without a b.
func Ratio(a, b float64) string {
	if b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

// Thousands writes n with comma separators: 12,345.
func Thousands(n int64) string {
	if n < 0 {
		return "-" + Thousands(-n)
	}
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
