package spool

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"time"
)

// A segment file starts with a header and holds records back to back:
//
//	header, 32 bytes:
//	  0  8  magic "IOGSPOOL"
//	  8  4  version (1)
//	 12  4  zero
//	 16  8  seq of the segment's first frame (also its file name, in hex)
//	 24  4  CRC-32C of bytes 0..23
//	 28  4  zero
//
//	record, 28 bytes + key + payload, little endian:
//	  0  4  CRC-32C of bytes 4..size-1
//	  4  4  size: the whole record, header included
//	  8  1  kind: 1 frame, 2 ack
//	  9  1  zero
//	 10  2  key length
//	 12  8  seq: the frame's; for an ack, the first seq not acknowledged
//	 20  8  time, Unix nanoseconds (math.MinInt64: the zero time)
//	 28     key, then payload
//
// Frames in a segment have consecutive seqs from the header's. An ack
// record says that every seq below its own is acknowledged: the cursor is
// kept in the log rather than in a file of its own, so persisting it costs
// no extra fsync (see docs/design.md, "The spool").
const (
	segHeaderSize = 32
	recHeaderSize = RecordOverhead
	version       = 1

	kindFrame = 1
	kindAck   = 2

	// maxRecordSize bounds the size field a decoder accepts, whatever the
	// options the segment was written with; Options.SegmentBytes is capped
	// so that no record Append accepts is larger.
	maxRecordSize = maxSegmentBytes - segHeaderSize
)

var segMagic = [8]byte{'I', 'O', 'G', 'S', 'P', 'O', 'O', 'L'}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Reasons a record or a segment header is rejected. They end up in a
// Truncation's Reason and wrapped in ErrCorrupt.
var (
	errShort    = errors.New("record cut short") // more bytes needed
	errSize     = errors.New("bad record size")
	errKind     = errors.New("bad record kind")
	errChecksum = errors.New("checksum mismatch")
	errSeq      = errors.New("record out of sequence")
	errHeader   = errors.New("bad segment header")
)

// record is a decoded record; key and payload alias the decoded bytes.
type record struct {
	kind    byte
	seq     uint64
	nanos   int64
	key     []byte
	payload []byte
}

func (r *record) time() time.Time {
	if r.nanos == math.MinInt64 {
		return time.Time{}
	}
	return time.Unix(0, r.nanos)
}

func unixNanos(t time.Time) int64 {
	if t.IsZero() {
		return math.MinInt64
	}
	return t.UnixNano()
}

// appendRecord appends an encoded record to dst.
func appendRecord(dst []byte, kind byte, seq uint64, nanos int64, key string, payload []byte) []byte {
	start := len(dst)
	size := recHeaderSize + len(key) + len(payload)
	var h [recHeaderSize]byte
	binary.LittleEndian.PutUint32(h[4:], uint32(size))
	h[8] = kind
	binary.LittleEndian.PutUint16(h[10:], uint16(len(key)))
	binary.LittleEndian.PutUint64(h[12:], seq)
	binary.LittleEndian.PutUint64(h[20:], uint64(nanos))
	dst = append(dst, h[:]...)
	dst = append(dst, key...)
	dst = append(dst, payload...)
	binary.LittleEndian.PutUint32(dst[start:], crc32.Checksum(dst[start+4:], castagnoli))
	return dst
}

// recordSize reads the size of the record at the start of b, or returns
// errShort when b does not hold its header yet. It checks only the bounds,
// so a reader knows how much to read before decode can judge the rest.
func recordSize(b []byte) (int, error) {
	if len(b) < recHeaderSize {
		return 0, errShort
	}
	size := binary.LittleEndian.Uint32(b[4:])
	if size < recHeaderSize || size > maxRecordSize {
		return 0, errSize
	}
	return int(size), nil
}

// decode decodes the record at the start of b and returns it with its
// size. It never allocates and never reads past b: errShort means that b
// ends inside the record, any other error that the bytes are not a
// record.
func decode(b []byte) (record, int, error) {
	size, err := recordSize(b)
	if err != nil {
		return record{}, 0, err
	}
	if b[8] != kindFrame && b[8] != kindAck || b[9] != 0 {
		return record{}, 0, errKind
	}
	klen := int(binary.LittleEndian.Uint16(b[10:]))
	if klen > size-recHeaderSize || b[8] == kindAck && size != recHeaderSize {
		return record{}, 0, errSize
	}
	if len(b) < size {
		return record{}, 0, errShort
	}
	if binary.LittleEndian.Uint32(b) != crc32.Checksum(b[4:size], castagnoli) {
		return record{}, 0, errChecksum
	}
	return record{
		kind:    b[8],
		seq:     binary.LittleEndian.Uint64(b[12:]),
		nanos:   int64(binary.LittleEndian.Uint64(b[20:])),
		key:     b[recHeaderSize : recHeaderSize+klen : recHeaderSize+klen],
		payload: b[recHeaderSize+klen : size : size],
	}, size, nil
}

func appendSegHeader(dst []byte, base uint64) []byte {
	var h [segHeaderSize]byte
	copy(h[:], segMagic[:])
	binary.LittleEndian.PutUint32(h[8:], version)
	binary.LittleEndian.PutUint64(h[16:], base)
	binary.LittleEndian.PutUint32(h[24:], crc32.Checksum(h[:24], castagnoli))
	return append(dst, h[:]...)
}

// decodeSegHeader returns the base seq of a segment header.
func decodeSegHeader(b []byte) (uint64, error) {
	if len(b) < segHeaderSize || [8]byte(b[:8]) != segMagic ||
		binary.LittleEndian.Uint32(b[8:]) != version ||
		binary.LittleEndian.Uint32(b[24:]) != crc32.Checksum(b[:24], castagnoli) {
		return 0, errHeader
	}
	return binary.LittleEndian.Uint64(b[16:]), nil
}
