package bridge

import (
	"errors"
	"io/fs"
	"time"

	"github.com/iogate/iogate/config"
	"github.com/iogate/iogate/homeassistant"
	"github.com/iogate/iogate/reactor"
)

// discovery is the bridge's part for Home Assistant ([homeassistant]
// discovery = true): it announces the gateway's devices, polls, Modbus
// slaves and points on Home Assistant's discovery prefix, and removes the
// entities that left the configuration.
//
// Every config is a retained state of delivery: it is published on every
// connection ahead of the data that waited, so a broker outage delays it
// and never loses it, and a reload made while the broker was away is
// announced when it comes back. A removal is a state removed with an empty
// last value, published on every connection until the broker has it.
//
// What was announced is remembered in state_dir by a
// homeassistant.Announcer. Its Plan lists the new configs there before they
// are published; the plan is committed (the removed entities leave the
// file) only once the broker has acknowledged every removal, since until
// then a restart must remove them again: delivery's promise for a state
// lasts as long as the process, the file's across restarts. The file is
// written on the loop, only when the set of entities changes: at the first
// start, and at a reload that adds or removes entities.
type discovery struct {
	s   *Service
	ann *homeassistant.Announcer // nil before Run

	configs  map[string]*state   // announced, by config topic
	order    []*state            // the same, in the plan's order
	removing map[string]*state   // removals the broker has not acknowledged, by config topic
	plan     *homeassistant.Plan // committed once removing is empty; nil when committed

	onBirth  commandFunc
	resentAt time.Time       // the last re-announcement for a birth
	resend   reactor.TimerID // armed while a birth waits for the gap to end
	onResend func()
}

// birthGap is the least time between two re-announcements for Home
// Assistant's birth: births that come closer fold into one, made when the
// gap is over, so that a client publishing "online" in a loop cannot fill
// the outbox with configs.
const birthGap = time.Second

func newDiscovery(s *Service) *discovery {
	h := &discovery{s: s, configs: map[string]*state{}, removing: map[string]*state{}}
	h.onBirth, h.onResend = h.birth, h.resendDue
	return h
}

// start reads what was announced before, and announces the configuration.
func (h *discovery) start() {
	ann, err := homeassistant.Open(h.s.cfg.Gateway.StateDir)
	h.ann = ann
	switch {
	case errors.Is(err, fs.ErrNotExist):
		h.s.log.Debug("home assistant: nothing announced before")
	case errors.Is(err, homeassistant.ErrCorrupt):
		h.s.log.WithError(err).Warn("home assistant: what was announced before is unknown: entities that left the configuration stay in Home Assistant")
	case err != nil:
		h.s.log.WithError(err).Error("home assistant: what was announced before cannot be read: entities that left the configuration stay in Home Assistant")
	}
	h.sync()
}

// commands subscribes to Home Assistant's status topic, for its birth.
func (h *discovery) commands(into map[string]commandFunc) {
	if hc := h.s.cfg.HomeAssistant; hc.Discovery {
		into[homeassistant.StatusTopic(hc.Prefix)] = h.onBirth
	}
}

// sync brings Home Assistant to the running configuration, at Run and
// after a reload: new and changed configs are set, the entities that left
// it (or all, with discovery turned off) are removed. Without MQTT nothing
// changes: the file keeps what Home Assistant has.
func (h *discovery) sync() {
	s := h.s
	if h.ann == nil || !s.mqttOn {
		return
	}
	hc := s.cfg.HomeAssistant
	var p *homeassistant.Plan
	var err error
	switch {
	case hc.Discovery:
		p, err = h.ann.Plan(hc.Prefix, h.model())
	case len(h.configs) > 0 || len(h.ann.Announced()) > 0:
		p, err = h.ann.Withdraw()
	default:
		return
	}
	if err != nil {
		s.log.WithError(err).Error("home assistant: what is announced is not saved: an entity removed before the next start may stay in Home Assistant")
	}
	keep := make(map[string]bool, len(p.Publish))
	for _, m := range p.Publish {
		keep[m.Topic] = true
	}
	added, changed, removed := 0, 0, 0
	for _, m := range p.Clear {
		removed += h.remove(m.Topic)
	}
	for _, st := range h.order { // announced by this run, if the file could not say so
		if !keep[st.topic.name] {
			removed += h.remove(st.topic.name)
		}
	}
	h.order = h.order[:0]
	for _, m := range p.Publish {
		delete(h.removing, m.Topic) // back: its config goes out after the removal
		st := h.configs[m.Topic]
		switch {
		case st == nil:
			st = s.out.newState(s.topics.absolute(m.Topic, true), string(m.Payload))
			h.configs[m.Topic] = st
			added++
		case string(st.value) != string(m.Payload):
			s.out.set(st, string(m.Payload))
			changed++
		}
		h.order = append(h.order, st)
	}
	e := s.log.WithField("prefix", hc.Prefix).WithField("entities", len(p.Publish)).
		WithField("added", added).WithField("changed", changed).WithField("removed", removed)
	if added+changed+removed > 0 {
		e.Info("home assistant: discovery configs set")
	} else {
		e.Debug("home assistant: discovery configs unchanged")
	}
	h.plan = p
	h.commit()
}

// remove publishes an empty retained config on a topic: Home Assistant
// deletes the entity. It is a state of its own, with nothing but its last
// value, so that the broker has the removal when it is gone. It returns 1
// for a removal started, 0 for one under way.
func (h *discovery) remove(name string) int {
	if st := h.configs[name]; st != nil {
		h.s.out.forget(st)
		delete(h.configs, name)
	}
	if h.removing[name] != nil {
		return 0
	}
	st := h.s.out.newState(h.s.topics.absolute(name, true), "")
	st.gone = func() { h.removed(name, st) }
	h.s.out.remove(st, "")
	h.removing[name] = st
	return 1
}

// removed: the broker has a removal.
func (h *discovery) removed(name string, st *state) {
	if h.removing[name] == st {
		delete(h.removing, name)
		h.commit()
	}
}

// commit tells the announcer that the plan is done once every removal is
// acknowledged.
func (h *discovery) commit() {
	if h.plan == nil || len(h.removing) > 0 {
		return
	}
	if err := h.ann.Commit(h.plan); err != nil {
		h.s.log.WithError(err).Error("home assistant: what is announced is not saved: removed entities will be removed again at the next start")
	}
	h.plan = nil
}

// birth is a message on Home Assistant's status topic: after its birth
// message, every config is published again. A retained one is not a
// restart: it comes at the subscription, right after the connection
// published every config.
func (h *discovery) birth(topic string, payload []byte, retained bool) {
	if retained || !homeassistant.IsBirth(h.s.cfg.HomeAssistant.Prefix, topic, payload) || h.resend != 0 {
		return
	}
	if wait := birthGap - h.s.r.Now().Sub(h.resentAt); wait > 0 {
		h.resend = h.s.r.SetTimer(wait, h.onResend)
		return
	}
	h.announceAgain()
}

func (h *discovery) resendDue() {
	h.resend = 0
	h.announceAgain()
}

// announceAgain publishes every config once more.
func (h *discovery) announceAgain() {
	if len(h.order) == 0 {
		return // withdrawn meanwhile
	}
	h.resentAt = h.s.r.Now()
	h.s.log.WithField("entities", len(h.order)).Info("home assistant started: discovery configs sent again")
	for _, st := range h.order {
		h.s.out.again(st)
	}
}

// model describes the running devices to Home Assistant, with the topics
// the gateway publishes them on.
func (h *discovery) model() *homeassistant.Gateway {
	s := h.s
	name := func(tail string) string { return s.topics.prefix + "/" + tail }
	g := &homeassistant.Gateway{ID: s.cfg.Gateway.ID, Version: s.version, StatusTopic: s.gateway.topic.name}
	for _, d := range s.devices {
		dc := d.cfg
		hd := homeassistant.Device{Name: dc.Name, StatusTopic: name(dc.Name + "/status"), Encoding: dc.Encoding}
		if dc.Protocol == config.ProtocolStream && d.publishing() {
			hd.RxTopic = name(dc.RxTail())
		}
		for _, pc := range dc.Polls {
			hd.Polls = append(hd.Polls, homeassistant.Poll{Name: pc.Name, StateTopic: name(dc.Name + "/" + pc.Name)})
		}
		for _, sc := range dc.Slaves {
			sl := homeassistant.Slave{ID: int(sc.ID), Name: sc.Name, StatusTopic: name(dc.Name + "/" + sc.Name + "/status")}
			for _, pc := range sc.Points {
				p := homeassistant.Point{
					Name:        pc.Name,
					StateTopic:  name(dc.Name + "/" + sc.Name + "/" + pc.Name),
					Table:       pc.Table.String(),
					Type:        pc.Type.String(),
					Scale:       pc.Scale,
					Offset:      pc.Offset,
					Unit:        pc.Unit,
					DeviceClass: pc.DeviceClass,
					StateClass:  pc.StateClass,
					Writable:    pc.Writable,
				}
				if p.Scale == 0 { // as the Modbus master takes it
					p.Scale = 1
				}
				if pc.Writable {
					p.SetTopic = p.StateTopic + "/set"
				}
				sl.Points = append(sl.Points, p)
			}
			hd.Slaves = append(hd.Slaves, sl)
		}
		g.Devices = append(g.Devices, hd)
	}
	return g
}
