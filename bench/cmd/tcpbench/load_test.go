package main

import (
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestLine(t *testing.T) {
	l := newLine(64)
	stamp(l, 42, 1234567890123)
	if len(l) != 64 || !strings.HasPrefix(string(l), "0000000042 0001234567890123 ") || l[63] != '\n' {
		t.Fatalf("line %q", l)
	}
	seq, ok1 := parseDigits(l[:seqDigits])
	at, ok2 := parseDigits(l[seqDigits+1 : headerLen-1])
	if !ok1 || !ok2 || seq != 42 || at != 1234567890123 {
		t.Errorf("parsed %d %v, %d %v", seq, ok1, at, ok2)
	}
	if _, ok := parseDigits([]byte("12a4")); ok {
		t.Error("parseDigits took a letter")
	}
}

// TestTake feeds a reader lines cut anywhere, and a lost and a garbled one.
func TestTake(t *testing.T) {
	const size = 40
	var all []byte
	for k := range int64(5) {
		l := newLine(size)
		stamp(l, k, 1000+k)
		all = append(all, l...)
	}
	for _, cut := range []int{1, 7, size - 1, size, size + 1, 3 * size} {
		s := newStream("s", rx, -1, -1, size)
		r := &reader{size: size}
		r.window(1000, 1003) // lines 0, 1 and 2
		for b := all; len(b) > 0; b = b[min(cut, len(b)):] {
			r.take(s, b[:min(cut, len(b))], 2000)
		}
		if s.read.Load() != 5 || s.bytes.Load() != int64(len(all)) || s.bad != nil || len(s.carry) != 0 {
			t.Errorf("reads of %d: %d lines, %d bytes, carry %d, %v", cut, s.read.Load(), s.bytes.Load(), len(s.carry), s.bad)
		}
		if n := r.hist[rx].Count(); n != 3 {
			t.Errorf("reads of %d: %d latencies, want those of the 3 lines in the window", cut, n)
		}
	}
	for name, b := range map[string][]byte{
		"lost":    append(append([]byte(nil), all[:size]...), all[2*size:]...),
		"garbled": append(append([]byte(nil), all[:size]...), strings.Repeat("x", size)...),
	} {
		s := newStream("s", rx, -1, -1, size)
		r := &reader{size: size}
		r.take(s, b, 0)
		if s.read.Load() != 1 || s.bad == nil || !strings.Contains(s.bad.Error(), "line 1") {
			t.Errorf("%s: %d lines read, %v", name, s.read.Load(), s.bad)
		}
	}
}

// TestLoad runs the writer and the reader over socket pairs, paced and at
// full speed, and checks every line arrived.
func TestLoad(t *testing.T) {
	for _, rate := range []float64{200, 0} {
		var streams []*stream
		for i := range 2 {
			fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(fds[0])
			defer unix.Close(fds[1])
			streams = append(streams, newStream(dirNames[i], i, fds[0], fds[1], 64))
		}
		r, err := newReader(streams, 64)
		if err != nil {
			t.Fatal(err)
		}
		w := newWriter(streams, 64, 16)
		r.start()
		w.start(rate)
		r.window(clock(), 1<<62)
		time.Sleep(200 * time.Millisecond) // a length of writing
		if err := w.halt(); err != nil {
			t.Fatal(err)
		}
		b := &bench{streams: streams}
		if err := drain(b, 5*time.Second); err != nil {
			t.Fatalf("rate %g: %v", rate, err)
		}
		if err := r.halt(); err != nil {
			t.Fatal(err)
		}
		if err := r.check(); err != nil {
			t.Fatal(err)
		}
		for _, s := range streams {
			if n := s.written.Load(); n < 10 || s.bytes.Load() != 64*n {
				t.Errorf("rate %g, %s: %d lines written, %d bytes read", rate, s.name, n, s.bytes.Load())
			}
		}
		if rate > 0 && (r.hist[rx].Count() == 0 || r.hist[tx].Count() == 0 || r.hist[rx].Quantile(.5) > 100*time.Millisecond) {
			t.Errorf("paced: latencies %d, %d, p50 %v", r.hist[rx].Count(), r.hist[tx].Count(), r.hist[rx].Quantile(.5))
		}
	}
}
