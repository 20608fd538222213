package config

import (
	"strings"
	"testing"
)

func TestCheckDeviceClass(t *testing.T) {
	for _, tc := range []struct {
		component, class string
		want             string // "" for accepted
	}{
		{"sensor", "", ""},
		{"sensor", "voltage", ""},
		{"sensor", "timestamp", ""},
		{"binary_sensor", "door", ""},
		{"number", "temperature", ""},
		{"switch", "outlet", ""},
		{"sensor", "door", `"door" is not a sensor device class of Home Assistant`},
		{"binary_sensor", "voltage", `"voltage" is not a binary_sensor device class`},
		{"number", "timestamp", `"timestamp" is not a number device class`},
		{"sensor", "Voltage", `"Voltage" is not a sensor`},
		{"light", "switch", `not a light device class`},
	} {
		err := checkDeviceClass(tc.component, tc.class)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s %q: %v", tc.component, tc.class, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s %q: %v, want %q", tc.component, tc.class, err, tc.want)
		}
	}
}

func TestCheckPointClasses(t *testing.T) {
	for _, tc := range []struct {
		typ, unit, dc, sc string
		key, want         string // "" for accepted
	}{
		{"uint16", "V", "", "", "", ""},
		{"uint32", "kWh", "", "", "", ""},
		{"uint32", "kWh", "", "measurement", "", ""},
		{"uint16", "%", "humidity", "", "", ""},
		{"bool", "", "door", "", "", ""},
		{"uint32", "kWh", "energy", "measurement", "state_class", `"measurement" does not go with device_class "energy"`},
		{"uint16", "kWh", "power", "", "unit", `"kWh" does not go with device_class "power"`},
		{"uint16", "", "voltage", "", "unit", "needs a unit"},
		{"uint16", "V", "volt", "", "device_class", `"volt" is not a sensor device class`},
		{"uint16", "V", "", "mean", "state_class", `"mean" is not one of`},
		{"bool", "", "temperature", "", "device_class", "binary_sensor"},
		{"string", "", "", "total", "state_class", "no state class"},
	} {
		key, err := checkPointClasses(tc.typ, tc.unit, tc.dc, tc.sc)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%v: %s %v", tc, key, err)
		case tc.want != "" && (err == nil || key != tc.key || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%v: %s %v, want %s %q", tc, key, err, tc.key, tc.want)
		}
	}
}
