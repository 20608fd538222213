// Package metrics writes the Prometheus text exposition format (version
// 0.0.4) and serves it over HTTP, with a health check beside it.
//
// It is not a metrics registry: the gateway's counters are plain integers
// owned by the reactor's goroutine, and a scrape copies them on that
// goroutine (one wake-up per scrape) before they are written here. So the
// data path pays nothing for being observed: no atomics, no locks, no
// allocation. Hand-written instead of github.com/prometheus/client_golang,
// which would add about 4 MiB to the binary and 30 modules to the build
// for an encoder of a few dozen lines; see docs/design.md.
package metrics

import (
	"math"
	"strconv"
)

// Writer accumulates one exposition. Families are written with Header and
// then their samples; the caller keeps each family's samples together.
type Writer struct {
	buf []byte
}

// Metric types, as the TYPE line names them.
const (
	Counter   = "counter"
	Gauge     = "gauge"
	Histogram = "histogram"
)

// Header starts a family: its HELP and TYPE lines.
func (w *Writer) Header(name, typ, help string) {
	w.buf = append(w.buf, "# HELP "...)
	w.buf = append(w.buf, name...)
	w.buf = append(w.buf, ' ')
	w.buf = appendEscaped(w.buf, help, false)
	w.buf = append(w.buf, "\n# TYPE "...)
	w.buf = append(w.buf, name...)
	w.buf = append(w.buf, ' ')
	w.buf = append(w.buf, typ...)
	w.buf = append(w.buf, '\n')
}

// Sample writes one sample; labels are name, value pairs.
func (w *Writer) Sample(name string, value float64, labels ...string) {
	w.buf = append(w.buf, name...)
	w.buf = appendLabels(w.buf, labels, "", "")
	w.buf = append(w.buf, ' ')
	w.buf = appendValue(w.buf, value)
	w.buf = append(w.buf, '\n')
}

// One writes a family of a single sample without labels.
func (w *Writer) One(name, typ, help string, value float64) {
	w.Header(name, typ, help)
	w.Sample(name, value)
}

// Histogram writes the samples of h: its cumulative buckets, sum and count.
func (w *Writer) Histogram(name string, h *Buckets, labels ...string) {
	var cum uint64
	for i, le := range h.bounds {
		cum += h.counts[i]
		w.buf = append(w.buf, name...)
		w.buf = append(w.buf, "_bucket"...)
		w.buf = appendLabels(w.buf, labels, "le", strconv.FormatFloat(le, 'g', -1, 64))
		w.buf = append(w.buf, ' ')
		w.buf = strconv.AppendUint(w.buf, cum, 10)
		w.buf = append(w.buf, '\n')
	}
	w.buf = append(w.buf, name...)
	w.buf = append(w.buf, "_bucket"...)
	w.buf = appendLabels(w.buf, labels, "le", "+Inf")
	w.buf = append(w.buf, ' ')
	w.buf = strconv.AppendUint(w.buf, h.count, 10)
	w.buf = append(w.buf, '\n')
	w.Sample(name+"_sum", h.sum, labels...)
	w.Sample(name+"_count", float64(h.count), labels...)
}

// Bytes returns the exposition written so far.
func (w *Writer) Bytes() []byte { return w.buf }

func appendLabels(b []byte, labels []string, extraName, extraValue string) []byte {
	if len(labels) < 2 && extraName == "" {
		return b
	}
	b = append(b, '{')
	for i := 0; i+1 < len(labels); i += 2 {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, labels[i]...)
		b = append(b, `="`...)
		b = appendEscaped(b, labels[i+1], true)
		b = append(b, '"')
	}
	if extraName != "" {
		if len(labels) >= 2 {
			b = append(b, ',')
		}
		b = append(b, extraName...)
		b = append(b, `="`...)
		b = append(b, extraValue...)
		b = append(b, '"')
	}
	return append(b, '}')
}

// appendEscaped escapes a HELP text (backslash, newline) or a label value
// (also the double quote), as the format asks.
func appendEscaped(b []byte, s string, quote bool) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			b = append(b, `\\`...)
		case c == '\n':
			b = append(b, `\n`...)
		case c == '"' && quote:
			b = append(b, `\"`...)
		default:
			b = append(b, c)
		}
	}
	return b
}

// appendValue writes integers in full (a counter of 10 million stays
// 10000000, not 1e+07) and anything else the way Go parses it back.
func appendValue(b []byte, v float64) []byte {
	switch {
	case math.IsInf(v, 1):
		return append(b, "+Inf"...)
	case math.IsInf(v, -1):
		return append(b, "-Inf"...)
	case math.IsNaN(v):
		return append(b, "NaN"...)
	case v == math.Trunc(v) && math.Abs(v) < 1<<53:
		return strconv.AppendInt(b, int64(v), 10)
	case math.Abs(v) >= 1e-6 && math.Abs(v) < 1<<53:
		return strconv.AppendFloat(b, v, 'f', -1, 64) // a timestamp stays readable
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}
