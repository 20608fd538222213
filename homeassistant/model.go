// Package homeassistant turns a description of the gateway into Home
// Assistant's MQTT discovery messages, and remembers what it announced so
// that entities which leave the configuration are removed.
//
// It is pure in the way framing and config are: it knows no MQTT client,
// opens no connection and logs nothing. Configs maps a Gateway to the
// retained config messages Home Assistant reads under its discovery prefix;
// an Announcer adds the memory of what was announced before, kept in one
// small file of the state directory, and says which config topics to clear
// (an empty retained payload) for entities that are gone, across restarts
// too. IsBirth recognises Home Assistant's birth message, after which the
// configs are to be sent again. The caller publishes every Message retained.
//
// The tables of device classes, state classes and the units each device
// class allows are Home Assistant's own (2025.5), so that what is announced
// is what Home Assistant accepts; PointClasses applies them to a Modbus
// point, for the configuration's validation as well as for the payloads.
package homeassistant

// Gateway describes the gateway and everything it announces. Topics are
// given expanded, as the gateway publishes them.
type Gateway struct {
	ID          string // gateway.id: part of every unique_id and device identifier
	Name        string // shown in Home Assistant; the ID when empty
	Version     string // the gateway's software version (the device's sw_version)
	StatusTopic string // <prefix>/status: "online" / "offline", in every entity's availability
	Devices     []Device
}

// Device is one [[device]]: a serial port, a file or a TCP device.
type Device struct {
	Name        string
	StatusTopic string // <prefix>/<device>/status: "online" / "offline"
	RxTopic     string // <prefix>/<device>/rx; empty when its frames are not published
	Encoding    string // text | hex | base64 | json, the payload of RxTopic and of the polls
	Polls       []Poll
	Slaves      []Slave // Modbus slaves, for a Modbus device
}

// Poll is one [[device.poll]]: its replies are published on StateTopic.
type Poll struct {
	Name       string
	StateTopic string // <prefix>/<device>/<poll>
}

// Slave is one Modbus slave of a device.
type Slave struct {
	ID          int // 1..247, its address on the bus
	Name        string
	StatusTopic string // <prefix>/<device>/<slave>/status
	Points      []Point
}

// Point is one register or bit of a Modbus slave.
type Point struct {
	Name       string
	StateTopic string  // <prefix>/<device>/<slave>/<point>: the value as a JSON scalar
	SetTopic   string  // <prefix>/<device>/<slave>/<point>/set, for a writable point
	Table      string  // coil | discrete | input | holding
	Type       string  // bool | int16 | uint16 | int32 | uint32 | int64 | uint64 | float32 | float64 | string
	Scale      float64 // published value = raw * Scale + Offset
	Offset     float64
	Unit       string // e.g. "V"; "" for none

	// DeviceClass and StateClass override what the unit implies; "" keeps
	// the derived ones. See PointClasses.
	DeviceClass string
	StateClass  string

	Writable bool // a holding register or coil written through SetTopic
}

// Message is one retained MQTT message. An empty Payload clears a retained
// config, which is how Home Assistant is told that an entity is gone.
type Message struct {
	Topic   string
	Payload []byte
}

// QoS is the quality of service to publish every Message at, retained:
// Home Assistant must see every config and every removal.
const QoS = 1
