package config

import (
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Poll is one [[device.poll]]: bytes sent to the device on a schedule,
// whose reply (the next frame within Timeout) is published on
// <prefix>/<device>/<Name>.
type Poll struct {
	Name    string
	Send    []byte // send as written, or send_hex decoded
	Every   time.Duration
	Timeout time.Duration
}

type pollFile struct {
	Name    string   `toml:"name"`
	Send    *string  `toml:"send"`
	SendHex *string  `toml:"send_hex"`
	Every   Duration `toml:"every"`
	Timeout Duration `toml:"timeout"`
}

func defaultPoll() pollFile { return pollFile{Timeout: Duration(time.Second)} }

// minInterval is the shortest every of a poll or a slave: anything
// shorter is a mistyped unit, and would keep a line busy for nothing.
const minInterval = 10 * time.Millisecond

// deviceLevels are the topic levels under <prefix>/<device> that the
// gateway's own topics take: no poll or slave may be named so.
var deviceLevels = []string{"rx", "tx", "status", "error", "request", "reply"}

// decodeArray decodes each element of an array of tables nested in a
// decoded table, over the defaults fresh gives, into a slice. An element
// that does not decode is reported alone and marked failed, with its
// index in the result left at its defaults.
func decodeArray[T any](v *validator, md *toml.MetaData, key, name string, prims []toml.Primitive, fresh func() T, failed map[string]bool) []T {
	out := make([]T, len(prims))
	for i, prim := range prims {
		out[i] = fresh()
		k := key + "." + name + "." + strconv.Itoa(i)
		if err := md.PrimitiveDecode(prim, &out[i]); err != nil {
			field, msg := decodeMessage(err)
			v.add(strings.TrimSuffix(k+"."+field, "."), msg)
			failed[k] = true
		}
	}
	return out
}

// decodePolls decodes the [[device.poll]] tables of the device at key.
func decodePolls(v *validator, md *toml.MetaData, key string, f *deviceFile, failed map[string]bool) {
	f.polls = decodeArray(v, md, key, "poll", f.Poll, defaultPoll, failed)
}

// topicLevel checks a name that becomes a topic level below a device.
func (v *validator) topicLevel(key, name string, reserved []string) bool {
	switch {
	case name == "":
		v.addf(key, "required: a name of 1 to 64 letters, digits, '_' or '-'")
	case !namePattern.MatchString(name):
		v.addf(key, "%q: want 1 to 64 letters, digits, '_' or '-' (it becomes an MQTT topic level)", name)
	case slices.Contains(reserved, name):
		v.addf(key, "%q is a topic of the gateway's own here; not one of %s", name, strings.Join(reserved, ", "))
	default:
		return true
	}
	return false
}

// claim records that the element at key has name as its topic level
// among the others in names, and reports a name already taken.
func (v *validator) claim(names map[string]string, key, name string) {
	if other, dup := names[name]; dup {
		v.addf(key+".name", "%q is already the name of %s", name, displayKey(other))
		return
	}
	names[name] = key
}

// polls validates the device's polls into d; names are the topic levels
// taken under the device.
func (v *validator) polls(key string, f *deviceFile, d *Device, names map[string]string, failed map[string]bool) {
	for i, pf := range f.polls {
		k := key + ".poll." + strconv.Itoa(i)
		if failed[k] {
			continue
		}
		p := Poll{Name: pf.Name, Every: time.Duration(pf.Every), Timeout: time.Duration(pf.Timeout)}
		if v.topicLevel(k+".name", p.Name, deviceLevels) {
			v.claim(names, k, p.Name)
		}
		switch {
		case pf.Send != nil && pf.SendHex != nil:
			v.addf(k+".send_hex", "give send or send_hex, not both")
		case pf.Send != nil:
			p.Send = []byte(*pf.Send)
			if len(p.Send) == 0 {
				v.addf(k+".send", "must not be empty")
			}
		case pf.SendHex != nil:
			b, err := parseHex(*pf.SendHex)
			if err != nil {
				v.add(k+".send_hex", err)
			}
			p.Send = b
		default:
			v.addf(k, "a poll needs send (text, with TOML escapes) or send_hex (\"01 03 00 00 00 02 c4 0b\")")
		}
		if p.Every < minInterval {
			if pf.Every == 0 {
				v.addf(k+".every", "required: how often to send, at least 10ms (\"10s\")")
			} else {
				v.addf(k+".every", "%s: want at least 10ms", p.Every)
			}
		}
		if p.Timeout <= 0 {
			v.addf(k+".timeout", "%s: must be more than 0", p.Timeout)
		}
		d.Polls = append(d.Polls, p)
	}
}

// parseHex reads bytes written in hex, in pairs with or without spaces
// between them: "01 03 00 00", "01030000".
func parseHex(s string) ([]byte, error) {
	var out []byte
	for _, word := range strings.Fields(s) {
		b, err := hex.DecodeString(word)
		if err != nil {
			return nil, fmt.Errorf("%q: want bytes as pairs of hex digits, spaces between them optional (\"01 03 00 00\")", s)
		}
		out = append(out, b...)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("must not be empty")
	}
	return out, nil
}
