package bridge

import (
	"errors"
	"reflect"

	"github.com/iogate/iogate/config"
)

// reloadCommand carries a new configuration to the loop.
type reloadCommand struct{ cfg *config.Config }

// Reload applies a new, already validated configuration without a restart,
// as SIGHUP asks: a device whose section changed is reopened, a new one is
// opened, a removed one is closed (its status goes offline), and the
// others keep running without losing a frame. Changed broker settings or
// topics make a new broker connection. gateway.poller takes effect at the
// next start. Safe from any goroutine.
func (s *Service) Reload(c *config.Config) error {
	return s.r.Controller().Send(reloadCommand{c})
}

func (s *Service) reload(c *config.Config) {
	if s.stopping {
		return
	}
	brokerChanged := c.MQTT != s.cfg.MQTT || c.Gateway.ID != s.cfg.Gateway.ID
	if brokerChanged && s.state == brokerUp {
		s.leave(c)
		return
	}
	s.apply(c, brokerChanged)
}

// leave ends the broker connection cleanly before its settings change: the
// statuses under the old topics go offline, so none is left saying online
// where nothing will update it. Once the broker has them (or leaveWait
// passed), the connection is closed and c applied. Closing at once would
// lose them: the broker's acknowledgements arriving on a closed socket
// reset it before the broker has read the rest.
func (s *Service) leave(c *config.Config) {
	first := s.pending == nil
	s.pending = c
	if !first {
		return // already leaving; the newest configuration wins
	}
	for _, d := range s.devices {
		s.publishGateway(d.statusTopic, []byte("offline"), true)
	}
	s.publishGateway(s.statusTopic, []byte("offline"), true)
	s.leaveTimer = s.after(stopWait, timerLeaveDeadline, nil)
	s.pump()
	s.maybeFinishLeave()
}

// maybeFinishLeave applies the pending configuration once the broker has
// every status.
func (s *Service) maybeFinishLeave() {
	if s.pending != nil && s.gatewayDrained() {
		s.finishLeave()
	}
}

func (s *Service) finishLeave() {
	c := s.pending
	s.pending = nil
	s.cancel(&s.leaveTimer)
	if s.state == brokerUp {
		s.r.Send(s.connID, s.session.Disconnect())
	}
	s.apply(c, true)
}

// apply switches to c: devices, then the broker connection if it changed.
func (s *Service) apply(c *config.Config, brokerChanged bool) {
	if c.Gateway.Poller != s.cfg.Gateway.Poller {
		s.log.WithField("poller", c.Gateway.Poller).Warn("reload: gateway.poller takes effect at the next start")
	}
	if brokerChanged {
		if s.connID != 0 || s.state != brokerIdle {
			s.dropBroker(errors.New("configuration changed"))
		}
		s.cancel(&s.retryTimer)
	}
	old := make(map[string]*device, len(s.devices))
	for _, d := range s.devices {
		old[d.cfg.Name] = d
	}
	s.cfg = c
	if brokerChanged {
		if err := s.setBroker(c); err != nil {
			// Load checked the files it names; one changed since.
			s.log.WithError(err).Error("reload: broker settings not applied")
		}
	}

	var kept, opened, closed int
	devices := make([]*device, 0, len(c.Devices))
	var fresh []*device
	for _, dc := range c.Devices {
		d := old[dc.Name]
		delete(old, dc.Name)
		if d != nil && reflect.DeepEqual(d.cfg, dc) {
			d.setTopics(c.MQTT.TopicPrefix)
			devices = append(devices, d)
			kept++
			continue
		}
		if d != nil {
			s.closeDevice(d)
		}
		nd, err := s.newDevice(dc)
		if err != nil {
			s.log.WithError(err).Error("reload: device not applied")
			continue
		}
		devices = append(devices, nd)
		fresh = append(fresh, nd)
	}
	for _, d := range old {
		s.closeDevice(d)
		if !brokerChanged {
			s.publishGateway(d.statusTopic, []byte("offline"), true)
		}
		closed++
	}
	s.devices = devices
	s.index()
	for _, d := range fresh {
		if err := s.listen(d); err != nil {
			d.log.WithError(err).Error("reload: tcp_listen not applied")
		}
		s.openDevice(d)
		opened++
	}
	if brokerChanged {
		s.reconnect()
	} else if s.state == brokerUp {
		s.subscribeTx()
	}
	s.pump()
	s.log.WithField("kept", kept).WithField("reopened_or_added", opened).WithField("removed", closed).
		WithField("broker_changed", brokerChanged).Info("configuration reloaded")
}

// closeDevice closes a device for good, its TCP access with it: it is
// being replaced or removed.
func (s *Service) closeDevice(d *device) {
	s.closeTCP(d)
	s.cancel(&d.reopen)
	s.cancel(&d.idle)
	if d.id == 0 {
		return
	}
	if res, err := s.r.Unregister(d.id); err == nil {
		res.Close()
	}
	delete(s.byID, d.id)
	d.id, d.port = 0, nil
}

// reconnect connects with the current settings at once, if there is a broker.
func (s *Service) reconnect() {
	s.cancel(&s.retryTimer)
	s.retryWait = 0
	if s.mqttOn {
		s.connect()
		if s.statsTimer == 0 {
			s.statsTimer = s.after(s.cfg.Metrics.StatsInterval, timerStats, nil)
		}
	}
}
