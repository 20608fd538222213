// Package mqtt connects a reactor to an MQTT broker.
//
// The broker connection is a reactor resource like a serial port: Dial
// starts a connection the reactor completes (a TCP socket, or for TLS one
// end of a socketpair fed by a pump goroutine), and the service drives the
// protocol with a Session. A Session is an MQTT 3.1.1 client without I/O:
// bytes from the broker go in through Feed, what the broker said comes out
// as calls to a Handler, and the packets to send come back as bytes for the
// service to pass to reactor.Send. It starts no goroutine, reads no clock
// (every call that needs the time is given it) and allocates nothing per
// message once warm, so it runs on the reactor's goroutine and can be fuzzed.
//
// It is not a general MQTT client. It publishes and subscribes at QoS 0 and
// 1 only (QoS 2 is refused), cannot unsubscribe, and keeps no store: a new
// Start forgets what was in flight, and re-publishing what the broker never
// acknowledged is the caller's business, since the caller tracks delivery
// per frame (the gateway's spool); so is the in-flight window. It does not reconnect, log, or know
// topics beyond checking that they are well formed.
//
// StartBrokerWith runs the gateway's embedded broker (mochi-mqtt) for
// configurations that want one in-process: plain and TLS listeners,
// mosquitto's password and ACL files (package mqttauth), limits for a small
// box, and retained messages kept in a file. It runs on goroutines of its
// own and logs through the slog.Logger it is given; it is not used on the
// path of a message through a Session.
package mqtt

import (
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// Errors a Session reports. Feed and Tick wrap them with the detail, as in
// "mqtt: broker refused the connection: bad username or password (code 4)".
var (
	// ErrInflightFull: all 65535 packet ids await their acknowledgement.
	ErrInflightFull = errors.New("mqtt: too many publishes awaiting PUBACK")
	// ErrNotConnected: the broker has not accepted the connection (no
	// CONNACK yet), or the session was disconnected or failed since.
	ErrNotConnected = errors.New("mqtt: not connected")
	// ErrRefused: the broker answered CONNECT with a refusal.
	ErrRefused = errors.New("mqtt: broker refused the connection")
	// ErrProtocol: the broker sent a malformed packet, one too large, or
	// one a client of this package cannot get (QoS 2, a second CONNACK).
	ErrProtocol = errors.New("mqtt: protocol violation by the broker")
	// ErrClosedByBroker: the broker sent DISCONNECT, as MQTT 5 brokers do
	// when they shut down or take the client id for another connection.
	ErrClosedByBroker = errors.New("mqtt: broker closed the connection")
	// ErrPingTimeout: the broker did not answer CONNECT or PINGREQ in time.
	ErrPingTimeout = errors.New("mqtt: broker did not answer in time")
	// ErrInvalidTopic: a topic or filter that MQTT does not allow.
	ErrInvalidTopic = errors.New("mqtt: invalid topic")
	// ErrTooLarge: a packet beyond what MQTT can encode (256 MiB).
	ErrTooLarge = errors.New("mqtt: packet too large")
)

// DefaultMaxPacket bounds the packets a Session accepts from the broker: a
// MiB of payload with room for the longest topic.
const DefaultMaxPacket = 1<<20 + 128<<10

// connackTimeout is how long the broker has to answer CONNECT when there is
// no keepalive to take the time from: a broker that accepts the TCP
// connection but never answers must still be noticed.
const connackTimeout = 10 * time.Second

// maxKeepalive is the longest keepalive CONNECT can carry: 16 bits of seconds.
const maxKeepalive = 65535 * time.Second

// Options configure a Session. Check them with Validate where they come
// from outside (a config file); NewSession fills the defaults.
type Options struct {
	ClientID     string
	Username     string
	Password     string        // never appears in an error or in String
	Keepalive    time.Duration // 0 disables; rounded up to whole seconds
	CleanSession bool
	Will         *Message // nil: none
	MaxPacket    int      // largest remaining length accepted from the broker; 0 means DefaultMaxPacket
}

// String describes the options with the password left out, so that logging
// them is safe.
func (o Options) String() string {
	password := ""
	if o.Password != "" {
		password = "<redacted>"
	}
	will := "none"
	if o.Will != nil {
		will = fmt.Sprintf("%q qos %d retain %t (%d bytes)", o.Will.Topic, o.Will.QoS, o.Will.Retain, len(o.Will.Payload))
	}
	return fmt.Sprintf("client %q user %q password %q keepalive %v clean %t will %s max packet %d",
		o.ClientID, o.Username, password, o.Keepalive, o.CleanSession, will, o.MaxPacket)
}

// GoString is String, so that %#v does not print the password either.
func (o Options) GoString() string { return o.String() }

// Validate reports options that a broker would refuse or MQTT cannot carry.
func (o Options) Validate() error {
	if err := checkString("client id", o.ClientID); err != nil {
		return err
	}
	if o.ClientID == "" && !o.CleanSession {
		return errors.New("mqtt options: an empty client id needs a clean session")
	}
	if err := checkString("username", o.Username); err != nil {
		return err
	}
	if len(o.Password) > 65535 {
		return errors.New("mqtt options: password longer than 65535 bytes")
	}
	if o.Password != "" && o.Username == "" {
		return errors.New("mqtt options: a password needs a username in MQTT 3.1.1")
	}
	if o.Keepalive < 0 || o.Keepalive > maxKeepalive {
		return fmt.Errorf("mqtt options: keepalive %v: want 0 to %v", o.Keepalive, maxKeepalive)
	}
	if w := o.Will; w != nil {
		if err := checkTopic(w.Topic); err != nil {
			return fmt.Errorf("mqtt options: will: %w", err)
		}
		if w.QoS > 1 {
			return fmt.Errorf("mqtt options: will QoS %d: want 0 or 1", w.QoS)
		}
		if len(w.Payload) > 65535 {
			return fmt.Errorf("mqtt options: will payload of %d bytes: want at most 65535", len(w.Payload))
		}
	}
	if o.MaxPacket < 0 || o.MaxPacket > maxRemaining {
		return fmt.Errorf("mqtt options: max packet %d: want 0 to %d", o.MaxPacket, maxRemaining)
	}
	return nil
}

func checkString(what, s string) error {
	if len(s) > 65535 {
		return fmt.Errorf("mqtt options: %s longer than 65535 bytes", what)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("mqtt options: %s %q is not valid UTF-8", what, s)
	}
	return nil
}

// Message is a PUBLISH to send, or the will.
type Message struct {
	Topic   string
	Payload []byte
	QoS     byte // 0 or 1
	Retain  bool
}

// Handler receives what the broker says, from inside Session.Feed. Topics
// and payloads passed are valid only during the call. A handler may call
// the Session's Publish and Subscribe (and send their packets), nothing
// else of it.
type Handler interface {
	// Connected: the broker accepted the connection (CONNACK code 0).
	Connected(sessionPresent bool)
	// Message delivers an inbound PUBLISH of QoS 0 or 1. For QoS 1 the
	// session queues the PUBACK itself, in Output.
	Message(topic string, payload []byte, retain bool)
	// Acked: the broker took one of our QoS 1 publishes (PUBACK).
	Acked(id uint16)
	// Subscribed: the broker answered a Subscribe (SUBACK), with the QoS
	// granted per filter, 0x80 for a filter refused.
	Subscribed(id uint16, granted []byte)
}
