package integration

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/iogate/iogate/homeassistant"
	"github.com/iogate/iogate/homeassistant/hatest"
)

// haTopic is the discovery topic of one of the gateway's entities.
func haTopic(component, id string) string {
	return homeassistant.ConfigTopic("homeassistant", component, "iogate_"+gatewayID+"_"+id)
}

// haConfig is what the test reads of a discovery payload.
type haConfig struct {
	StateTopic   string `json:"state_topic"`
	CommandTopic string `json:"command_topic"`
	PayloadOn    string `json:"payload_on"`
	Availability []struct {
		Topic string `json:"topic"`
	} `json:"availability"`
	Device struct {
		SWVersion string `json:"sw_version"`
	} `json:"device"`
	Origin struct {
		SWVersion string `json:"sw_version"`
	} `json:"origin"`
}

// checkDiscovery validates a discovery message as Home Assistant reads it,
// and checks that it is available with the gateway and with its device
// (the status topic given, "" for the device's own connectivity), and
// carries the gateway's version.
func checkDiscovery(t *testing.T, topic, payload, status, version string) haConfig {
	t.Helper()
	if err := hatest.Validate("homeassistant", topic, []byte(payload)); err != nil {
		t.Error(err)
	}
	var c haConfig
	if err := json.Unmarshal([]byte(payload), &c); err != nil {
		t.Fatalf("%s: %v", topic, err)
	}
	var av []string
	for _, a := range c.Availability {
		av = append(av, a.Topic)
	}
	want := []string{prefix + "/status"}
	if status != "" {
		want = append(want, status)
	}
	if !slices.Equal(av, want) {
		t.Errorf("%s: availability %q, want %q", topic, av, want)
	}
	if c.Origin.SWVersion != version {
		t.Errorf("%s: origin sw_version %q, want iogate's %q", topic, c.Origin.SWVersion, version)
	}
	return c
}

// retainedConfigs is what a client subscribing now gets of the discovery
// configs: the broker's retained ones. mosquitto sends them while it takes
// the subscription, so they come before a message published after it.
func retainedConfigs(t *testing.T, url string) map[string]string {
	t.Helper()
	const marker = "iogate-test/marker"
	c := subscribe(t, url, "homeassistant/+/+/config", marker)
	c.publish(marker, "end")
	c.next(marker)
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]string{}
	for topic, ms := range c.byTopic {
		for _, m := range ms {
			if m.retained && topic != marker {
				out[topic] = m.payload
			}
		}
	}
	return out
}

// The gateway announces a serial device with a poll and a bus of Modbus
// slaves to Home Assistant through mosquitto: every entity with the keys
// Home Assistant requires, retained; again at Home Assistant's birth;
// writable points that take what Home Assistant sends; the poll removed
// by a SIGHUP reload without it; a config changed while the broker was
// away announced when it is back; a point removed by a restart without it,
// from the state file; and everything withdrawn when discovery is turned
// off.
func TestHomeAssistantDiscovery(t *testing.T) {
	t.Parallel()
	b := startBus(t)
	mq := startMosquitto(t)
	sub := subscribe(t, mq.url(), "homeassistant/#", prefix+"/#")
	link := startProxy(t, fmt.Sprintf("127.0.0.1:%d", mq.port)) // the network to the broker, to cut
	out, err := exec.Command(iogateBin, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	version := strings.Fields(string(out))[1]

	gps := plug(t, "gps")
	const fixPoll = "[[device.poll]]\nname = \"fix\"\nsend = \"FIX?\\n\"\nevery = \"1h\"\n"
	bus := fmt.Sprintf(modbusDevice, b.gateway.SlavePath(), freeAddr(t))
	opts := gatewayOptions{mqtt: "\n[homeassistant]\ndiscovery = true\n", stateDir: t.TempDir()}
	gw := startGatewayWith(t, opts, link.url(), gps.toml(fixPoll), bus)

	// Every entity, and the status topic of the device or slave it is
	// available with ("" for a device's own connectivity).
	meter, io, absent := prefix+"/bus/meter/status", prefix+"/bus/io/status", prefix+"/bus/absent/status"
	entities := map[string]string{
		haTopic("binary_sensor", "gps_status"):        "",
		haTopic("sensor", "gps_rx"):                   prefix + "/gps/status",
		haTopic("sensor", "gps_fix"):                  prefix + "/gps/status",
		haTopic("binary_sensor", "bus_status"):        "",
		haTopic("binary_sensor", "bus_meter_status"):  prefix + "/bus/status",
		haTopic("sensor", "bus_meter_voltage"):        meter,
		haTopic("sensor", "bus_meter_current"):        meter,
		haTopic("sensor", "bus_meter_power"):          meter,
		haTopic("sensor", "bus_meter_reads"):          meter,
		haTopic("binary_sensor", "bus_io_status"):     prefix + "/bus/status",
		haTopic("sensor", "bus_io_setpoint"):          io,
		haTopic("number", "bus_io_setpoint_set"):      io,
		haTopic("binary_sensor", "bus_io_relay"):      io,
		haTopic("switch", "bus_io_relay_set"):         io,
		haTopic("binary_sensor", "bus_io_door"):       io,
		haTopic("sensor", "bus_io_beyond"):            io,
		haTopic("binary_sensor", "bus_absent_status"): prefix + "/bus/status",
		haTopic("sensor", "bus_absent_x"):             absent,
	}
	configs := map[string]haConfig{}
	for topic, status := range entities {
		m := sub.next(topic)
		if m.payload == "" {
			t.Fatalf("%s: empty, want a config", topic)
		}
		configs[topic] = checkDiscovery(t, topic, m.payload, status, version)
	}
	if got := configs[haTopic("sensor", "gps_rx")]; got.Device.SWVersion != version {
		t.Errorf("the gateway's device has sw_version %q, want %q", got.Device.SWVersion, version)
	}
	retained := retainedConfigs(t, mq.url())
	if len(retained) != len(entities) {
		t.Fatalf("mosquitto retains %d configs, want %d", len(retained), len(entities))
	}
	for topic := range entities {
		if retained[topic] == "" {
			t.Errorf("%s is not retained", topic)
		}
	}

	// What Home Assistant shows and sends: the state topics carry the
	// values, and the command topics take Home Assistant's payloads.
	sub.waitFor(configs[haTopic("sensor", "bus_meter_voltage")].StateTopic, "230.1")
	number := configs[haTopic("number", "bus_io_setpoint_set")]
	sub.publish(number.CommandTopic, "21.5")
	sub.waitFor(number.StateTopic, "21.5")
	sw := configs[haTopic("switch", "bus_io_relay_set")]
	sub.publish(sw.CommandTopic, sw.PayloadOn)
	sub.waitFor(sw.StateTopic, "true")

	// Home Assistant restarted: every config again.
	sub.publish(homeassistant.StatusTopic("homeassistant"), "online")
	for topic := range entities {
		if m := sub.next(topic); m.payload == "" {
			t.Fatalf("%s: empty after the birth", topic)
		}
	}

	// A reload without the poll removes its sensor.
	fix := haTopic("sensor", "gps_fix")
	gw.configure(gps.toml(""), bus)
	syscall.Kill(gw.cmd.Process.Pid, syscall.SIGHUP)
	if m := sub.next(fix); m.payload != "" {
		t.Fatalf("%s after the reload: %q, want the empty config", fix, m.payload)
	}
	delete(entities, fix)
	if retained := retainedConfigs(t, mq.url()); len(retained) != len(entities) || retained[fix] != "" {
		t.Fatalf("after the reload mosquitto retains %d configs (the poll's %q), want %d without it", len(retained), retained[fix], len(entities))
	}

	// The broker is away while the configuration changes: a new poll, and
	// the absent slave gone. Both are announced when it is back.
	reloads := gw.log.count("configuration reloaded")
	link.kill()
	gw.log.waitFor(t, "the broker lost", func(e entry) bool { return e.is("warning", "mqtt: connection lost") })
	const tempPoll = "[[device.poll]]\nname = \"temp\"\nsend = \"TEMP?\\n\"\nevery = \"1h\"\n"
	cut := strings.Index(bus, "[[device.slave]]\nid = 3")
	if cut < 0 {
		t.Fatal("the absent slave is not in modbusDevice")
	}
	bus = bus[:cut]
	gw.configure(gps.toml(tempPoll), bus)
	syscall.Kill(gw.cmd.Process.Pid, syscall.SIGHUP)
	gw.log.waitUntil(t, "reload", func() bool { return gw.log.count("configuration reloaded") > reloads })
	link.restart()
	temp := haTopic("sensor", "gps_temp")
	checkDiscovery(t, temp, sub.next(temp).payload, prefix+"/gps/status", version)
	for _, gone := range []string{haTopic("binary_sensor", "bus_absent_status"), haTopic("sensor", "bus_absent_x")} {
		sub.waitFor(gone, "")
		delete(entities, gone)
	}
	entities[temp] = prefix + "/gps/status"

	// A restart without a point: the state file says it was announced.
	gw.stop()
	seen := map[string]int{}
	for topic := range entities {
		seen[topic] = len(sub.seen(topic))
	}
	again := map[string]int{}
	for _, topic := range []string{fix, haTopic("binary_sensor", "bus_absent_status"), haTopic("sensor", "bus_absent_x")} {
		again[topic] = len(sub.seen(topic))
	}
	door := haTopic("binary_sensor", "bus_io_door")
	point := "[[device.slave.point]]\nname = \"door\"\ntable = \"discrete\"\naddress = 0\n\n"
	if !strings.Contains(bus, point) {
		t.Fatal("the door point is not in modbusDevice")
	}
	bus = strings.Replace(bus, point, "", 1)
	gw = startGatewayWith(t, opts, link.url(), gps.toml(tempPoll), bus)
	sub.waitFor(door, "")
	delete(entities, door)
	// The removal goes out ahead of the configs: once they are all here,
	// nothing else was removed again (what was removed before is no
	// longer in the file).
	for topic := range entities {
		if m := sub.nextAfter(topic, seen[topic]); m.payload == "" {
			t.Fatalf("%s: empty after the restart", topic)
		}
	}
	for topic, n := range again {
		if len(sub.seen(topic)) != n {
			t.Errorf("%s was removed again after the restart", topic)
		}
	}
	if retained := retainedConfigs(t, mq.url()); len(retained) != len(entities) || retained[door] != "" {
		t.Fatalf("after the restart mosquitto retains %d configs (the door's %q), want %d", len(retained), retained[door], len(entities))
	}

	// Discovery turned off: everything is withdrawn.
	gw.opts.mqtt = ""
	gw.configure(gps.toml(tempPoll), bus)
	syscall.Kill(gw.cmd.Process.Pid, syscall.SIGHUP)
	for topic := range entities {
		sub.waitFor(topic, "")
	}
	if retained := retainedConfigs(t, mq.url()); len(retained) != 0 {
		t.Fatalf("with discovery off mosquitto still retains %d configs", len(retained))
	}
}

// nextAfter returns the first message on topic after the first n it
// received.
func (c *client) nextAfter(topic string, n int) msg {
	c.t.Helper()
	c.mu.Lock()
	c.read[topic] = max(c.read[topic], n)
	c.mu.Unlock()
	return c.next(topic)
}
