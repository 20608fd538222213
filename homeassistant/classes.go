package homeassistant

import (
	"fmt"
	"slices"
	"strings"
)

// The tables below are Home Assistant 2025.5's: SensorDeviceClass,
// SensorStateClass, DEVICE_CLASS_UNITS, DEVICE_CLASS_STATE_CLASSES and
// STATE_CLASS_UNITS from homeassistant/components/sensor/const.py
// (home-assistant/core 3fd1a330), the units from homeassistant/const.py
// (2025.5.0b6), and BinarySensorDeviceClass from
// homeassistant/components/binary_sensor/__init__.py. Units are spelled as
// Home Assistant spells them, with "µ" (U+00B5) except in "μs" (U+03BC);
// comparisons accept either sign.

// SensorDeviceClasses are the device classes Home Assistant accepts for a
// sensor. Read only.
var SensorDeviceClasses = []string{
	"date", "enum", "timestamp",
	"apparent_power", "aqi", "area", "atmospheric_pressure", "battery",
	"blood_glucose_concentration", "carbon_monoxide", "carbon_dioxide", "conductivity",
	"current", "data_rate", "data_size", "distance", "duration", "energy",
	"energy_distance", "energy_storage", "frequency", "gas", "humidity", "illuminance",
	"irradiance", "moisture", "monetary", "nitrogen_dioxide", "nitrogen_monoxide",
	"nitrous_oxide", "ozone", "ph", "pm1", "pm10", "pm25", "power_factor", "power",
	"precipitation", "precipitation_intensity", "pressure", "reactive_power",
	"signal_strength", "sound_pressure", "speed", "sulphur_dioxide", "temperature",
	"volatile_organic_compounds", "volatile_organic_compounds_parts", "voltage",
	"volume", "volume_storage", "volume_flow_rate", "water", "weight",
	"wind_direction", "wind_speed",
}

// nonNumericClasses are the sensor device classes whose state is not a
// number (NON_NUMERIC_DEVICE_CLASSES): no unit, no state class.
var nonNumericClasses = []string{"date", "enum", "timestamp"}

// BinarySensorDeviceClasses are the device classes Home Assistant accepts
// for a binary_sensor. Read only.
var BinarySensorDeviceClasses = []string{
	"battery", "battery_charging", "carbon_monoxide", "cold", "connectivity", "door",
	"garage_door", "gas", "heat", "light", "lock", "moisture", "motion", "moving",
	"occupancy", "opening", "plug", "power", "presence", "problem", "running", "safety",
	"smoke", "sound", "tamper", "update", "vibration", "window",
}

// SwitchDeviceClasses are the device classes of a switch.
var SwitchDeviceClasses = []string{"outlet", "switch"}

// StateClasses are the state classes Home Assistant accepts for a sensor.
// Read only.
var StateClasses = []string{"measurement", "measurement_angle", "total", "total_increasing"}

// Units of homeassistant/const.py, by enum.
var (
	unitsApparentPower  = []string{"VA"}
	unitsArea           = []string{"m²", "cm²", "km²", "mm²", "in²", "ft²", "yd²", "mi²", "ac", "ha"}
	unitsBloodGlucose   = []string{"mg/dL", "mmol/L"}
	unitsConductivity   = []string{"S/cm", "µS/cm", "mS/cm"}
	unitsCurrent        = []string{"mA", "A"}
	unitsDataRate       = []string{"bit/s", "kbit/s", "Mbit/s", "Gbit/s", "B/s", "kB/s", "MB/s", "GB/s", "KiB/s", "MiB/s", "GiB/s"}
	unitsEnergy         = []string{"J", "kJ", "MJ", "GJ", "mWh", "Wh", "kWh", "MWh", "GWh", "TWh", "cal", "kcal", "Mcal", "Gcal"}
	unitsEnergyDistance = []string{"kWh/100km", "mi/kWh", "km/kWh"}
	unitsFrequency      = []string{"Hz", "kHz", "MHz", "GHz"}
	unitsInformation    = []string{"bit", "kbit", "Mbit", "Gbit", "B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"}
	unitsIrradiance     = []string{"W/m²", "BTU/(h⋅ft²)"}
	unitsLength         = []string{"mm", "cm", "m", "km", "in", "ft", "yd", "mi", "nmi"}
	unitsMass           = []string{"g", "kg", "mg", "µg", "oz", "lb", "st"}
	unitsPotential      = []string{"µV", "mV", "V", "kV", "MV"}
	unitsPrecipitation  = []string{"in", "mm", "cm"}
	unitsPressure       = []string{"Pa", "hPa", "kPa", "bar", "cbar", "mbar", "mmHg", "inHg", "psi"}
	unitsReactivePower  = []string{"var", "kvar"}
	unitsSoundPressure  = []string{"dB", "dBA"}
	unitsSpeed          = []string{"Beaufort", "ft/s", "in/s", "m/s", "km/h", "kn", "mph", "mm/s"}
	unitsTemperature    = []string{"°C", "°F", "K"}
	unitsVolume         = []string{"ft³", "CCF", "m³", "L", "mL", "gal", "fl. oz."}
	unitsVolumeFlowRate = []string{"m³/h", "m³/s", "ft³/min", "L/h", "L/min", "L/s", "gal/min", "mL/s"}
	unitsVolumetricFlux = []string{"in/d", "in/h", "mm/d", "mm/h"}
	microgramsPerM3     = []string{"µg/m³"}
)

// deviceClassUnits is DEVICE_CLASS_UNITS: the units a device class allows,
// "" standing for None (no unit). A class not listed takes any unit.
var deviceClassUnits = map[string][]string{
	"apparent_power":                   unitsApparentPower,
	"aqi":                              {""},
	"area":                             unitsArea,
	"atmospheric_pressure":             unitsPressure,
	"battery":                          {"%"},
	"blood_glucose_concentration":      unitsBloodGlucose,
	"carbon_monoxide":                  {"ppm"},
	"carbon_dioxide":                   {"ppm"},
	"conductivity":                     unitsConductivity,
	"current":                          unitsCurrent,
	"data_rate":                        unitsDataRate,
	"data_size":                        unitsInformation,
	"distance":                         unitsLength,
	"duration":                         {"d", "h", "min", "s", "ms", "μs"},
	"energy":                           unitsEnergy,
	"energy_distance":                  unitsEnergyDistance,
	"energy_storage":                   unitsEnergy,
	"frequency":                        unitsFrequency,
	"gas":                              {"CCF", "ft³", "m³", "L"},
	"humidity":                         {"%"},
	"illuminance":                      {"lx"},
	"irradiance":                       unitsIrradiance,
	"moisture":                         {"%"},
	"nitrogen_dioxide":                 microgramsPerM3,
	"nitrogen_monoxide":                microgramsPerM3,
	"nitrous_oxide":                    microgramsPerM3,
	"ozone":                            microgramsPerM3,
	"ph":                               {""},
	"pm1":                              microgramsPerM3,
	"pm10":                             microgramsPerM3,
	"pm25":                             microgramsPerM3,
	"power_factor":                     {"%", ""},
	"power":                            {"mW", "W", "kW", "MW", "GW", "TW"},
	"precipitation":                    unitsPrecipitation,
	"precipitation_intensity":          unitsVolumetricFlux,
	"pressure":                         unitsPressure,
	"reactive_power":                   unitsReactivePower,
	"signal_strength":                  {"dB", "dBm"},
	"sound_pressure":                   unitsSoundPressure,
	"speed":                            slices.Concat(unitsSpeed, unitsVolumetricFlux),
	"sulphur_dioxide":                  microgramsPerM3,
	"temperature":                      unitsTemperature,
	"volatile_organic_compounds":       microgramsPerM3,
	"volatile_organic_compounds_parts": {"ppb", "ppm"},
	"voltage":                          unitsPotential,
	"volume":                           unitsVolume,
	"volume_flow_rate":                 unitsVolumeFlowRate,
	"volume_storage":                   unitsVolume,
	"water":                            {"CCF", "ft³", "m³", "gal", "L"},
	"weight":                           unitsMass,
	"wind_direction":                   {"°"},
	"wind_speed":                       unitsSpeed,
}

var measurement = []string{"measurement"}

// deviceClassStateClasses is DEVICE_CLASS_STATE_CLASSES: the state classes
// a device class allows. Listed in order of preference: the first is the
// one a point gets when it names the device class but no state class.
var deviceClassStateClasses = map[string][]string{
	"apparent_power":                   measurement,
	"aqi":                              measurement,
	"area":                             StateClasses,
	"atmospheric_pressure":             measurement,
	"battery":                          measurement,
	"blood_glucose_concentration":      measurement,
	"carbon_monoxide":                  measurement,
	"carbon_dioxide":                   measurement,
	"conductivity":                     measurement,
	"current":                          measurement,
	"data_rate":                        measurement,
	"data_size":                        StateClasses,
	"date":                             {},
	"distance":                         StateClasses,
	"duration":                         StateClasses,
	"energy":                           {"total_increasing", "total"},
	"energy_distance":                  measurement,
	"energy_storage":                   measurement,
	"enum":                             {},
	"frequency":                        measurement,
	"gas":                              {"total_increasing", "total"},
	"humidity":                         measurement,
	"illuminance":                      measurement,
	"irradiance":                       measurement,
	"moisture":                         measurement,
	"monetary":                         {"total"},
	"nitrogen_dioxide":                 measurement,
	"nitrogen_monoxide":                measurement,
	"nitrous_oxide":                    measurement,
	"ozone":                            measurement,
	"ph":                               measurement,
	"pm1":                              measurement,
	"pm10":                             measurement,
	"pm25":                             measurement,
	"power_factor":                     measurement,
	"power":                            measurement,
	"precipitation":                    StateClasses,
	"precipitation_intensity":          measurement,
	"pressure":                         measurement,
	"reactive_power":                   measurement,
	"signal_strength":                  measurement,
	"sound_pressure":                   measurement,
	"speed":                            measurement,
	"sulphur_dioxide":                  measurement,
	"temperature":                      measurement,
	"timestamp":                        {},
	"volatile_organic_compounds":       measurement,
	"volatile_organic_compounds_parts": measurement,
	"voltage":                          measurement,
	"volume":                           {"total_increasing", "total"},
	"volume_storage":                   measurement,
	"volume_flow_rate":                 measurement,
	"water":                            {"total_increasing", "total"},
	"weight":                           {"measurement", "total", "total_increasing"},
	"wind_direction":                   {"measurement_angle"},
	"wind_speed":                       measurement,
}

// stateClassUnits is STATE_CLASS_UNITS: state classes that allow only
// some units.
var stateClassUnits = map[string][]string{"measurement_angle": {"°"}}

// derived maps the units whose meaning is unambiguous to the device class
// and state class a point with that unit gets. "%" is not here: it is
// humidity, battery, moisture or a power factor, so a point must say which.
var derived = map[string][2]string{}

func init() {
	for class, units := range map[string][]string{
		"voltage":        unitsPotential,
		"current":        unitsCurrent,
		"power":          deviceClassUnits["power"],
		"energy":         {"mWh", "Wh", "kWh", "MWh", "GWh", "TWh"},
		"temperature":    unitsTemperature,
		"frequency":      unitsFrequency,
		"apparent_power": unitsApparentPower,
		"reactive_power": unitsReactivePower,
		"pressure":       unitsPressure,
		"illuminance":    {"lx"},
	} {
		for _, u := range units {
			derived[u] = [2]string{class, deviceClassStateClasses[class][0]}
		}
	}
}

// ValidDeviceClass reports whether Home Assistant knows class as a device
// class of component: "sensor", "binary_sensor", "number" or "switch".
func ValidDeviceClass(component, class string) bool {
	switch component {
	case "sensor":
		return slices.Contains(SensorDeviceClasses, class)
	case "number":
		// NumberDeviceClass is SensorDeviceClass without the non-numeric classes.
		return slices.Contains(SensorDeviceClasses, class) && !slices.Contains(nonNumericClasses, class)
	case "binary_sensor":
		return slices.Contains(BinarySensorDeviceClasses, class)
	case "switch":
		return slices.Contains(SwitchDeviceClasses, class)
	}
	return false
}

// ClassError is a point whose device class, state class or unit Home
// Assistant would refuse. Key names the point's setting at fault:
// "device_class", "state_class" or "unit".
type ClassError struct {
	Key string
	Err error
}

func (e *ClassError) Error() string { return e.Err.Error() }
func (e *ClassError) Unwrap() error { return e.Err }

func classErrorf(key, format string, args ...any) *ClassError {
	return &ClassError{Key: key, Err: fmt.Errorf(format, args...)}
}

// PointClasses resolves the device class and state class a Modbus point is
// announced with, by Home Assistant's rules, from its type, its unit and
// its own device_class and state_class settings ("" when not set).
//
// A bool point is a binary_sensor: its device class must be a binary
// sensor's, and it has no state class. A string point may be a date or a
// timestamp, nothing numeric. A numeric point with neither setting gets
// what its unit implies where the unit is unambiguous (V voltage, A current,
// W power, Wh and kWh energy counting up, °C temperature...), else the
// state class measurement; a device_class setting replaces the derived one
// and brings its usual state class; a state_class setting is kept, and a
// derived device class that does not allow it is dropped. A combination
// Home Assistant refuses (energy with measurement, power in kWh, a
// measurement_angle not in °) is a *ClassError.
func PointClasses(typ, unit, deviceClass, stateClass string) (device, state string, err error) {
	switch typ {
	case "bool":
		if deviceClass != "" && !ValidDeviceClass("binary_sensor", deviceClass) {
			return "", "", classErrorf("device_class", "%q is not a binary_sensor device class of Home Assistant (a bool point is a binary_sensor)", deviceClass)
		}
		if stateClass != "" {
			return "", "", classErrorf("state_class", "a bool point is a binary_sensor, which has no state class")
		}
		return deviceClass, "", nil
	case "string":
		if stateClass != "" {
			return "", "", classErrorf("state_class", "a string point is not numeric and has no state class")
		}
		if deviceClass != "" && deviceClass != "date" && deviceClass != "timestamp" {
			return "", "", classErrorf("device_class", "%q: a string point can only be a date or a timestamp", deviceClass)
		}
		return deviceClass, "", nil
	}
	if stateClass != "" && !slices.Contains(StateClasses, stateClass) {
		return "", "", classErrorf("state_class", "%q is not one of %s", stateClass, strings.Join(StateClasses, ", "))
	}
	if err := checkStateClassUnit(stateClass, unit); err != nil {
		return "", "", err
	}
	if deviceClass == "" {
		d, ok := derived[normalizeUnit(unit)]
		switch {
		case stateClass == "" && ok:
			return d[0], d[1], nil
		case stateClass == "":
			return "", "measurement", nil
		case ok && slices.Contains(deviceClassStateClasses[d[0]], stateClass):
			return d[0], stateClass, nil
		}
		return "", stateClass, nil
	}
	if !ValidDeviceClass("number", deviceClass) {
		if ValidDeviceClass("sensor", deviceClass) {
			return "", "", classErrorf("device_class", "%q is not numeric, and the point is a %s", deviceClass, typ)
		}
		return "", "", classErrorf("device_class", "%q is not a sensor device class of Home Assistant", deviceClass)
	}
	if err := CheckUnit(deviceClass, unit); err != nil {
		return "", "", err
	}
	allowed := deviceClassStateClasses[deviceClass]
	if stateClass == "" {
		return deviceClass, allowed[0], nil
	}
	if !slices.Contains(allowed, stateClass) {
		return "", "", classErrorf("state_class", "%q does not go with device_class %q: Home Assistant allows %s", stateClass, deviceClass, strings.Join(allowed, ", "))
	}
	return deviceClass, stateClass, nil
}

// CheckUnit reports, as a *ClassError about "unit", whether Home Assistant
// refuses unit ("" for none) with deviceClass.
func CheckUnit(deviceClass, unit string) error {
	allowed, ok := deviceClassUnits[deviceClass]
	if !ok || unitIn(unit, allowed) {
		return nil
	}
	if unit == "" {
		return classErrorf("unit", "device_class %q needs a unit: one of %s", deviceClass, quoteUnits(allowed))
	}
	return classErrorf("unit", "%q does not go with device_class %q: Home Assistant allows %s", unit, deviceClass, quoteUnits(allowed))
}

func checkStateClassUnit(stateClass, unit string) error {
	if allowed, ok := stateClassUnits[stateClass]; ok && !unitIn(unit, allowed) {
		return classErrorf("unit", "%q does not go with state_class %q: Home Assistant allows %s", unit, stateClass, quoteUnits(allowed))
	}
	return nil
}

// StateClassAllowed reports whether Home Assistant accepts stateClass with
// deviceClass: a device class it does not list takes any.
func StateClassAllowed(deviceClass, stateClass string) bool {
	allowed, ok := deviceClassStateClasses[deviceClass]
	return !ok || slices.Contains(allowed, stateClass)
}

// StateClassUnitAllowed reports whether stateClass accepts unit.
func StateClassUnitAllowed(stateClass, unit string) bool {
	return checkStateClassUnit(stateClass, unit) == nil
}

// NonNumeric reports whether a sensor of deviceClass has a state that is
// not a number, and so no unit and no state class.
func NonNumeric(deviceClass string) bool { return slices.Contains(nonNumericClasses, deviceClass) }

func unitIn(unit string, allowed []string) bool {
	u := normalizeUnit(unit)
	for _, a := range allowed {
		if normalizeUnit(a) == u {
			return true
		}
	}
	return false
}

// normalizeUnit spells the Greek mu as the micro sign: Home Assistant has
// used both.
func normalizeUnit(u string) string { return strings.ReplaceAll(u, "μ", "µ") }

func quoteUnits(units []string) string {
	q := make([]string, len(units))
	for i, u := range units {
		if u == "" {
			q[i] = "none"
		} else {
			q[i] = fmt.Sprintf("%q", u)
		}
	}
	return strings.Join(q, ", ")
}
