package control

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// Message is what the server sent, as ParseMessage reads it: Kind says
// which of the other fields it fills.
type Message struct {
	Kind     Kind
	Protocol int      // KindHello: the protocol version the server speaks
	Version  string   // KindHello: the gateway's iogate version
	Status   *Status  // KindStatus
	Devices  []string // KindTracing: the devices tapped
	Event    Event    // KindTrace
	Lost     Lost     // KindLost
	Err      *Error   // KindError
}

// wireMessage is every field a server's message may carry.
type wireMessage struct {
	Type     Kind      `json:"type"`
	Protocol int       `json:"protocol"`
	Version  string    `json:"version"`
	Status   *Status   `json:"status"`
	Devices  []string  `json:"devices"`
	Time     time.Time `json:"time"`
	Device   string    `json:"device"`
	Dir      *Dir      `json:"dir"`
	Data     []byte    `json:"data"`
	Count    uint64    `json:"count"`
	Code     Code      `json:"code"`
	Error    string    `json:"error"`
}

// ParseMessage reads one line from the server, with or without its "\n".
// It fails for a line that is not a message of the protocol, or lacks a
// field its kind needs: the client should then give up on the server.
func ParseMessage(line []byte) (Message, error) {
	line = bytes.TrimSuffix(line, []byte("\n"))
	var w wireMessage
	if err := json.Unmarshal(line, &w); err != nil {
		return Message{}, fmt.Errorf("not a message of the control protocol: %w", err)
	}
	m := Message{Kind: w.Type}
	missing := ""
	switch w.Type {
	case KindHello:
		m.Protocol, m.Version = w.Protocol, w.Version
		if w.Protocol == 0 {
			missing = "protocol"
		}
	case KindStatus:
		m.Status = w.Status
		if w.Status == nil {
			missing = "status"
		}
	case KindTracing:
		m.Devices = w.Devices
	case KindTrace:
		switch {
		case w.Time.IsZero():
			missing = "time"
		case w.Device == "":
			missing = "device"
		case w.Dir == nil:
			missing = "dir"
		default:
			m.Event = Event{Time: w.Time, Device: w.Device, Dir: *w.Dir, Data: w.Data}
		}
	case KindLost:
		m.Lost = Lost{Time: w.Time, Count: w.Count}
	case KindError:
		m.Err = &Error{Code: w.Code, Message: w.Error, Devices: w.Devices}
		if w.Code == "" {
			missing = "code"
		}
	case "":
		return Message{}, fmt.Errorf(`not a message of the control protocol: no "type"`)
	default:
		return Message{}, fmt.Errorf("a message of unknown type %q", w.Type)
	}
	if missing != "" {
		return Message{}, fmt.Errorf("a %s message without %q", w.Type, missing)
	}
	return m, nil
}

// CheckHello checks the server's hello against this package's Version;
// version is the client's iogate version, for the message.
func CheckHello(m Message, version string) error {
	if m.Kind != KindHello {
		return fmt.Errorf("the gateway answered the hello with a %s message", m.Kind)
	}
	if m.Protocol != Version {
		return &Error{Code: ErrVersion, Message: fmt.Sprintf(
			"the gateway speaks control protocol %d, this iogate speaks %d: use the same iogate version (gateway %s, this iogate %s)",
			m.Protocol, Version, m.Version, version)}
	}
	return nil
}
