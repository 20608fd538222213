package bridge

import (
	"errors"
	"fmt"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/iogate/iogate/config"
	"github.com/iogate/iogate/modbus"
	"github.com/iogate/iogate/reactor"
)

// modbusMaster is the protocol of a Modbus device: the gateway is the
// master of its line (RTU, on a serial port or a serial server) or of its
// connection (modbus-tcp). One request is on the line at a time; each waits
// in the device's queue, urgent ones (MQTT writes and requests, Modbus TCP
// masters) before the slaves' periodic reads. On RTU, t3.5 of silence is
// kept before every request, and a reply ends at the length its request
// implies, not at a gap: USB adapters deliver in bursts.
type modbusMaster struct {
	d       *device
	tcp     bool // MBAP over a TCP device, rather than RTU
	line    modbus.Line
	gap     time.Duration // t3.5 and modbus_pause: the silence before a request
	timeout time.Duration
	retries int

	slaves  []*slave
	byID    map[uint8]*slave
	queue   txnQueue[*mtxn]
	open    *mtxn
	waiting bool // the open transaction is sent and waits for its reply
	timer   reactor.TimerID
	onTimer func()
	quietAt time.Time // the line is quiet from then on

	rtu    modbus.RTUReplyDecoder
	mbap   modbus.TCPReplyDecoder
	tid    uint16
	frame  []byte
	values []uint16
	reply  *topic // <device>/reply
	out    []byte // a reply's JSON
	noise  uint64 // bytes that came with no request open

	gateway *gateway // modbus_tcp_listen
}

// mtxn is one Modbus transaction.
type mtxn struct {
	req   modbus.Request
	slave *slave // nil for a raw request to a slave not configured
	read  *modbus.Read
	cycle uint64     // of the slave's periodic reads
	set   *mpoint    // a write from <point>/set: read back after it
	raw   string     // the id of an MQTT request
	gw    *gwRequest // a Modbus TCP master's
	tries int
	lane  int
	start time.Time
}

func newModbus(d *device) (*modbusMaster, error) {
	c := d.cfg
	m := &modbusMaster{
		d:       d,
		tcp:     c.Protocol == config.ProtocolModbusTCP,
		line:    modbus.Line{Baud: c.Baud, DataBits: c.DataBits, Parity: c.Parity != "none", StopBits: c.StopBits},
		timeout: c.ModbusTimeout,
		retries: c.ModbusRetries,
		byID:    map[uint8]*slave{},
		reply:   d.s.topics.get(c.Name+"/reply", false),
	}
	if !m.tcp {
		m.gap = m.line.T35()
	}
	m.gap += c.ModbusPause
	m.onTimer = m.timerFired
	for _, sc := range c.Slaves {
		s, err := newSlave(m, sc)
		if err != nil {
			return nil, err
		}
		m.slaves = append(m.slaves, s)
		m.byID[sc.ID] = s
	}
	return m, nil
}

// commands are the writable points' set topics, and request for a
// writable device.
func (m *modbusMaster) commands(add func(tail string, fn commandFunc)) {
	for _, s := range m.slaves {
		for _, p := range s.points {
			if p.cfg.Writable {
				add(p.topic.tail+"/set", p.setter)
			}
		}
	}
	if m.d.cfg.Writable {
		add(m.d.cfg.Name+"/request", m.request)
	}
}

// opened starts reading the slaves, and sets the RS-485 mode.
func (m *modbusMaster) opened() {
	if m.d.cfg.RS485 {
		if err := m.d.port.SetRS485(true); err != nil {
			m.d.log.WithError(err).Error("modbus: rs485 = true, but the driver refused RS-485 mode")
		}
	}
	m.quietAt = m.d.s.r.Now().Add(m.gap)
	for _, s := range m.slaves {
		s.start()
	}
}

// closed fails what was under way and waiting: no line, no answer. The
// slaves go offline.
func (m *modbusMaster) closed(bool) {
	m.d.cancel(&m.timer)
	if t := m.open; t != nil {
		m.open, m.waiting = nil, false
		m.failed(t, errDeviceOffline)
	}
	m.queue.drain(func(t *mtxn) { m.failed(t, errDeviceOffline) })
	for _, s := range m.slaves {
		s.stop()
		s.setOnline(false)
	}
	m.mbap.Reset()
}

// stop ends the protocol for good.
func (m *modbusMaster) stop() {
	m.d.cancel(&m.timer)
	for _, s := range m.slaves {
		s.stop()
		s.forget()
	}
	if m.gateway != nil {
		m.gateway.close()
	}
}

// addStats adds the bytes that came with no request open, and the slaves.
func (m *modbusMaster) addStats(st *DeviceStats) {
	st.Malformed += m.noise
	if g := m.gateway; g != nil {
		st.TCPClients += len(g.clients)
		st.TCPRefused += g.refused
		st.TCPDropped += g.garbage
	}
	st.Slaves = make(map[string]SlaveStats, len(m.slaves))
	for _, s := range m.slaves {
		ss := s.stats
		ss.Latency = s.stats.Latency.Clone()
		st.Slaves[s.cfg.Name] = ss
	}
}

// enqueue queues a transaction and starts it if the line is free; it
// reports false when its lane is full.
func (m *modbusMaster) enqueue(t *mtxn) bool {
	if !m.queue.push(t.lane, t) {
		return false
	}
	m.next()
	return true
}

// next starts the next transaction, if none is open.
func (m *modbusMaster) next() {
	for m.open == nil {
		t, ok := m.queue.pop()
		if !ok {
			return
		}
		if t.lane == scheduled && t.read != nil && t.cycle <= t.slave.failedCycle {
			t.slave.pending--
			continue // its slave did not answer this cycle: do not wait for it again
		}
		m.open = t
		m.send()
	}
}

// send writes the open transaction once the line has been quiet long
// enough.
func (m *modbusMaster) send() {
	t, r := m.open, m.d.s.r
	if wait := m.quietAt.Sub(r.Now()); wait > 0 {
		m.timer = r.SetTimer(wait, m.onTimer)
		return
	}
	var err error
	if m.tcp {
		m.tid++
		m.frame, err = t.req.AppendTCP(m.frame[:0], m.tid)
		if err == nil {
			err = m.mbap.Expect(m.tid, t.req)
		}
	} else {
		m.frame, err = t.req.AppendRTU(m.frame[:0])
		if err == nil && !t.req.Broadcast() {
			err = m.rtu.Expect(t.req)
		}
	}
	if err == nil {
		err = m.d.write(m.frame)
	}
	if err != nil {
		m.open = nil
		m.failed(t, err)
		m.next()
		return
	}
	if t.slave != nil {
		t.slave.stats.Requests++
	}
	t.start = r.Now()
	onWire := m.line.Wire(len(m.frame))
	if m.tcp {
		onWire = 0
	}
	if t.req.Broadcast() {
		// Nobody answers a broadcast; the slaves need t3.5 to act on it.
		m.quietAt = r.Now().Add(onWire + m.gap)
		m.open = nil
		m.done(t)
		m.next()
		return
	}
	m.waiting = true
	m.timer = r.SetTimer(onWire+m.timeout, m.onTimer)
}

// timerFired ends a wait: the line's silence before a request, or the
// reply's timeout.
func (m *modbusMaster) timerFired() {
	m.timer = 0
	if m.open == nil {
		return
	}
	if !m.waiting {
		m.send()
		return
	}
	m.waiting = false
	m.rtu.Reset()
	m.mbap.Cancel()
	m.quietAt = m.d.s.r.Now().Add(m.gap)
	m.retry(errTimeout)
}

// received takes what the line delivered: the open transaction's reply,
// or noise.
func (m *modbusMaster) received(data []byte) {
	r := m.d.s.r
	if !m.tcp {
		m.quietAt = r.Now().Add(m.gap) // any byte on the line restarts its silence
	}
	for len(data) > 0 {
		if !m.waiting {
			m.noise += uint64(len(data))
			m.d.logLimited("modbus-noise", logrus.WarnLevel, "modbus: bytes on the line with no request waiting for them", nil, "bytes", len(data))
			return
		}
		var n int
		var done bool
		var err error
		if m.tcp {
			n, done, err = m.mbap.Feed(data)
		} else {
			n, done, err = m.rtu.Feed(data)
		}
		data = data[n:]
		if !done {
			return
		}
		m.waiting = false
		m.d.cancel(&m.timer)
		m.answered(err)
	}
}

// answered acts on the reply of the open transaction.
func (m *modbusMaster) answered(err error) {
	t := m.open
	if m.d.log.Logger.IsLevelEnabled(logrus.DebugLevel) {
		m.d.log.WithField("request", fmt.Sprintf("% x", m.frame)).WithField("answer", fmt.Sprintf("% x", m.reader().PDU())).
			WithField("ms", m.d.s.r.Now().Sub(t.start).Milliseconds()).WithError(err).Debug("modbus: answered")
	}
	var exc modbus.Exception
	switch {
	case err == nil:
		m.open = nil
		if t.slave != nil {
			t.slave.answered(m.d.s.r.Now().Sub(t.start))
		}
		m.done(t)
	case errors.As(err, &exc):
		if t.slave != nil {
			t.slave.answered(m.d.s.r.Now().Sub(t.start))
			t.slave.stats.Exceptions[min(int(exc), len(t.slave.stats.Exceptions)-1)]++
		}
		m.open = nil
		m.exception(t, exc)
	default:
		// A reply that is not one: a CRC error, another slave, noise.
		if t.slave != nil {
			t.slave.stats.BadReplies++
		}
		m.d.logLimited("modbus-bad", logrus.WarnLevel, "modbus: bad reply", err, "slave", t.req.Slave)
		m.retry(err)
		return
	}
	m.next()
}

// retry sends the open transaction again, up to modbus_retries times; then
// its slave is taken to be offline.
func (m *modbusMaster) retry(cause error) {
	t := m.open
	if m.d.log.Logger.IsLevelEnabled(logrus.DebugLevel) {
		m.d.log.WithField("request", fmt.Sprintf("% x", m.frame)).WithField("try", t.tries+1).WithError(cause).Debug("modbus: not answered")
	}
	if errors.Is(cause, errTimeout) && t.slave != nil {
		t.slave.stats.Timeouts++
	}
	if t.tries < m.retries {
		t.tries++
		m.send()
		return
	}
	m.open = nil
	if t.slave != nil {
		t.slave.failed(t, cause)
	}
	m.failed(t, cause)
	m.next()
}

// exception acts on a slave's exception: acknowledge and busy are tried
// again later; a grouped read refused with an illegal address is read
// point by point from then on; the others are the answer.
func (m *modbusMaster) exception(t *mtxn, e modbus.Exception) {
	switch {
	case e.Retryable() && t.tries < m.retries:
		t.tries++
		if m.queue.push(t.lane, t) {
			return
		}
	case e == modbus.IllegalDataAddress && t.read != nil && len(t.read.Slots) > 1 && t.slave != nil:
		t.slave.split(t)
		return
	}
	m.failed(t, e)
}

// done is a transaction answered.
func (m *modbusMaster) done(t *mtxn) {
	switch {
	case t.read != nil:
		m.values = m.reader().AppendValues(m.values[:0])
		t.slave.publish(t, m.values)
	case t.set != nil:
		t.slave.readBack(t.set)
	case t.gw != nil:
		t.gw.answer(m.reader().PDU())
	case t.raw != "":
		values := t.req.Values // a write's answer: what it wrote, which the slave echoed
		if t.req.Function.Read() {
			m.values = m.reader().AppendValues(m.values[:0])
			values = m.values
		}
		m.out = appendValuesReply(m.out[:0], t.raw, t.req.Function, values)
		m.d.s.out.frame(m.reply, m.out)
	}
}

// failed is a transaction that got no good answer.
func (m *modbusMaster) failed(t *mtxn, err error) {
	d := m.d
	switch {
	case t.read != nil:
		t.slave.pending--
		var exc modbus.Exception
		if errors.As(err, &exc) {
			d.logLimited("modbus-read-"+t.slave.cfg.Name, logrus.WarnLevel, "modbus: read refused by the slave", err,
				"slave", t.slave.cfg.Name, "points", t.slave.pointNames(t.read))
		}
	case t.set != nil:
		d.publishError(t.set.topic.name+"/set", fmt.Errorf("write to slave %d: %w", t.req.Slave, err))
	case t.gw != nil:
		t.gw.fail(err)
	case t.raw != "":
		m.out = appendErrorReply(m.out[:0], t.raw, err)
		d.s.out.frame(m.reply, m.out)
	}
}

// replies is the decoder the line uses.
type replies interface {
	PDU() []byte
	AppendValues([]uint16) []uint16
}

func (m *modbusMaster) reader() replies {
	if m.tcp {
		return &m.mbap
	}
	return &m.rtu
}
