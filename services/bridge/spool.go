package bridge

import (
	"errors"
	"path/filepath"

	"github.com/sirupsen/logrus"

	"github.com/iogate/iogate/spool"
)

// The spool keeps every frame on disk from its read until the broker's
// PUBACK, so that neither a broker outage up to spool.max_bytes nor a
// restart of the gateway loses or reorders one. The outbox holds a window
// of it in memory: frames go straight to it while it keeps up, and are
// read back from disk, oldest first, when it has room again; the same path
// replays what a previous run left unacknowledged.

// spoolFailedCommand carries a background sync's failure to the loop.
type spoolFailedCommand struct{ err error }

// openSpool opens the spool in state_dir and reports what it found.
func (s *Service) openSpool() error {
	dir := filepath.Join(s.cfg.Gateway.StateDir, "spool")
	overflow, err := spool.ParseOverflow(s.cfg.Spool.Overflow)
	if err != nil {
		return err
	}
	ctl := s.r.Controller()
	sp, rep, err := spool.Open(dir, spool.Options{
		MaxBytes:  s.cfg.Spool.MaxBytes,
		Overflow:  overflow,
		SyncEvery: 1000,
		OnSync: func(r spool.SyncResult) {
			if r.Err != nil {
				ctl.Send(spoolFailedCommand{r.Err})
			}
		},
		OnDrop: func(key []byte, _ uint64) {
			if d := s.byName[string(key)]; d != nil {
				d.stats.Drops++
			}
			s.spoolDrops++
		},
	})
	if err != nil {
		return err
	}
	e := s.log.WithField("spool", dir)
	for _, t := range rep.Truncated {
		e.WithField("damage", t.String()).Warn("spool: damaged records cut off after a crash")
	}
	for _, f := range rep.Fixed {
		e.WithField("fixed", f.String()).Warn("spool: permissions were too wide; narrowed")
	}
	if rep.Records > 0 {
		e.WithField("frames", rep.Records).Info("spool: frames from the last run will be sent again")
	}
	s.sp, s.diskNext = sp, rep.First
	return nil
}

// spoolFrame stores a frame's payload and queues it for the broker. It
// reports false when the spool dropped it (drop-newest).
func (s *Service) spoolFrame(d *device, payload []byte) bool {
	seq, err := s.sp.Append(d.cfg.Name, payload, s.r.Now())
	switch {
	case errors.Is(err, spool.ErrFull):
		d.stats.Drops++
		s.spoolDrops++
		s.logLimited(d.log, d.cfg.Name+"/spool-full", logrus.WarnLevel, "spool full: frame dropped (spool.overflow = drop-newest)", nil)
		return false
	case err != nil:
		// Not on disk, but not lost while the process lives.
		s.logLimited(d.log, d.cfg.Name+"/spool", logrus.ErrorLevel, "spool: frame kept in memory only", err)
		s.queueFrame(d, payload, 0)
		return true
	}
	s.armSync()
	if seq == s.diskNext && s.out.bytes < outboxHigh {
		s.queueFrame(d, payload, seq)
		s.diskNext = seq + 1
	}
	return true
}

// refill reads frames back from disk into the outbox while it has room.
func (s *Service) refill() {
	if s.sp == nil {
		return
	}
	for s.out.bytes < outboxLow && s.diskNext < s.sp.Next() {
		recs, next, err := s.sp.ReadFrom(s.diskNext, s.spoolBuf, s.recs[:0])
		if err != nil {
			s.logLimited(s.log, "spool-read", logrus.ErrorLevel, "spool: cannot read frames back", err)
			return
		}
		for _, rec := range recs {
			m := s.out.addFrame(s.cfg.MQTT.TopicPrefix+"/"+string(rec.Key)+"/rx", s.cfg.MQTT.QoS, s.byName[string(rec.Key)], rec.Seq)
			m.payload = append(m.payload, rec.Payload...)
			s.out.grew(m)
		}
		s.recs, s.diskNext = recs, next
		if len(recs) == 0 {
			return
		}
	}
}

// delivered tells the spool the broker has a frame.
func (s *Service) delivered(seq uint64) {
	if seq != 0 && s.sp != nil {
		if err := s.sp.Ack(seq); err != nil {
			s.logLimited(s.log, "spool-ack", logrus.ErrorLevel, "spool: acknowledgement not recorded", err)
		}
	}
}

// armSync makes sure what was appended reaches the disk within
// spool.sync_interval (sooner every 1000 frames).
func (s *Service) armSync() {
	if s.syncTimer == 0 {
		s.syncTimer = s.after(s.cfg.Spool.SyncInterval, timerSpoolSync, nil)
	}
}

func (s *Service) syncSpool() {
	s.syncTimer = 0
	if s.sp != nil && s.sp.Dirty() {
		s.sp.SyncAsync()
	}
}

// closeSpool syncs and closes the spool: nothing appended is lost to a
// clean stop.
func (s *Service) closeSpool() {
	if s.sp == nil {
		return
	}
	if err := s.sp.Close(); err != nil {
		s.log.WithError(err).Error("spool: not closed cleanly")
	}
	s.sp = nil
}
