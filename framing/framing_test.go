package framing

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func TestParseKind(t *testing.T) {
	for k := Line; k <= Raw; k++ {
		got, err := ParseKind(k.String())
		if err != nil || got != k {
			t.Errorf("ParseKind(%q) = %v, %v; want %v", k.String(), got, err, k)
		}
	}
	for _, s := range []string{"", "Line", "lines", "modbus", " slip"} {
		if k, err := ParseKind(s); err == nil {
			t.Errorf("ParseKind(%q) = %v, want an error", s, k)
		}
	}
	if s := Kind(42).String(); s != "Kind(42)" {
		t.Errorf("Kind(42).String() = %q", s)
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		c    Config
		want string // in the error; "" for none
	}{
		{Config{}, ""},
		{Config{Kind: Line, Delimiter: []byte("\n")}, ""},
		{Config{Kind: Line, Delimiter: []byte("\r\n")}, ""},
		{Config{Kind: Line, Delimiter: []byte("\r")}, `not "\r"; use delimiter framing`},
		{Config{Kind: Delimiter}, "needs a delimiter"},
		{Config{Kind: Delimiter, Delimiter: []byte("\x03")}, ""},
		{Config{Kind: Fixed}, "frame size above 0, not 0"},
		{Config{Kind: Fixed, Size: -1}, "not -1"},
		{Config{Kind: Fixed, Size: 8}, ""},
		{Config{Kind: Fixed, Size: 5000}, "frame size 5000 is above max frame 4096"},
		{Config{Kind: Fixed, Size: 5000, Max: 5000}, ""},
		{Config{Kind: Idle, Max: -1}, "max frame -1 is negative"},
		{Config{Kind: Idle, Max: MaxLimit}, ""},
		{Config{Kind: Idle, Max: MaxLimit + 1}, "above the limit"},
		{Config{Kind: SLIP, Delimiter: []byte("ignored"), Size: -5}, ""},
		{Config{Kind: Raw + 1}, "unknown framing Kind(7)"},
	}
	for _, tt := range tests {
		_, err := New(tt.c, func([]byte) {})
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("New(%+v): %v", tt.c, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("New(%+v) = %v, want an error with %q", tt.c, err, tt.want)
		}
	}
	if _, err := New(Config{}, nil); err == nil {
		t.Error("New with a nil emit succeeded")
	}
}

// decodeTest is one stream and what decoding it must give, however it is
// cut into Feed calls.
type decodeTest struct {
	name      string
	c         Config
	in        string
	flush     bool     // call Flush at the end
	want      []string // the frames
	pending   int      // Pending at the end
	overlong  uint64
	malformed uint64
}

var decodeTests = []decodeTest{
	{name: "line/lf", c: Config{Kind: Line}, in: "a\nbb\n", want: []string{"a", "bb"}},
	{name: "line/crlf", c: Config{Kind: Line}, in: "a\r\nbb\r\n", want: []string{"a", "bb"}},
	{name: "line/blank lines skipped", c: Config{Kind: Line}, in: "\r\n\r\na\r\n\n\r\n\n", want: []string{"a"}},
	{name: "line/lone cr is data", c: Config{Kind: Line}, in: "a\rb\r\n\r\r\n", want: []string{"a\rb", "\r"}},
	{name: "line/partial line pending", c: Config{Kind: Line}, in: "a\nbc\r", want: []string{"a"}, pending: 3},
	{name: "line/flush ends the last line", c: Config{Kind: Line}, in: "a\nbc\r", flush: true, want: []string{"a", "bc"}},
	{name: "line/flush of a lone cr", c: Config{Kind: Line}, in: "\r", flush: true},
	{name: "line/max after stripping", c: Config{Kind: Line, Max: 3}, in: "abc\r\nabc\n", want: []string{"abc", "abc"}},
	{name: "line/overlong then good", c: Config{Kind: Line, Max: 4}, in: "abcde\nabcd\r\n", want: []string{"abcd"}, overlong: 1},
	{name: "line/overlong by a kept cr", c: Config{Kind: Line, Max: 3}, in: "abc\rd\nok\n", want: []string{"ok"}, overlong: 1},
	{name: "line/overlong counted once", c: Config{Kind: Line, Max: 2}, in: strings.Repeat("x", 50) + "\nyy\n", want: []string{"yy"}, overlong: 1},
	{name: "line/overlong pending until its end", c: Config{Kind: Line, Max: 2}, in: "xyz", pending: 3, overlong: 1},
	{name: "line/overlong flushed", c: Config{Kind: Line, Max: 2}, in: "xyz", flush: true, overlong: 1},

	{name: "delimiter/one byte", c: Config{Kind: Delimiter, Delimiter: []byte(";")}, in: "a;bb;;c", want: []string{"a", "bb"}, pending: 1},
	{name: "delimiter/several bytes", c: Config{Kind: Delimiter, Delimiter: []byte("END")}, in: "fooENDbarEN", want: []string{"foo"}, pending: 5},
	{name: "delimiter/flush keeps a begun delimiter", c: Config{Kind: Delimiter, Delimiter: []byte("END")}, in: "fooENDbarEN", flush: true, want: []string{"foo", "barEN"}},
	{name: "delimiter/false starts", c: Config{Kind: Delimiter, Delimiter: []byte("aab")}, in: "aaabaaaab", want: []string{"a", "aa"}},
	{name: "delimiter/overlapping borders", c: Config{Kind: Delimiter, Delimiter: []byte("abab")}, in: "xabababyababab", want: []string{"x", "aby"}, pending: 2},
	{name: "delimiter/crlfcrlf", c: Config{Kind: Delimiter, Delimiter: []byte("\r\n\r\n")}, in: "HTTP\r\nX: y\r\n\r\n\r\n\r\nz\r\n\r", want: []string{"HTTP\r\nX: y"}, pending: 4},
	{name: "delimiter/max", c: Config{Kind: Delimiter, Delimiter: []byte("--"), Max: 3}, in: "abc--abcd--a-c--a-", want: []string{"abc", "a-c"}, overlong: 1, pending: 2},
	{name: "delimiter/overlong then good", c: Config{Kind: Delimiter, Delimiter: []byte("||"), Max: 2}, in: "a|b|c||ok||", want: []string{"ok"}, overlong: 1},

	{name: "fixed/frames", c: Config{Kind: Fixed, Size: 3}, in: "abcdefgh", want: []string{"abc", "def"}, pending: 2},
	{name: "fixed/flush emits short", c: Config{Kind: Fixed, Size: 3}, in: "abcdefgh", flush: true, want: []string{"abc", "def", "gh"}},
	{name: "fixed/size max", c: Config{Kind: Fixed, Size: 4, Max: 4}, in: "\x00\x01\x02\x03\x00\x01\x02\x03", want: []string{"\x00\x01\x02\x03", "\x00\x01\x02\x03"}},

	{name: "idle/pending until flush", c: Config{Kind: Idle}, in: "a\nb\x00c", pending: 5},
	{name: "idle/flush", c: Config{Kind: Idle}, in: "a\nb\x00c", flush: true, want: []string{"a\nb\x00c"}},
	{name: "idle/flush of nothing", c: Config{Kind: Idle}, flush: true},
	{name: "idle/overlong", c: Config{Kind: Idle, Max: 4}, in: "abcde", flush: true, overlong: 1},
	{name: "idle/overlong pending", c: Config{Kind: Idle, Max: 4}, in: "abcde", pending: 5, overlong: 1},

	{name: "slip/frames", c: Config{Kind: SLIP}, in: "\xc0abc\xc0de\xc0", want: []string{"abc", "de"}},
	{name: "slip/empty frames skipped", c: Config{Kind: SLIP}, in: "\xc0\xc0\xc0a\xc0\xc0", want: []string{"a"}},
	{name: "slip/escapes", c: Config{Kind: SLIP}, in: "a\xdb\xdcb\xdb\xddc\xc0\xdb\xdc\xc0", want: []string{"a\xc0b\xdbc", "\xc0"}},
	{name: "slip/max after unescaping", c: Config{Kind: SLIP, Max: 2}, in: "\xdb\xdc\xdb\xdd\xc0", want: []string{"\xc0\xdb"}},
	{name: "slip/bad escape then good", c: Config{Kind: SLIP}, in: "a\xdbxb\xc0ok\xc0", want: []string{"ok"}, malformed: 1},
	{name: "slip/escape before end", c: Config{Kind: SLIP}, in: "a\xdb\xc0ok\xc0", want: []string{"ok"}, malformed: 1},
	{name: "slip/escaped escape is not an escape", c: Config{Kind: SLIP}, in: "\xdb\xdb\xdd\xc0ok\xc0", want: []string{"ok"}, malformed: 1},
	{name: "slip/overlong then good", c: Config{Kind: SLIP, Max: 2}, in: "abc\xc0ok\xc0", want: []string{"ok"}, overlong: 1},
	{name: "slip/overlong before bad escape", c: Config{Kind: SLIP, Max: 2}, in: "abc\xdbx\xc0", overlong: 1},
	{name: "slip/pending", c: Config{Kind: SLIP}, in: "\xc0ab\xdb", pending: 3},
	{name: "slip/flush", c: Config{Kind: SLIP}, in: "\xc0ab", flush: true, want: []string{"ab"}},
	{name: "slip/flush after escape", c: Config{Kind: SLIP}, in: "ab\xdb", flush: true, malformed: 1},

	{name: "cobs/frames", c: Config{Kind: COBS}, in: "\x03\x11\x22\x02\x33\x00\x05\x11\x22\x33\x44\x00", want: []string{"\x11\x22\x00\x33", "\x11\x22\x33\x44"}},
	{name: "cobs/zeros", c: Config{Kind: COBS}, in: "\x01\x01\x00\x01\x01\x01\x00\x02\x11\x01\x01\x01\x00", want: []string{"\x00", "\x00\x00", "\x11\x00\x00\x00"}},
	{name: "cobs/empty frames skipped", c: Config{Kind: COBS}, in: "\x00\x00\x01\x00\x02a\x00", want: []string{"a"}},
	{name: "cobs/full block", c: Config{Kind: COBS}, in: "\xff" + strings.Repeat("x", 254) + "\x02y\x00", want: []string{strings.Repeat("x", 254) + "y"}},
	{name: "cobs/full block then empty block", c: Config{Kind: COBS}, in: "\xff" + strings.Repeat("x", 254) + "\x01\x00", want: []string{strings.Repeat("x", 254)}},
	{name: "cobs/block cut short then good", c: Config{Kind: COBS}, in: "\x05ab\x00\x02c\x00", want: []string{"c"}, malformed: 1},
	{name: "cobs/overlong then good", c: Config{Kind: COBS, Max: 3}, in: "\x05abcd\x00\x04abc\x00", want: []string{"abc"}, overlong: 1},
	{name: "cobs/overlong by an implied zero", c: Config{Kind: COBS, Max: 3}, in: "\x04abc\x01\x00", overlong: 1},
	{name: "cobs/overlong before cut short", c: Config{Kind: COBS, Max: 1}, in: "\x05abc\x00", overlong: 1},
	{name: "cobs/pending", c: Config{Kind: COBS}, in: "\x02a\x00\x03a", want: []string{"a"}, pending: 2},
	{name: "cobs/flush", c: Config{Kind: COBS}, in: "\x03ab", flush: true, want: []string{"ab"}},
	{name: "cobs/flush cut short", c: Config{Kind: COBS}, in: "\x03a", flush: true, malformed: 1},
}

// decode feeds chunks to a new Decoder for c and returns the frames.
func decode(t *testing.T, c Config, chunks [][]byte, flush bool) (frames []string, d *Decoder) {
	t.Helper()
	d, err := New(c, func(frame []byte) { frames = append(frames, string(frame)) })
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range chunks {
		d.Feed(p)
	}
	if flush {
		d.Flush()
	}
	return frames, d
}

// cuts returns the ways of cutting in into Feed calls that every framing
// but raw must decode alike: whole, byte by byte, in two at every
// position, in random chunks and with empty Feeds between.
func cuts(in []byte, rng *rand.Rand) map[string][][]byte {
	ways := map[string][][]byte{"whole": {in}}
	var bytewise, empties [][]byte
	for i := range in {
		bytewise = append(bytewise, in[i:i+1])
		empties = append(empties, nil, in[i:i+1])
	}
	ways["bytewise"] = bytewise
	ways["with empty feeds"] = empties
	for i := 1; i < len(in); i++ {
		ways[fmt.Sprintf("cut at %d", i)] = [][]byte{in[:i], in[i:]}
	}
	for n := range 5 {
		ways[fmt.Sprintf("random %d", n)] = randomChunks(in, rng)
	}
	return ways
}

func randomChunks(in []byte, rng *rand.Rand) [][]byte {
	var chunks [][]byte
	for len(in) > 0 {
		n := min(len(in), rng.IntN(8))
		chunks = append(chunks, in[:n])
		in = in[n:]
	}
	return chunks
}

func TestDecode(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tt := range decodeTests {
		t.Run(tt.name, func(t *testing.T) {
			want := Stats{Frames: uint64(len(tt.want)), Overlong: tt.overlong, Malformed: tt.malformed}
			for _, f := range tt.want {
				want.Bytes += uint64(len(f))
			}
			for how, chunks := range cuts([]byte(tt.in), rng) {
				frames, d := decode(t, tt.c, chunks, tt.flush)
				if !slices.Equal(frames, tt.want) {
					t.Errorf("%s: frames %q, want %q", how, frames, tt.want)
				}
				if got := d.Stats(); got != want {
					t.Errorf("%s: stats %+v, want %+v", how, got, want)
				}
				if got := d.Pending(); got != tt.pending {
					t.Errorf("%s: pending %d, want %d", how, got, tt.pending)
				}
			}
		})
	}
}

func TestDecodeRaw(t *testing.T) {
	tests := []struct {
		max    int
		chunks []string
		want   []string
	}{
		{0, []string{"abc", "", "\x00\n\xc0"}, []string{"abc", "\x00\n\xc0"}},
		{4, []string{"abcdefghij", "klmn"}, []string{"abcd", "efgh", "ij", "klmn"}},
		{1, []string{"ab"}, []string{"a", "b"}},
	}
	for _, tt := range tests {
		var chunks [][]byte
		for _, s := range tt.chunks {
			chunks = append(chunks, []byte(s))
		}
		frames, d := decode(t, Config{Kind: Raw, Max: tt.max}, chunks, true)
		if !slices.Equal(frames, tt.want) {
			t.Errorf("max %d, feeds %q: frames %q, want %q", tt.max, tt.chunks, frames, tt.want)
		}
		if p := d.Pending(); p != 0 {
			t.Errorf("max %d, feeds %q: pending %d", tt.max, tt.chunks, p)
		}
	}
}

// The bridge's idle timer: armed while Pending is above 0, and Flush when
// it fires ends the frame, even one being discarded as overlong.
func TestIdleFlushEndsFrames(t *testing.T) {
	var frames []string
	d, err := New(Config{Kind: Idle, Max: 4}, func(f []byte) { frames = append(frames, string(f)) })
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		feed    string // or Flush when empty
		pending int
		frames  int
	}{
		{"ab", 2, 0},
		{"c", 3, 0},
		{"", 0, 1},
		{"", 0, 1},
		{"toolong", 7, 1},
		{"", 0, 1},
		{"ok", 2, 1},
		{"", 0, 2},
	}
	for i, s := range steps {
		if s.feed == "" {
			d.Flush()
		} else {
			d.Feed([]byte(s.feed))
		}
		if d.Pending() != s.pending || len(frames) != s.frames {
			t.Fatalf("step %d: pending %d, %d frames; want %d, %d", i, d.Pending(), len(frames), s.pending, s.frames)
		}
	}
	if want := []string{"abc", "ok"}; !slices.Equal(frames, want) {
		t.Errorf("frames %q, want %q", frames, want)
	}
	if st := d.Stats(); st != (Stats{Frames: 2, Bytes: 5, Overlong: 1}) {
		t.Errorf("stats %+v", st)
	}
}

func TestBorders(t *testing.T) {
	tests := []struct {
		p    string
		want []int
	}{
		{"a", []int{0}},
		{"aab", []int{0, 1, 0}},
		{"abab", []int{0, 0, 1, 2}},
		{"aaaa", []int{0, 1, 2, 3}},
		{"abcabd", []int{0, 0, 0, 1, 2, 0}},
	}
	for _, tt := range tests {
		if got := borders([]byte(tt.p)); !slices.Equal(got, tt.want) {
			t.Errorf("borders(%q) = %v, want %v", tt.p, got, tt.want)
		}
	}
}

// Steady-state decoding must not allocate: it runs for every read of every
// device.
func TestDecodeDoesNotAllocate(t *testing.T) {
	for _, b := range benchStreams() {
		d, err := New(b.c, func([]byte) {})
		if err != nil {
			t.Fatal(err)
		}
		k := len(b.stream) / 3
		if n := testing.AllocsPerRun(100, func() {
			d.Feed(b.stream[:k])
			d.Feed(b.stream[k:])
			d.Flush()
		}); n != 0 {
			t.Errorf("%v: %v allocations per run", b.c.Kind, n)
		}
	}
}

var encodeTests = []struct {
	c       Config
	payload string
	want    string
}{
	{Config{Kind: Line}, "AT", "AT\n"},
	{Config{Kind: Line}, "AT\n", "AT\n"},
	{Config{Kind: Line}, "AT\r\n", "AT\r\n"},
	{Config{Kind: Line}, "", "\n"},
	{Config{Kind: Line, Delimiter: []byte("\r\n")}, "AT", "AT\r\n"},
	{Config{Kind: Line, Delimiter: []byte("\r\n")}, "AT\n", "AT\n"},
	{Config{Kind: Delimiter, Delimiter: []byte("\x03")}, "\x02msg", "\x02msg\x03"},
	{Config{Kind: Delimiter, Delimiter: []byte("\x03")}, "\x02msg\x03", "\x02msg\x03"},
	{Config{Kind: Delimiter, Delimiter: []byte("END")}, "xEN", "xENEND"},
	{Config{Kind: SLIP}, "abc", "\xc0abc\xc0"},
	{Config{Kind: SLIP}, "", "\xc0\xc0"},
	{Config{Kind: SLIP}, "\xc0\xdb\xdc\xdd", "\xc0\xdb\xdc\xdb\xdd\xdc\xdd\xc0"},
	{Config{Kind: Fixed, Size: 2}, "abc", "abc"},
	{Config{Kind: Idle}, "a\n", "a\n"},
	{Config{Kind: Raw}, "\xc0\x00", "\xc0\x00"},
	// The examples of the COBS article on Wikipedia.
	{Config{Kind: COBS}, "", "\x01\x00"},
	{Config{Kind: COBS}, "\x00", "\x01\x01\x00"},
	{Config{Kind: COBS}, "\x00\x00", "\x01\x01\x01\x00"},
	{Config{Kind: COBS}, "\x00\x11\x00", "\x01\x02\x11\x01\x00"},
	{Config{Kind: COBS}, "\x11\x22\x00\x33", "\x03\x11\x22\x02\x33\x00"},
	{Config{Kind: COBS}, "\x11\x22\x33\x44", "\x05\x11\x22\x33\x44\x00"},
	{Config{Kind: COBS}, "\x11\x00\x00\x00", "\x02\x11\x01\x01\x01\x00"},
	{Config{Kind: COBS}, seq(0x01, 0xfe), "\xff" + seq(0x01, 0xfe) + "\x00"},
	{Config{Kind: COBS}, "\x00" + seq(0x01, 0xfe), "\x01\xff" + seq(0x01, 0xfe) + "\x00"},
	{Config{Kind: COBS}, seq(0x01, 0xff), "\xff" + seq(0x01, 0xfe) + "\x02\xff\x00"},
	{Config{Kind: COBS}, seq(0x02, 0xff) + "\x00", "\xff" + seq(0x02, 0xff) + "\x01\x01\x00"},
	{Config{Kind: COBS}, seq(0x03, 0xff) + "\x00\x01", "\xfe" + seq(0x03, 0xff) + "\x02\x01\x00"},
}

// seq returns the bytes from a to b, both included.
func seq(a, b byte) string {
	var s []byte
	for c := int(a); c <= int(b); c++ {
		s = append(s, byte(c))
	}
	return string(s)
}

func TestEncode(t *testing.T) {
	for _, tt := range encodeTests {
		dst := []byte("prefix")
		got := Encode(tt.c, dst, []byte(tt.payload))
		if string(got) != "prefix"+tt.want {
			t.Errorf("Encode(%v, %q) = %q, want %q", tt.c.Kind, tt.payload, got[len(dst):], tt.want)
			continue
		}
		if tt.c.Kind != SLIP && tt.c.Kind != COBS || tt.payload == "" {
			continue
		}
		frames, _ := decode(t, tt.c, [][]byte{got[len(dst):]}, false)
		if len(frames) != 1 || frames[0] != tt.payload {
			t.Errorf("%v: decoding %q gives %q, want %q", tt.c.Kind, tt.want, frames, tt.payload)
		}
	}
}

func TestEncodeDoesNotAllocate(t *testing.T) {
	dst := make([]byte, 0, 1024)
	payload := bytes.Repeat([]byte("\x00\xc0\xdb\n\x03abc"), 32)
	for _, c := range []Config{
		{Kind: Line}, {Kind: Line, Delimiter: []byte("\r\n")},
		{Kind: Delimiter, Delimiter: []byte("\x03\x04")}, {Kind: SLIP}, {Kind: COBS}, {Kind: Raw},
	} {
		if n := testing.AllocsPerRun(100, func() { Encode(c, dst, payload) }); n != 0 {
			t.Errorf("%v: %v allocations per Encode", c.Kind, n)
		}
	}
}

// Reset drops the frame under way, so what comes after a broken-off stream
// is not glued to it, and counts it once.
func TestReset(t *testing.T) {
	for _, tc := range []struct {
		c           Config
		part, after string
		want        []string
		cut         uint64
	}{
		{Config{Kind: Line}, "$GPG", "GA,1\n", []string{"GA,1"}, 1},
		{Config{Kind: Line}, "", "a\n", []string{"a"}, 0},
		{Config{Kind: Line}, "done\n", "a\n", []string{"done", "a"}, 0},
		{Config{Kind: Delimiter, Delimiter: []byte("\x03")}, "ab", "c\x03", []string{"c"}, 1},
		{Config{Kind: Fixed, Size: 4}, "ab", "cdef", []string{"cdef"}, 1},
		{Config{Kind: SLIP}, "\xc0ab\xdb", "\xdccd\xc0", []string{"\xdccd"}, 1},
		{Config{Kind: COBS}, "\x03a", "\x02b\x00", []string{"b"}, 1},
		{Config{Kind: Idle}, "abc", "de", []string{"de"}, 1},
		{Config{Kind: Line, Max: 2}, "toolong", "x\n", []string{"x"}, 0}, // already counted overlong
	} {
		var got []string
		d, err := New(tc.c, func(f []byte) { got = append(got, string(f)) })
		if err != nil {
			t.Fatal(err)
		}
		d.Feed([]byte(tc.part))
		d.Reset()
		if d.Pending() != 0 {
			t.Errorf("%v %q: pending %d after Reset", tc.c.Kind, tc.part, d.Pending())
		}
		d.Feed([]byte(tc.after))
		d.Flush()
		if !slices.Equal(got, tc.want) || d.Stats().Cut != tc.cut {
			t.Errorf("%v %q then %q: frames %q cut %d, want %q cut %d", tc.c.Kind, tc.part, tc.after, got, d.Stats().Cut, tc.want, tc.cut)
		}
	}
}
