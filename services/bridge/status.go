package bridge

import (
	"context"
	"fmt"
	"time"

	"github.com/iogate/iogate/control"
)

// The status document (control.Status) is what `iogate status` shows and
// the status page reads: taken on the loop, like a Snapshot, from the
// parts' own state and from what the devices' watches add to it.

// statusCommand asks the loop for the status document.
type statusCommand struct{ reply chan<- control.Status }

// deviceWatch is what the status and the tracers follow of a device beyond
// its counters, kept by name for the life of the process as the counters
// are: since when it is online or offline and why, when it sent its last
// frame, and who traces it. It is updated on the loop without allocating.
type deviceWatch struct {
	online    bool
	since     time.Time // when online last changed; zero before the first open
	err       error     // why it is offline: the last open or read error
	lastFrame time.Time
	tracers   []*controlClient
}

// watch returns the watch of the device with that name.
func (s *Service) watch(name string) *deviceWatch {
	if s.watches == nil {
		s.watches = map[string]*deviceWatch{}
	}
	w := s.watches[name]
	if w == nil {
		w = &deviceWatch{}
		s.watches[name] = w
	}
	return w
}

// up: the device was opened.
func (w *deviceWatch) up(now time.Time) {
	if !w.online || w.since.IsZero() {
		w.since = now
	}
	w.online, w.err = true, nil
}

// down: the device could not be opened, or went away, because of err.
func (w *deviceWatch) down(now time.Time, err error) {
	if w.online || w.since.IsZero() {
		w.since = now
	}
	w.online, w.err = false, err
}

// Status returns the gateway's status document, taken on the loop. It
// fails when the loop does not answer before ctx ends, or has stopped.
// Safe from any goroutine.
func (s *Service) Status(ctx context.Context) (control.Status, error) {
	reply := make(chan control.Status, 1)
	if err := s.r.Controller().Send(statusCommand{reply}); err != nil {
		return control.Status{}, fmt.Errorf("reactor loop is not running: %w", err)
	}
	select {
	case st := <-reply:
		return st, nil
	case <-ctx.Done():
		return control.Status{}, fmt.Errorf("reactor loop did not answer: %w", ctx.Err())
	}
}

// status takes the status document; on the loop.
func (s *Service) status() control.Status {
	st := control.Status{
		Gateway: s.cfg.Gateway.ID,
		Version: s.version,
		Time:    s.r.Now(),
		Started: s.started,
		Broker:  s.brokerStatus(),
		Spool:   s.out.spoolStatus(),
		Devices: make([]control.Device, len(s.devices)),
	}
	for i, d := range s.devices {
		st.Devices[i] = d.statusOf()
	}
	return st
}

// brokerStatus is the broker link's part of the status.
func (s *Service) brokerStatus() control.Broker {
	l := s.link
	if l == nil {
		return control.Broker{State: control.LinkNone}
	}
	b := control.Broker{Address: l.set.broker, Since: l.since}
	switch l.state {
	case linkUp:
		b.State = control.LinkConnected
		return b
	case linkIdle:
		b.State = control.LinkDown
	default:
		b.State = control.LinkConnecting
	}
	if l.err != nil {
		b.LastError = l.err.Error()
	}
	return b
}

// spoolStatus is the spool's part of the status, nil without one.
func (o *delivery) spoolStatus() *control.Spool {
	if o.disk == nil {
		return nil
	}
	st := o.disk.sp.Stats()
	sp := &control.Spool{Frames: st.Records, Bytes: st.Bytes, Drops: o.disk.drops}
	if st.Records > 0 {
		sp.Oldest = o.oldest(st.First)
	}
	return sp
}

// oldest is when the spool's record first was read from its device. The
// outbox holds it, unless it has not been read back since the gateway
// started (or since a drop-oldest): it is then read from disk.
func (o *delivery) oldest(first uint64) time.Time {
	for _, m := range o.q.queue[o.q.head:] {
		if m.spoolSeq == first {
			return m.at
		}
	}
	for rec, err := range o.disk.sp.Records(first) {
		if err != nil {
			o.logLimited(o.log, "spool-read", "spool: the oldest frame's time cannot be read", err)
			return time.Time{}
		}
		return rec.Time
	}
	return time.Time{}
}

// statusOf is the device's part of the status.
func (d *device) statusOf() control.Device {
	st, w := *d.stats, d.watch
	d.proto.addStats(&st)
	ds := control.Device{
		Name:      d.cfg.Name,
		Kind:      d.cfg.Kind,
		State:     control.Offline,
		Since:     w.since,
		RxFrames:  st.Frames,
		RxBytes:   st.ReadBytes,
		TxFrames:  st.TxFrames,
		TxBytes:   st.TxBytes,
		Drops:     st.Drops,
		Discarded: st.Overlong + st.Malformed,
		Reopens:   st.Reopens,
		LastFrame: w.lastFrame,
	}
	switch {
	case st.Online:
		ds.State = control.Online
	case w.err != nil:
		ds.Error = w.err.Error()
	}
	if d.tcp != nil {
		ds.TCPClients = len(d.tcp.clients)
	}
	if m, ok := d.proto.(*modbusMaster); ok {
		ds.Slaves = m.statusOf()
	}
	return ds
}
