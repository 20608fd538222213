package control

import (
	"fmt"
	"time"
)

// Status is the gateway's state at one moment: what `iogate status`
// shows, `iogate status --json` prints as it is, and the status page reads
// from /status.json. Moments are the gateway's clock, and a zero moment
// (left out of the JSON) means never; an age is Time minus the moment, so
// that it needs no agreement between the gateway's clock and the reader's.
type Status struct {
	Gateway string    `json:"gateway"` // gateway.id
	Version string    `json:"version"` // the gateway's iogate version
	Time    time.Time `json:"time"`    // when the gateway took this status
	Started time.Time `json:"started"` // when the gateway started
	Broker  Broker    `json:"broker"`
	Spool   *Spool    `json:"spool"` // null when there is no spool (broker = "none")
	Devices []Device  `json:"devices"`
}

// LinkState is the state of the broker connection.
type LinkState string

// The broker connection's states.
const (
	LinkConnected  LinkState = "connected"  // the broker accepted the connection
	LinkConnecting LinkState = "connecting" // dialling, or waiting for CONNACK
	LinkDown       LinkState = "down"       // the last try failed; waiting to try again
	LinkNone       LinkState = "none"       // broker = "none": no MQTT at all
)

// Broker is the broker connection.
type Broker struct {
	State     LinkState `json:"state"`
	Address   string    `json:"address,omitempty"`    // the broker's URL, as in mqtt.broker
	Since     time.Time `json:"since,omitzero"`       // when it came up; when not up, when it was lost
	LastError string    `json:"last_error,omitempty"` // why the last connection failed or ended
}

// Spool is the on-disk queue of frames the broker has not acknowledged.
type Spool struct {
	Frames uint64    `json:"frames"`
	Bytes  int64     `json:"bytes"`           // on disk
	Oldest time.Time `json:"oldest,omitzero"` // when the oldest frame in it was read; zero when empty
	Drops  uint64    `json:"drops"`           // frames dropped by spool.overflow since the start
}

// State is whether a device is open, or a Modbus slave answers.
type State string

// The states of devices and slaves.
const (
	Online  State = "online"
	Offline State = "offline"
)

// Device is one [[device]] of the configuration.
type Device struct {
	Name  string    `json:"name"`
	Kind  string    `json:"kind"` // serial, file or tcp, as in the configuration
	State State     `json:"state"`
	Since time.Time `json:"since,omitzero"` // when State began
	// Error is why the device is offline, as the last open or read failed.
	Error      string `json:"error,omitempty"`
	RxFrames   uint64 `json:"rx_frames"`   // frames cut from what the device sent
	RxBytes    uint64 `json:"rx_bytes"`    // bytes read from it, framed or not
	TxFrames   uint64 `json:"tx_frames"`   // commands written to it (MQTT, polls, Modbus requests)
	TxBytes    uint64 `json:"tx_bytes"`    // bytes written to it, from MQTT and TCP clients too
	Drops      uint64 `json:"drops"`       // its frames dropped because the spool was full
	Discarded  uint64 `json:"discarded"`   // input the framing threw away: frames over max_frame, or malformed
	Reopens    uint64 `json:"reopens"`     // times it was opened again after it went away
	TCPClients int    `json:"tcp_clients"` // raw TCP clients connected now
	// LastFrame is when the last frame was read from the device.
	LastFrame time.Time `json:"last_frame,omitzero"`
	Slaves    []Slave   `json:"slaves,omitempty"` // with protocol = "modbus-rtu" or "modbus-tcp"
}

// Slave is one Modbus slave of a device.
type Slave struct {
	Name       string    `json:"name"`
	ID         int       `json:"id"` // 1 to 247
	State      State     `json:"state"`
	Since      time.Time `json:"since,omitzero"`       // when State began
	LastAnswer time.Time `json:"last_answer,omitzero"` // when it last answered a request
	Timeouts   uint64    `json:"timeouts"`             // requests it did not answer in time
}

// Problems lists what is not up, for a person: the broker not connected
// (unless there is none), each device offline, each slave that does not
// answer. A gateway with no problems is healthy, and `iogate status` exits
// 0 for it.
func (st *Status) Problems() []string {
	var p []string
	switch st.Broker.State {
	case LinkConnected, LinkNone:
	default:
		s := fmt.Sprintf("broker %s", st.Broker.State)
		if st.Broker.LastError != "" {
			s += ": " + st.Broker.LastError
		}
		p = append(p, s)
	}
	for _, d := range st.Devices {
		if d.State != Online {
			p = append(p, fmt.Sprintf("device %s %s", d.Name, d.State))
		}
		for _, s := range d.Slaves {
			if s.State != Online {
				p = append(p, fmt.Sprintf("slave %s of device %s %s", s.Name, d.Name, s.State))
			}
		}
	}
	return p
}

// Age is how long before the status was taken t was, or a negative
// duration when t is zero (never).
func (st *Status) Age(t time.Time) time.Duration {
	if t.IsZero() {
		return -1
	}
	return max(st.Time.Sub(t), 0)
}
