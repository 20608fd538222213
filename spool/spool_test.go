package spool

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// open opens a spool in dir and closes it at the end of the test.
func open(t *testing.T, dir string, o Options) (*Spool, OpenReport) {
	t.Helper()
	s, rep, err := Open(dir, o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, rep
}

func reopen(t *testing.T, s *Spool, o Options) (*Spool, OpenReport) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return open(t, s.dir, o)
}

// frame is the payload the tests store for seq-th frame they append.
func frame(i int) []byte { return fmt.Appendf(nil, "frame %d %s", i, strings.Repeat("x", i%50)) }

var t0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

func appendN(t *testing.T, s *Spool, from, n int) []uint64 {
	t.Helper()
	var seqs []uint64
	for i := from; i < from+n; i++ {
		seq, err := s.Append(fmt.Sprintf("dev%d", i%3), frame(i), t0.Add(time.Duration(i)*time.Millisecond))
		if err != nil {
			t.Fatalf("Append %d: %v", i, err)
		}
		seqs = append(seqs, seq)
	}
	return seqs
}

// replay reads everything unacknowledged, checking each record against
// what appendN stored for it (seq 1 is frame 0 in these tests).
func replay(t *testing.T, s *Spool) []uint64 {
	t.Helper()
	var seqs []uint64
	for r, err := range s.Records(s.First()) {
		if err != nil {
			t.Fatalf("Records: %v", err)
		}
		i := int(r.Seq - 1)
		if want := frame(i); !bytes.Equal(r.Payload, want) {
			t.Fatalf("seq %d: payload %q, want %q", r.Seq, r.Payload, want)
		}
		if want := fmt.Sprintf("dev%d", i%3); string(r.Key) != want {
			t.Fatalf("seq %d: key %q, want %q", r.Seq, r.Key, want)
		}
		if want := t0.Add(time.Duration(i) * time.Millisecond); !r.Time.Equal(want) {
			t.Fatalf("seq %d: time %v, want %v", r.Seq, r.Time, want)
		}
		seqs = append(seqs, r.Seq)
	}
	return seqs
}

func seqRange(from, to uint64) []uint64 {
	var s []uint64
	for i := from; i < to; i++ {
		s = append(s, i)
	}
	return s
}

func without(all []uint64, drop ...uint64) []uint64 {
	return slices.DeleteFunc(slices.Clone(all), func(x uint64) bool { return slices.Contains(drop, x) })
}

func TestAppendAckReplay(t *testing.T) {
	small := Options{MaxBytes: 64 << 10, SegmentBytes: 2 << 10} // many segments
	tests := []struct {
		name  string
		opts  Options
		n     int
		acks  []uint64 // in this order, before the restart
		after []uint64 // acks after the restart
		want  []uint64 // replayed after a second restart
	}{
		{"nothing acked", Options{}, 20, nil, nil, seqRange(1, 21)},
		{"prefix acked", Options{}, 20, seqRange(1, 8), nil, seqRange(8, 21)},
		{"all acked", Options{}, 20, seqRange(1, 21), nil, nil},
		{"acked after restart", Options{}, 20, nil, seqRange(1, 11), seqRange(11, 21)},
		// Only the lowest unacknowledged seq is persisted: 7 is sent again.
		{"out of order before", Options{}, 10, []uint64{2, 1, 4, 3, 7}, nil, seqRange(5, 11)},
		{"segments reclaimed", small, 500, seqRange(1, 401), nil, seqRange(401, 501)},
		{"across segments out of order", small, 500, append(seqRange(100, 501), seqRange(1, 50)...), nil, seqRange(50, 501)},
		{"all acked many segments", small, 500, seqRange(1, 501), []uint64{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := open(t, t.TempDir(), tt.opts)
			if got := appendN(t, s, 0, tt.n); !slices.Equal(got, seqRange(1, uint64(tt.n)+1)) {
				t.Fatalf("seqs %v", got)
			}
			for _, a := range tt.acks {
				if err := s.Ack(a); err != nil {
					t.Fatalf("Ack %d: %v", a, err)
				}
			}
			s, rep := reopen(t, s, tt.opts)
			if len(rep.Truncated) > 0 {
				t.Fatalf("truncated: %v", rep.Truncated)
			}
			for _, a := range tt.after {
				if err := s.Ack(a); err != nil {
					t.Fatalf("Ack %d after restart: %v", a, err)
				}
			}
			s, rep = reopen(t, s, tt.opts)
			got := replay(t, s)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("replayed %v, want %v", got, tt.want)
			}
			if rep.Records != uint64(len(tt.want)) || rep.Next != uint64(tt.n)+1 {
				t.Fatalf("report: %d records, next %d; want %d, %d", rep.Records, rep.Next, len(tt.want), tt.n+1)
			}
			// The seqs go on from where they were.
			if seq, err := s.Append("dev", []byte("more"), t0); err != nil || seq != uint64(tt.n)+1 {
				t.Fatalf("Append after reopen: %d, %v", seq, err)
			}
		})
	}
}

func TestOutOfOrderAcks(t *testing.T) {
	s, _ := open(t, t.TempDir(), Options{MaxBytes: 64 << 10, SegmentBytes: 1 << 10})
	all := appendN(t, s, 0, 60) // several segments
	steps := []struct {
		ack       uint64
		wantFirst uint64
		wantErr   error
	}{
		{3, 1, nil},
		{5, 1, nil},
		{5, 1, nil}, // twice: nothing more
		{40, 1, nil},
		{1, 2, nil},
		{2, 4, nil},
		{4, 6, nil},
		{0, 6, nil}, // never a seq: older than everything
		{61, 6, ErrUnknownSeq},
	}
	acked := []uint64{}
	for _, st := range steps {
		err := s.Ack(st.ack)
		if !errors.Is(err, st.wantErr) {
			t.Fatalf("Ack(%d): %v, want %v", st.ack, err, st.wantErr)
		}
		if err == nil && st.ack > 0 {
			acked = append(acked, st.ack)
		}
		if s.First() != st.wantFirst {
			t.Fatalf("after Ack(%d): First %d, want %d", st.ack, s.First(), st.wantFirst)
		}
		want := without(all, acked...)
		if got := replay(t, s); !slices.Equal(got, want) {
			t.Fatalf("after Ack(%d): replay %v, want %v", st.ack, got, want)
		}
		if st := s.Stats(); st.Records != uint64(len(want)) {
			t.Fatalf("Stats.Records %d, want %d", st.Records, len(want))
		}
	}
	// Everything from the far end back: the segments go as the watermark passes them.
	for i := uint64(60); i >= 6; i-- {
		if err := s.Ack(i); err != nil {
			t.Fatal(err)
		}
	}
	if st := s.Stats(); st.Records != 0 || st.Segments != 1 || st.First != 61 {
		t.Fatalf("all acked: %+v", st)
	}
}

func TestReadFromBatches(t *testing.T) {
	s, _ := open(t, t.TempDir(), Options{MaxBytes: 64 << 10, SegmentBytes: 2 << 10})
	all := appendN(t, s, 0, 200)
	for _, size := range []int{recHeaderSize + 4 + 60, 300, 1000, s.MaxRecord()} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			buf := make([]byte, size)
			var recs []Record
			var got []uint64
			from := s.First()
			for {
				var next uint64
				var err error
				recs, next, err = s.ReadFrom(from, buf, recs)
				if err != nil {
					t.Fatalf("ReadFrom(%d): %v", from, err)
				}
				if len(recs) == 0 {
					if next != s.Next() {
						t.Fatalf("end: next %d, want %d", next, s.Next())
					}
					break
				}
				n := 0
				for _, r := range recs {
					n += recHeaderSize + len(r.Key) + len(r.Payload)
					if !bytes.Equal(r.Payload, frame(int(r.Seq-1))) {
						t.Fatalf("seq %d: payload %q", r.Seq, r.Payload)
					}
					got = append(got, r.Seq)
				}
				if n > size {
					t.Fatalf("batch of %d bytes in a buffer of %d", n, size)
				}
				if next != recs[len(recs)-1].Seq+1 {
					t.Fatalf("next %d after %d", next, recs[len(recs)-1].Seq)
				}
				from = next
			}
			if !slices.Equal(got, all) {
				t.Fatalf("read %v", got)
			}
		})
	}
	// A rewind, from the middle and from the start, as after a reconnect.
	buf := make([]byte, 4096)
	for _, from := range []uint64{150, 20, 1, 199} {
		recs, _, err := s.ReadFrom(from, buf, nil)
		if err != nil || len(recs) == 0 || recs[0].Seq != from {
			t.Fatalf("ReadFrom(%d): %d records from %v, %v", from, len(recs), recs[0].Seq, err)
		}
	}
	if _, _, err := s.ReadFrom(1, make([]byte, 20), nil); !errors.Is(err, io.ErrShortBuffer) {
		t.Fatalf("small buffer: %v", err)
	}
	recs, next, err := s.ReadFrom(500, buf, nil)
	if len(recs) != 0 || next != 500 || err != nil {
		t.Fatalf("past the end: %d records, next %d, %v", len(recs), next, err)
	}
}

func TestOverflow(t *testing.T) {
	const maxBytes, segBytes = 16 << 10, 2 << 10
	payload := bytes.Repeat([]byte("p"), 100)
	tests := []struct {
		name   string
		policy Overflow
		acks   []uint64 // acknowledged before the spool overflows
	}{
		{"drop-newest", DropNewest, nil},
		{"drop-oldest", DropOldest, nil},
		{"drop-oldest, some acked", DropOldest, []uint64{1, 2, 3, 5, 8, 13}},
		{"drop-newest, some acked", DropNewest, []uint64{1, 2, 3, 5, 8, 13}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var dropped []uint64
			o := Options{MaxBytes: maxBytes, SegmentBytes: segBytes, Overflow: tt.policy,
				OnDrop: func(key []byte, seq uint64) {
					if string(key) != "k" {
						t.Errorf("OnDrop key %q", key)
					}
					dropped = append(dropped, seq)
				}}
			s, _ := open(t, t.TempDir(), o)
			var stored []uint64
			full := 0
			for i := range 1000 {
				seq, err := s.Append("k", payload, t0)
				switch {
				case errors.Is(err, ErrFull) && tt.policy == DropNewest:
					full++
				case err != nil:
					t.Fatalf("Append %d: %v", i, err)
				default:
					stored = append(stored, seq)
				}
				if i == 20 {
					for _, a := range tt.acks {
						if err := s.Ack(a); err != nil {
							t.Fatal(err)
						}
					}
				}
				if st := s.Stats(); st.Bytes > maxBytes {
					t.Fatalf("after %d appends: %d bytes", i+1, st.Bytes)
				}
			}
			if err := s.Sync(); err != nil {
				t.Fatal(err)
			}
			if n := dirBytes(t, s.dir); n > maxBytes {
				t.Fatalf("files hold %d bytes, over %d", n, maxBytes)
			}
			st := s.Stats()
			live := replay2(t, s)
			switch tt.policy {
			case DropNewest:
				if uint64(full) != st.DroppedNewest || len(dropped) != 0 || st.DroppedOldest != 0 {
					t.Fatalf("%d refused, stats %+v, %d OnDrop", full, st, len(dropped))
				}
				if !slices.Equal(stored, seqRange(1, uint64(len(stored))+1)) || len(stored)+full != 1000 {
					t.Fatalf("stored %v", stored)
				}
			case DropOldest:
				if uint64(len(dropped)) != st.DroppedOldest || st.DroppedNewest != 0 || len(stored) != 1000 {
					t.Fatalf("%d OnDrop, stats %+v", len(dropped), st)
				}
			}
			// Every record is exactly one of acknowledged, dropped or still
			// there, and those dropped are the oldest.
			all := slices.Concat(tt.acks, dropped, live)
			slices.Sort(all)
			if !slices.Equal(all, stored) {
				t.Fatalf("acked %v + dropped %v + live %v != stored (%d)", tt.acks, dropped, live, len(stored))
			}
			if len(dropped) > 0 && len(live) > 0 && dropped[len(dropped)-1] > live[0] {
				t.Fatalf("dropped %d after keeping %d", dropped[len(dropped)-1], live[0])
			}
			if tt.policy == DropNewest {
				// Acknowledging a whole segment makes room again.
				for _, seq := range live[:20] {
					s.Ack(seq)
				}
				if _, err := s.Append("k", payload, t0); err != nil {
					t.Fatalf("Append after acks: %v", err)
				}
			}
		})
	}
}

// replay2 is replay for records whose payloads are not frame(i).
func replay2(t *testing.T, s *Spool) []uint64 {
	t.Helper()
	var seqs []uint64
	for r, err := range s.Records(s.First()) {
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, r.Seq)
	}
	return seqs
}

func dirBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	for _, e := range segFiles(t, dir) {
		fi, err := os.Stat(e)
		if err != nil {
			t.Fatal(err)
		}
		n += fi.Size()
	}
	return n
}

func segFiles(t *testing.T, dir string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.seg"))
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func TestTornTail(t *testing.T) {
	const n = 30
	rec := func(i int) int64 { return int64(recHeaderSize + len("devX") + len(frame(i))) }
	// Offsets into the last segment, whose records are 0..n-1.
	start := func(i int) int64 { // of record i
		off := int64(segHeaderSize)
		for j := range i {
			off += rec(j)
		}
		return off
	}
	end := start(n)
	lastStart := end - rec(n-1)
	tests := []struct {
		name   string
		damage func(t *testing.T, path string)
		keep   int   // records kept
		cutAt  int64 // offset of the cut reported; -1: none; 0: file deleted
	}{
		{"cut inside the last record", truncateTo(end - 1), n - 1, lastStart},
		{"cut inside the last header", truncateTo(lastStart + 10), n - 1, lastStart},
		{"cut at a record boundary", truncateTo(lastStart), n - 1, -1},
		{"flipped payload byte", flipAt(end - 2), n - 1, lastStart},
		{"flipped size byte", flipAt(lastStart + 5), n - 1, lastStart},
		{"flipped checksum byte", flipAt(lastStart), n - 1, lastStart},
		{"zeros after the end", appendBytes(make([]byte, 4096)), n, end},
		{"garbage after the end", appendBytes([]byte("\x55\x00\x00\x00garbage garbage garbage garbage")), n, end},
		{"flipped byte in the tenth record", flipAt(start(9) + 30), 9, start(9)},
		{"torn segment header", truncateTo(10), 0, 0},
		{"flipped segment header", flipAt(3), 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := open(t, t.TempDir(), Options{})
			appendN(t, s, 0, n)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			files := segFiles(t, s.dir)
			path := files[len(files)-1]
			tt.damage(t, path)
			s, rep := open(t, s.dir, Options{})
			if got := replay(t, s); !slices.Equal(got, seqRange(1, uint64(tt.keep)+1)) {
				t.Fatalf("replayed %v, want 1..%d", got, tt.keep)
			}
			switch {
			case tt.cutAt == -1:
				if len(rep.Truncated) != 0 {
					t.Fatalf("truncated: %v", rep.Truncated)
				}
			case len(rep.Truncated) != 1:
				t.Fatalf("truncated: %v", rep.Truncated)
			default:
				tr := rep.Truncated[0]
				if !errors.Is(tr.Err, ErrCorrupt) || tr.File != path || tt.cutAt >= 0 && tr.Offset != tt.cutAt {
					t.Fatalf("truncation %v, want at %d", tr, tt.cutAt)
				}
				t.Log(tr)
			}
			// The spool goes on: the seqs after the cut are given again
			// (they were never synced), and a second Open finds it clean.
			if seq, err := s.Append("devX", frame(tt.keep), t0.Add(time.Duration(tt.keep)*time.Millisecond)); err != nil || seq != uint64(tt.keep)+1 {
				t.Fatalf("Append after the cut: %d, %v", seq, err)
			}
			_, rep = reopen(t, s, Options{})
			if len(rep.Truncated) != 0 || rep.Records != uint64(tt.keep)+1 {
				t.Fatalf("second open: %+v", rep)
			}
		})
	}
}

func truncateTo(size int64) func(*testing.T, string) {
	return func(t *testing.T, path string) {
		if err := os.Truncate(path, size); err != nil {
			t.Fatal(err)
		}
	}
}

func flipAt(off int64) func(*testing.T, string) {
	return func(t *testing.T, path string) {
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var b [1]byte
		if _, err := f.ReadAt(b[:], off); err != nil {
			t.Fatal(err)
		}
		b[0] ^= 0x20
		if _, err := f.WriteAt(b[:], off); err != nil {
			t.Fatal(err)
		}
	}
}

func appendBytes(p []byte) func(*testing.T, string) {
	return func(t *testing.T, path string) {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.Write(p); err != nil {
			t.Fatal(err)
		}
	}
}

// A damaged segment in the middle (a power cut can lose the tail of any
// segment not synced yet) loses its tail, and only that.
func TestTornMiddleSegment(t *testing.T) {
	o := Options{MaxBytes: 64 << 10, SegmentBytes: 1 << 10}
	s, _ := open(t, t.TempDir(), o)
	appendN(t, s, 0, 100)
	s.Close()
	files := segFiles(t, s.dir)
	if len(files) < 4 {
		t.Fatalf("%d segments", len(files))
	}
	path := files[1]
	fi, _ := os.Stat(path)
	truncateTo(fi.Size()-3)(t, path)
	s, rep := open(t, s.dir, o)
	if len(rep.Truncated) != 1 || rep.Truncated[0].File != path {
		t.Fatalf("truncated: %v", rep.Truncated)
	}
	got := replay(t, s)
	second, _ := parseSegName(filepath.Base(files[2]))
	lost := second - 1 // the last frame of the damaged segment
	if want := without(seqRange(1, 101), lost); !slices.Equal(got, want) {
		t.Fatalf("replayed %v, want all but %d", got, lost)
	}
	// The lost seq is simply gone: acknowledging it, or around it, works.
	if err := s.Ack(lost); err != nil {
		t.Fatalf("Ack(%d), lost: %v", lost, err)
	}
	for _, seq := range got {
		if err := s.Ack(seq); err != nil {
			t.Fatal(err)
		}
	}
	if st := s.Stats(); st.Records != 0 || st.Segments != 1 {
		t.Fatalf("after acking all: %+v", st)
	}
}

func TestModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state", "spool")
	s, rep := open(t, dir, Options{})
	appendN(t, s, 0, 3)
	if len(rep.Fixed) != 0 {
		t.Fatalf("fixed on creation: %v", rep.Fixed)
	}
	checkMode(t, dir, fs.ModeDir|0o700)
	checkMode(t, filepath.Dir(dir), fs.ModeDir|0o700)
	for _, f := range segFiles(t, dir) {
		checkMode(t, f, 0o600)
	}
	s.Close()

	// Wider modes, as left by a copy or a careless chmod, are narrowed.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	seg := segFiles(t, dir)[0]
	if err := os.Chmod(seg, 0o644); err != nil {
		t.Fatal(err)
	}
	s, rep = open(t, dir, Options{})
	want := []ModeFix{{dir, 0o755, 0o700}, {seg, 0o644, 0o600}}
	if !slices.Equal(rep.Fixed, want) {
		t.Fatalf("fixed %v, want %v", rep.Fixed, want)
	}
	checkMode(t, dir, fs.ModeDir|0o700)
	checkMode(t, seg, 0o600)
	if got := replay(t, s); len(got) != 3 {
		t.Fatalf("replayed %v", got)
	}
}

func checkMode(t *testing.T, path string, want fs.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode() != want {
		t.Fatalf("%s: mode %v, want %v", path, fi.Mode(), want)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	s, _ := open(t, dir, Options{})
	if _, _, err := Open(dir, Options{}); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: %v", err)
	}
	s.Close()
	if err := s.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := s.Append("k", nil, t0); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close: %v", err)
	}
	s2, _ := open(t, dir, Options{}) // unlocked by Close
	s2.Close()

	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o600)
	for _, tt := range []struct {
		name string
		dir  string
		o    Options
	}{
		{"not a directory", file, Options{}},
		{"negative size", dir, Options{MaxBytes: -1}},
		{"segment too small", dir, Options{SegmentBytes: 100}},
		{"segment over half", dir, Options{MaxBytes: 1 << 20, SegmentBytes: 600 << 10}},
		{"unknown policy", dir, Options{Overflow: 7}},
	} {
		if s, _, err := Open(tt.dir, tt.o); err == nil {
			s.Close()
			t.Errorf("%s: no error", tt.name)
		} else {
			t.Logf("%s: %v", tt.name, err)
		}
	}
}

func TestAppendLimits(t *testing.T) {
	s, _ := open(t, t.TempDir(), Options{MaxBytes: 1 << 20, SegmentBytes: 4 << 10})
	max := s.MaxRecord() - RecordOverhead
	for _, tt := range []struct {
		key     string
		payload int
		err     error
	}{
		{"k", max - 1, nil},
		{"k", max, ErrTooLarge},
		{"", max, nil},
		{strings.Repeat("k", 70000), 0, ErrTooLarge},
		{"", 0, nil},
	} {
		if _, err := s.Append(tt.key, make([]byte, tt.payload), time.Time{}); !errors.Is(err, tt.err) {
			t.Errorf("key %d, payload %d: %v, want %v", len(tt.key), tt.payload, err, tt.err)
		}
	}
	recs, _, err := s.ReadFrom(1, make([]byte, s.MaxRecord()), nil)
	if err != nil || len(recs) != 1 || !recs[0].Time.IsZero() {
		t.Fatalf("largest record: %d records, %v", len(recs), err)
	}
}

func TestSync(t *testing.T) {
	synced := make(chan SyncResult, 16)
	o := Options{SyncEvery: 5, OnSync: func(r SyncResult) { synced <- r }}
	s, _ := open(t, t.TempDir(), o)
	wait := func(want uint64) {
		t.Helper()
		for {
			select {
			case r := <-synced:
				if r.Err != nil {
					t.Fatal(r.Err)
				}
				if r.Durable >= want {
					if s.Durable() < want {
						t.Fatalf("Durable %d after OnSync(%d)", s.Durable(), r.Durable)
					}
					return
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("no sync to %d", want)
			}
		}
	}
	wait(0) // the sync Open starts
	if s.Dirty() {
		t.Fatal("dirty after Open")
	}
	appendN(t, s, 0, 3)
	if !s.Dirty() {
		t.Fatal("not dirty after Append")
	}
	s.SyncAsync()
	if s.Dirty() {
		t.Fatal("dirty after SyncAsync")
	}
	wait(3)
	appendN(t, s, 3, 5) // SyncEvery
	wait(8)
	s.SyncAsync() // nothing to do: no sync, no OnSync
	s.Ack(1)
	if !s.Dirty() {
		t.Fatal("not dirty after Ack")
	}
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	if s.Durable() != 8 || s.Stats().Syncs < 3 || s.Err() != nil {
		t.Fatalf("after Sync: %+v, %v", s.Stats(), s.Err())
	}
}

// Records written with larger segments than this run allows are still
// read back whole.
func TestSegmentBytesShrunk(t *testing.T) {
	big := Options{MaxBytes: 1 << 20, SegmentBytes: 64 << 10}
	s, _ := open(t, t.TempDir(), big)
	large := bytes.Repeat([]byte("L"), 40<<10)
	if _, err := s.Append("k", large, t0); err != nil {
		t.Fatal(err)
	}
	small := Options{MaxBytes: 1 << 20, SegmentBytes: 4 << 10}
	s, _ = reopen(t, s, small)
	if _, err := s.Append("k", []byte("small"), t0); err != nil {
		t.Fatal(err)
	}
	var got []int
	for r, err := range s.Records(s.First()) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, len(r.Payload))
	}
	if !slices.Equal(got, []int{len(large), 5}) {
		t.Fatalf("payload sizes %v", got)
	}
}

func TestSegmentBytesFor(t *testing.T) {
	for _, tc := range []struct {
		max, record, want int64
		fails             bool
	}{
		{64 << 20, 100, 4 << 20, false},
		{1 << 20, 100, 64 << 10, false},
		{128 << 10, 100, 64 << 10, false},
		{64 << 20, 11 << 20, 11<<20 + 32, false},
		{64 << 20, 32 << 20, 0, true},
		{1 << 30, 40 << 20, 40<<20 + 32, false},
		{1 << 30, 64 << 20, 0, true},
	} {
		got, err := SegmentBytesFor(tc.max, tc.record)
		if (err != nil) != tc.fails || got != tc.want {
			t.Errorf("SegmentBytesFor(%d, %d) = %d, %v; want %d, fails %t", tc.max, tc.record, got, err, tc.want, tc.fails)
		}
		if err == nil {
			// A spool with that segment size takes such a record.
			sp, _, err := Open(t.TempDir(), Options{MaxBytes: tc.max, SegmentBytes: got})
			if err != nil {
				t.Fatal(err)
			}
			if int64(sp.MaxRecord()) < tc.record {
				t.Errorf("max %d, record %d: MaxRecord %d", tc.max, tc.record, sp.MaxRecord())
			}
			sp.Close()
		}
	}
}
