package spool

import (
	"bytes"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to the record decoder, alone and as a
// segment file read through the scanner Open uses: neither may panic,
// decode never allocates, the scanner's buffer never grows past its chunk
// or the file's size, and whatever decodes is canonical (encoding it again
// gives the same bytes).
func FuzzDecode(f *testing.F) {
	frame := appendRecord(nil, kindFrame, 1, 1714564800e9, "gps", []byte("$GPGGA,123519,4807.038,N*47"))
	ack := appendRecord(nil, kindAck, 7, 0, "", nil)
	f.Add(frame)
	f.Add(ack)
	f.Add(append(append(append([]byte(nil), frame...), ack...), frame...))
	f.Add(frame[:recHeaderSize])
	f.Add(frame[:len(frame)-1])
	f.Add(appendRecord(nil, kindFrame, 1<<60, -1, "", bytes.Repeat([]byte{0}, 300)))
	f.Add(append(appendSegHeader(nil, 1), frame...))
	f.Add(make([]byte, 64))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, n, err := decode(data)
		if err == nil {
			if n < recHeaderSize || n > len(data) {
				t.Fatalf("size %d of %d bytes", n, len(data))
			}
			again := appendRecord(nil, r.kind, r.seq, r.nanos, string(r.key), r.payload)
			if !bytes.Equal(again, data[:n]) {
				t.Fatalf("decoded %+v, encodes as %x, not %x", r, again, data[:n])
			}
		}
		if a := testing.AllocsPerRun(1, func() { decode(data) }); a != 0 {
			t.Fatalf("decode allocated %v times", a)
		}
		var sc scanner
		sc.reset(bytes.NewReader(data), 0, int64(len(data)))
		for {
			if _, _, err := sc.next(); err != nil {
				break
			}
		}
		if len(sc.buf) > max(scanChunk, len(data)) {
			t.Fatalf("scanner buffer %d bytes for %d bytes of data", len(sc.buf), len(data))
		}
	})
}
