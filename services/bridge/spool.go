package bridge

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/iogate/iogate/config"
	"github.com/iogate/iogate/reactor"
	"github.com/iogate/iogate/spool"
)

// The spool keeps every durable message on disk from its making until the
// broker's PUBACK, so that neither a broker outage up to spool.max_bytes nor
// a restart of the gateway loses or reorders one. The outbox holds a window
// of it in memory: frames go straight to it while it keeps up, and are read
// back from disk, oldest first, when it has room again; the same path
// replays what a previous run left unacknowledged.

// store is the spool behind delivery, and its window in the outbox.
type store struct {
	r        *reactor.Reactor
	dir      string
	sp       *spool.Spool
	maxBytes int64
	next     uint64 // the first record not in the outbox
	// held are frames the spool could not take (a full or failing disk),
	// in memory only; each waits behind the records stored before it.
	held     []heldFrame
	buf      []byte
	recs     []spool.Record
	interval time.Duration // spool.sync_interval
	syncer   reactor.TimerID
	onSync   func()
	drops    uint64 // frames dropped: spool.overflow, or too large to publish
}

// heldFrame is a frame in memory only, to be queued once the records
// below after are.
type heldFrame struct {
	after uint64
	m     *message
}

// spoolFailedCommand carries a background sync's failure to the loop.
type spoolFailedCommand struct{ err error }

// openStore opens the spool in state_dir: off the loop at a reload, since
// it reads every segment. drop hears of each record spool.overflow deletes,
// on the loop.
func openStore(c *config.Config, ctl *reactor.Controller, drop func(key []byte, seq uint64)) (*store, spool.OpenReport, error) {
	overflow, err := spool.ParseOverflow(c.Spool.Overflow)
	if err != nil {
		return nil, spool.OpenReport{}, err
	}
	dir := filepath.Join(c.Gateway.StateDir, "spool")
	sp, rep, err := spool.Open(dir, spool.Options{
		MaxBytes:     c.Spool.MaxBytes,
		SegmentBytes: c.Spool.SegmentBytes,
		Overflow:     overflow,
		SyncEvery:    1000,
		OnSync: func(r spool.SyncResult) {
			if r.Err != nil {
				ctl.Send(spoolFailedCommand{r.Err})
			}
		},
		OnDrop: drop,
	})
	if err != nil {
		return nil, rep, err
	}
	s := &store{dir: dir, sp: sp, maxBytes: c.Spool.MaxBytes, next: rep.First, buf: make([]byte, sp.MaxRecord()), interval: c.Spool.SyncInterval}
	return s, rep, nil
}

// report logs what Open found.
func (s *store) report(log *logrus.Entry, rep spool.OpenReport) {
	e := log.WithField("spool", s.dir)
	for _, t := range rep.Truncated {
		e.WithField("damage", t.String()).Warn("spool: damaged records cut off after a crash")
	}
	for _, f := range rep.Fixed {
		e.WithField("fixed", f.String()).Warn("spool: permissions were too wide; narrowed")
	}
	if rep.Records > 0 {
		e.WithField("frames", rep.Records).Info("spool: frames from the last run will be sent again")
	}
}

// attach gives the store to the loop.
func (s *store) attach(r *reactor.Reactor) {
	s.r = r
	s.onSync = s.sync
}

// append stores a durable message and queues it behind everything before
// it.
func (s *store) append(o *delivery, t *topic, payload []byte) error {
	now := s.r.Now()
	seq, err := s.sp.Append(t.tail, payload, now)
	switch {
	case errors.Is(err, spool.ErrTooLarge):
		return fmt.Errorf("%w: a payload of %d bytes, and the spool takes records of up to %d", errFrameTooLarge, len(payload), s.sp.MaxRecord())
	case errors.Is(err, spool.ErrFull):
		s.drops++
		dev := deviceOf([]byte(t.tail))
		o.dropped(dev)
		o.logLimited(o.log.WithField("device", dev), dev+"/spool-full", "spool full: frame dropped (spool.overflow = drop-newest)", nil)
		return nil
	case err != nil:
		// Not on disk, but not lost while the process lives.
		o.logLimited(o.log.WithField("topic", t.name), "spool-append", "spool: frame kept in memory only", err)
		m := o.q.made(t, payload, o.qos, true, 0)
		if len(s.held) == 0 && s.next == s.sp.Next() {
			o.q.push(m)
		} else {
			s.held = append(s.held, heldFrame{after: s.sp.Next(), m: m})
		}
		return nil
	}
	s.armSync()
	if seq == s.next && len(s.held) == 0 && o.q.bytes < outboxHigh {
		o.q.add(t, payload, o.qos, true, seq).at = now
		s.next = seq + 1
	}
	return nil
}

// refill reads records back from disk into the outbox while it has room,
// each frame held in memory in its place among them.
func (o *delivery) refill() {
	s := o.disk
	if s == nil {
		return
	}
	for o.q.bytes < outboxLow {
		if len(s.held) > 0 && s.held[0].after <= s.next {
			o.q.push(s.held[0].m)
			s.held[0] = heldFrame{}
			s.held = s.held[1:]
			continue
		}
		if s.next >= s.sp.Next() || !s.read(o) {
			return
		}
	}
}

// read queues the next batch of records; it reports false when there was
// none to read or reading failed.
func (s *store) read(o *delivery) bool {
	limit := s.sp.Next()
	if len(s.held) > 0 {
		limit = s.held[0].after
	}
	recs, next, err := s.sp.ReadFrom(s.next, s.buf, s.recs[:0])
	switch {
	case errors.Is(err, io.ErrShortBuffer) && len(s.buf) < 64<<20:
		// A record of a run whose segments were larger.
		s.buf = make([]byte, 2*len(s.buf))
		return true
	case errors.Is(err, spool.ErrCorrupt):
		o.logLimited(o.log, "spool-read", "spool: damaged records skipped", err)
		s.next = next
		return true
	case err != nil:
		o.logLimited(o.log, "spool-read", "spool: cannot read frames back", err)
		return false
	}
	s.recs = recs
	for _, rec := range recs {
		if rec.Seq >= limit {
			next = rec.Seq
			break
		}
		o.q.add(o.topics.spooled(rec.Key), rec.Payload, o.qos, true, rec.Seq).at = rec.Time
	}
	s.next = next
	return len(recs) > 0
}

// dropped hears of a record spool.overflow deleted to make room. One the
// outbox holds already is not lost: it is published from memory.
func (s *store) dropped(o *delivery, key []byte, seq uint64) {
	if seq < s.next {
		return
	}
	s.drops++
	o.dropped(deviceOf(key))
}

// ack tells the spool the broker has a record, and makes sure the
// acknowledgement reaches the disk too.
func (s *store) ack(o *delivery, seq uint64) {
	if err := s.sp.Ack(seq); err != nil {
		o.logLimited(o.log, "spool-ack", "spool: acknowledgement not recorded", err)
	}
	s.armSync()
}

// armSync makes sure what was appended or acknowledged reaches the disk
// within spool.sync_interval (sooner every 1000 frames).
func (s *store) armSync() {
	if s.syncer == 0 && s.sp.Dirty() {
		s.syncer = s.r.SetTimer(s.interval, s.onSync)
	}
}

func (s *store) sync() {
	s.syncer = 0
	s.sp.SyncAsync()
}

func (s *store) close(log *logrus.Entry) {
	if s.syncer != 0 {
		s.r.CancelTimer(s.syncer)
		s.syncer = 0
	}
	if err := s.sp.Close(); err != nil {
		log.WithError(err).Error("spool: not closed cleanly")
	}
}
