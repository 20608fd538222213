package bridge_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iogate/iogate/homeassistant"
	"github.com/iogate/iogate/homeassistant/hatest"
)

const haOn = "reconnect_min = \"300ms\"\n[homeassistant]\ndiscovery = true"

// configTopic is the discovery topic of one of gateway gw's entities.
func configTopic(component, id string) string {
	return homeassistant.ConfigTopic("homeassistant", component, "iogate_gw_"+id)
}

// awaitConfigs waits for a message on each topic of want, a config (true)
// or a removal (false), and returns the last seen on each. Messages on
// other discovery topics are returned too; others are skipped.
func (w *world) awaitConfigs(want map[string]bool) map[string]msg {
	w.t.Helper()
	got := map[string]msg{}
	missing := func() []string {
		var out []string
		for topic, config := range want {
			if m, ok := got[topic]; !ok || (m.payload != "") != config {
				out = append(out, topic)
			}
		}
		slices.Sort(out)
		return out
	}
	timeout := time.After(deadline)
	for len(missing()) > 0 {
		select {
		case m := <-w.msgs:
			if strings.HasPrefix(m.topic, "homeassistant/") && strings.HasSuffix(m.topic, "/config") {
				got[m.topic] = m
			}
		case <-timeout:
			w.t.Fatalf("discovery: nothing right on %q", missing())
		}
	}
	for topic, m := range got {
		if !m.retain {
			w.t.Errorf("%s not retained", topic)
		}
		if m.payload == "" {
			continue
		}
		if err := hatest.Validate("homeassistant", topic, []byte(m.payload)); err != nil {
			w.t.Error(err)
		}
		var p struct {
			Availability []struct{ Topic string }
		}
		json.Unmarshal([]byte(m.payload), &p)
		if len(p.Availability) == 0 || p.Availability[0].Topic != "iogate/gw/status" {
			w.t.Errorf("%s: availability %+v does not start with the gateway's status", topic, p.Availability)
		}
	}
	return got
}

// announced is what the state file lists, once it lists exactly want.
func (w *world) announced(want ...string) {
	w.t.Helper()
	slices.Sort(want)
	var f struct{ Topics []string }
	for end := time.Now().Add(deadline); ; time.Sleep(10 * time.Millisecond) {
		data, err := os.ReadFile(filepath.Join(w.dir, homeassistant.StateFile))
		if err == nil && json.Unmarshal(data, &f) == nil && slices.Equal(f.Topics, want) {
			return
		}
		if time.Now().After(end) {
			w.t.Fatalf("the state file lists %q (%v), want %q", f.Topics, err, want)
		}
	}
}

const fixPoll = `[[device.poll]]
name = "fix"
send = "FIX?\n"
every = "1h"`

// The gateway's entities are announced, retained and as Home Assistant
// reads them; sent again at Home Assistant's birth; removed by a reload
// that drops them, by one made while the broker was away (once it is
// back), and by a restart without them; and all withdrawn when discovery
// is turned off.
func TestDiscovery(t *testing.T) {
	w := newWorld(t, "gps", "aux")
	w.extra = haOn
	w.run(map[string]string{"gps": fixPoll, "aux": ""})
	status, rx, fix := configTopic("binary_sensor", "gps_status"), configTopic("sensor", "gps_rx"), configTopic("sensor", "gps_fix")
	auxStatus, auxRx := configTopic("binary_sensor", "aux_status"), configTopic("sensor", "aux_rx")
	got := w.awaitConfigs(map[string]bool{status: true, rx: true, fix: true, auxStatus: true, auxRx: true})
	if len(got) != 5 {
		t.Fatalf("announced %d entities, want 5", len(got))
	}
	var poll struct {
		StateTopic string `json:"state_topic"`
	}
	json.Unmarshal([]byte(got[fix].payload), &poll)
	if poll.StateTopic != "iogate/gw/gps/fix" {
		t.Fatalf("the poll's state topic is %q", poll.StateTopic)
	}
	w.announced(status, rx, fix, auxStatus, auxRx)

	// Home Assistant restarted.
	w.publish(homeassistant.StatusTopic("homeassistant"), []byte("online"), false)
	w.awaitConfigs(map[string]bool{status: true, rx: true, fix: true, auxStatus: true, auxRx: true})

	// A reload without the poll.
	if err := w.svc.Reload(w.config(haOn, map[string]string{"gps": "", "aux": ""})); err != nil {
		t.Fatal(err)
	}
	w.awaitConfigs(map[string]bool{fix: false})
	w.announced(status, rx, auxStatus, auxRx)

	// While the broker is away: a new poll, and rx no longer published.
	addr := w.addr
	w.broker.Close()
	temp := configTopic("sensor", "gps_temp")
	if err := w.svc.Reload(w.config(haOn, map[string]string{"gps": "publish = false\n" + strings.Replace(fixPoll, "fix", "temp", 1), "aux": ""})); err != nil {
		t.Fatal(err)
	}
	w.startBroker(addr)
	w.awaitConfigs(map[string]bool{status: true, rx: false, temp: true, auxStatus: true, auxRx: true})
	w.announced(status, temp, auxStatus, auxRx)

	// A restart without the device.
	w.stop()
	w.run(map[string]string{"aux": ""})
	w.awaitConfigs(map[string]bool{status: false, temp: false, auxStatus: true, auxRx: true})
	w.announced(auxStatus, auxRx)

	// Discovery turned off.
	if err := w.svc.Reload(w.config("", map[string]string{"aux": ""})); err != nil {
		t.Fatal(err)
	}
	w.awaitConfigs(map[string]bool{auxStatus: false, auxRx: false})
	w.announced()
}

// A new topic prefix changes the state and availability topics of every
// config, on the same config topics.
func TestDiscoveryFollowsThePrefix(t *testing.T) {
	w := newWorld(t, "gps")
	w.extra = haOn
	w.run(map[string]string{"gps": ""})
	rx := configTopic("sensor", "gps_rx")
	w.awaitConfigs(map[string]bool{rx: true})
	if err := w.svc.Reload(w.config("topic_prefix = \"site/{gateway}\"\n"+haOn, map[string]string{"gps": ""})); err != nil {
		t.Fatal(err)
	}
	timeout := time.After(deadline)
	for {
		select {
		case m := <-w.msgs:
			if m.topic == rx && strings.Contains(m.payload, `"state_topic":"site/gw/gps/rx"`) {
				if !strings.Contains(m.payload, fmt.Sprintf(`{"topic":%q`, "site/gw/status")) {
					t.Fatalf("availability under the old prefix: %s", m.payload)
				}
				return
			}
		case <-timeout:
			t.Fatal("the config did not follow the new prefix")
		}
	}
}

// A removal the broker never had is not forgotten: the state file still
// lists the entity after a stop, and the next start removes it.
func TestDiscoveryRemovalOutlivesAStop(t *testing.T) {
	w := newWorld(t, "gps")
	w.extra = haOn
	w.run(map[string]string{"gps": fixPoll})
	status, rx, fix := configTopic("binary_sensor", "gps_status"), configTopic("sensor", "gps_rx"), configTopic("sensor", "gps_fix")
	w.awaitConfigs(map[string]bool{status: true, rx: true, fix: true})
	addr := w.addr
	w.broker.Close()
	if err := w.svc.Reload(w.config(haOn, map[string]string{"gps": ""})); err != nil {
		t.Fatal(err)
	}
	w.stop()
	w.announced(status, rx, fix)
	w.startBroker(addr)
	w.run(map[string]string{"gps": ""})
	w.awaitConfigs(map[string]bool{status: true, rx: true, fix: false})
	w.announced(status, rx)
}
