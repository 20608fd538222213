package config_test

import (
	"strings"
	"testing"

	"github.com/iogate/iogate/config"
)

func TestHomeAssistant(t *testing.T) {
	c, err := config.Parse("t.toml", []byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	if c.HomeAssistant != (config.HomeAssistant{Discovery: false, Prefix: "homeassistant"}) {
		t.Errorf("defaults: %+v", c.HomeAssistant)
	}
	c, err = config.Parse("t.toml", []byte(minimal+"[homeassistant]\ndiscovery = true\nprefix = \"site/ha\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.HomeAssistant != (config.HomeAssistant{Discovery: true, Prefix: "site/ha"}) {
		t.Errorf("values: %+v", c.HomeAssistant)
	}
	for _, tc := range []struct{ text, want string }{
		{"[homeassistant]\nprefix = \"\"\n", "t.toml:9: homeassistant.prefix: must not be empty"},
		{"[homeassistant]\nprefix = \"ha/#\"\n", "t.toml:9: homeassistant.prefix: \"ha/#\": MQTT wildcards"},
		{"[homeassistant]\nprefix = \"ha/+/x\"\n", "t.toml:9: homeassistant.prefix:"},
		{"[homeassistant]\nprefix = \"ha/\"\n", "t.toml:9: homeassistant.prefix: \"ha/\": must not begin or end with '/'"},
		{"[homeassistant]\nprefix = \"$SYS\"\n", "t.toml:9: homeassistant.prefix: \"$SYS\": topics beginning with '$'"},
		{"[homeassistant]\ndiscovery = \"yes\"\n", "t.toml:9: homeassistant.discovery:"},
		{"[homeassistant]\ndiscover = true\n", "t.toml:9: homeassistant.discover: unknown key"},
	} {
		_, err := config.Parse("t.toml", []byte(minimal+tc.text))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.text, err, tc.want)
		}
	}
}
