package bridge

import (
	"context"
	"fmt"
	"net/netip"
	"reflect"

	"github.com/iogate/iogate/config"
	"github.com/iogate/iogate/resources/tcp"
	"github.com/iogate/iogate/spool"
)

// A reload is all or nothing. Reload prepares the new configuration off
// the loop: what may block (name lookups, opening a spool) or fail is done
// there, the TLS files having been parsed when the configuration was
// loaded. The loop then binds the new listeners, the one step that can
// still fail, and only if all of them bind does it apply the plan, at once.
// Anything that fails is refused whole, logged, and the running
// configuration stays, its broker connection and TLS untouched.

// plan is a configuration ready to apply.
type plan struct {
	cfg    *config.Config
	broker brokerSettings
	listen map[string]netip.AddrPort // tcp_listen, looked up, by device name
	spool  *store                    // opened for a configuration that turns MQTT on
	report spool.OpenReport

	bound map[string]*tcp.Listener // the listeners bound for it, by device name
}

// reloadCommand carries a plan to the loop.
type reloadCommand struct{ plan *plan }

// Reload applies a new, validated configuration without a restart, as
// SIGHUP asks: a device whose section changed is reopened, a new one is
// opened, a removed one is closed (its status goes offline), and the
// others keep running without losing a frame. Changed broker settings or
// topics make a new broker connection once the broker has the offline
// statuses under the old ones. gateway.poller takes effect at the next
// start. It returns an error, and changes nothing, when the configuration
// cannot be prepared; a listener that does not bind refuses the reload on
// the loop, logged. Safe from any goroutine.
func (s *Service) Reload(c *config.Config) error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	p, err := s.prepare(c)
	if err != nil {
		return err
	}
	if err := s.r.Controller().Send(reloadCommand{p}); err != nil {
		p.release()
		return err
	}
	return nil
}

// prepare does, off the loop, what a reload may wait for.
func (s *Service) prepare(c *config.Config) (*plan, error) {
	p := &plan{cfg: c, broker: newBrokerSettings(c), listen: map[string]netip.AddrPort{}}
	ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
	defer cancel()
	for _, d := range c.Devices {
		addr := listenAddr(d)
		if addr == "" {
			continue
		}
		ap, err := tcp.Resolve(ctx, addr)
		if err != nil {
			return nil, fmt.Errorf("%s: device %s: %s %s: %w", c.Path, d.Name, listenKey(d), addr, err)
		}
		p.listen[d.Name] = ap
	}
	if c.MQTT.Kind != config.BrokerNone && !s.spoolOpen.Load() {
		st, rep, err := openStore(c, s.r.Controller(), s.spoolDropped)
		if err != nil {
			return nil, fmt.Errorf("%s: spool: %w", c.Path, err)
		}
		p.spool, p.report = st, rep
	}
	return p, nil
}

// release closes what a plan opened and will not use.
func (p *plan) release() {
	for _, l := range p.bound {
		l.Close()
	}
	p.bound = nil
	if p.spool != nil {
		p.spool.sp.Close()
		p.spool = nil
	}
}

// reload takes a plan on the loop: it binds its listeners, then applies
// it, at once or after the broker has the statuses under the old topics.
func (s *Service) reload(p *plan) {
	if s.stopping {
		p.release()
		return
	}
	leaving := s.pending != nil
	if leaving {
		s.pending.release() // its listeners are not in the way of the newer one
	}
	if err := s.bind(p); err != nil {
		p.release()
		s.log.WithField("config", p.cfg.Path).WithError(err).Error("reload refused; the running configuration stays")
		if leaving {
			s.pending = &plan{cfg: s.cfg, broker: s.link.set} // come back as it was
		}
		return
	}
	switch {
	case leaving:
		s.pending = p // the newest wins, once the leave is over
	case s.brokerChanged(p.cfg) && s.link != nil && s.link.up():
		s.leave(p)
	default:
		s.apply(p, false)
	}
}

// bind binds the listeners the plan needs that no running device has:
// a device whose tcp_listen is unchanged keeps its listener and clients.
func (s *Service) bind(p *plan) error {
	p.bound = map[string]*tcp.Listener{}
	for _, dc := range p.cfg.Devices {
		addr := listenAddr(dc)
		if addr == "" || s.listening(addr) != nil {
			continue
		}
		l, err := tcp.ListenAddr(p.listen[dc.Name])
		if err != nil {
			return fmt.Errorf("device %s: %s %s: %w", dc.Name, listenKey(dc), addr, err)
		}
		p.bound[dc.Name] = l
	}
	return nil
}

// listening is the running device that listens on addr, if any.
func (s *Service) listening(addr string) *device {
	for _, d := range s.devices {
		if d.listener() != 0 && listenAddr(d.cfg) == addr {
			return d
		}
	}
	return nil
}

// brokerChanged tells whether c changes the broker connection or its topics.
func (s *Service) brokerChanged(c *config.Config) bool {
	return !c.MQTT.Same(s.cfg.MQTT) || c.Gateway.ID != s.cfg.Gateway.ID
}

// leave ends the broker connection cleanly before its settings change: the
// statuses under the old topics go offline, so none is left saying online
// where nothing will update it. Once the broker has them (or stopWait
// passed), the plan is applied. Closing at once would lose them: the
// broker's acknowledgements arriving on a closed socket reset it before
// the broker has read the rest.
func (s *Service) leave(p *plan) {
	s.pending = p
	s.offline()
	s.deadline = s.r.SetTimer(stopWait, s.finishLeave)
	if !s.out.ownPending() {
		s.finishLeave()
	}
}

func (s *Service) finishLeave() {
	p := s.pending
	if p == nil {
		return
	}
	s.pending = nil
	if s.deadline != 0 {
		s.r.CancelTimer(s.deadline)
		s.deadline = 0
	}
	s.apply(p, true)
}

// apply switches to the plan's configuration: devices, topics, then the
// broker connection if it changed, or if the old one was left (its
// statuses set offline). Nothing here fails.
func (s *Service) apply(p *plan, left bool) {
	c := p.cfg
	if c.Gateway.Poller != s.cfg.Gateway.Poller {
		s.log.WithField("poller", c.Gateway.Poller).Warn("reload: gateway.poller takes effect at the next start")
	}
	brokerChanged := s.brokerChanged(c)
	if p.spool != nil {
		s.attachSpool(p.spool, p.report)
		p.spool = nil
	}

	old := make(map[string]*device, len(s.devices))
	for _, d := range s.devices {
		old[d.cfg.Name] = d
	}
	var kept, fresh []*device
	next := make([]*device, 0, len(c.Devices))
	listeners := map[string]*tcp.Listener{}
	for _, dc := range c.Devices {
		d := old[dc.Name]
		delete(old, dc.Name)
		if d != nil && reflect.DeepEqual(d.cfg, dc) {
			next = append(next, d)
			kept = append(kept, d)
			continue
		}
		if addr := listenAddr(dc); addr != "" {
			if l := p.bound[dc.Name]; l != nil {
				listeners[dc.Name] = l
				delete(p.bound, dc.Name)
			} else if holder := s.listening(addr); holder != nil {
				listeners[dc.Name] = holder.detachListener()
			}
		}
		if d != nil {
			d.close("") // its successor takes its status over
		}
		nd, err := s.newDevice(dc)
		if err != nil {
			s.log.WithError(err).Error("reload: device not applied")
			continue
		}
		next = append(next, nd)
		fresh = append(fresh, nd)
	}
	removed := len(old)
	for _, d := range old {
		d.close("offline")
	}
	p.release() // listeners bound for devices that did not need them

	s.cfg = c
	s.devices = next
	s.topics.setPrefix(c.MQTT.TopicPrefix)
	s.out.qos = c.MQTT.QoS
	wasOn := s.mqttOn
	s.mqttOn = c.MQTT.Kind != config.BrokerNone
	s.index()
	for _, d := range fresh {
		if l := listeners[d.cfg.Name]; l != nil {
			if err := d.listen(l); err != nil {
				l.Close()
				d.log.WithError(err).Error("reload: listener not applied")
			}
		}
		d.start()
	}
	s.discovery.sync()
	if brokerChanged || left || wasOn != s.mqttOn {
		s.relink(p.broker)
	} else if s.link != nil && s.link.up() {
		s.subscribe() // the connection goes on: only its new topics are new
	}
	s.out.due = true
	s.log.WithField("kept", len(kept)).WithField("reopened_or_added", len(fresh)).WithField("removed", removed).
		WithField("broker_changed", brokerChanged).Info("configuration reloaded")
}

// relink starts the broker connection afresh with new settings, or ends
// it when MQTT was turned off.
func (s *Service) relink(set brokerSettings) {
	switch {
	case !s.mqttOn && s.link != nil:
		s.link.disconnect(errReconfigured, true)
		s.setLink(nil)
		s.r.CancelTimer(s.stats)
	case s.mqttOn && s.link == nil:
		s.setLink(newLink(s.r, s.log, s.limit, set, s))
		s.link.connect()
		s.stats = s.r.SetTimer(s.cfg.Metrics.StatsInterval, s.onStats)
	case s.mqttOn:
		s.link.configure(set)
		s.link.disconnect(errReconfigured, false)
	}
	// The statuses a leave set offline, for the next connection.
	s.out.set(s.gateway, "online")
	for _, d := range s.devices {
		d.pauseReading(s.out.paused)
		if d.id != 0 {
			s.out.set(d.status, "online")
		}
	}
}
