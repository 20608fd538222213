package homeassistant_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/iogate/iogate/homeassistant"
)

func TestPointClasses(t *testing.T) {
	for _, tc := range []struct {
		typ, unit, dc, sc string
		wantDC, wantSC    string
		errKey            string // "" for no error
		errText           string
	}{
		{typ: "uint16", unit: "V", wantDC: "voltage", wantSC: "measurement"},
		{typ: "int16", unit: "mV", wantDC: "voltage", wantSC: "measurement"},
		{typ: "int32", unit: "A", wantDC: "current", wantSC: "measurement"},
		{typ: "float32", unit: "W", wantDC: "power", wantSC: "measurement"},
		{typ: "uint32", unit: "Wh", wantDC: "energy", wantSC: "total_increasing"},
		{typ: "uint32", unit: "kWh", wantDC: "energy", wantSC: "total_increasing"},
		{typ: "int16", unit: "°C", wantDC: "temperature", wantSC: "measurement"},
		{typ: "uint16", unit: "Hz", wantDC: "frequency", wantSC: "measurement"},
		{typ: "uint16", unit: "µV", wantDC: "voltage", wantSC: "measurement"},
		{typ: "uint16", unit: "μV", wantDC: "voltage", wantSC: "measurement"}, // Greek mu
		// "%" is humidity, battery, moisture or power factor: only when said.
		{typ: "uint16", unit: "%", wantSC: "measurement"},
		{typ: "uint16", unit: "%", dc: "humidity", wantDC: "humidity", wantSC: "measurement"},
		{typ: "uint16", unit: "rpm", wantSC: "measurement"},
		{typ: "uint16", wantSC: "measurement"},
		// A state class that the derived class does not allow drops it.
		{typ: "uint32", unit: "kWh", sc: "measurement", wantSC: "measurement"},
		{typ: "uint32", unit: "kWh", sc: "total", wantDC: "energy", wantSC: "total"},
		{typ: "uint32", unit: "kWh", dc: "energy_storage", wantDC: "energy_storage", wantSC: "measurement"},
		{typ: "uint32", unit: "EUR", dc: "monetary", wantDC: "monetary", wantSC: "total"},
		{typ: "uint16", unit: "°", dc: "wind_direction", wantDC: "wind_direction", wantSC: "measurement_angle"},
		{typ: "uint16", unit: "°", sc: "measurement_angle", wantSC: "measurement_angle"},
		{typ: "uint16", dc: "aqi", wantDC: "aqi", wantSC: "measurement"},
		{typ: "bool", dc: "door", wantDC: "door"},
		{typ: "bool"},
		{typ: "string", dc: "timestamp", wantDC: "timestamp"},
		{typ: "string"},

		{typ: "uint32", unit: "kWh", dc: "energy", sc: "measurement", errKey: "state_class", errText: `"measurement" does not go with device_class "energy": Home Assistant allows total_increasing, total`},
		{typ: "uint16", unit: "kWh", dc: "power", errKey: "unit", errText: `"kWh" does not go with device_class "power"`},
		{typ: "uint16", dc: "voltage", errKey: "unit", errText: `device_class "voltage" needs a unit`},
		{typ: "uint16", unit: "V", dc: "volts", errKey: "device_class", errText: "not a sensor device class"},
		{typ: "uint16", unit: "V", sc: "average", errKey: "state_class", errText: "not one of measurement"},
		{typ: "uint16", unit: "V", sc: "measurement_angle", errKey: "unit", errText: `"V" does not go with state_class "measurement_angle"`},
		{typ: "uint16", dc: "timestamp", errKey: "device_class", errText: "not numeric"},
		{typ: "uint16", dc: "door", errKey: "device_class", errText: "not a sensor device class"},
		{typ: "bool", dc: "voltage", errKey: "device_class", errText: "binary_sensor"},
		{typ: "bool", sc: "measurement", errKey: "state_class", errText: "no state class"},
		{typ: "string", sc: "measurement", errKey: "state_class", errText: "no state class"},
		{typ: "string", dc: "enum", errKey: "device_class", errText: "date or a timestamp"},
	} {
		name := strings.Join([]string{tc.typ, tc.unit, tc.dc, tc.sc}, ",")
		dc, sc, err := homeassistant.PointClasses(tc.typ, tc.unit, tc.dc, tc.sc)
		var ce *homeassistant.ClassError
		switch {
		case tc.errKey == "" && err != nil:
			t.Errorf("%s: %v", name, err)
		case tc.errKey != "" && !errors.As(err, &ce):
			t.Errorf("%s: %v (%s, %s), want a *ClassError about %s", name, err, dc, sc, tc.errKey)
		case tc.errKey != "" && (ce.Key != tc.errKey || !strings.Contains(err.Error(), tc.errText)):
			t.Errorf("%s: error about %s: %v; want about %s saying %q", name, ce.Key, err, tc.errKey, tc.errText)
		case tc.errKey == "" && (dc != tc.wantDC || sc != tc.wantSC):
			t.Errorf("%s: %q %q, want %q %q", name, dc, sc, tc.wantDC, tc.wantSC)
		}
	}
}

// Every table is consistent: each device class has its units and state
// classes, and every derived pair is one Home Assistant allows.
func TestTables(t *testing.T) {
	for _, dc := range homeassistant.SensorDeviceClasses {
		if homeassistant.NonNumeric(dc) {
			continue
		}
		if !homeassistant.ValidDeviceClass("number", dc) {
			t.Errorf("%s is not a number class", dc)
		}
	}
	for _, class := range []string{"date", "enum", "timestamp"} {
		if homeassistant.ValidDeviceClass("number", class) || !homeassistant.ValidDeviceClass("sensor", class) {
			t.Errorf("%s: non-numeric classes are sensors' only", class)
		}
	}
	if !slices.Contains(homeassistant.BinarySensorDeviceClasses, "connectivity") || len(homeassistant.BinarySensorDeviceClasses) != 28 {
		t.Errorf("binary sensor classes: %v", homeassistant.BinarySensorDeviceClasses)
	}
	for _, unit := range []string{"V", "kV", "A", "mA", "W", "kW", "Wh", "kWh", "MWh", "°C", "°F", "K", "Hz", "VA", "var", "Pa", "bar", "lx"} {
		dc, sc, err := homeassistant.PointClasses("uint16", unit, "", "")
		if err != nil || dc == "" {
			t.Errorf("%s: %q %q %v", unit, dc, sc, err)
			continue
		}
		if homeassistant.CheckUnit(dc, unit) != nil || !homeassistant.StateClassAllowed(dc, sc) {
			t.Errorf("%s derives %s/%s, which Home Assistant refuses", unit, dc, sc)
		}
	}
	if !homeassistant.ValidDeviceClass("switch", "outlet") || homeassistant.ValidDeviceClass("light", "switch") {
		t.Error("switch classes")
	}
}
