package spool

import (
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
)

// reader is ReadFrom's position: the file of one segment, open for
// reading, and the offset of the frame with seq.
type reader struct {
	f    *os.File
	base uint64 // the segment's
	seq  uint64
	off  int64
}

func (rd *reader) close() {
	if rd.f != nil {
		rd.f.Close()
	}
	*rd = reader{}
}

// ReadFrom reads the unacknowledged records from seq from on, oldest
// first, appending them to recs[:0] until buf is full or the spool's end,
// and returns them with the seq to read from next; it returns no records
// and Next when there are none. The records' Key and Payload alias buf, so
// a caller keeps a bounded window in memory: read a batch, publish it, and
// read the next when acknowledgements make room. A buf of MaxRecord bytes
// always holds a record; a smaller one may fail with io.ErrShortBuffer.
//
// Reading on from where the last call stopped continues where it left the
// file; any other seq (a rewind after a reconnect) reads its segment from
// the start. Records acknowledged out of order are skipped. A record that
// fails its checksum now, after Open checked it, makes ReadFrom return an
// error wrapping ErrCorrupt with next past that segment's end, so the
// caller can log it and read on; the next Open cuts the segment there.
func (s *Spool) ReadFrom(from uint64, buf []byte, recs []Record) ([]Record, uint64, error) {
	recs = recs[:0]
	if s.closed {
		return recs, from, ErrClosed
	}
	from = max(from, s.acked)
	used := 0 // buf[:used] holds the records returned
	for {
		i := s.segFor(from)
		if i < 0 {
			return recs, max(from, s.Next()), nil
		}
		seg := s.segs[i]
		from = max(from, seg.base)
		if err := s.seek(seg, from); err != nil {
			return recs, from, err
		}
		rd := &s.rd
		for rd.off < seg.size {
			space := buf[used:]
			m := int(min(int64(len(space)), seg.size-rd.off))
			k, err := rd.f.ReadAt(space[:m], rd.off)
			if k < m {
				if err == nil || err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				rd.close()
				return recs, from, fmt.Errorf("spool: %w", err)
			}
			p := space[:m]
			consumed, kept := 0, false
			for consumed < len(p) {
				r, n, err := decode(p[consumed:])
				if err == errShort && rd.off+int64(len(p)-consumed) < seg.size {
					break // cut short by buf, not by the segment's end
				}
				if err == nil && r.kind == kindFrame && r.seq != rd.seq {
					err = errSeq
				}
				if err != nil {
					off := rd.off
					rd.close()
					return recs, seg.next, fmt.Errorf("%w: %s at offset %d: %w", ErrCorrupt, s.segPath(seg.base), off, err)
				}
				if r.kind == kindFrame {
					rd.seq++
					if r.seq >= from && !s.isAcked(r.seq) {
						recs = append(recs, Record{Seq: r.seq, Time: r.time(), Key: r.key, Payload: r.payload})
						kept = true
					}
				}
				consumed += n
				rd.off += int64(n)
			}
			from = rd.seq
			if kept {
				used += consumed
			}
			if consumed == 0 {
				if len(recs) > 0 {
					return recs, from, nil
				}
				return recs, from, io.ErrShortBuffer
			}
		}
		from = max(from, seg.next)
		if i == len(s.segs)-1 {
			return recs, from, nil
		}
	}
}

// seek positions the reader in seg at or before the frame from.
func (s *Spool) seek(seg segment, from uint64) error {
	rd := &s.rd
	if rd.f != nil && rd.base == seg.base && rd.seq <= from {
		return nil // reading on; the frames before from are skipped
	}
	if rd.f == nil || rd.base != seg.base {
		rd.close()
		f, err := os.Open(s.segPath(seg.base))
		if err != nil {
			return fmt.Errorf("spool: %w", err)
		}
		rd.f, rd.base = f, seg.base
	}
	rd.seq, rd.off = seg.base, segHeaderSize
	return nil
}

// Records returns an iterator over the unacknowledged records from seq
// from on, oldest first, to the spool's end as it is when the iteration
// gets there: a replay after Open is
//
//	for rec, err := range sp.Records(sp.First()) { ... }
//
// A Record is valid until the next iteration. An error (see ReadFrom) is
// yielded once with a zero Record; the iteration goes on past it if the
// loop does. The iterator reads through a buffer of its own, of 64 KiB or
// the largest record it meets. The loop may Append and Ack (on the spool's goroutine, as
// always); the iteration then reaches the records appended meanwhile.
func (s *Spool) Records(from uint64) iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		buf := make([]byte, min(64<<10, s.MaxRecord()))
		var recs []Record
		for {
			var next uint64
			var err error
			recs, next, err = s.ReadFrom(from, buf, recs)
			if errors.Is(err, io.ErrShortBuffer) && len(buf) < maxRecordSize {
				// a record larger than the buffer (or than this run's
				// MaxRecord, from a run with larger segments)
				buf = make([]byte, min(max(2*len(buf), s.MaxRecord()), maxRecordSize))
				continue
			}
			for _, r := range recs {
				if !yield(r, nil) {
					return
				}
			}
			if err != nil && (!yield(Record{}, err) || next <= from) {
				return
			}
			if err == nil && len(recs) == 0 {
				return
			}
			from = next
		}
	}
}
