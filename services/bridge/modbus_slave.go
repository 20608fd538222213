package bridge

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/iogate/iogate/config"
	"github.com/iogate/iogate/control"
	"github.com/iogate/iogate/metrics"
	"github.com/iogate/iogate/modbus"
	"github.com/iogate/iogate/reactor"
)

// A point's value is published retained when it changes, and at least
// this often.
const republishEvery = time.Minute

// slave is one [[device.slave]]: its points, read in as few requests as
// its plan allows every `every`, its status, and its counters. A slave
// that does not answer goes offline and is read less and less often, up
// to once a minute, so that a dead slave does not eat the line.
type slave struct {
	m      *modbusMaster
	cfg    config.Slave
	points []*mpoint
	plan   []modbus.Read
	each   bool // read point by point: a grouped read was refused

	status      *state
	online      bool
	retry       backoff
	timer       reactor.TimerID
	onDue       func()
	cycle       uint64 // of the periodic reads
	failedCycle uint64 // the last cycle it did not answer
	pending     int    // reads of the current cycle not done

	stats SlaveStats
}

// SlaveStats are a Modbus slave's counters and state.
type SlaveStats struct {
	Name       string    `json:"-"`
	ID         uint8     `json:"id"`
	Online     bool      `json:"online"`
	Since      time.Time `json:"-"` // when it last went online or offline
	LastAnswer time.Time `json:"-"`
	Requests   uint64    `json:"requests"`
	Timeouts   uint64    `json:"timeouts"`
	BadReplies uint64    `json:"bad_replies"` // CRC, slave, function or length wrong
	// Exceptions counts the exception replies by code, 1 to 11.
	Exceptions [12]uint64      `json:"-"`
	Latency    metrics.Buckets `json:"-"` // from a request's write to its reply
}

// mpoint is a point of a slave.
type mpoint struct {
	s      *slave
	index  int // in s.cfg.Points
	cfg    config.Point
	topic  *topic
	last   []byte // the value published last
	at     time.Time
	regs   []uint16
	setter commandFunc
}

func newSlave(m *modbusMaster, sc config.Slave) (*slave, error) {
	s := &slave{
		m: m, cfg: sc,
		retry: backoff{min: sc.Every, max: max(sc.Every, time.Minute)},
		stats: SlaveStats{Name: sc.Name, ID: sc.ID, Latency: metrics.NewBuckets(metrics.LatencyBounds)},
	}
	s.onDue = s.due
	points := make([]modbus.Point, len(sc.Points))
	for i, pc := range sc.Points {
		points[i] = pc.Point
		p := &mpoint{s: s, index: i, cfg: pc, topic: m.d.s.topics.get(m.d.cfg.Name+"/"+sc.Name+"/"+pc.Name, true)}
		p.setter = p.set
		s.points = append(s.points, p)
	}
	var err error
	if s.plan, err = modbus.Plan(sc.ID, points); err != nil {
		return nil, fmt.Errorf("slave %s: %w", sc.Name, err)
	}
	s.status = m.d.s.out.newState(m.d.s.topics.get(m.d.cfg.Name+"/"+sc.Name+"/status", true), "offline")
	return s, nil
}

// start reads the slave now, and then every `every`.
func (s *slave) start() {
	if s.timer == 0 {
		s.timer = s.m.d.s.r.SetTimer(0, s.onDue)
	}
}

func (s *slave) stop() { s.m.d.cancel(&s.timer) }

// forget removes the slave's status: the device left the configuration.
func (s *slave) forget() { s.m.d.s.out.remove(s.status, "offline") }

// due queues the slave's reads, unless the last cycle's still wait.
func (s *slave) due() {
	wait := s.cfg.Every
	if !s.online && s.stats.Requests > 0 {
		wait = s.retry.next(0)
	}
	s.timer = s.m.d.s.r.SetTimer(wait, s.onDue)
	if s.pending > 0 || s.m.d.id == 0 {
		return
	}
	s.cycle++
	for i := range s.plan {
		t := &mtxn{req: s.plan[i].Request, slave: s, read: &s.plan[i], cycle: s.cycle, lane: scheduled}
		if !s.m.queue.push(scheduled, t) {
			s.m.d.logLimited("modbus-full", logrus.WarnLevel, "modbus: read skipped: the device's queue is full", nil, "slave", s.cfg.Name)
			break
		}
		s.pending++
	}
	s.m.next()
}

// answered: the slave is there.
func (s *slave) answered(took time.Duration) {
	s.stats.LastAnswer = s.m.d.s.r.Now()
	s.m.d.watch.lastFrame = s.stats.LastAnswer
	s.stats.Latency.ObserveDuration(took)
	s.retry.reset()
	s.setOnline(true)
}

// failed: the slave did not answer a transaction, retries included.
func (s *slave) failed(t *mtxn, cause error) {
	if t.read != nil {
		s.failedCycle = t.cycle
	}
	if s.online {
		s.m.d.log.WithField("slave", s.cfg.Name).WithError(cause).Warn("modbus: slave offline")
	}
	s.setOnline(false)
}

func (s *slave) setOnline(on bool) {
	if s.online == on && !s.stats.Since.IsZero() {
		return
	}
	s.online, s.stats.Online, s.stats.Since = on, on, s.m.d.s.r.Now()
	status := "offline"
	if on {
		status = "online"
		s.m.d.log.WithField("slave", s.cfg.Name).Info("modbus: slave online")
	}
	s.m.d.s.out.set(s.status, status)
}

// split replaces a grouped read the slave refused with one read per point,
// from now on, and queues this cycle's.
func (s *slave) split(t *mtxn) {
	s.m.d.log.WithField("slave", s.cfg.Name).Info("modbus: the slave refuses grouped reads; reading its points one by one")
	if !s.each {
		s.each = true
		points := make([]modbus.Point, len(s.points))
		for i, p := range s.points {
			points[i] = p.cfg.Point
		}
		s.plan, _ = modbus.PlanEach(s.cfg.ID, points)
	}
	s.pending--
	for _, r := range t.read.Split() {
		if s.m.queue.push(scheduled, &mtxn{req: r.Request, slave: s, read: &r, cycle: t.cycle, lane: scheduled}) {
			s.pending++
		}
	}
}

// statusOf is the slaves' part of the status.
func (m *modbusMaster) statusOf() []control.Slave {
	out := make([]control.Slave, 0, len(m.slaves))
	for _, s := range m.slaves {
		state := control.Offline
		if s.online {
			state = control.Online
		}
		out = append(out, control.Slave{Name: s.cfg.Name, ID: int(s.cfg.ID), State: state, Since: s.stats.Since,
			LastAnswer: s.stats.LastAnswer, Timeouts: s.stats.Timeouts})
	}
	return out
}

// pointNames names the points of a read, for the log.
func (s *slave) pointNames(r *modbus.Read) string {
	var b []byte
	for i, slot := range r.Slots {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, s.points[slot.Point].cfg.Name...)
	}
	return string(b)
}

// publish publishes the values of a read's points.
func (s *slave) publish(t *mtxn, values []uint16) {
	s.pending--
	now := s.m.d.s.r.Now()
	for _, slot := range t.read.Slots {
		p := s.points[slot.Point]
		if slot.Offset+slot.Width > len(values) {
			continue
		}
		p.publish(now, values[slot.Offset:slot.Offset+slot.Width])
	}
}

// publish publishes the point's value if it changed or republishEvery
// passed.
func (p *mpoint) publish(now time.Time, values []uint16) {
	d := p.s.m.d
	m := p.s.m
	payload, err := p.cfg.AppendValue(m.out[:0], values)
	m.out = payload
	if err != nil {
		d.logLimited("modbus-value-"+p.topic.tail, logrus.WarnLevel, "modbus: value not published", err, "point", p.topic.tail)
		return
	}
	if bytes.Equal(payload, p.last) && now.Sub(p.at) < republishEvery {
		return
	}
	p.last, p.at = append(p.last[:0], payload...), now
	if err := d.s.out.frame(p.topic, payload); err != nil {
		d.fault("value", err)
	}
}

// set writes a value from MQTT: scaled back, range-checked, then read
// back and published.
func (p *mpoint) set(topic string, payload []byte, retained bool) {
	d := p.s.m.d
	if retained {
		d.reject(topic, errors.New("retained write ignored: it would be written again at every reconnect"))
		return
	}
	regs, err := p.cfg.Encode(p.regs[:0], payload)
	if err != nil {
		d.reject(topic, err)
		return
	}
	p.regs = regs
	req, err := p.cfg.WriteRequest(p.s.cfg.ID, append([]uint16(nil), regs...))
	if err != nil {
		d.reject(topic, err)
		return
	}
	if !p.s.m.enqueue(&mtxn{req: req, slave: p.s, set: p, lane: urgent}) {
		d.reject(topic, errQueueFull)
	}
}

// readBack queues a read of a point just written, so the value it took
// is published.
func (s *slave) readBack(p *mpoint) {
	reads, err := modbus.PlanEach(s.cfg.ID, []modbus.Point{p.cfg.Point})
	if err != nil || len(reads) != 1 {
		return
	}
	r := reads[0]
	r.Slots[0].Point = p.index
	p.at = time.Time{} // published whatever it reads
	s.pending++
	if !s.m.queue.push(urgent, &mtxn{req: r.Request, slave: s, read: &r, cycle: s.cycle, lane: urgent}) {
		s.pending--
	}
}
