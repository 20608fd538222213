package homeassistant

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math"
	"strconv"
	"strings"
)

// Home Assistant components the gateway announces.
const (
	Sensor       = "sensor"
	BinarySensor = "binary_sensor"
	Number       = "number"
	Switch       = "switch"
)

// Payloads of the gateway's topics that entities match.
const (
	online  = "online"
	offline = "offline"
	// A bool point is published as the JSON scalar true or false, and its
	// set topic takes the same.
	jsonTrue  = "true"
	jsonFalse = "false"
)

// HA keeps at most 255 characters of a state; longer frames are cut rather
// than ignored.
const maxState = 255

// ConfigTopic is where the config of the entity objectID of component is
// announced: <prefix>/<component>/<object_id>/config, the object id being
// the entity's unique_id.
func ConfigTopic(prefix, component, objectID string) string {
	return prefix + "/" + component + "/" + objectID + "/config"
}

// StatusTopic is Home Assistant's own status topic under prefix, where it
// publishes "online" when it starts (its birth message) and "offline"
// when it stops.
func StatusTopic(prefix string) string { return prefix + "/status" }

// IsBirth reports whether a message is Home Assistant's birth message under
// prefix: after it, every config must be published again, because a Home
// Assistant that started without a retained config has not seen it.
func IsBirth(prefix, topic string, payload []byte) bool {
	return topic == StatusTopic(prefix) && string(payload) == online
}

// Configs returns the discovery message of every entity of g, in the
// order of g's devices, slaves and points, each to be published retained
// under prefix (Home Assistant's discovery prefix, "homeassistant" unless
// it was changed there). It allocates afresh each time; it is meant for a
// connect, a reload and Home Assistant's birth message.
//
// Every entity has a unique_id made of the gateway id and the names of its
// device, slave and point, which is also its object id in the topic, so
// that it does not depend on the order of the configuration. Serial, file
// and TCP devices are entities of the gateway's own device; each Modbus
// slave is a device of its own, reached via the gateway.
func Configs(prefix string, g *Gateway) []Message {
	b := newBuilder(g)
	for i := range g.Devices {
		b.device(&g.Devices[i])
	}
	return b.messages(prefix)
}

// entity is one entity before its payload is encoded.
type entity struct {
	component string
	path      []string // gateway, device, slave, point, kind: its identity
	payload   payload
}

// payload is a discovery config with Home Assistant's key names; the field
// order is the order in the JSON.
type payload struct {
	Name                      string         `json:"name"`
	UniqueID                  string         `json:"unique_id"`
	StateTopic                string         `json:"state_topic,omitempty"`
	CommandTopic              string         `json:"command_topic,omitempty"`
	ValueTemplate             string         `json:"value_template,omitempty"`
	PayloadOn                 string         `json:"payload_on,omitempty"`
	PayloadOff                string         `json:"payload_off,omitempty"`
	StateOn                   string         `json:"state_on,omitempty"`
	StateOff                  string         `json:"state_off,omitempty"`
	Min                       *float64       `json:"min,omitempty"`
	Max                       *float64       `json:"max,omitempty"`
	Step                      *float64       `json:"step,omitempty"`
	DeviceClass               string         `json:"device_class,omitempty"`
	StateClass                string         `json:"state_class,omitempty"`
	UnitOfMeasurement         string         `json:"unit_of_measurement,omitempty"`
	SuggestedDisplayPrecision *int           `json:"suggested_display_precision,omitempty"`
	EntityCategory            string         `json:"entity_category,omitempty"`
	QoS                       int            `json:"qos"`
	Availability              []availability `json:"availability"`
	AvailabilityMode          string         `json:"availability_mode"`
	Device                    *deviceInfo    `json:"device"`
	Origin                    *origin        `json:"origin"`
}

type availability struct {
	Topic               string `json:"topic"`
	PayloadAvailable    string `json:"payload_available"`
	PayloadNotAvailable string `json:"payload_not_available"`
}

type deviceInfo struct {
	Identifiers  []string `json:"identifiers"`
	Name         string   `json:"name"`
	Manufacturer string   `json:"manufacturer,omitempty"`
	Model        string   `json:"model,omitempty"`
	SWVersion    string   `json:"sw_version,omitempty"`
	ViaDevice    string   `json:"via_device,omitempty"`
}

type origin struct {
	Name      string `json:"name"`
	SWVersion string `json:"sw_version,omitempty"`
}

type builder struct {
	g        *Gateway
	gateway  *deviceInfo
	origin   *origin
	entities []entity
}

func newBuilder(g *Gateway) *builder {
	name := g.Name
	if name == "" {
		name = g.ID
	}
	return &builder{
		g: g,
		gateway: &deviceInfo{
			Identifiers:  []string{deviceID(g.ID)},
			Name:         name,
			Manufacturer: "iogate",
			Model:        "iogate gateway",
			SWVersion:    g.Version,
		},
		origin: &origin{Name: "iogate", SWVersion: g.Version},
	}
}

// deviceID is the identifier of the device of the gateway, or of one of
// its slaves with the device and slave names.
func deviceID(parts ...string) string { return "iogate_" + joinID(parts) }

func (b *builder) availability(topics ...string) []availability {
	av := make([]availability, 0, 1+len(topics))
	for _, t := range append([]string{b.g.StatusTopic}, topics...) {
		if t != "" {
			av = append(av, availability{Topic: t, PayloadAvailable: online, PayloadNotAvailable: offline})
		}
	}
	return av
}

func (b *builder) add(component string, dev *deviceInfo, path []string, p payload) {
	p.QoS = QoS
	p.AvailabilityMode = "all"
	p.Device = dev
	p.Origin = b.origin
	b.entities = append(b.entities, entity{component: component, path: append([]string{b.g.ID}, path...), payload: p})
}

func (b *builder) device(d *Device) {
	if d.StatusTopic != "" {
		// Its own status is its state: it is not also in its availability,
		// or it could never show "disconnected".
		b.add(BinarySensor, b.gateway, []string{d.Name, "status"}, payload{
			Name:           d.Name + " status",
			StateTopic:     d.StatusTopic,
			PayloadOn:      online,
			PayloadOff:     offline,
			DeviceClass:    "connectivity",
			EntityCategory: "diagnostic",
			Availability:   b.availability(),
		})
	}
	if d.RxTopic != "" {
		b.add(Sensor, b.gateway, []string{d.Name, "rx"}, payload{
			Name:          d.Name + " frame",
			StateTopic:    d.RxTopic,
			ValueTemplate: frameTemplate(d.Encoding),
			Availability:  b.availability(d.StatusTopic),
		})
	}
	for _, p := range d.Polls {
		if p.StateTopic == "" {
			continue
		}
		b.add(Sensor, b.gateway, []string{d.Name, p.Name}, payload{
			Name:          d.Name + " " + p.Name,
			StateTopic:    p.StateTopic,
			ValueTemplate: frameTemplate(d.Encoding),
			Availability:  b.availability(d.StatusTopic),
		})
	}
	for i := range d.Slaves {
		b.slave(d, &d.Slaves[i])
	}
}

// frameTemplate picks a frame's text out of a payload in the device's
// encoding, cut to what Home Assistant keeps.
func frameTemplate(encoding string) string {
	if encoding == "json" {
		return "{{ value_json.data[:" + strconv.Itoa(maxState) + "] }}"
	}
	return "{{ value[:" + strconv.Itoa(maxState) + "] }}"
}

func (b *builder) slave(d *Device, s *Slave) {
	dev := &deviceInfo{
		Identifiers: []string{deviceID(b.g.ID, d.Name, s.Name)},
		Name:        d.Name + " " + s.Name,
		Model:       "Modbus slave " + strconv.Itoa(s.ID),
		ViaDevice:   b.gateway.Identifiers[0],
	}
	if s.StatusTopic != "" {
		b.add(BinarySensor, dev, []string{d.Name, s.Name, "status"}, payload{
			Name:           "status",
			StateTopic:     s.StatusTopic,
			PayloadOn:      online,
			PayloadOff:     offline,
			DeviceClass:    "connectivity",
			EntityCategory: "diagnostic",
			Availability:   b.availability(d.StatusTopic),
		})
	}
	for i := range s.Points {
		b.point(d, s, dev, &s.Points[i])
	}
}

func (b *builder) point(d *Device, s *Slave, dev *deviceInfo, p *Point) {
	if p.StateTopic == "" {
		return
	}
	av := b.availability(s.StatusTopic)
	path := []string{d.Name, s.Name, p.Name}
	deviceClass, stateClass, err := PointClasses(p.Type, p.Unit, p.DeviceClass, p.StateClass)
	if err != nil {
		// The configuration refuses such a point; without the classes it
		// is one Home Assistant accepts.
		deviceClass, stateClass = "", ""
		if p.Type != "bool" && p.Type != "string" {
			stateClass = "measurement"
		}
	}
	switch p.Type {
	case "bool":
		b.add(BinarySensor, dev, path, payload{
			Name:         p.Name,
			StateTopic:   p.StateTopic,
			PayloadOn:    jsonTrue,
			PayloadOff:   jsonFalse,
			DeviceClass:  deviceClass,
			Availability: av,
		})
		if p.Writable && p.SetTopic != "" {
			b.add(Switch, dev, append(path, "set"), payload{
				Name:         p.Name,
				StateTopic:   p.StateTopic,
				CommandTopic: p.SetTopic,
				PayloadOn:    jsonTrue,
				PayloadOff:   jsonFalse,
				StateOn:      jsonTrue,
				StateOff:     jsonFalse,
				Availability: av,
			})
		}
		return
	case "string":
		b.add(Sensor, dev, path, payload{
			Name:          p.Name,
			StateTopic:    p.StateTopic,
			ValueTemplate: "{{ value_json }}",
			DeviceClass:   deviceClass,
			Availability:  av,
		})
		return
	}
	b.add(Sensor, dev, path, payload{
		Name:                      p.Name,
		StateTopic:                p.StateTopic,
		DeviceClass:               deviceClass,
		StateClass:                stateClass,
		UnitOfMeasurement:         p.Unit,
		SuggestedDisplayPrecision: precision(p),
		Availability:              av,
	})
	if p.Writable && p.SetTopic != "" && p.Table == "holding" {
		lo, hi, step, ok := numberRange(p)
		if !ok {
			return
		}
		b.add(Number, dev, append(path, "set"), payload{
			Name:              p.Name,
			StateTopic:        p.StateTopic,
			CommandTopic:      p.SetTopic,
			Min:               &lo,
			Max:               &hi,
			Step:              &step,
			DeviceClass:       deviceClass,
			UnitOfMeasurement: p.Unit,
			Availability:      av,
		})
	}
}

// rawRange is the range of a register's raw value, by type.
var rawRange = map[string][2]float64{
	"int16":   {math.MinInt16, math.MaxInt16},
	"uint16":  {0, math.MaxUint16},
	"int32":   {math.MinInt32, math.MaxInt32},
	"uint32":  {0, math.MaxUint32},
	"int64":   {math.MinInt64, math.MaxInt64},
	"uint64":  {0, math.MaxUint64},
	"float32": {-math.MaxFloat32, math.MaxFloat32},
	"float64": {-math.MaxFloat64, math.MaxFloat64},
}

// minStep is the smallest step Home Assistant's number takes.
const minStep = 0.001

// numberRange is what a writable holding register can be set to: its
// type's raw range through scale and offset, in steps of one raw unit (of
// minStep for a float register). ok is false when there is no range (a
// scale of 0).
func numberRange(p *Point) (lo, hi, step float64, ok bool) {
	r, known := rawRange[p.Type]
	scale := p.Scale
	if !known || scale == 0 || math.IsNaN(scale) || math.IsInf(scale, 0) {
		return 0, 0, 0, false
	}
	lo, hi = r[0]*scale+p.Offset, r[1]*scale+p.Offset
	if lo > hi {
		lo, hi = hi, lo
	}
	lo, hi = math.Max(lo, -math.MaxFloat64), math.Min(hi, math.MaxFloat64)
	step = math.Abs(scale)
	if strings.HasPrefix(p.Type, "float") {
		step = minStep
	}
	step = math.Max(step, minStep)
	if d := decimals(p.Scale, p.Offset, step); d > 0 {
		lo, hi, step = round(lo, d), round(hi, d), round(step, d)
	}
	return lo, hi, step, lo < hi
}

// precision is how many decimals a point's value has, from its scale and
// offset: nil when it is a whole number or a float register's.
func precision(p *Point) *int {
	if strings.HasPrefix(p.Type, "float") {
		return nil
	}
	d := decimals(p.Scale, p.Offset)
	if d == 0 {
		return nil
	}
	return &d
}

// decimals is the number of decimals of the shortest decimal form of the
// values, at most 15.
func decimals(values ...float64) int {
	d := 0
	for _, v := range values {
		s := strconv.FormatFloat(v, 'f', -1, 64)
		if i := strings.IndexByte(s, '.'); i >= 0 {
			d = max(d, len(s)-i-1)
		}
	}
	return min(d, 15)
}

func round(v float64, decimals int) float64 {
	if math.Abs(v) >= 1e15 {
		return v
	}
	p := math.Pow(10, float64(decimals))
	r := math.Round(v*p) / p
	if math.IsInf(r, 0) || math.IsNaN(r) {
		return v
	}
	return r
}

// messages encodes every entity. Ids that collide (names that join to the
// same id across levels, such as device "a_b" slave "c" and device "a"
// slave "b_c") get a suffix from a hash of the entity's full identity, so
// they stay distinct and still do not depend on the configuration's order.
func (b *builder) messages(prefix string) []Message {
	ids := make([]string, len(b.entities))
	seen := map[string]int{}
	for i, e := range b.entities {
		ids[i] = "iogate_" + joinID(e.path)
		seen[e.component+"/"+ids[i]]++
	}
	out := make([]Message, 0, len(b.entities))
	var buf bytes.Buffer
	for i := range b.entities {
		e := &b.entities[i]
		if seen[e.component+"/"+ids[i]] > 1 {
			sum := sha256.Sum256([]byte(strings.Join(e.path, "/")))
			ids[i] += "_" + hex.EncodeToString(sum[:4])
		}
		e.payload.UniqueID = ids[i]
		buf.Reset()
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		// A payload of strings, numbers and the types above always encodes.
		_ = enc.Encode(&e.payload)
		out = append(out, Message{
			Topic:   ConfigTopic(prefix, e.component, ids[i]),
			Payload: bytes.Clone(bytes.TrimSuffix(buf.Bytes(), []byte("\n"))),
		})
	}
	return out
}

// joinID joins names into an id of the characters Home Assistant allows
// in an object id, [A-Za-z0-9_-]; any other character becomes '_'.
func joinID(parts []string) string {
	var s strings.Builder
	for i, p := range parts {
		if i > 0 {
			s.WriteByte('_')
		}
		for _, r := range p {
			if r < 0x80 && (r == '_' || r == '-' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9') {
				s.WriteRune(r)
			} else {
				s.WriteByte('_')
			}
		}
	}
	return s.String()
}
