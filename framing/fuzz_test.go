package framing

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"testing"
)

// reference decodes stream the plain way, the model a Decoder must agree
// with however the stream is cut: split at every boundary first, then take
// each piece on its own. It returns the frames and stats after a final
// Flush, and Pending before it.
func reference(c Config, stream []byte) (frames []string, st Stats, pending int) {
	limit, err := c.limit()
	if err != nil {
		panic(err)
	}
	var pieces [][]byte
	switch c.Kind {
	case Line:
		pieces = bytes.Split(stream, []byte("\n"))
	case Delimiter:
		pieces = bytes.Split(stream, c.Delimiter)
	case Fixed:
		for len(stream) >= c.Size {
			pieces = append(pieces, stream[:c.Size])
			stream = stream[c.Size:]
		}
		pieces = append(pieces, stream)
	case Idle:
		pieces = [][]byte{stream}
	case SLIP:
		pieces = bytes.Split(stream, []byte{slipEnd})
	case COBS:
		pieces = bytes.Split(stream, []byte{0})
	}
	for _, p := range pieces {
		var frame []byte
		overlong, malformed := false, false
		switch c.Kind {
		case Line:
			frame = bytes.TrimSuffix(p, []byte("\r"))
		case SLIP:
			frame, malformed = unSLIP(p, limit)
		case COBS:
			frame, malformed = unCOBS(p)
		default:
			frame = p
		}
		// Overlong wins when the frame grew too long before the fault.
		overlong = len(frame) > limit
		switch {
		case overlong:
			st.Overlong++
		case malformed:
			st.Malformed++
		case len(frame) > 0:
			frames = append(frames, string(frame))
			st.Frames++
			st.Bytes += uint64(len(frame))
		}
	}
	return frames, st, len(pieces[len(pieces)-1])
}

// unSLIP undoes the escapes of a SLIP frame up to its first fault, or up to
// one byte past limit.
func unSLIP(p []byte, limit int) (frame []byte, malformed bool) {
	for i := 0; i < len(p) && len(frame) <= limit; i++ {
		c := p[i]
		if c == slipEsc {
			if i++; i == len(p) {
				return frame, true
			}
			switch p[i] {
			case slipEscEnd:
				c = slipEnd
			case slipEscEsc:
				c = slipEsc
			default:
				return frame, true
			}
		}
		frame = append(frame, c)
	}
	return frame, false
}

// unCOBS decodes a COBS frame; a block cut short gives what it held.
func unCOBS(p []byte) (frame []byte, malformed bool) {
	for len(p) > 0 {
		code := int(p[0])
		p = p[1:]
		if code-1 > len(p) {
			return append(frame, p...), true
		}
		frame = append(frame, p[:code-1]...)
		p = p[code-1:]
		if code < cobsFull && len(p) > 0 {
			frame = append(frame, 0)
		}
	}
	return frame, false
}

// fuzzChunks cuts stream into Feed calls: mostly short ones, where frames
// straddle calls, some empty, some longer than a frame.
func fuzzChunks(stream []byte, limit int, seed uint64) [][]byte {
	rng := rand.New(rand.NewPCG(seed, seed>>32))
	var chunks [][]byte
	for len(stream) > 0 {
		n := rng.IntN(16)
		if rng.IntN(4) == 0 {
			n = rng.IntN(2*limit + 2)
		}
		n = min(n, len(stream))
		chunks = append(chunks, stream[:n])
		stream = stream[n:]
	}
	return chunks
}

// checkDecode feeds stream in chunks and holds the Decoder to reference
// and to the rules of the package: frames of 1 to Max bytes, a buffer that
// never grows or moves, stats that count what was emitted.
func checkDecode(t *testing.T, c Config, stream []byte, seed uint64) {
	limit, err := c.limit()
	if err != nil {
		t.Fatal(err)
	}
	var frames []string
	var emitted Stats
	d, err := New(c, func(f []byte) {
		if len(f) == 0 || len(f) > limit {
			t.Fatalf("frame of %d bytes, max %d", len(f), limit)
		}
		frames = append(frames, string(f))
		emitted.Frames++
		emitted.Bytes += uint64(len(f))
	})
	if err != nil {
		t.Fatal(err)
	}
	buf := d.buf
	fed := 0
	for _, p := range fuzzChunks(stream, limit, seed) {
		d.Feed(p)
		fed += len(p)
		if p := d.Pending(); p < 0 || p > fed {
			t.Fatalf("pending %d after %d bytes", p, fed)
		}
	}
	wantFrames, wantStats, wantPending := reference(c, stream)
	if p := d.Pending(); p != wantPending {
		t.Errorf("pending %d, want %d", p, wantPending)
	}
	d.Flush()
	if !slices.Equal(frames, wantFrames) {
		t.Errorf("frames %q, want %q", frames, wantFrames)
	}
	st := d.Stats()
	if st != wantStats {
		t.Errorf("stats %+v, want %+v", st, wantStats)
	}
	if st.Frames != emitted.Frames || st.Bytes != emitted.Bytes || st.Bytes > uint64(len(stream)) {
		t.Errorf("stats %+v, but %d frames of %d bytes emitted from %d", st, emitted.Frames, emitted.Bytes, len(stream))
	}
	if d.Pending() != 0 {
		t.Errorf("pending %d after Flush", d.Pending())
	}
	if len(d.buf) != len(buf) || cap(d.buf) > limit || len(buf) > 0 && &d.buf[0] != &buf[0] {
		t.Errorf("buffer of %d bytes (cap %d) became %d (cap %d), max %d", len(buf), cap(buf), len(d.buf), cap(d.buf), limit)
	}
}

// seedDecode adds the streams of decodeTests of kind k to the corpus.
func seedDecode(f *testing.F, k Kind, add func(tt decodeTest, seed uint64)) {
	for i, tt := range decodeTests {
		if tt.c.Kind == k {
			add(tt, uint64(i))
		}
	}
}

// maxArg turns a test's Max into the argument the Fuzz functions take.
func maxArg(c Config) uint8 {
	limit, _ := c.limit()
	return uint8(min(limit, 256) - 1)
}

func fuzzDecode(f *testing.F, k Kind) {
	seedDecode(f, k, func(tt decodeTest, seed uint64) { f.Add([]byte(tt.in), maxArg(tt.c), seed) })
	f.Fuzz(func(t *testing.T, stream []byte, max uint8, seed uint64) {
		checkDecode(t, Config{Kind: k, Max: int(max) + 1}, stream, seed)
	})
}

func FuzzDecodeLine(f *testing.F) { fuzzDecode(f, Line) }
func FuzzDecodeIdle(f *testing.F) { fuzzDecode(f, Idle) }
func FuzzDecodeSLIP(f *testing.F) { fuzzDecode(f, SLIP) }
func FuzzDecodeCOBS(f *testing.F) { fuzzDecode(f, COBS) }

func FuzzDecodeDelimiter(f *testing.F) {
	seedDecode(f, Delimiter, func(tt decodeTest, seed uint64) {
		f.Add([]byte(tt.in), tt.c.Delimiter, maxArg(tt.c), seed)
	})
	f.Fuzz(func(t *testing.T, stream, delim []byte, max uint8, seed uint64) {
		if len(delim) == 0 || len(delim) > 8 {
			return
		}
		checkDecode(t, Config{Kind: Delimiter, Delimiter: delim, Max: int(max) + 1}, stream, seed)
	})
}

func FuzzDecodeFixed(f *testing.F) {
	seedDecode(f, Fixed, func(tt decodeTest, seed uint64) { f.Add([]byte(tt.in), uint8(tt.c.Size-1), seed) })
	f.Fuzz(func(t *testing.T, stream []byte, size uint8, seed uint64) {
		checkDecode(t, Config{Kind: Fixed, Size: int(size) + 1, Max: int(size) + 1}, stream, seed)
	})
}

// Raw frames are the Feeds themselves, cut at Max.
func FuzzDecodeRaw(f *testing.F) {
	f.Add([]byte("abcdefghij"), uint8(3), uint64(1))
	f.Add([]byte("\x00\xc0\n"), uint8(255), uint64(2))
	f.Fuzz(func(t *testing.T, stream []byte, max uint8, seed uint64) {
		limit := int(max) + 1
		var got []byte
		var frames uint64
		d, err := New(Config{Kind: Raw, Max: limit}, func(f []byte) {
			if len(f) == 0 || len(f) > limit {
				t.Fatalf("frame of %d bytes, max %d", len(f), limit)
			}
			got = append(got, f...)
			frames++
		})
		if err != nil {
			t.Fatal(err)
		}
		var want uint64
		for _, p := range fuzzChunks(stream, limit, seed) {
			d.Feed(p)
			want += uint64((len(p) + limit - 1) / limit)
			if d.Pending() != 0 {
				t.Fatalf("pending %d", d.Pending())
			}
		}
		d.Flush()
		if !bytes.Equal(got, stream) {
			t.Errorf("frames make %q, want %q", got, stream)
		}
		if st := d.Stats(); st != (Stats{Frames: want, Bytes: uint64(len(stream))}) || frames != want {
			t.Errorf("stats %+v after %d frames, want %d", st, frames, want)
		}
	})
}

// checkRoundTrip encodes payloads one after the other and decodes them in
// chunks: every payload but the empty ones must come back, and nothing be
// counted as dropped.
func checkRoundTrip(t *testing.T, c Config, seed uint64, payloads ...[]byte) {
	var stream []byte
	var want []string
	for _, p := range payloads {
		stream = Encode(c, stream, p)
		c.Max = max(c.Max, len(p)) // frames exactly Max long must pass
		if len(p) > 0 {
			want = append(want, string(p))
		}
	}
	c.Max = max(c.Max, 1)
	frames, d := decode(t, c, fuzzChunks(stream, c.Max, seed), false)
	if !slices.Equal(frames, want) {
		t.Errorf("%q encoded as %q decodes to %q", want, stream, frames)
	}
	if st := d.Stats(); st.Overlong != 0 || st.Malformed != 0 || d.Pending() != 0 {
		t.Errorf("%q encoded as %q: stats %+v, pending %d", want, stream, st, d.Pending())
	}
}

func FuzzRoundTripSLIP(f *testing.F) {
	f.Add([]byte("abc"), []byte("\xc0\xdb\xdc\xdd"), uint64(1))
	f.Add([]byte(""), []byte("\xdb"), uint64(2))
	f.Fuzz(func(t *testing.T, a, b []byte, seed uint64) {
		checkRoundTrip(t, Config{Kind: SLIP}, seed, a, b)
	})
}

func FuzzRoundTripCOBS(f *testing.F) {
	for _, tt := range encodeTests {
		if tt.c.Kind == COBS {
			f.Add([]byte(tt.payload), []byte("\x00x"), uint64(len(tt.payload)))
		}
	}
	f.Fuzz(func(t *testing.T, a, b []byte, seed uint64) {
		checkRoundTrip(t, Config{Kind: COBS}, seed, a, b)
	})
}

func FuzzRoundTripLine(f *testing.F) {
	f.Add([]byte("$GPGGA,1"), []byte("a\rb"), false, uint64(1))
	f.Add([]byte("AT"), []byte(""), true, uint64(2))
	f.Fuzz(func(t *testing.T, a, b []byte, crlf bool, seed uint64) {
		for _, p := range [][]byte{a, b} {
			// A line cannot hold "\n", nor end in the "\r" that is stripped.
			if bytes.IndexByte(p, '\n') >= 0 || bytes.HasSuffix(p, []byte("\r")) {
				return
			}
		}
		c := Config{Kind: Line}
		if crlf {
			c.Delimiter = []byte("\r\n")
		}
		checkRoundTrip(t, c, seed, a, b)
	})
}

func FuzzRoundTripDelimiter(f *testing.F) {
	f.Add([]byte("END"), []byte("fooEN"), []byte("bar"), uint64(1))
	f.Add([]byte("aab"), []byte("aa"), []byte("ba"), uint64(2))
	f.Add([]byte("\x03"), []byte("\x02msg"), []byte(""), uint64(3))
	f.Fuzz(func(t *testing.T, delim, a, b []byte, seed uint64) {
		if len(delim) == 0 || len(delim) > 8 {
			return
		}
		for _, p := range [][]byte{a, b} {
			// The payload must not hold the delimiter, even one that
			// begins in it and ends in the delimiter appended.
			if bytes.Index(append(p[:len(p):len(p)], delim...), delim) != len(p) {
				return
			}
		}
		checkRoundTrip(t, Config{Kind: Delimiter, Delimiter: delim}, seed, a, b)
	})
}
