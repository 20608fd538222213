package bridge_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/iogate/iogate/metrics"
	"github.com/iogate/iogate/services/bridge"
)

// stats is what the test reads of a <prefix>/stats message.
type stats struct {
	Wakeups uint64 `json:"wakeups"`
	MQTT    struct {
		Connected  bool    `json:"connected"`
		Reconnects uint64  `json:"reconnects"`
		Acked      uint64  `json:"acked"`
		AckP99     float64 `json:"ack_p99_ms"`
	} `json:"mqtt"`
	Spool *struct {
		Frames uint64 `json:"frames"`
	} `json:"spool"`
	Devices map[string]struct {
		Frames     uint64 `json:"frames"`
		Bytes      uint64 `json:"bytes"`
		ReadBytes  uint64 `json:"read_bytes"`
		TxFrames   uint64 `json:"tx_frames"`
		TxBytes    uint64 `json:"tx_bytes"`
		Overlong   uint64 `json:"overlong"`
		TCPClients int    `json:"tcp_clients"`
		Online     bool   `json:"online"`
	} `json:"devices"`
}

// until polls cond until it holds, failing the test at the deadline.
func until(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	timeout := time.After(deadline)
	for !cond() {
		select {
		case <-tick.C:
		case <-timeout:
			t.Fatalf("never: %s", what)
		}
	}
}

func snapshot(t *testing.T, svc *bridge.Service) bridge.Snapshot {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	sn, err := svc.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return sn
}

func healthy(svc *bridge.Service) error {
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	return svc.Healthy(ctx)
}

// The counters on <prefix>/stats and in the Prometheus exposition follow
// the traffic, and the health check follows the broker.
func TestMetricsAndStats(t *testing.T) {
	w := newWorld(t, "m", "off")
	w.extra = "[metrics]\nstats_interval = \"1s\""
	w.unplug("off")
	addr := freeAddr(t)
	w.run(map[string]string{
		"m":   fmt.Sprintf("writable = true\nmax_frame = 8\ntcp_listen = %q", addr),
		"off": "",
	})
	w.expectPayload("iogate/gw/m/status", "online")
	c := dial(t, addr)
	until(t, "the TCP client is counted", func() bool {
		for _, d := range snapshot(t, w.svc).Devices {
			if d.Name == "m" {
				return d.TCPClients == 1
			}
		}
		return false
	})
	sent := "one\ntwo\nthree\nmuch too long\n"
	w.write("m", sent)
	w.expectAll("iogate/gw/m/rx one", "iogate/gw/m/rx two", "iogate/gw/m/rx three")
	readN(t, c, len(sent))
	w.publish("iogate/gw/m/tx", []byte("GO"), false)
	if got := w.read("m", 3); got != "GO\n" {
		t.Fatalf("device got %q", got)
	}

	var st stats
	until(t, "the stats count the frames and the command", func() bool {
		m := w.expect("iogate/gw/stats")
		if err := json.Unmarshal([]byte(m.payload), &st); err != nil {
			t.Fatalf("%s: %v", m.payload, err)
		}
		return st.Devices["m"].Frames == 3 && st.Devices["m"].TxFrames == 1 && st.MQTT.Acked >= 3
	})
	d := st.Devices["m"]
	if d.Bytes != 11 || d.ReadBytes != uint64(len(sent)) || d.TxBytes != 3 || d.Overlong != 1 || d.TCPClients != 1 || !d.Online {
		t.Errorf("device m stats %+v", d)
	}
	if off := st.Devices["off"]; off.Online || off.Frames != 0 {
		t.Errorf("device off stats %+v", off)
	}
	if !st.MQTT.Connected || st.MQTT.Reconnects != 0 || st.MQTT.AckP99 <= 0 || st.Spool == nil || st.Wakeups == 0 {
		t.Errorf("gateway stats %+v", st)
	}

	sn := snapshot(t, w.svc)
	var mw metrics.Writer
	sn.Prometheus(&mw)
	text := string(mw.Bytes())
	for _, line := range []string{
		`iogate_device_up{device="m"} 1`,
		`iogate_device_up{device="off"} 0`,
		`iogate_device_frames_total{device="m",direction="rx"} 3`,
		`iogate_device_frames_total{device="m",direction="tx"} 1`,
		fmt.Sprintf(`iogate_device_bytes_total{device="m",direction="rx"} %d`, len(sent)),
		`iogate_device_bytes_total{device="m",direction="tx"} 3`,
		`iogate_device_framing_drops_total{device="m",reason="overlong"} 1`,
		`iogate_tcp_clients{device="m"} 1`,
		`iogate_mqtt_connected 1`,
		`iogate_mqtt_reconnects_total 0`,
		`# TYPE iogate_mqtt_publish_ack_seconds histogram`,
		`iogate_mqtt_publish_ack_seconds_bucket{le="+Inf"} `,
		`iogate_reactor_wakeups_total `,
		`iogate_spool_frames `,
	} {
		if !strings.Contains(text, "\n"+line) {
			t.Errorf("exposition lacks %q:\n%s", line, text)
		}
	}
	if err := healthy(w.svc); err != nil {
		t.Errorf("healthy with the broker up: %v", err)
	}

	broker := w.addr
	w.broker.Close()
	until(t, "the health check reports the broker down", func() bool {
		err := healthy(w.svc)
		return err != nil && strings.HasPrefix(err.Error(), "mqtt: no connection to tcp://"+broker)
	})
	w.startBroker(broker)
	until(t, "healthy again", func() bool { return healthy(w.svc) == nil })
	if sn := snapshot(t, w.svc); sn.MQTT.Reconnects() != 1 {
		t.Errorf("%d reconnects, want 1", sn.MQTT.Reconnects())
	}

	w.stop()
	if err := healthy(w.svc); err == nil || !strings.Contains(err.Error(), "not running") {
		t.Errorf("healthy after stop: %v", err)
	}
}

// With broker = "none" the health check is the loop alone.
func TestHealthWithoutBroker(t *testing.T) {
	w := newWorld(t, "port")
	w.noBroker = true
	w.run(map[string]string{"port": "publish = false"})
	if err := healthy(w.svc); err != nil {
		t.Errorf("healthy: %v", err)
	}
	if sn := snapshot(t, w.svc); sn.MQTT != nil || sn.Spool != nil {
		t.Errorf("no broker, yet %+v %+v", sn.MQTT, sn.Spool)
	}
}
