package hatest

import (
	"strings"
	"testing"
)

const goodSensor = `{"name":"v","unique_id":"u1","state_topic":"a/b","device_class":"voltage","state_class":"measurement",
"unit_of_measurement":"V","availability":[{"topic":"a/status"}],"availability_mode":"all","device":{"identifiers":["d1"]}}`

// The validator accepts what Home Assistant accepts, abbreviated or with a
// base topic, and refuses what it refuses: it can fail.
func TestValidator(t *testing.T) {
	for _, tc := range []struct {
		name, topic, payload string
		want                 string // "" for valid, else a part of the error
	}{
		{"sensor", "homeassistant/sensor/u1/config", goodSensor, ""},
		{"node id", "homeassistant/sensor/node/u1/config", goodSensor, ""},
		{"abbreviated", "homeassistant/sensor/u1/config",
			`{"name":"v","uniq_id":"u1","stat_t":"a/b","dev_cla":"energy","stat_cla":"total_increasing","unit_of_meas":"kWh",
			"avty":[{"t":"a/status","pl_avail":"up","pl_not_avail":"down"}],"avty_mode":"all","dev":{"ids":"d1","mf":"x","sw":"1"},
			"o":null}`, "o: sensor has no such key"},
		{"abbreviated without origin", "homeassistant/sensor/u1/config",
			`{"name":"v","uniq_id":"u1","stat_t":"a/b","dev_cla":"energy","stat_cla":"total_increasing","unit_of_meas":"kWh",
			"avty":[{"t":"a/status","pl_avail":"up","pl_not_avail":"down"}],"avty_mode":"all","dev":{"ids":"d1","mf":"x","sw":"1"}}`, ""},
		{"base topic", "homeassistant/sensor/u1/config",
			`{"~":"iogate/edge","uniq_id":"u1","stat_t":"~/x/v","avty":[{"t":"~/status"}],"dev":{"ids":["d1"]}}`, ""},
		{"base topic not resolved elsewhere", "homeassistant/number/u1/config",
			`{"uniq_id":"u1","cmd_t":"~/set","max":"~","dev":{"ids":["d1"]}}`, "max: want a number"},
		{"binary sensor", "homeassistant/binary_sensor/u1/config",
			`{"unique_id":"u1","state_topic":"a/b","payload_on":"true","payload_off":"false","device_class":"door","device":{"identifiers":["d"]}}`, ""},
		{"number", "homeassistant/number/u1/config",
			`{"unique_id":"u1","command_topic":"a/set","min":-3276.8,"max":3276.7,"step":0.1,"device":{"identifiers":["d"]}}`, ""},
		{"switch", "homeassistant/switch/u1/config",
			`{"unique_id":"u1","command_topic":"a/set","state_topic":"a","payload_on":"true","device":{"identifiers":["d"]}}`, ""},

		{"not json", "homeassistant/sensor/u1/config", `{"unique_id":`, "not a JSON object"},
		{"other prefix", "ha/sensor/u1/config", goodSensor, "not under the discovery prefix"},
		{"bad object id", "homeassistant/sensor/u.1/config", goodSensor, "<object_id>"},
		{"unknown component", "homeassistant/light/u1/config", goodSensor, "not one the gateway announces"},
		{"no state topic", "homeassistant/sensor/u1/config", `{"unique_id":"u1","device":{"identifiers":["d"]}}`, "state_topic: required"},
		{"no unique id", "homeassistant/sensor/u1/config", `{"state_topic":"a","device":{"identifiers":["d"]}}`, "unique_id: required"},
		{"no device", "homeassistant/sensor/u1/config", `{"unique_id":"u1","state_topic":"a"}`, "device: required"},
		{"device without identifiers", "homeassistant/sensor/u1/config", `{"unique_id":"u1","state_topic":"a","device":{"name":"x"}}`, "needs identifiers"},
		{"energy with measurement", "homeassistant/sensor/u1/config",
			strings.Replace(strings.Replace(goodSensor, `"voltage"`, `"energy"`, 1), `"V"`, `"kWh"`, 1), `state_class "measurement" does not go with device_class "energy"`},
		{"power in kWh", "homeassistant/sensor/u1/config", strings.Replace(strings.Replace(goodSensor, `"voltage"`, `"power"`, 1), `"V"`, `"kWh"`, 1), `"kWh" does not go with device_class "power"`},
		{"unknown device class", "homeassistant/sensor/u1/config", strings.Replace(goodSensor, `"voltage"`, `"volts"`, 1), `"volts" is not a sensor device class`},
		{"unknown state class", "homeassistant/sensor/u1/config", strings.Replace(goodSensor, `"measurement"`, `"average"`, 1), `"average" is not a state class`},
		{"class without unit", "homeassistant/sensor/u1/config", strings.Replace(goodSensor, `"unit_of_measurement":"V",`, ``, 1), "needs a unit"},
		{"timestamp with unit", "homeassistant/sensor/u1/config", strings.Replace(goodSensor, `"voltage"`, `"timestamp"`, 1), "is not numeric"},
		{"angle in V", "homeassistant/sensor/u1/config", strings.Replace(goodSensor, `"device_class":"voltage","state_class":"measurement"`, `"state_class":"measurement_angle"`, 1), `does not go with state_class "measurement_angle"`},
		{"binary device class of a sensor", "homeassistant/binary_sensor/u1/config",
			`{"unique_id":"u1","state_topic":"a","device_class":"voltage","device":{"identifiers":["d"]}}`, `"voltage" is not a binary_sensor device class`},
		{"availability not a list", "homeassistant/sensor/u1/config", strings.Replace(goodSensor, `[{"topic":"a/status"}]`, `{"topic":"a/status"}`, 1), "want a list"},
		{"availability without topic", "homeassistant/sensor/u1/config", strings.Replace(goodSensor, `{"topic":"a/status"}`, `{"payload_available":"up"}`, 1), "availability[0].topic: required"},
		{"availability both ways", "homeassistant/sensor/u1/config", strings.Replace(goodSensor, `"availability_mode"`, `"availability_topic":"x","availability_mode"`, 1), "exclude each other"},
		{"bad availability mode", "homeassistant/sensor/u1/config", strings.Replace(goodSensor, `"availability_mode":"all"`, `"availability_mode":"every"`, 1), "availability_mode"},
		{"wildcard command topic", "homeassistant/switch/u1/config", `{"unique_id":"u1","command_topic":"a/+","device":{"identifiers":["d"]}}`, "no wildcards"},
		{"number range", "homeassistant/number/u1/config", `{"unique_id":"u1","command_topic":"a","min":5,"max":5,"device":{"identifiers":["d"]}}`, "max must be > min"},
		{"number step", "homeassistant/number/u1/config", `{"unique_id":"u1","command_topic":"a","step":0.0001,"device":{"identifiers":["d"]}}`, "less than 0.001"},
		{"number without command topic", "homeassistant/number/u1/config", `{"unique_id":"u1","state_topic":"a","device":{"identifiers":["d"]}}`, "command_topic: required"},
		{"boolean payload", "homeassistant/binary_sensor/u1/config", `{"unique_id":"u1","state_topic":"a","payload_on":true,"device":{"identifiers":["d"]}}`, "payload_on: want a string"},
		{"config sensor", "homeassistant/sensor/u1/config", strings.Replace(goodSensor, `"name"`, `"entity_category":"config","name"`, 1), "cannot be a config entity"},
		{"unknown key", "homeassistant/sensor/u1/config", strings.Replace(goodSensor, `"name"`, `"stat_tpl":"x","name"`, 1), "stat_tpl: sensor has no such key"},
		{"origin without name", "homeassistant/sensor/u1/config", strings.Replace(goodSensor, `"name"`, `"origin":{"sw":"1"},"name"`, 1), "origin.name: required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Validate("homeassistant", tc.topic, []byte(tc.payload))
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.want != "" && err == nil:
				t.Errorf("accepted, want an error saying %q", tc.want)
			case tc.want != "" && !strings.Contains(err.Error(), tc.want):
				t.Errorf("error %q does not say %q", err, tc.want)
			}
		})
	}
}
