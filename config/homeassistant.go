package config

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/iogate/iogate/homeassistant"
)

// HomeAssistant is the [homeassistant] table: MQTT discovery.
type HomeAssistant struct {
	Discovery bool   // announce the gateway's entities
	Prefix    string // Home Assistant's discovery prefix
}

type homeAssistantFile struct {
	Discovery bool   `toml:"discovery"`
	Prefix    string `toml:"prefix"`
}

func (f *homeAssistantFile) setDefaults() { f.Prefix = "homeassistant" }

func (v *validator) homeAssistant(c *Config, f *homeAssistantFile) {
	if err := checkDiscoveryPrefix(f.Prefix); err != nil {
		v.add("homeassistant.prefix", err)
	}
	c.HomeAssistant = HomeAssistant{Discovery: f.Discovery, Prefix: f.Prefix}
}

// checkDiscoveryPrefix accepts a topic to publish under: no wildcards, no
// empty level at either end.
func checkDiscoveryPrefix(p string) error {
	switch {
	case p == "":
		return errors.New("must not be empty (Home Assistant's default is \"homeassistant\")")
	case !utf8.ValidString(p) || strings.ContainsRune(p, 0):
		return fmt.Errorf("%q is not a valid MQTT topic", p)
	case strings.ContainsAny(p, "+#"):
		return fmt.Errorf("%q: MQTT wildcards '+' and '#' cannot be in a topic", p)
	case strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/"):
		return fmt.Errorf("%q: must not begin or end with '/'", p)
	case strings.HasPrefix(p, "$"):
		return fmt.Errorf("%q: topics beginning with '$' are the broker's", p)
	}
	return nil
}

// checkDeviceClass accepts a device class Home Assistant knows for
// component ("sensor", "binary_sensor", "number" or "switch"), or "".
func checkDeviceClass(component, class string) error {
	if class == "" || homeassistant.ValidDeviceClass(component, class) {
		return nil
	}
	return fmt.Errorf("%q is not a %s device class of Home Assistant", class, component)
}

// checkPointClasses checks a Modbus point's device_class and state_class
// against its type and unit by Home Assistant's rules, and returns the key
// at fault ("device_class", "state_class" or "unit") with the error.
func checkPointClasses(typ, unit, deviceClass, stateClass string) (key string, err error) {
	_, _, err = homeassistant.PointClasses(typ, unit, deviceClass, stateClass)
	if err == nil {
		return "", nil
	}
	var ce *homeassistant.ClassError
	if errors.As(err, &ce) {
		return ce.Key, ce.Err
	}
	return "device_class", err
}
