// Package config reads iogate's TOML configuration into typed, validated
// values.
//
// Load decodes a file once, applies the defaults of the product contract,
// and checks every value, so that the rest of the program sees durations,
// byte counts and enumerations, never raw strings. Every problem is reported
// at once, each naming the file, the line and the key. Package config opens
// nothing and connects to nothing: whether a device or a broker is really
// there is for the gateway to find out.
package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Config is a whole configuration file.
type Config struct {
	Path    string // the file it was read from
	Gateway Gateway
	Log     Log
	MQTT    MQTT
	Metrics Metrics
	Spool   Spool
	Devices []Device

	HomeAssistant HomeAssistant
	// Embedded is the embedded broker's, with broker = "embedded".
	Embedded EmbeddedBroker
}

// Gateway is the [gateway] table.
type Gateway struct {
	ID       string
	StateDir string
	Poller   string // auto | epoll | kqueue | poll
}

// Log is the [log] table.
type Log struct {
	Level  string // debug | info | warn | error
	Format string // text | json
}

// Broker kinds, from mqtt.broker.
const (
	BrokerRemote   = "remote"   // tcp:// or ssl://
	BrokerEmbedded = "embedded" // the in-process broker
	BrokerNone     = "none"     // no MQTT: devices are served over TCP only
)

// MQTT is the [mqtt] table.
type MQTT struct {
	Broker             string // as written: "tcp://host:1883", "embedded" or "none"
	Kind               string // BrokerRemote, BrokerEmbedded or BrokerNone
	Address            string // host:port to dial, for a remote broker
	TLS                bool   // ssl:// (or mqtts://)
	EmbeddedListen     string
	ClientID           string
	Username           string
	Password           Secret // from password_file, else $IOGATE_MQTT_PASSWORD
	CAFile             string
	CertFile           string
	KeyFile            string
	CA                 *x509.CertPool   // ca_file's certificates; nil: the system's
	Certificate        *tls.Certificate // cert_file and key_file; nil: none
	TLSDigest          [32]byte         // of the three files' contents, for Same
	InsecureSkipVerify bool
	TopicPrefix        string // with {gateway} expanded
	QoS                byte
	Keepalive          time.Duration
	ReconnectMin       time.Duration // the broker's reconnect backoff, as a device's
	ReconnectMax       time.Duration
}

// Metrics is the [metrics] table.
type Metrics struct {
	Listen        string        // "" for none
	StatsInterval time.Duration // how often <prefix>/stats is published
}

// Spool is the [spool] table.
type Spool struct {
	MaxBytes     int64
	Overflow     string        // drop-oldest | drop-newest
	SyncInterval time.Duration // what a power cut can cost
	// SegmentBytes is derived: the size of the spool's segment files, large
	// enough for the largest record a device's frames can make.
	SegmentBytes int64
}

// Device is one [[device]] entry.
type Device struct {
	Name      string
	Kind      string // serial | file | tcp
	Path      string
	USB       string // "067b:2303", lower case
	USBSerial string
	Remote    Remote // kind = "tcp": the far end
	Baud      int
	DataBits  int
	Parity    string
	StopBits  int
	Flow      string
	Framing   string
	Delimiter []byte
	FrameSize int
	IdleGap   time.Duration
	MaxFrame  int
	Encoding  string
	Writable  bool
	Publish   bool

	TCPListen      string
	TCPMaxClients  int
	TCPOverflow    string         // refuse | kick-oldest: a client beyond tcp_max_clients
	TCPProtocol    string         // raw | rfc2217: tcp_listen's; always raw on kind = "tcp" (see Remote)
	TCPIdleTimeout time.Duration  // tcp_listen's clients; 0: none, as always on kind = "tcp" (see Remote)
	TCPAllow       []netip.Prefix // empty: any address

	ReconnectMin time.Duration
	ReconnectMax time.Duration

	Polls []Poll

	Protocol        string // ProtocolStream, ProtocolModbusRTU or ProtocolModbusTCP
	RS485           bool   // the kernel's RS-485 mode (TIOCSRS485) drives the transceiver
	ModbusTimeout   time.Duration
	ModbusRetries   int
	ModbusPause     time.Duration
	ModbusTCPListen string // "" for none
	Slaves          []Slave
}

// PasswordEnv is the environment variable a broker password may come from.
const PasswordEnv = "IOGATE_MQTT_PASSWORD"

// Load reads and validates the configuration file at path. The error, if
// any, lists every problem found, each as an *Error.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse validates configuration text; path is used in errors and to
// resolve nothing else.
func Parse(path string, data []byte) (*Config, error) {
	// Syntax first, on its own: the decoder's errors do not say whether
	// they are about the text or about a value, and only the latter has a
	// key worth naming.
	if _, err := toml.Decode(string(data), &struct{}{}); err != nil {
		return nil, syntaxError(path, data, err)
	}
	var f file
	f.setDefaults()
	md, err := toml.Decode(string(data), &f)
	if err != nil {
		return nil, decodeError(path, err)
	}
	c := &Config{Path: path}
	v := validator{path: path, pos: locate(data), md: md}
	unknown := map[string]bool{}
	for _, k := range md.Undecoded() {
		if k[0] == "device" {
			continue // each [[device]] is decoded below, and its keys checked there
		}
		unknown[k.String()] = true
		if len(k) > 1 && unknown[k[:len(k)-1].String()] {
			continue // inside an unknown table, which is reported already
		}
		if md.Type(k...) == "Hash" {
			v.add(k.String(), errUnknownTable)
		} else {
			v.add(k.String(), errUnknownKey)
		}
	}
	devices := make([]deviceFile, len(f.Device))
	failed := map[string]bool{} // "device.1", "device.0.slave.2": tables whose decoding failed
	for i, prim := range f.Device {
		devices[i] = defaultDevice()
		key := "device." + strconv.Itoa(i)
		if err := md.PrimitiveDecode(prim, &devices[i]); err != nil {
			// Decoding stopped at this value: the keys it did not reach
			// would look unknown or missing, so only this is reported.
			field, msg := decodeMessage(err)
			v.add(strings.TrimSuffix(key+"."+field, "."), msg)
			failed[key] = true
			continue
		}
		decodePolls(&v, &md, key, &devices[i], failed)
		decodeSlaves(&v, &md, key, &devices[i], failed)
	}
	for _, k := range md.Undecoded() {
		if len(k) < 2 || k[0] != "device" {
			continue
		}
		if unknown[k[:len(k)-1].String()] {
			unknown[k.String()] = true
			continue // inside an unknown table, which is reported already
		}
		table := md.Type(k...) == "Hash" || md.Type(k...) == "ArrayHash"
		if table {
			unknown[k.String()] = true
		}
		v.addDeviceKey(k, table, failed)
	}
	v.config(c, &f, devices, failed)
	if err := v.err(); err != nil {
		return nil, err
	}
	return c, nil
}

var (
	errUnknownKey   = errors.New("unknown key")
	errUnknownTable = errors.New("unknown table")
)

// file mirrors the TOML; its fields hold what the file says, over the defaults.
type file struct {
	Gateway struct {
		ID       string `toml:"id"`
		StateDir string `toml:"state_dir"`
		Poller   string `toml:"poller"`
	} `toml:"gateway"`
	Log struct {
		Level  string `toml:"level"`
		Format string `toml:"format"`
	} `toml:"log"`
	MQTT struct {
		Broker             string   `toml:"broker"`
		EmbeddedListen     string   `toml:"embedded_listen"`
		ClientID           string   `toml:"client_id"`
		Username           string   `toml:"username"`
		PasswordFile       string   `toml:"password_file"`
		CAFile             string   `toml:"ca_file"`
		CertFile           string   `toml:"cert_file"`
		KeyFile            string   `toml:"key_file"`
		InsecureSkipVerify bool     `toml:"insecure_skip_verify"`
		TopicPrefix        string   `toml:"topic_prefix"`
		QoS                int      `toml:"qos"`
		Keepalive          Duration `toml:"keepalive"`
		ReconnectMin       Duration `toml:"reconnect_min"`
		ReconnectMax       Duration `toml:"reconnect_max"`
		embeddedFile
	} `toml:"mqtt"`
	Metrics struct {
		Listen        string   `toml:"listen"`
		StatsInterval Duration `toml:"stats_interval"`
	} `toml:"metrics"`
	Spool struct {
		MaxBytes     Size     `toml:"max_bytes"`
		Overflow     string   `toml:"overflow"`
		SyncInterval Duration `toml:"sync_interval"`
	} `toml:"spool"`
	Device []toml.Primitive `toml:"device"`

	HomeAssistant homeAssistantFile `toml:"homeassistant"`
}

type deviceFile struct {
	Name           string   `toml:"name"`
	Kind           string   `toml:"kind"`
	Path           string   `toml:"path"`
	USB            string   `toml:"usb"`
	USBSerial      string   `toml:"usb_serial"`
	Address        string   `toml:"address"`
	Baud           int      `toml:"baud"`
	DataBits       int      `toml:"data_bits"`
	Parity         string   `toml:"parity"`
	StopBits       int      `toml:"stop_bits"`
	Flow           string   `toml:"flow"`
	Framing        string   `toml:"framing"`
	Delimiter      string   `toml:"delimiter"`
	FrameSize      int      `toml:"frame_size"`
	IdleGap        Duration `toml:"idle_gap"`
	MaxFrame       int      `toml:"max_frame"`
	Encoding       string   `toml:"encoding"`
	Writable       bool     `toml:"writable"`
	Publish        bool     `toml:"publish"`
	TCPListen      string   `toml:"tcp_listen"`
	TCPMaxClients  int      `toml:"tcp_max_clients"`
	TCPOverflow    string   `toml:"tcp_overflow"`
	TCPProtocol    string   `toml:"tcp_protocol"`
	TCPIdleTimeout Duration `toml:"tcp_idle_timeout"`
	TCPAllow       []string `toml:"tcp_allow"`
	ReconnectMin   Duration `toml:"reconnect_min"`
	ReconnectMax   Duration `toml:"reconnect_max"`

	Poll []toml.Primitive `toml:"poll"`

	Protocol        string           `toml:"protocol"`
	RS485           bool             `toml:"rs485"`
	ModbusTimeout   Duration         `toml:"modbus_timeout"`
	ModbusRetries   int              `toml:"modbus_retries"`
	ModbusPause     Duration         `toml:"modbus_pause"`
	ModbusTCPListen string           `toml:"modbus_tcp_listen"`
	Slave           []toml.Primitive `toml:"slave"`

	polls  []pollFile  // Poll, decoded
	slaves []slaveFile // Slave, decoded
}

// setDefaults fills in the product contract's defaults; the file overrides them.
func (f *file) setDefaults() {
	f.Gateway.StateDir = "/var/lib/iogate"
	f.Gateway.Poller = "auto"
	f.Log.Level = "info"
	f.Log.Format = "text"
	f.MQTT.Broker = "tcp://127.0.0.1:1883"
	f.MQTT.EmbeddedListen = "127.0.0.1:1883"
	f.MQTT.TopicPrefix = "iogate/{gateway}"
	f.MQTT.QoS = 1
	f.MQTT.Keepalive = Duration(30 * time.Second)
	f.MQTT.ReconnectMin = Duration(500 * time.Millisecond)
	f.MQTT.ReconnectMax = Duration(30 * time.Second)
	f.MQTT.embeddedFile.setDefaults()
	f.Spool.MaxBytes = 64 << 20
	f.Spool.Overflow = "drop-oldest"
	f.Spool.SyncInterval = Duration(500 * time.Millisecond)
	f.Metrics.StatsInterval = Duration(time.Minute)
	f.HomeAssistant.setDefaults()
}

func defaultDevice() deviceFile {
	return deviceFile{
		Kind:          "serial",
		Baud:          9600,
		DataBits:      8,
		Parity:        "none",
		StopBits:      1,
		Flow:          "none",
		Framing:       "line",
		Delimiter:     "\n",
		IdleGap:       Duration(5 * time.Millisecond),
		MaxFrame:      4096,
		Encoding:      "text",
		Publish:       true,
		TCPMaxClients: 4,
		TCPOverflow:   "refuse",
		TCPProtocol:   "raw",
		ReconnectMin:  Duration(100 * time.Millisecond),
		ReconnectMax:  Duration(30 * time.Second),
		ModbusTimeout: Duration(defaultModbusTimeout),
		ModbusRetries: defaultModbusRetries,
	}
}
