package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/iogate/iogate/metrics"
	"github.com/iogate/iogate/modbus"
)

// The counters belong to the loop, like the rest of the bridge's state:
// the data path updates plain integers. Readers on other goroutines (the
// metrics endpoint, the health check) get a copy taken on the loop, one
// command round trip per read.

// snapshotCommand asks the loop for a Snapshot.
type snapshotCommand struct{ reply chan<- Snapshot }

// Snapshot is the gateway's state and counters at one moment.
type Snapshot struct {
	Time     time.Time
	Started  time.Time
	Wakeups  uint64 // reactor loop iterations
	Stopping bool
	Paused   bool        // every device paused: frames pile up faster than the broker or the spool takes them
	Pauses   uint64      // times the devices were paused so
	MQTT     *MQTTStats  // nil with broker = "none"
	Spool    *SpoolStats // nil without a spool
	Devices  []DeviceStats
}

// MQTTStats are the broker connection's state and counters.
type MQTTStats struct {
	Broker    string
	Connected bool
	Since     time.Time // when the connection last came up or went down
	LastError error     // why it is down; nil while up
	Connects  uint64    // connections the broker accepted
	Inflight  int       // QoS 1 messages published and not yet acknowledged
	Queued    int       // messages in memory for the broker, in flight or not
	// AckLatency is the time from a PUBLISH to its PUBACK, in seconds.
	AckLatency metrics.Buckets
}

// Reconnects is the number of connections after the first.
func (m *MQTTStats) Reconnects() uint64 { return max(m.Connects, 1) - 1 }

// SpoolStats are the spool's size and counters.
type SpoolStats struct {
	Frames uint64 // waiting for the broker's acknowledgement
	Bytes  int64  // on disk
	Drops  uint64 // frames dropped by spool.overflow
	Syncs  uint64
}

// Snapshot returns the gateway's counters, copied on the loop. It fails
// when the loop does not answer before ctx ends, or has stopped. Safe
// from any goroutine.
func (s *Service) Snapshot(ctx context.Context) (Snapshot, error) {
	reply := make(chan Snapshot, 1)
	if err := s.r.Controller().Send(snapshotCommand{reply}); err != nil {
		return Snapshot{}, fmt.Errorf("reactor loop is not running: %w", err)
	}
	select {
	case sn := <-reply:
		return sn, nil
	case <-ctx.Done():
		return Snapshot{}, fmt.Errorf("reactor loop did not answer: %w", ctx.Err())
	}
}

// snapshot copies the counters; on the loop.
func (s *Service) snapshot() Snapshot {
	sn := Snapshot{
		Time:     s.r.Now(),
		Started:  s.started,
		Wakeups:  s.r.Wakeups(),
		Stopping: s.stopping,
		Paused:   s.out.paused,
		Pauses:   s.out.pauses,
		Devices:  make([]DeviceStats, len(s.devices)),
		Spool:    s.out.spoolStats(),
	}
	for i, d := range s.devices {
		st := *d.stats
		if d.tcp != nil {
			st.TCPClients = len(d.tcp.clients)
		}
		d.proto.addStats(&st)
		sn.Devices[i] = st
	}
	if l := s.link; l != nil {
		sn.MQTT = &MQTTStats{
			Broker:     l.set.broker,
			Connected:  l.up(),
			Since:      l.since,
			LastError:  l.err,
			Connects:   l.connects,
			Inflight:   s.out.inflight,
			Queued:     s.out.q.len(),
			AckLatency: s.out.ackLatency.Clone(),
		}
	}
	return sn
}

// Healthy returns nil when the loop answers and the broker is connected
// (or there is no broker), and otherwise says why not. Devices do not
// count: an unplugged sensor is the gateway doing its job.
func (s *Service) Healthy(ctx context.Context) error {
	sn, err := s.Snapshot(ctx)
	switch {
	case err != nil:
		return err
	case sn.Stopping:
		return errors.New("stopping")
	case sn.MQTT != nil && !sn.MQTT.Connected:
		why := "not connected yet"
		if sn.MQTT.LastError != nil {
			why = sn.MQTT.LastError.Error()
		}
		return fmt.Errorf("mqtt: no connection to %s for %s: %s",
			sn.MQTT.Broker, sn.Time.Sub(sn.MQTT.Since).Round(time.Second), why)
	}
	return nil
}

// Gather writes the gateway's counters in the Prometheus text format.
func (s *Service) Gather(ctx context.Context, w *metrics.Writer) error {
	sn, err := s.Snapshot(ctx)
	if err != nil {
		return err
	}
	sn.Prometheus(w)
	return nil
}

// Prometheus writes the snapshot's families, named iogate_*.
func (sn *Snapshot) Prometheus(w *metrics.Writer) {
	w.One("iogate_start_time_seconds", metrics.Gauge, "When the gateway started, in seconds since the Unix epoch.",
		float64(sn.Started.UnixNano())/1e9)
	w.One("iogate_reactor_wakeups_total", metrics.Counter, "Iterations of the reactor loop.", float64(sn.Wakeups))
	w.One("iogate_backpressure", metrics.Gauge, "1 while every device is paused because the broker or the spool cannot keep up.", bit(sn.Paused))
	w.One("iogate_backpressure_total", metrics.Counter, "Times every device was paused so.", float64(sn.Pauses))
	if m := sn.MQTT; m != nil {
		w.One("iogate_mqtt_connected", metrics.Gauge, "1 while the broker connection is up.", bit(m.Connected))
		w.One("iogate_mqtt_reconnects_total", metrics.Counter, "Broker connections after the first.", float64(m.Reconnects()))
		w.One("iogate_mqtt_inflight", metrics.Gauge, "QoS 1 messages published and not yet acknowledged.", float64(m.Inflight))
		w.One("iogate_mqtt_queued", metrics.Gauge, "Messages in memory for the broker, in flight or not.", float64(m.Queued))
		w.Header("iogate_mqtt_publish_ack_seconds", metrics.Histogram, "Time from a PUBLISH to its PUBACK.")
		w.Histogram("iogate_mqtt_publish_ack_seconds", &m.AckLatency)
	}
	if sp := sn.Spool; sp != nil {
		w.One("iogate_spool_frames", metrics.Gauge, "Frames in the spool, waiting for the broker's acknowledgement.", float64(sp.Frames))
		w.One("iogate_spool_bytes", metrics.Gauge, "Size of the spool on disk.", float64(sp.Bytes))
		w.One("iogate_spool_drops_total", metrics.Counter, "Frames dropped because the spool was full (spool.overflow).", float64(sp.Drops))
		w.One("iogate_spool_syncs_total", metrics.Counter, "Syncs of the spool to disk.", float64(sp.Syncs))
	}
	family := func(name, typ, help string, value func(d *DeviceStats) float64) {
		w.Header(name, typ, help)
		for i := range sn.Devices {
			d := &sn.Devices[i]
			w.Sample(name, value(d), "device", d.Name)
		}
	}
	directions := func(name, help string, rx, tx func(d *DeviceStats) uint64) {
		w.Header(name, metrics.Counter, help)
		for i := range sn.Devices {
			d := &sn.Devices[i]
			w.Sample(name, float64(rx(d)), "device", d.Name, "direction", "rx")
			w.Sample(name, float64(tx(d)), "device", d.Name, "direction", "tx")
		}
	}
	family("iogate_device_up", metrics.Gauge, "1 while the device is open.",
		func(d *DeviceStats) float64 { return bit(d.Online) })
	directions("iogate_device_frames_total", "Frames from the device (rx, cut by its framing) and commands to it (tx, from MQTT).",
		func(d *DeviceStats) uint64 { return d.Frames }, func(d *DeviceStats) uint64 { return d.TxFrames })
	directions("iogate_device_bytes_total", "Bytes read from the device (rx) and written to it (tx), from MQTT and TCP clients.",
		func(d *DeviceStats) uint64 { return d.ReadBytes }, func(d *DeviceStats) uint64 { return d.TxBytes })
	w.Header("iogate_device_framing_drops_total", metrics.Counter, "Input discarded by the framing: frames over max_frame, or malformed.")
	for i := range sn.Devices {
		d := &sn.Devices[i]
		w.Sample("iogate_device_framing_drops_total", float64(d.Overlong), "device", d.Name, "reason", "overlong")
		w.Sample("iogate_device_framing_drops_total", float64(d.Malformed), "device", d.Name, "reason", "malformed")
	}
	family("iogate_device_spool_drops_total", metrics.Counter, "The device's frames dropped because the spool was full.",
		func(d *DeviceStats) float64 { return float64(d.Drops) })
	family("iogate_device_reopens_total", metrics.Counter, "Times the device was opened again after it went away.",
		func(d *DeviceStats) float64 { return float64(d.Reopens) })
	family("iogate_device_tx_rejected_total", metrics.Counter, "Commands refused: retained, undecodable, device offline or busy.",
		func(d *DeviceStats) float64 { return float64(d.TxRejected) })
	family("iogate_tcp_clients", metrics.Gauge, "Raw TCP clients connected to the device.",
		func(d *DeviceStats) float64 { return float64(d.TCPClients) })
	family("iogate_tcp_refused_total", metrics.Counter, "Raw TCP clients refused: tcp_allow or tcp_max_clients.",
		func(d *DeviceStats) float64 { return float64(d.TCPRefused) })
	family("iogate_tcp_dropped_total", metrics.Counter, "Raw TCP clients closed by the gateway: too slow, idle, or replaced.",
		func(d *DeviceStats) float64 { return float64(d.TCPDropped) })
	family("iogate_tcp_discarded_bytes_total", metrics.Counter, "Bytes from raw TCP clients not written: device read-only, offline or busy.",
		func(d *DeviceStats) float64 { return float64(d.TCPDiscarded) })
	sn.modbus(w)
}

// modbus writes the Modbus slaves' families.
func (sn *Snapshot) modbus(w *metrics.Writer) {
	type slaveOf struct {
		device string
		s      *SlaveStats
	}
	var slaves []slaveOf
	for i := range sn.Devices {
		d := &sn.Devices[i]
		for _, name := range slices.Sorted(maps.Keys(d.Slaves)) {
			s := d.Slaves[name]
			s.Name = name
			slaves = append(slaves, slaveOf{d.Name, &s})
		}
	}
	if len(slaves) == 0 {
		return
	}
	family := func(name, typ, help string, value func(s *SlaveStats) float64) {
		w.Header(name, typ, help)
		for _, x := range slaves {
			w.Sample(name, value(x.s), "device", x.device, "slave", x.s.Name)
		}
	}
	family("iogate_modbus_slave_up", metrics.Gauge, "1 while the Modbus slave answers.",
		func(s *SlaveStats) float64 { return bit(s.Online) })
	family("iogate_modbus_requests_total", metrics.Counter, "Requests sent to the slave, retries included.",
		func(s *SlaveStats) float64 { return float64(s.Requests) })
	family("iogate_modbus_timeouts_total", metrics.Counter, "Requests the slave did not answer within modbus_timeout.",
		func(s *SlaveStats) float64 { return float64(s.Timeouts) })
	family("iogate_modbus_bad_replies_total", metrics.Counter, "Replies that were not one: a CRC error, another slave or function, a wrong length.",
		func(s *SlaveStats) float64 { return float64(s.BadReplies) })
	w.Header("iogate_modbus_exceptions_total", metrics.Counter, "Exception replies of the slave, by code.")
	for _, x := range slaves {
		for code, n := range x.s.Exceptions {
			if n > 0 {
				w.Sample("iogate_modbus_exceptions_total", float64(n), "device", x.device, "slave", x.s.Name,
					"code", strconv.Itoa(code), "name", modbus.Exception(code).Name())
			}
		}
	}
	w.Header("iogate_modbus_request_seconds", metrics.Histogram, "Time from a request's write to its reply.")
	for _, x := range slaves {
		w.Histogram("iogate_modbus_request_seconds", &x.s.Latency, "device", x.device, "slave", x.s.Name)
	}
}

func bit(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// statsJSON is the <prefix>/stats payload: the same counters as /metrics.
func (sn *Snapshot) statsJSON() ([]byte, error) {
	type mqttJSON struct {
		Connected  bool    `json:"connected"`
		Reconnects uint64  `json:"reconnects"`
		Inflight   int     `json:"inflight"`
		Queued     int     `json:"queued"`
		Acked      uint64  `json:"acked"`
		AckP50     float64 `json:"ack_p50_ms"`
		AckP99     float64 `json:"ack_p99_ms"`
	}
	type spoolJSON struct {
		Frames  uint64 `json:"frames"`
		Bytes   int64  `json:"bytes"`
		Dropped uint64 `json:"dropped"`
		Syncs   uint64 `json:"syncs"`
	}
	out := struct {
		TS      string                 `json:"ts"`
		Uptime  float64                `json:"uptime_s"`
		Wakeups uint64                 `json:"wakeups"`
		Paused  bool                   `json:"paused"`
		Pauses  uint64                 `json:"pauses"`
		MQTT    *mqttJSON              `json:"mqtt,omitempty"`
		Spool   *spoolJSON             `json:"spool,omitempty"`
		Devices map[string]DeviceStats `json:"devices"`
	}{
		TS:      sn.Time.UTC().Format(time.RFC3339Nano),
		Uptime:  sn.Time.Sub(sn.Started).Seconds(),
		Wakeups: sn.Wakeups,
		Paused:  sn.Paused,
		Pauses:  sn.Pauses,
		Devices: make(map[string]DeviceStats, len(sn.Devices)),
	}
	if m := sn.MQTT; m != nil {
		out.MQTT = &mqttJSON{
			Connected: m.Connected, Reconnects: m.Reconnects(), Inflight: m.Inflight, Queued: m.Queued,
			Acked:  m.AckLatency.Count(),
			AckP50: m.AckLatency.Quantile(0.5) * 1e3, AckP99: m.AckLatency.Quantile(0.99) * 1e3,
		}
	}
	if sp := sn.Spool; sp != nil {
		out.Spool = &spoolJSON{Frames: sp.Frames, Bytes: sp.Bytes, Dropped: sp.Drops, Syncs: sp.Syncs}
	}
	for _, d := range sn.Devices {
		out.Devices[d.Name] = d
	}
	return json.Marshal(out)
}
