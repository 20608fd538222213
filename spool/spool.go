// Package spool is the gateway's durable queue of frames on their way to
// the broker: an append-only log of records on disk, each appended before
// it is published and acknowledged once the broker has it, so that frames
// survive a broker outage and a restart of the gateway.
//
// # Use
//
// Open a directory and replay what the last run left unacknowledged, then
// Append every frame, publish it, and Ack its seq when the broker's PUBACK
// comes; after a reconnect, read again from First. A Record is a key (a
// device name, a topic or whatever the caller maps), a payload and a
// timestamp; Append returns its seq, a number that grows by one with each
// record stored and is never reused, across restarts too, so an Ack for a
// record from an earlier run works.
//
//	sp, rep, err := spool.Open("/var/lib/iogate/spool", spool.Options{MaxBytes: 64 << 20})
//	for _, t := range rep.Truncated { log.Warn(t) }
//	for rec, err := range sp.Records(sp.First()) { publish(rec) }
//	seq, err := sp.Append("gps", frame, now)
//	sp.Ack(seq)
//
// ReadFrom reads forward in batches bounded by the caller's buffer, so a
// caller can keep only a window of the spool in memory and fetch more as
// acknowledgements make room.
//
// # Durability
//
// Append is one write(2) into the page cache: no fsync, and no allocation
// in steady state. Syncing is grouped and runs on a goroutine of the
// spool's own: SyncAsync asks for one (the caller's timer calls it every
// 100 ms, say), Options.SyncEvery asks after so many records, and
// Options.OnSync hears when it is done. Sync waits, for shutdown; Close
// syncs too. Besides Append's write, the owner's goroutine makes only the
// system calls that begin and delete a segment (once per SegmentBytes) and
// ReadFrom's reads, which the page cache usually serves.
//
//   - SIGKILL, a panic or an OOM kill cost nothing: every record whose
//     Append returned is in the page cache, which outlives the process.
//   - A power cut or a kernel crash costs the records appended since the
//     last completed sync (Durable says which), and may resend records
//     acknowledged since then; it never costs a record that was synced,
//     and never reorders.
//
// At-least-once: Ack positions are written to the log by the sync after
// them, so a restart resends only what was acknowledged since the last
// sync, plus acknowledgements that came out of order (only the lowest
// unacknowledged seq is persisted).
//
// # On disk
//
// The directory (created 0700) holds segment files (0600) named by the seq
// of their first record. Wider modes found at Open are narrowed and
// reported rather than refused, since a spool that will not open loses
// frames; where narrowing fails (another user's directory), Open fails. Open locks the directory (flock) against a
// second spool. Records carry a CRC-32C; Open checks every segment and cuts
// a segment at its first bad record (a torn tail after a crash), reporting
// the cut in OpenReport rather than failing. A segment is deleted once all
// its records are acknowledged. The files stay under Options.MaxBytes:
// past it, Options.Overflow drops the newest record (Append returns
// ErrFull) or the oldest segment (whole: Options.OnDrop hears of each
// record); both are counted in Stats.
//
// A Spool is not safe for concurrent use: it belongs to one goroutine (the
// reactor's), except Durable and Err, which any goroutine may call. It is
// not a general-purpose database: no index by key, no random updates,
// records only leave in order of acknowledgement.
package spool

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// DefaultMaxBytes is the bound Open uses when Options.MaxBytes is zero.
const DefaultMaxBytes = 64 << 20

// RecordOverhead is what a record takes on disk beyond its key and payload.
const RecordOverhead = 28

const (
	minSegmentBytes = 1 << 10
	maxSegmentBytes = 64 << 20
)

// Errors a caller handles.
var (
	// ErrFull is returned by Append under DropNewest when the spool is at
	// Options.MaxBytes: the record was dropped, and counted.
	ErrFull = errors.New("spool: full, record dropped")
	// ErrTooLarge is returned by Append for a record larger than
	// MaxRecord or a key longer than 65535 bytes.
	ErrTooLarge = errors.New("spool: record too large")
	// ErrUnknownSeq is returned by Ack for a seq that Append never
	// returned.
	ErrUnknownSeq = errors.New("spool: ack for a seq never appended")
	// ErrLocked is returned by Open when another spool (in this process or
	// another) has the directory open.
	ErrLocked = errors.New("spool: directory in use by another spool")
	// ErrCorrupt is wrapped by the errors of a Truncation and by ReadFrom
	// when a record fails its checks.
	ErrCorrupt = errors.New("spool: corrupt record")
	// ErrClosed is returned by the methods of a closed Spool.
	ErrClosed = errors.New("spool: closed")
)

// Overflow is what Append does when the spool is at Options.MaxBytes.
type Overflow uint8

const (
	// DropOldest deletes the oldest segment, whole, to make room: its
	// unacknowledged records are counted in Stats.DroppedOldest and each
	// is reported to Options.OnDrop.
	DropOldest Overflow = iota
	// DropNewest refuses the record being appended: Append returns
	// ErrFull and counts it in Stats.DroppedNewest.
	DropNewest
)

// String returns the policy's name as the configuration spells it.
func (o Overflow) String() string {
	switch o {
	case DropOldest:
		return "drop-oldest"
	case DropNewest:
		return "drop-newest"
	}
	return fmt.Sprintf("Overflow(%d)", uint8(o))
}

// ParseOverflow parses "drop-oldest" or "drop-newest".
func ParseOverflow(s string) (Overflow, error) {
	switch s {
	case "drop-oldest":
		return DropOldest, nil
	case "drop-newest":
		return DropNewest, nil
	}
	return 0, fmt.Errorf("spool: overflow %q: want drop-oldest or drop-newest", s)
}

// Options configure a Spool. The zero value is a 64 MiB spool that drops
// the oldest records and syncs only when asked.
type Options struct {
	// MaxBytes bounds the total size of the segment files; 0 means
	// DefaultMaxBytes.
	MaxBytes int64
	// Overflow is the policy past MaxBytes.
	Overflow Overflow
	// SegmentBytes is the size at which a segment is closed and the next
	// one begun, and so the granularity of reclaiming space and of
	// DropOldest. 0 means MaxBytes/16, within 64 KiB and 4 MiB; it must be
	// at least 1 KiB and at most MaxBytes/2 and 64 MiB. It also bounds
	// the size of a record (see MaxRecord).
	SegmentBytes int64
	// SyncEvery, when positive, makes Append start a background sync (as
	// SyncAsync does) once this many records were appended since the last
	// one was requested: the "every 1000 frames" half of a group commit.
	SyncEvery int
	// OnSync, if set, is called after every sync the background goroutine
	// completes, on that goroutine. It must not block and must not call the
	// Spool's methods (other than Durable and Err): hand the result to the
	// spool's owner instead, through a channel or a reactor's controller.
	OnSync func(SyncResult)
	// OnDrop, if set, is called for each stored record that DropOldest
	// discards, with its key (valid only during the call) and seq, on the
	// goroutine calling Append and before Append returns. It must not call
	// the Spool's methods. Setting it costs a read of the dropped segment.
	OnDrop func(key []byte, seq uint64)
}

// SegmentBytesFor is the segment size for a spool of maxBytes whose
// records may be up to record bytes on disk (key, payload and
// RecordOverhead): MaxBytes/16 within 64 KiB and 4 MiB, or more when a
// record needs it. It fails when no segment of a spool that size can
// take such a record: a segment is at most half of MaxBytes and 64 MiB.
func SegmentBytesFor(maxBytes, record int64) (int64, error) {
	if maxBytes == 0 {
		maxBytes = DefaultMaxBytes
	}
	limit := min(maxBytes/2, maxSegmentBytes)
	if record+segHeaderSize > limit {
		return 0, fmt.Errorf("spool: a record of %d bytes does not fit a spool of %d bytes: its segments hold at most %d", record, maxBytes, limit-segHeaderSize)
	}
	return max(min(max(maxBytes/16, 64<<10), 4<<20, maxBytes/2), record+segHeaderSize), nil
}

func (o Options) normalize() (Options, error) {
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.SegmentBytes == 0 {
		o.SegmentBytes, _ = SegmentBytesFor(o.MaxBytes, 0)
	}
	switch {
	case o.MaxBytes < 0:
		return o, fmt.Errorf("spool: MaxBytes %d is negative", o.MaxBytes)
	case o.Overflow > DropNewest:
		return o, fmt.Errorf("spool: unknown overflow policy %v", o.Overflow)
	case o.SegmentBytes < minSegmentBytes || o.SegmentBytes > maxSegmentBytes:
		return o, fmt.Errorf("spool: SegmentBytes %d is outside [%d, %d]", o.SegmentBytes, minSegmentBytes, maxSegmentBytes)
	case o.SegmentBytes > o.MaxBytes/2:
		return o, fmt.Errorf("spool: SegmentBytes %d is over half of MaxBytes %d", o.SegmentBytes, o.MaxBytes)
	}
	return o, nil
}

// Record is a record read back from the spool. Key and Payload alias the
// buffer given to ReadFrom (or the iterator's own, in Records): copy them
// to keep them.
type Record struct {
	Seq     uint64
	Time    time.Time // as given to Append; the zero time stays zero
	Key     []byte
	Payload []byte
}

// Stats are the spool's counters and gauges.
type Stats struct {
	Records  uint64 // unacknowledged records stored
	Bytes    int64  // size of the segment files
	Segments int
	First    uint64 // as First returns
	Next     uint64 // as Next returns
	Durable  uint64 // as Durable returns
	Appended uint64 // records stored since Open
	// DroppedOldest counts unacknowledged records deleted by DropOldest,
	// DroppedNewest records refused by DropNewest, since Open.
	DroppedOldest uint64
	DroppedNewest uint64
	Syncs         uint64 // syncs completed since Open
}

// segment is one file of the log, holding the frames [base, next).
type segment struct {
	base uint64
	next uint64
	size int64 // bytes in the file
}

// Spool is an open spool directory. Create it with Open; its methods
// belong to one goroutine (see the package documentation).
type Spool struct {
	dir  string
	opts Options
	dirf *os.File // the directory, locked; synced by the syncer

	segs   []segment // oldest first; the last is the one appended to
	active *os.File  // the last segment's file, for writing
	size   int64     // total bytes of segs

	// Every seq below acked is acknowledged, and so are those in above
	// (sorted, all > acked): acks may come out of order.
	acked      uint64
	above      []uint64
	persisted  uint64 // acked as last written to the log
	ackPending bool   // acked moved since the last sync request

	dirty    bool       // bytes written since the last sync request
	dirDirty bool       // segments created or removed since then
	rolled   []*os.File // segments closed since then, for the syncer
	unsynced int        // records appended since then
	mustRoll bool       // the last write failed: begin a new segment

	wbuf []byte
	rd   reader
	scan scanner
	sy   *syncer

	appended, droppedOldest, droppedNewest uint64
	closed                                 bool
}

// Append stores a record and returns its seq. The record is in the page
// cache when Append returns and on disk after the next sync. The key is
// at most 65535 bytes, and len(key)+len(payload)+RecordOverhead at most
// MaxRecord. Under DropNewest a full spool refuses the record with
// ErrFull; under DropOldest it deletes the oldest segment to make room
// first. Any other error is the write's: the record is not stored.
func (s *Spool) Append(key string, payload []byte, ts time.Time) (uint64, error) {
	if s.closed {
		return 0, ErrClosed
	}
	n := recHeaderSize + len(key) + len(payload)
	if len(key) > 0xffff || n > s.MaxRecord() {
		return 0, ErrTooLarge
	}
	roll, err := s.room(int64(n))
	if err != nil {
		return 0, err
	}
	if roll {
		if err := s.roll(); err != nil {
			return 0, err
		}
	}
	act := &s.segs[len(s.segs)-1]
	seq := act.next
	s.wbuf = appendRecord(s.wbuf[:0], kindFrame, seq, unixNanos(ts), key, payload)
	if err := s.write(s.wbuf); err != nil {
		return 0, err
	}
	act.next++
	s.appended++
	s.unsynced++
	if s.opts.SyncEvery > 0 && s.unsynced >= s.opts.SyncEvery {
		s.SyncAsync()
	}
	return seq, nil
}

// plan says whether a record of n bytes goes into a new segment, and
// whether it fits under MaxBytes as things are.
func (s *Spool) plan(n int64) (roll, fits bool) {
	act := s.segs[len(s.segs)-1]
	roll = s.mustRoll || act.size+n > s.opts.SegmentBytes
	need := n
	if roll {
		need += segHeaderSize
	}
	free := s.opts.MaxBytes - s.size
	if roll && s.acked >= act.next {
		free += act.size // the roll deletes it
	}
	return roll, need <= free
}

// room makes room for a record of n bytes under the overflow policy and
// says whether it goes into a new segment.
func (s *Spool) room(n int64) (roll bool, err error) {
	roll, fits := s.plan(n)
	if fits {
		return roll, nil
	}
	if s.opts.Overflow == DropNewest {
		s.droppedNewest++
		return false, ErrFull
	}
	// SegmentBytes <= MaxBytes/2 and n <= SegmentBytes: deleting every
	// segment but the last always makes room.
	for !fits && len(s.segs) > 1 {
		s.dropOldest()
		roll, fits = s.plan(n)
	}
	return roll, nil
}

// write appends b to the last segment.
func (s *Spool) write(b []byte) error {
	act := &s.segs[len(s.segs)-1]
	n, err := s.active.Write(b)
	if err == nil {
		act.size += int64(n)
		s.size += int64(n)
		s.dirty = true
		return nil
	}
	if n > 0 {
		// A torn record would hide every record after it: cut it off, or
		// write the next ones to a new segment.
		if s.active.Truncate(act.size) != nil {
			s.mustRoll = true
		} else if _, serr := s.active.Seek(act.size, io.SeekStart); serr != nil {
			s.mustRoll = true
		}
	}
	return fmt.Errorf("spool: %w", err)
}

// roll begins a new segment with the next seq.
func (s *Spool) roll() error {
	last := s.segs[len(s.segs)-1]
	base := last.next
	path := s.segPath(base)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	s.wbuf = appendSegHeader(s.wbuf[:0], base)
	if _, err := f.Write(s.wbuf); err != nil {
		f.Close()
		if last.base != last.next { // not the active segment's own file
			os.Remove(path)
		}
		return fmt.Errorf("spool: %w", err)
	}
	s.rolled = append(s.rolled, s.active)
	s.active = f
	if last.base == last.next {
		// An empty segment has the same name: the file was just truncated.
		s.size -= last.size
		s.segs = s.segs[:len(s.segs)-1]
	}
	s.segs = append(s.segs, segment{base: base, next: base, size: segHeaderSize})
	s.size += segHeaderSize
	s.dirty, s.dirDirty, s.mustRoll = true, true, false
	s.advance()
	return nil
}

// Ack records that the broker has the record seq. Acks may come in any
// order, and for records appended before the spool was last opened; an
// ack for a record already acknowledged or dropped does nothing. A segment
// is deleted as soon as all its records are acknowledged. The
// acknowledged position reaches the disk with the next sync.
func (s *Spool) Ack(seq uint64) error {
	if s.closed {
		return ErrClosed
	}
	if seq >= s.Next() {
		return fmt.Errorf("%w: %d (next is %d)", ErrUnknownSeq, seq, s.Next())
	}
	if seq < s.acked {
		return nil
	}
	if seq > s.acked {
		if i := s.segFor(seq); s.segs[i].base > seq {
			return nil // lost in a crash: nothing to acknowledge
		}
		i, found := slices.BinarySearch(s.above, seq)
		if !found {
			s.above = slices.Insert(s.above, i, seq)
		}
		return nil
	}
	s.acked++
	s.ackPending = true
	s.advance()
	return nil
}

// advance moves acked over the out-of-order acks it reaches and over gaps
// between segments, and deletes the segments it has passed.
func (s *Spool) advance() {
	for {
		i := 0
		for i < len(s.above) && s.above[i] <= s.acked {
			if s.above[i] == s.acked {
				s.acked++
			}
			i++
		}
		s.above = s.above[:copy(s.above, s.above[i:])]
		switch {
		case len(s.segs) > 1 && s.segs[0].next <= s.acked:
			s.removeOldest()
		case s.acked < s.segs[0].base:
			s.acked = s.segs[0].base
		default:
			return
		}
	}
}

// dropOldest deletes the oldest segment under DropOldest.
func (s *Spool) dropOldest() {
	seg := s.segs[0]
	from := max(s.acked, seg.base)
	acked, _ := slices.BinarySearch(s.above, seg.next) // those in the segment
	s.droppedOldest += seg.next - from - uint64(acked)
	if s.opts.OnDrop != nil {
		s.reportDrops(seg, from)
	}
	s.acked = max(s.acked, seg.next)
	s.removeOldest()
	s.advance()
}

// reportDrops calls OnDrop for the unacknowledged records of seg.
func (s *Spool) reportDrops(seg segment, from uint64) {
	f, err := os.Open(s.segPath(seg.base))
	if err != nil {
		return
	}
	defer f.Close()
	s.scan.reset(f, segHeaderSize, seg.size)
	for {
		r, _, err := s.scan.next()
		if err != nil {
			return
		}
		if r.kind == kindFrame && r.seq >= from && !s.isAcked(r.seq) {
			s.opts.OnDrop(r.key, r.seq)
		}
	}
}

// removeOldest deletes the oldest segment's file.
func (s *Spool) removeOldest() {
	seg := s.segs[0]
	if err := os.Remove(s.segPath(seg.base)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		// Its records are acknowledged or dropped all the same; the next
		// Open finds the file and deletes it again.
		s.sy.setErr(fmt.Errorf("spool: %w", err))
	}
	if s.rd.f != nil && s.rd.base == seg.base {
		s.rd.close()
	}
	s.size -= seg.size
	s.segs = s.segs[:copy(s.segs, s.segs[1:])]
	s.dirDirty = true
}

func (s *Spool) isAcked(seq uint64) bool {
	if seq < s.acked {
		return true
	}
	if len(s.above) == 0 {
		return false
	}
	_, found := slices.BinarySearch(s.above, seq)
	return found
}

// segFor returns the index of the first segment with a seq at or after
// seq, or -1.
func (s *Spool) segFor(seq uint64) int {
	for i := range s.segs {
		if s.segs[i].next > seq {
			return i
		}
	}
	return -1
}

func (s *Spool) segPath(base uint64) string {
	return filepath.Join(s.dir, segName(base))
}

// First returns the oldest unacknowledged seq, where a replay starts, or
// Next when every record is acknowledged.
func (s *Spool) First() uint64 { return s.acked }

// Next returns the seq the next Append will return.
func (s *Spool) Next() uint64 { return s.segs[len(s.segs)-1].next }

// Size is the size of the segment files, as Stats().Bytes, without the
// cost of the rest of Stats.
func (s *Spool) Size() int64 { return s.size }

// MaxRecord returns the largest record Append accepts, in bytes on disk:
// len(key)+len(payload)+RecordOverhead. A ReadFrom buffer of this size
// holds any record, unless an earlier run had a larger SegmentBytes.
func (s *Spool) MaxRecord() int { return int(s.opts.SegmentBytes) - segHeaderSize }

// Durable returns the highest seq known to be on stable storage: the
// records up to it survive a power cut. Any goroutine may call it.
func (s *Spool) Durable() uint64 { return s.sy.durable.Load() }

// Err returns the first error of the background work: a failed fsync (the
// records it covered may not be on disk) or a segment that could not be
// deleted. The spool keeps working after it. Any goroutine may call it.
func (s *Spool) Err() error { return s.sy.firstErr() }

// Stats returns the spool's counters.
func (s *Spool) Stats() Stats {
	st := Stats{
		Bytes:         s.size,
		Segments:      len(s.segs),
		First:         s.First(),
		Next:          s.Next(),
		Durable:       s.Durable(),
		Appended:      s.appended,
		DroppedOldest: s.droppedOldest,
		DroppedNewest: s.droppedNewest,
		Syncs:         s.sy.syncs.Load(),
	}
	for _, seg := range s.segs {
		if seg.next > s.acked {
			st.Records += seg.next - max(seg.base, s.acked)
		}
	}
	st.Records -= uint64(len(s.above))
	return st
}

// Dirty reports whether SyncAsync has something to do: records appended,
// acknowledgements made or segments created or deleted since it was last
// called. A caller that syncs on a timer arms it when Dirty turns true,
// and so stays idle when the spool is.
func (s *Spool) Dirty() bool {
	return s.dirty || s.dirDirty || s.ackPending || len(s.rolled) > 0
}

// SyncAsync starts a sync in the background and returns at once: what was
// appended and acknowledged before the call reaches the disk, and then
// Options.OnSync is called. Calls while a sync is under way fold into the
// next one. It does nothing when the spool is not Dirty.
func (s *Spool) SyncAsync() {
	if s.closed || !s.Dirty() {
		return
	}
	s.writeAck()
	s.queueSync(nil, false)
}

// Sync writes everything appended and acknowledged so far to stable
// storage and waits for it: for shutdown, not for the steady state. It
// returns the sync's error, or else Err.
func (s *Spool) Sync() error {
	if s.closed {
		return ErrClosed
	}
	s.writeAck()
	w := make(chan error, 1)
	s.queueSync(w, false)
	if err := <-w; err != nil {
		return err
	}
	return s.sy.firstErr()
}

// Close syncs the spool, as Sync does, stops its goroutine and closes its
// files. OnSync is not called for the last sync.
func (s *Spool) Close() error {
	if s.closed {
		return ErrClosed
	}
	s.writeAck()
	w := make(chan error, 1)
	s.queueSync(w, true)
	err := <-w
	<-s.sy.done
	s.closed = true
	s.rd.close()
	return errors.Join(err, s.active.Close(), s.dirf.Close())
}

// writeAck appends an ack record for acked, when it moved and fits without
// dropping anything: it is where a restart resumes. Without it a restart
// still resumes at the oldest segment left, since segments are deleted
// once acknowledged.
func (s *Spool) writeAck() {
	s.ackPending = false
	if s.acked <= s.persisted {
		return
	}
	roll, fits := s.plan(recHeaderSize)
	if !fits {
		return // a later sync writes it, or deleting the segments does
	}
	if roll && s.roll() != nil {
		return
	}
	s.wbuf = appendRecord(s.wbuf[:0], kindAck, s.acked, 0, "", nil)
	if s.write(s.wbuf) == nil {
		s.persisted = s.acked
	}
}

// queueSync hands what was written since the last request to the syncer.
func (s *Spool) queueSync(w chan error, stop bool) {
	upTo := s.Next() - 1
	s.sy.mu.Lock()
	j := s.sy.pending
	j.close = append(j.close, s.rolled...)
	j.active = s.active
	j.upTo = upTo
	j.dir = j.dir || s.dirDirty
	if w != nil {
		j.waiters = append(j.waiters, w)
	}
	j.stop = stop
	s.sy.mu.Unlock()
	s.sy.wake()
	clear(s.rolled)
	s.rolled = s.rolled[:0]
	s.dirty, s.dirDirty, s.unsynced = false, false, 0
}
