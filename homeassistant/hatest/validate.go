// Package hatest checks Home Assistant MQTT discovery messages the way
// Home Assistant's discovery reads them, for the tests of the packages that
// announce entities (homeassistant, the bridge, the integration tests).
//
// It is a test helper: it knows Home Assistant's schemas for the four
// components the gateway announces and nothing of MQTT, and it is stricter
// than Home Assistant where leniency would hide a bug of the gateway's.
package hatest

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/iogate/iogate/homeassistant"
)

// Validate checks a discovery message the way Home Assistant's MQTT
// discovery reads it (homeassistant/components/mqtt/discovery.py, 2025):
// the topic is matched, abbreviations are expanded at the top level, in
// each availability entry, in the device and in the origin, "~" is
// resolved in keys ending in "topic" and in availability topics, and the
// result is checked against the component's schema. It is stricter than
// Home Assistant in one way: a key the schema does not know is an error,
// where Home Assistant drops it silently, since it would be a bug here.
func Validate(prefix, topic string, payload []byte) error {
	component, err := matchTopic(prefix, topic)
	if err != nil {
		return err
	}
	var cfg map[string]any
	if err := json.Unmarshal(payload, &cfg); err != nil {
		return fmt.Errorf("%s: not a JSON object: %v", topic, err)
	}
	expand(cfg)
	if err := replaceBase(cfg); err != nil {
		return fmt.Errorf("%s: %v", topic, err)
	}
	var errs []error
	v := checker{cfg: cfg, errs: &errs}
	v.schema(component)
	if len(errs) > 0 {
		return fmt.Errorf("%s: %w", topic, errors.Join(errs...))
	}
	return nil
}

// topicMatcher is discovery.py's TOPIC_MATCHER, on the topic without its
// prefix.
var topicMatcher = regexp.MustCompile(`^(?P<component>\w+)/(?:(?P<node_id>[a-zA-Z0-9_-]+)/)?(?P<object_id>[a-zA-Z0-9_-]+)/config$`)

func matchTopic(prefix, topic string) (string, error) {
	rest, ok := strings.CutPrefix(topic, prefix+"/")
	if !ok {
		return "", fmt.Errorf("%s: not under the discovery prefix %q", topic, prefix)
	}
	m := topicMatcher.FindStringSubmatch(rest)
	if m == nil {
		return "", fmt.Errorf("%s: not <component>/[<node_id>/]<object_id>/config", topic)
	}
	switch m[1] {
	case homeassistant.Sensor, homeassistant.BinarySensor, homeassistant.Number, homeassistant.Switch:
		return m[1], nil
	}
	return "", fmt.Errorf("%s: component %q is not one the gateway announces", topic, m[1])
}

// The abbreviations of Home Assistant's abbreviations.py (home-assistant/core
// 911803b) for the keys of the four components announced here, and of the
// device and origin mappings.
var (
	abbreviations = map[string]string{
		"avty": "availability", "avty_mode": "availability_mode", "avty_t": "availability_topic",
		"avty_tpl": "availability_template", "cmd_t": "command_topic", "cmd_tpl": "command_template",
		"dev": "device", "dev_cla": "device_class", "e": "encoding", "en": "enabled_by_default",
		"ent_cat": "entity_category", "exp_aft": "expire_after", "frc_upd": "force_update",
		"ic": "icon", "json_attr_t": "json_attributes_topic", "json_attr_tpl": "json_attributes_template",
		"lrst_val_tpl": "last_reset_value_template", "max": "max", "min": "min", "mode": "mode",
		"name": "name", "obj_id": "object_id", "off_dly": "off_delay", "ops": "options",
		"opt": "optimistic", "pl_avail": "payload_available", "pl_not_avail": "payload_not_available",
		"pl_off": "payload_off", "pl_on": "payload_on", "pl_rst": "payload_reset", "ret": "retain",
		"stat_cla": "state_class", "stat_off": "state_off", "stat_on": "state_on",
		"stat_t": "state_topic", "step": "step", "t": "topic", "uniq_id": "unique_id",
		"unit_of_meas": "unit_of_measurement", "val_tpl": "value_template",
	}
	deviceAbbreviations = map[string]string{
		"cns": "connections", "cu": "configuration_url", "ids": "identifiers", "name": "name",
		"mf": "manufacturer", "mdl": "model", "hw": "hw_version", "sw": "sw_version", "sa": "suggested_area",
	}
	originAbbreviations = map[string]string{"name": "name", "sw": "sw_version", "url": "support_url"}
)

func replaceAbbreviations(m any, table map[string]string) {
	obj, ok := m.(map[string]any)
	if !ok {
		return
	}
	for short, long := range table {
		if v, ok := obj[short]; ok {
			delete(obj, short)
			obj[long] = v
		}
	}
}

func expand(cfg map[string]any) {
	replaceAbbreviations(cfg, abbreviations)
	for _, a := range ensureList(cfg["availability"]) {
		replaceAbbreviations(a, abbreviations)
	}
	replaceAbbreviations(cfg["origin"], originAbbreviations)
	replaceAbbreviations(cfg["device"], deviceAbbreviations)
}

func ensureList(v any) []any {
	switch v := v.(type) {
	case nil:
		return nil
	case []any:
		return v
	}
	return []any{v}
}

// replaceBase is discovery.py's _replace_topic_base.
func replaceBase(cfg map[string]any) error {
	raw, ok := cfg["~"]
	if !ok {
		return nil
	}
	delete(cfg, "~")
	base, ok := raw.(string)
	if !ok {
		return fmt.Errorf("~: want a string, have %v", raw)
	}
	subst := func(s string) string {
		if strings.HasPrefix(s, "~") {
			s = base + s[1:]
		}
		if strings.HasSuffix(s, "~") {
			s = s[:len(s)-1] + base
		}
		return s
	}
	for k, v := range cfg {
		if s, ok := v.(string); ok && s != "" && strings.HasSuffix(k, "topic") {
			cfg[k] = subst(s)
		}
	}
	for _, a := range ensureList(cfg["availability"]) {
		if obj, ok := a.(map[string]any); ok {
			if s, ok := obj["topic"].(string); ok && s != "" {
				obj["topic"] = subst(s)
			}
		}
	}
	return nil
}

type checker struct {
	cfg  map[string]any
	errs *[]error
}

func (c checker) addf(format string, args ...any) {
	*c.errs = append(*c.errs, fmt.Errorf(format, args...))
}

// Keys of MQTT_ENTITY_COMMON_SCHEMA and the availability schemas.
var commonKeys = []string{
	"availability", "availability_mode", "availability_template", "availability_topic",
	"payload_available", "payload_not_available", "device", "enabled_by_default",
	"entity_category", "entity_picture", "icon", "json_attributes_topic",
	"json_attributes_template", "name", "object_id", "default_entity_id", "origin", "unique_id",
	"qos", "encoding", "platform",
}

var componentKeys = map[string][]string{
	homeassistant.Sensor: {"state_topic", "value_template", "device_class", "expire_after", "force_update",
		"last_reset_value_template", "options", "suggested_display_precision", "state_class", "unit_of_measurement"},
	homeassistant.BinarySensor: {"state_topic", "value_template", "device_class", "expire_after",
		"force_update", "off_delay", "payload_on", "payload_off"},
	homeassistant.Number: {"command_topic", "command_template", "state_topic", "value_template", "retain",
		"optimistic", "device_class", "max", "min", "mode", "payload_reset", "step", "unit_of_measurement"},
	homeassistant.Switch: {"command_topic", "command_template", "state_topic", "value_template", "retain",
		"optimistic", "device_class", "payload_on", "payload_off", "state_on", "state_off"},
}

func (c checker) schema(component string) {
	for k := range c.cfg {
		if !slices.Contains(commonKeys, k) && !slices.Contains(componentKeys[component], k) {
			c.addf("%s: %s has no such key (Home Assistant would drop it)", k, component)
		}
	}
	c.str("name", false)
	if c.str("unique_id", true) == "" {
		c.addf("unique_id: required, for an entity of a device")
	}
	c.qos()
	c.entityCategory(component)
	c.availability()
	c.device()
	c.origin()
	for _, k := range []string{"value_template", "command_template", "payload_on", "payload_off", "state_on", "state_off", "payload_reset", "unit_of_measurement", "icon"} {
		c.str(k, false)
	}
	for _, k := range []string{"force_update", "retain", "optimistic", "enabled_by_default"} {
		if v, ok := c.cfg[k]; ok {
			if _, isBool := v.(bool); !isBool {
				c.addf("%s: want a boolean, have %v", k, v)
			}
		}
	}
	switch component {
	case homeassistant.Sensor:
		c.topic("state_topic", true, false)
		c.sensor()
	case homeassistant.BinarySensor:
		c.topic("state_topic", true, false)
		c.deviceClass(component)
	case homeassistant.Number:
		c.topic("command_topic", true, true)
		c.topic("state_topic", false, false)
		c.number()
	case homeassistant.Switch:
		c.topic("command_topic", true, true)
		c.topic("state_topic", false, false)
		c.deviceClass(component)
	}
}

func (c checker) str(key string, required bool) string {
	v, ok := c.cfg[key]
	if !ok {
		if required {
			c.addf("%s: required", key)
		}
		return ""
	}
	s, ok := v.(string)
	if !ok {
		c.addf("%s: want a string, have %v", key, v)
	}
	return s
}

func (c checker) topic(key string, required, publish bool) {
	if _, ok := c.cfg[key]; !ok && !required {
		return
	}
	if err := checkTopic(c.str(key, true), publish); err != nil {
		c.addf("%s: %v", key, err)
	}
}

// checkTopic is valid_subscribe_topic, or valid_publish_topic (no
// wildcards) when publish is set.
func checkTopic(t string, publish bool) error {
	switch {
	case t == "":
		return errors.New("an empty topic")
	case !utf8.ValidString(t) || strings.ContainsRune(t, 0):
		return fmt.Errorf("%q is not a valid topic", t)
	case len(t) > 65535:
		return errors.New("a topic of more than 65535 bytes")
	case publish && strings.ContainsAny(t, "+#"):
		return fmt.Errorf("%q: a topic to publish to has no wildcards", t)
	}
	for i, level := range strings.Split(t, "/") {
		if strings.Contains(level, "#") && (level != "#" || i != strings.Count(t, "/")) {
			return fmt.Errorf("%q: '#' must be the whole last level", t)
		}
		if strings.Contains(level, "+") && level != "+" {
			return fmt.Errorf("%q: '+' must be a whole level", t)
		}
	}
	return nil
}

func (c checker) qos() {
	if v, ok := c.cfg["qos"]; ok {
		if n, isNum := v.(float64); !isNum || (n != 0 && n != 1 && n != 2) {
			c.addf("qos: want 0, 1 or 2, have %v", v)
		}
	}
}

func (c checker) entityCategory(component string) {
	switch cat := c.str("entity_category", false); cat {
	case "", "diagnostic":
	case "config":
		if component == homeassistant.Sensor || component == homeassistant.BinarySensor {
			c.addf("entity_category: a %s cannot be a config entity", component)
		}
	default:
		c.addf("entity_category: %q is not config or diagnostic", cat)
	}
}

// availability is MQTT_AVAILABILITY_SCHEMA: availability_topic or a list
// of availability entries, not both.
func (c checker) availability() {
	_, single := c.cfg["availability_topic"]
	list, hasList := c.cfg["availability"]
	if single && hasList {
		c.addf("availability: availability and availability_topic exclude each other")
	}
	if single {
		c.topic("availability_topic", true, false)
	}
	if hasList {
		entries, ok := list.([]any)
		if !ok || len(entries) == 0 {
			c.addf("availability: want a list of topics, have %v", list)
		}
		for i, e := range entries {
			obj, ok := e.(map[string]any)
			if !ok {
				c.addf("availability[%d]: want a mapping, have %v", i, e)
				continue
			}
			ec := checker{cfg: obj, errs: c.errs}
			for k := range obj {
				if !slices.Contains([]string{"topic", "payload_available", "payload_not_available", "value_template"}, k) {
					c.addf("availability[%d].%s: no such key", i, k)
				}
			}
			if _, ok := obj["topic"]; !ok {
				c.addf("availability[%d].topic: required", i)
			} else if err := checkTopic(ec.str("topic", true), false); err != nil {
				c.addf("availability[%d].topic: %v", i, err)
			}
			ec.str("payload_available", false)
			ec.str("payload_not_available", false)
			ec.str("value_template", false)
		}
	}
	switch mode := c.str("availability_mode", false); mode {
	case "", "all", "any", "latest":
	default:
		c.addf("availability_mode: %q is not all, any or latest", mode)
	}
}

// device is MQTT_ENTITY_DEVICE_INFO_SCHEMA: identifiers or connections.
func (c checker) device() {
	raw, ok := c.cfg["device"]
	if !ok {
		c.addf("device: required here: every entity belongs to a device")
		return
	}
	dev, ok := raw.(map[string]any)
	if !ok {
		c.addf("device: want a mapping, have %v", raw)
		return
	}
	dc := checker{cfg: dev, errs: c.errs}
	known := []string{"connections", "configuration_url", "identifiers", "manufacturer", "model", "model_id",
		"name", "hw_version", "serial_number", "sw_version", "suggested_area", "via_device"}
	for k := range dev {
		if !slices.Contains(known, k) {
			c.addf("device.%s: no such key", k)
		}
	}
	ids := ensureList(dev["identifiers"])
	if len(ids) == 0 && dev["connections"] == nil {
		c.addf("device: needs identifiers or connections")
	}
	for i, id := range ids {
		if s, ok := id.(string); !ok || s == "" {
			c.addf("device.identifiers[%d]: want a non-empty string, have %v", i, id)
		}
	}
	for _, k := range []string{"name", "manufacturer", "model", "sw_version", "via_device"} {
		dc.str(k, false)
	}
}

// origin is MQTT_ORIGIN_INFO_SCHEMA.
func (c checker) origin() {
	raw, ok := c.cfg["origin"]
	if !ok {
		return
	}
	o, ok := raw.(map[string]any)
	if !ok {
		c.addf("origin: want a mapping, have %v", raw)
		return
	}
	oc := checker{cfg: o, errs: c.errs}
	if oc.str("name", true) == "" {
		c.addf("origin.name: required")
	}
	oc.str("sw_version", false)
	oc.str("support_url", false)
}

func (c checker) deviceClass(component string) string {
	dc := c.str("device_class", false)
	if dc != "" && !homeassistant.ValidDeviceClass(component, dc) {
		c.addf("device_class: %q is not a %s device class", dc, component)
	}
	return dc
}

// sensor is the sensor schema and validate_sensor_state_and_device_class_config,
// with the state class checked against the device class as the sensor
// entity does.
func (c checker) sensor() {
	dc := c.deviceClass(homeassistant.Sensor)
	sc := c.str("state_class", false)
	if sc != "" && !slices.Contains(homeassistant.StateClasses, sc) {
		c.addf("state_class: %q is not a state class", sc)
	}
	unit, hasUnit := c.cfg["unit_of_measurement"].(string)
	if _, ok := c.cfg["last_reset_value_template"]; ok && sc != "total" {
		c.addf("last_reset_value_template: only with state_class total")
	}
	if _, ok := c.cfg["options"]; ok {
		c.addf("options: the gateway announces no enum")
	}
	if homeassistant.NonNumeric(dc) && (hasUnit || sc != "") {
		c.addf("device_class %q is not numeric: no unit_of_measurement or state_class", dc)
	}
	if sc != "" && !homeassistant.StateClassUnitAllowed(sc, unit) {
		c.addf("unit_of_measurement %q does not go with state_class %q", unit, sc)
	}
	if v, ok := c.cfg["suggested_display_precision"]; ok {
		if n, isNum := v.(float64); !isNum || n < 0 || n != math.Trunc(n) {
			c.addf("suggested_display_precision: want a whole number from 0, have %v", v)
		}
	}
	if dc == "" || homeassistant.NonNumeric(dc) {
		return
	}
	// Home Assistant's discovery lets a missing unit pass and the sensor
	// then warns that None is not a unit of the class: both are refused here.
	if err := homeassistant.CheckUnit(dc, unit); err != nil {
		c.addf("unit_of_measurement: %v", err)
	}
	if sc != "" && !homeassistant.StateClassAllowed(dc, sc) {
		c.addf("state_class %q does not go with device_class %q", sc, dc)
	}
}

// number is the number schema and its validate_config.
func (c checker) number() {
	dc := c.deviceClass(homeassistant.Number)
	num := func(key string, def float64) float64 {
		v, ok := c.cfg[key]
		if !ok {
			return def
		}
		n, isNum := v.(float64)
		if !isNum {
			c.addf("%s: want a number, have %v", key, v)
		}
		return n
	}
	lo, hi, step := num("min", 1), num("max", 100), num("step", 1)
	if lo >= hi {
		c.addf("max must be > min: min %v, max %v", lo, hi)
	}
	if step < 1e-3 {
		c.addf("step: %v is less than 0.001", step)
	}
	switch mode := c.str("mode", false); mode {
	case "", "auto", "box", "slider":
	default:
		c.addf("mode: %q is not auto, box or slider", mode)
	}
	if unit, ok := c.cfg["unit_of_measurement"].(string); ok && dc != "" {
		if err := homeassistant.CheckUnit(dc, unit); err != nil {
			c.addf("unit_of_measurement: %v", err)
		}
	}
}
