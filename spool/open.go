package spool

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// OpenReport says what Open found. Truncations and mode fixes are not
// errors: the spool is usable, and the caller logs them as warnings.
type OpenReport struct {
	Records  uint64 // unacknowledged records, to be replayed from First
	Bytes    int64
	Segments int
	First    uint64 // the oldest unacknowledged seq
	Next     uint64 // the seq the next Append returns
	// Truncated lists the segments cut at a bad record, or deleted for a
	// bad header: the records from there on are lost.
	Truncated []Truncation
	// Fixed lists the directory and files whose modes were wider than
	// 0700 and 0600, and have been narrowed.
	Fixed []ModeFix
}

// Truncation is a segment cut short by Open: the tail of a write that a
// crash interrupted, or damage.
type Truncation struct {
	File   string
	Offset int64 // where the file was cut; 0: the file was deleted
	Bytes  int64 // how many bytes were cut off
	Err    error // why: wraps ErrCorrupt
}

func (t Truncation) String() string {
	if t.Offset == 0 {
		return fmt.Sprintf("spool: %s: deleted (%d bytes): %v", t.File, t.Bytes, t.Err)
	}
	return fmt.Sprintf("spool: %s: cut at offset %d (%d bytes): %v", t.File, t.Offset, t.Bytes, t.Err)
}

// ModeFix is a file or directory whose mode Open narrowed.
type ModeFix struct {
	Path     string
	Old, New fs.FileMode
}

func (m ModeFix) String() string {
	return fmt.Sprintf("spool: %s: mode %#o narrowed to %#o", m.Path, m.Old, m.New)
}

// Open opens the spool in dir, creating it (mode 0700, parents included)
// if need be. It checks every segment, cuts damaged ones short, deletes
// those already acknowledged, and starts the spool's sync goroutine,
// which syncs what it found before anything else.
//
// A directory or segment with group or other permission bits is narrowed
// to 0700 or 0600 and reported in OpenReport.Fixed; where that fails (the
// directory is someone else's), Open fails. Open fails with ErrLocked when
// another Spool has dir open.
func Open(dir string, opts Options) (*Spool, OpenReport, error) {
	var rep OpenReport
	o, err := opts.normalize()
	if err != nil {
		return nil, rep, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, rep, fmt.Errorf("spool: %w", err)
	}
	dirf, err := os.Open(dir)
	if err != nil {
		return nil, rep, fmt.Errorf("spool: %w", err)
	}
	if err := openDir(dirf, &rep); err != nil {
		dirf.Close()
		return nil, rep, err
	}
	s := &Spool{dir: dir, opts: o, dirf: dirf, sy: newSyncer(dirf, o.OnSync)}
	if err := s.load(&rep); err != nil {
		s.sy.stop()
		for _, f := range s.rolled {
			f.Close()
		}
		if s.active != nil {
			s.active.Close()
		}
		dirf.Close()
		return nil, rep, err
	}
	s.queueSync(nil, false) // what an earlier run wrote may be in the page cache only
	st := s.Stats()
	rep.Records, rep.Bytes, rep.Segments, rep.First, rep.Next = st.Records, st.Bytes, st.Segments, st.First, st.Next
	return s, rep, nil
}

// openDir checks and locks the spool's directory.
func openDir(d *os.File, rep *OpenReport) error {
	fi, err := d.Stat()
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("spool: %w", &fs.PathError{Op: "open", Path: d.Name(), Err: unix.ENOTDIR})
	}
	if err := narrow(d, fi.Mode().Perm(), rep); err != nil {
		return err
	}
	for {
		err = unix.Flock(int(d.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err != unix.EINTR {
			break
		}
	}
	if err == unix.EWOULDBLOCK {
		return fmt.Errorf("%w: %s", ErrLocked, d.Name())
	}
	if err != nil {
		return fmt.Errorf("spool: %w", &fs.PathError{Op: "flock", Path: d.Name(), Err: err})
	}
	return nil
}

// narrow takes group and other permissions away from f.
func narrow(f *os.File, perm fs.FileMode, rep *OpenReport) error {
	if perm&0o077 == 0 {
		return nil
	}
	if err := f.Chmod(perm &^ 0o077); err != nil {
		return fmt.Errorf("spool: mode %#o is too open and cannot be narrowed: %w", perm, err)
	}
	rep.Fixed = append(rep.Fixed, ModeFix{Path: f.Name(), Old: perm, New: perm &^ 0o077})
	return nil
}

func segName(base uint64) string { return fmt.Sprintf("%016x.seg", base) }

func parseSegName(name string) (uint64, bool) {
	hex, ok := strings.CutSuffix(name, ".seg")
	if !ok || len(hex) != 16 {
		return 0, false
	}
	base, err := strconv.ParseUint(hex, 16, 64)
	return base, err == nil
}

// load reads the segments in the directory, in order.
func (s *Spool) load(rep *OpenReport) error {
	ents, err := os.ReadDir(s.dir) // sorted by name, and so by base
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	var next, acked uint64 = 1, 0
	var last *os.File
	for _, e := range ents {
		base, ok := parseSegName(e.Name())
		if !ok {
			continue
		}
		f, seg, ack, err := s.loadSegment(filepath.Join(s.dir, e.Name()), base, next, rep)
		if err != nil {
			return err
		}
		next = max(next, base)
		if f == nil {
			continue
		}
		if last != nil {
			s.rolled = append(s.rolled, last)
		}
		last = f
		s.segs = append(s.segs, seg)
		s.size += seg.size
		next = seg.next
		acked = max(acked, ack)
	}
	if last != nil && s.segs[len(s.segs)-1].size+recHeaderSize < s.opts.SegmentBytes {
		if _, err := last.Seek(0, io.SeekEnd); err != nil {
			return fmt.Errorf("spool: %w", err)
		}
		s.active = last
	} else {
		if last != nil {
			s.rolled = append(s.rolled, last)
		}
		// roll's way, without a segment before it
		f, err := os.OpenFile(s.segPath(next), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return fmt.Errorf("spool: %w", err)
		}
		s.active = f
		if _, err := f.Write(appendSegHeader(nil, next)); err != nil {
			return fmt.Errorf("spool: %w", err)
		}
		s.segs = append(s.segs, segment{base: next, next: next, size: segHeaderSize})
		s.size += segHeaderSize
		s.dirty, s.dirDirty = true, true
	}
	s.acked = min(max(acked, s.segs[0].base), s.Next())
	s.persisted = s.acked
	s.advance()
	return nil
}

// loadSegment opens and checks one segment file whose frames must start at
// or after next. It cuts the file at its first bad record, and deletes it
// when its header is bad; f is nil then. ack is the highest acknowledged
// position its ack records give.
func (s *Spool) loadSegment(path string, base, next uint64, rep *OpenReport) (f *os.File, seg segment, ack uint64, err error) {
	f, err = os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, seg, 0, fmt.Errorf("spool: %w", err)
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = &fs.PathError{Op: "open", Path: path, Err: errors.New("not a regular file")}
	}
	if err == nil {
		err = narrow(f, fi.Mode().Perm(), rep)
	}
	if err != nil {
		f.Close()
		return nil, seg, 0, fmt.Errorf("spool: %w", err)
	}
	size := fi.Size()

	var hdr [segHeaderSize]byte
	n, err := f.ReadAt(hdr[:], 0)
	if err != nil && err != io.EOF {
		f.Close()
		return nil, seg, 0, fmt.Errorf("spool: %w", err)
	}
	hbase, herr := decodeSegHeader(hdr[:n])
	if herr == nil && (hbase != base || base < next) {
		herr = fmt.Errorf("%w: first seq %d, want %d (file name) at or after %d", errHeader, hbase, base, next)
	}
	if herr != nil {
		f.Close()
		if err := os.Remove(path); err != nil {
			return nil, seg, 0, fmt.Errorf("spool: %w", err)
		}
		s.dirDirty = true
		if size > 0 {
			rep.Truncated = append(rep.Truncated, Truncation{File: path, Bytes: size, Err: fmt.Errorf("%w: %w", ErrCorrupt, herr)})
		}
		return nil, seg, 0, nil
	}

	seg = segment{base: base, next: base, size: segHeaderSize}
	s.scan.reset(f, segHeaderSize, size)
	for {
		r, off, err := s.scan.next()
		if err == nil {
			switch {
			case r.kind == kindFrame && r.seq == seg.next:
				seg.next++
			case r.kind == kindAck && r.seq <= seg.next:
				ack = max(ack, r.seq)
			default:
				err = errSeq
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil && !isCorrupt(err) {
			f.Close()
			return nil, seg, 0, fmt.Errorf("spool: %w", err)
		}
		if err != nil {
			if terr := f.Truncate(off); terr != nil {
				f.Close()
				return nil, seg, 0, fmt.Errorf("spool: %w", terr)
			}
			s.dirty = true
			rep.Truncated = append(rep.Truncated, Truncation{File: path, Offset: off, Bytes: size - off, Err: fmt.Errorf("%w: %w", ErrCorrupt, err)})
			break
		}
		seg.size = s.scan.off
	}
	return f, seg, ack, nil
}

func isCorrupt(err error) bool {
	for _, e := range []error{errShort, errSize, errKind, errChecksum, errSeq} {
		if err == e {
			return true
		}
	}
	return false
}

// scanner reads the records of a segment file in order, through a buffer
// that grows only to the largest record it meets, and never past what the
// file holds.
type scanner struct {
	f     io.ReaderAt
	buf   []byte
	r, w  int   // buf[r:w] holds the file's bytes from off
	off   int64 // file offset of buf[r]
	limit int64 // the end of the bytes to read
}

const scanChunk = 64 << 10

func (sc *scanner) reset(f io.ReaderAt, off, limit int64) {
	if sc.buf == nil {
		sc.buf = make([]byte, scanChunk)
	}
	sc.f, sc.r, sc.w, sc.off, sc.limit = f, 0, 0, off, limit
}

// next returns the next record and its offset. At the end it returns
// io.EOF; a record that fails its checks or is cut short by the end
// returns one of the decode errors, with the record's offset; a read error
// is returned as it is.
func (sc *scanner) next() (record, int64, error) {
	for {
		r, n, err := decode(sc.buf[sc.r:sc.w])
		if err == nil {
			off := sc.off
			sc.r += n
			sc.off += int64(n)
			return r, off, nil
		}
		if err != errShort {
			return record{}, sc.off, err
		}
		have := sc.w - sc.r
		left := sc.limit - sc.off // file bytes from buf[r] on
		if int64(have) >= left {
			if have == 0 {
				return record{}, sc.off, io.EOF
			}
			return record{}, sc.off, errShort
		}
		need := recHeaderSize
		if size, err := recordSize(sc.buf[sc.r:sc.w]); err == nil {
			need = size
		}
		if int64(need) > left {
			return record{}, sc.off, errShort
		}
		sc.w = copy(sc.buf, sc.buf[sc.r:sc.w])
		sc.r = 0
		if need > len(sc.buf) {
			sc.buf = append(make([]byte, 0, need), sc.buf[:sc.w]...)[:need]
		}
		m := int(min(int64(len(sc.buf)-sc.w), left-int64(sc.w)))
		k, err := sc.f.ReadAt(sc.buf[sc.w:sc.w+m], sc.off+int64(sc.w))
		sc.w += k
		if k < m {
			if err == io.EOF || err == nil {
				sc.limit = sc.off + int64(sc.w) // the file is shorter than it was
				continue
			}
			return record{}, sc.off, err
		}
	}
}
