package framing

import (
	"bytes"
	"testing"
)

type benchStream struct {
	c      Config
	stream []byte // 64 frames of 64-byte payloads
}

func benchStreams() []benchStream {
	text := bytes.Repeat([]byte("0123456789abcdef"), 4)
	binary := bytes.Clone(text)
	binary[10], binary[20], binary[30] = 0x00, slipEnd, slipEsc
	var streams []benchStream
	for _, c := range []Config{
		{Kind: Line, Delimiter: []byte("\r\n")},
		{Kind: Delimiter, Delimiter: []byte("\x03\x04")},
		{Kind: Fixed, Size: 64},
		{Kind: Idle},
		{Kind: SLIP},
		{Kind: COBS},
		{Kind: Raw},
	} {
		payload := text
		if c.Kind == SLIP || c.Kind == COBS {
			payload = binary
		}
		var stream []byte
		for range 64 {
			stream = Encode(c, stream, payload)
		}
		streams = append(streams, benchStream{c, stream})
	}
	return streams
}

// benchDecode feeds the stream of kind k in two reads, the second
// beginning mid-frame, then ends any frame under way as an idle gap would.
func benchDecode(b *testing.B, k Kind) {
	s := benchStreams()[k]
	frames := 0
	d, err := New(s.c, func([]byte) { frames++ })
	if err != nil {
		b.Fatal(err)
	}
	cut := len(s.stream)/2 + 7
	b.SetBytes(int64(len(s.stream)))
	b.ReportAllocs()
	for b.Loop() {
		d.Feed(s.stream[:cut])
		d.Feed(s.stream[cut:])
		d.Flush()
	}
	if frames == 0 {
		b.Fatal("no frames")
	}
}

func BenchmarkDecodeLine(b *testing.B)      { benchDecode(b, Line) }
func BenchmarkDecodeDelimiter(b *testing.B) { benchDecode(b, Delimiter) }
func BenchmarkDecodeFixed(b *testing.B)     { benchDecode(b, Fixed) }
func BenchmarkDecodeIdle(b *testing.B)      { benchDecode(b, Idle) }
func BenchmarkDecodeSLIP(b *testing.B)      { benchDecode(b, SLIP) }
func BenchmarkDecodeCOBS(b *testing.B)      { benchDecode(b, COBS) }
func BenchmarkDecodeRaw(b *testing.B)       { benchDecode(b, Raw) }

func BenchmarkEncode(b *testing.B) {
	for _, s := range benchStreams() {
		payload := bytes.Repeat([]byte("0123456789abcdef\x00\xc0\xdb"), 4)[:64]
		dst := make([]byte, 0, 256)
		b.Run(s.c.Kind.String(), func(b *testing.B) {
			b.SetBytes(int64(len(payload)))
			b.ReportAllocs()
			for b.Loop() {
				dst = Encode(s.c, dst[:0], payload)
			}
		})
	}
}
