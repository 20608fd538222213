package config

import (
	"fmt"
	"math"
	"net"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// validator collects every problem with the file, each placed at its line.
type validator struct {
	path string
	pos  positions
	md   toml.MetaData
	errs Errors
}

func (v *validator) err() error {
	if len(v.errs) == 0 {
		return nil
	}
	return v.errs
}

// add records a problem with key, a dotted path whose array parts are
// indexes ("device.1.baud"); it is shown as "device[1].baud".
func (v *validator) add(key string, err error) {
	v.errs = append(v.errs, &Error{File: v.path, Line: v.pos.line(key), Key: displayKey(key), Err: err})
}

func (v *validator) addf(key, format string, args ...any) {
	v.add(key, fmt.Errorf(format, args...))
}

// addDeviceKey reports an undecoded key under [[device]] (an unknown
// table when table is true) at each place it is written: the decoder does
// not say in which element of which array it is. Places inside tables
// whose decoding failed are skipped: their keys past the failure were
// never decoded, and are not unknown.
func (v *validator) addDeviceKey(k toml.Key, table bool, failed map[string]bool) {
	err := errUnknownKey
	if table {
		err = errUnknownTable
	}
	places := v.pos.find(k.String())
	for _, place := range places {
		if !insideFailed(place, failed) {
			v.add(place, err)
		}
	}
	if len(places) == 0 && len(failed) == 0 {
		v.add(k.String(), err)
	}
}

// insideFailed reports whether the dotted path is inside a table whose
// decoding failed.
func insideFailed(path string, failed map[string]bool) bool {
	for k := path; ; {
		if failed[k] {
			return true
		}
		i := strings.LastIndexByte(k, '.')
		if i < 0 {
			return false
		}
		k = k[:i]
	}
}

func displayKey(key string) string {
	parts := strings.Split(key, ".")
	var b strings.Builder
	for i, p := range parts {
		if _, err := strconv.Atoi(p); err == nil && i > 0 {
			b.WriteString("[" + p + "]")
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(p)
	}
	return b.String()
}

var namePattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

func oneOf(v *validator, key, value string, allowed ...string) {
	if !slices.Contains(allowed, value) {
		v.addf(key, "%q is not one of %s", value, strings.Join(allowed, ", "))
	}
}

func (v *validator) config(c *Config, f *file, devices []deviceFile, failed map[string]bool) {
	g := f.Gateway
	if !namePattern.MatchString(g.ID) {
		if g.ID == "" {
			v.addf("gateway.id", "required: a name of 1 to 64 letters, digits, '_' or '-'")
		} else {
			v.addf("gateway.id", "%q: want 1 to 64 letters, digits, '_' or '-' (it becomes an MQTT topic level)", g.ID)
		}
	}
	if g.StateDir == "" {
		v.addf("gateway.state_dir", "must not be empty")
	}
	oneOf(v, "gateway.poller", g.Poller, "auto", "epoll", "kqueue", "poll")
	c.Gateway = Gateway{ID: g.ID, StateDir: g.StateDir, Poller: g.Poller}

	oneOf(v, "log.level", f.Log.Level, "debug", "info", "warn", "error")
	oneOf(v, "log.format", f.Log.Format, "text", "json")
	c.Log = Log{Level: f.Log.Level, Format: f.Log.Format}

	v.mqtt(c, f)

	if f.Metrics.Listen != "" {
		v.listenAddr("metrics.listen", f.Metrics.Listen)
	}
	if si := time.Duration(f.Metrics.StatsInterval); si < time.Second || si > 24*time.Hour {
		v.addf("metrics.stats_interval", "%s: want 1s to 24h", si)
	}
	c.Metrics = Metrics{Listen: f.Metrics.Listen, StatsInterval: time.Duration(f.Metrics.StatsInterval)}

	if f.Spool.MaxBytes < 64<<10 {
		v.addf("spool.max_bytes", "%d: want at least 64KiB", f.Spool.MaxBytes)
	}
	oneOf(v, "spool.overflow", f.Spool.Overflow, "drop-oldest", "drop-newest")
	if si := time.Duration(f.Spool.SyncInterval); si < 10*time.Millisecond || si > time.Minute {
		v.addf("spool.sync_interval", "%s: want 10ms to 1m", time.Duration(f.Spool.SyncInterval))
	}
	c.Spool = Spool{MaxBytes: int64(f.Spool.MaxBytes), Overflow: f.Spool.Overflow, SyncInterval: time.Duration(f.Spool.SyncInterval)}

	v.homeAssistant(c, &f.HomeAssistant)

	names := map[string]int{}
	listens := map[string]string{}
	if c.Metrics.Listen != "" {
		listens[c.Metrics.Listen] = "metrics.listen"
	}
	if c.MQTT.Kind == BrokerEmbedded {
		listens[c.MQTT.EmbeddedListen] = "mqtt.embedded_listen"
		if c.Embedded.TLSListen != "" {
			listens[c.Embedded.TLSListen] = "mqtt.embedded_tls_listen"
		}
	}
	var largest int64
	for i := range devices {
		key := "device." + strconv.Itoa(i)
		if failed[key] {
			continue
		}
		d := v.device(key, &devices[i])
		levels := map[string]string{} // topic levels under the device: its polls and slaves
		v.polls(key, &devices[i], &d, levels, failed)
		v.modbus(key, &devices[i], &d, levels, failed)
		v.sizes(key, c, d, &largest)
		if first, dup := names[d.Name]; dup && d.Name != "" {
			v.addf(key+".name", "%q is already the name of device[%d]", d.Name, first)
		}
		names[d.Name] = i
		for _, l := range []struct{ key, addr string }{{".tcp_listen", d.TCPListen}, {".modbus_tcp_listen", d.ModbusTCPListen}} {
			if l.addr == "" {
				continue
			}
			if other, dup := listens[l.addr]; dup {
				v.addf(key+l.key, "%s is already taken by %s", l.addr, displayKey(other))
			}
			listens[l.addr] = key + l.key
		}
		c.Devices = append(c.Devices, d)
	}
	v.segmentBytes(c, largest)
}

func (v *validator) mqtt(c *Config, f *file) {
	m := f.MQTT
	out := MQTT{
		Broker:             m.Broker,
		EmbeddedListen:     m.EmbeddedListen,
		ClientID:           m.ClientID,
		Username:           m.Username,
		CAFile:             m.CAFile,
		CertFile:           m.CertFile,
		KeyFile:            m.KeyFile,
		InsecureSkipVerify: m.InsecureSkipVerify,
		Keepalive:          time.Duration(m.Keepalive),
		ReconnectMin:       time.Duration(m.ReconnectMin),
		ReconnectMax:       time.Duration(m.ReconnectMax),
	}
	switch m.Broker {
	case BrokerEmbedded:
		out.Kind = BrokerEmbedded
		if m.EmbeddedListen != "" {
			v.listenAddr("mqtt.embedded_listen", m.EmbeddedListen)
		}
		v.embedded(c, &m.embeddedFile, m.EmbeddedListen)
		out.Address = m.EmbeddedListen
	case BrokerNone:
		out.Kind = BrokerNone
	default:
		out.Kind = BrokerRemote
		addr, tls, err := brokerAddress(m.Broker)
		if err != nil {
			v.add("mqtt.broker", err)
		}
		out.Address, out.TLS = addr, tls
	}
	if out.ClientID == "" {
		out.ClientID = "iogate-" + f.Gateway.ID
	}
	if m.PasswordFile != "" {
		pw, err := os.ReadFile(m.PasswordFile)
		if err != nil {
			v.add("mqtt.password_file", err)
		}
		out.Password = Secret(strings.TrimRight(string(pw), "\r\n"))
	} else {
		out.Password = Secret(os.Getenv(PasswordEnv))
	}
	v.tlsFiles(&out)
	if (m.CertFile == "") != (m.KeyFile == "") {
		v.addf("mqtt.cert_file", "cert_file and key_file go together: set both for a client certificate, or neither")
	}
	if (m.CAFile != "" || m.CertFile != "" || m.InsecureSkipVerify) && out.Kind == BrokerRemote && !out.TLS {
		v.addf("mqtt.broker", "TLS settings are given but the broker %q is not ssl://", m.Broker)
	}
	id := f.Gateway.ID
	if !namePattern.MatchString(id) {
		id = "gateway" // reported as gateway.id; the prefix is judged on its own
	}
	prefix := strings.ReplaceAll(m.TopicPrefix, "{gateway}", id)
	switch {
	case prefix == "":
		v.addf("mqtt.topic_prefix", "must not be empty")
	case strings.ContainsAny(prefix, "+#\x00"):
		v.addf("mqtt.topic_prefix", "%q: MQTT wildcards '+' and '#' cannot be in a topic", m.TopicPrefix)
	case strings.HasSuffix(prefix, "/"):
		v.addf("mqtt.topic_prefix", "%q: must not end with '/'", m.TopicPrefix)
	}
	out.TopicPrefix = prefix
	if m.QoS != 0 && m.QoS != 1 {
		v.addf("mqtt.qos", "%d: want 0 or 1", m.QoS)
	}
	out.QoS = byte(m.QoS)
	if out.Keepalive < time.Second || out.Keepalive > 65535*time.Second {
		v.addf("mqtt.keepalive", "%s: want between 1s and 18h12m15s", out.Keepalive)
	}
	if out.ReconnectMin <= 0 {
		v.addf("mqtt.reconnect_min", "%s: must be more than 0", out.ReconnectMin)
	}
	if out.ReconnectMax < out.ReconnectMin {
		v.addf("mqtt.reconnect_max", "%s: must not be less than reconnect_min (%s)", out.ReconnectMax, out.ReconnectMin)
	}
	c.MQTT = out
}

// brokerAddress turns a broker URL into host:port, with the default port
// of its scheme.
func brokerAddress(broker string) (addr string, tls bool, err error) {
	u, err := url.Parse(broker)
	if err != nil || u.Host == "" {
		return "", false, fmt.Errorf("%q: want tcp://host:port, ssl://host:port, \"embedded\" or \"none\"", broker)
	}
	port := "1883"
	switch u.Scheme {
	case "tcp", "mqtt":
	case "ssl", "tls", "mqtts":
		tls, port = true, "8883"
	default:
		return "", false, fmt.Errorf("%q: scheme %q is not tcp:// or ssl://", broker, u.Scheme)
	}
	if u.Path != "" && u.Path != "/" {
		return "", false, fmt.Errorf("%q: a broker URL has no path", broker)
	}
	if u.Port() != "" {
		port = u.Port()
	}
	return net.JoinHostPort(u.Hostname(), port), tls, nil
}

func (v *validator) listenAddr(key, addr string) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		v.addf(key, "%q: want host:port, such as 127.0.0.1:4001", addr)
		return
	}
	if host == "" {
		v.addf(key, "%q: name the address to listen on (127.0.0.1 for this machine only, 0.0.0.0 for every interface)", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		v.addf(key, "%q: port must be a number from 0 to 65535", addr)
	}
}

var usbPattern = regexp.MustCompile(`^[0-9a-fA-F]{4}:[0-9a-fA-F]{4}$`)

func (v *validator) device(key string, f *deviceFile) Device {
	d := Device{
		Name: f.Name, Kind: f.Kind, Path: f.Path, USB: strings.ToLower(f.USB), USBSerial: f.USBSerial,
		Baud: f.Baud, DataBits: f.DataBits, Parity: f.Parity, StopBits: f.StopBits, Flow: f.Flow,
		Framing: f.Framing, Delimiter: []byte(f.Delimiter), FrameSize: f.FrameSize,
		IdleGap: time.Duration(f.IdleGap), MaxFrame: f.MaxFrame, Encoding: f.Encoding,
		Writable: f.Writable, Publish: f.Publish,
		TCPListen: f.TCPListen, TCPMaxClients: f.TCPMaxClients, TCPOverflow: f.TCPOverflow, TCPProtocol: f.TCPProtocol,
		TCPIdleTimeout: time.Duration(f.TCPIdleTimeout),
		ReconnectMin:   time.Duration(f.ReconnectMin), ReconnectMax: time.Duration(f.ReconnectMax),
	}
	if d.Name == "" {
		v.addf(key+".name", "required: a name of 1 to 64 letters, digits, '_' or '-'")
	} else if !namePattern.MatchString(d.Name) {
		v.addf(key+".name", "%q: want 1 to 64 letters, digits, '_' or '-' (it becomes an MQTT topic level)", d.Name)
	}
	switch d.Kind {
	case "serial":
		switch {
		case d.Path == "" && d.USB == "":
			v.addf(key+".path", "a serial device needs a path, or usb = \"vid:pid\"")
		case d.Path != "" && d.USB != "":
			v.addf(key+".usb", "give path or usb, not both")
		case d.USB != "" && !usbPattern.MatchString(d.USB):
			v.addf(key+".usb", "%q: want vid:pid in hex, such as \"067b:2303\"", f.USB)
		}
		if d.USBSerial != "" && d.USB == "" {
			v.addf(key+".usb_serial", "usb_serial narrows a usb match; set usb too")
		}
		v.line(key, &d)
	case "file":
		if d.Path == "" {
			v.addf(key+".path", "a file device needs a path")
		}
		if d.USB != "" {
			v.addf(key+".usb", "usb matching is for serial devices")
		}
	case "tcp":
		v.tcpDevice(key, f, &d)
	default:
		v.addf(key+".kind", "%q is not one of serial, file, tcp", d.Kind)
	}
	if f.Address != "" && (d.Kind == "serial" || d.Kind == "file") {
		v.addf(key+".address", "is for kind = \"tcp\": a %s device is opened by its path", d.Kind)
	}
	if d.MaxFrame < 1 || d.MaxFrame > 16<<20 {
		v.addf(key+".max_frame", "%d: want 1 to 16777216 bytes", d.MaxFrame)
	}
	framing := d.Framing
	if isModbus(f.Protocol) {
		framing = "raw" // a Modbus device's frames are Modbus's: its framing is ignored
	}
	switch framing {
	case "line":
		if s := string(d.Delimiter); s != "\n" && s != "\r\n" {
			v.addf(key+".delimiter", "%q: line framing ends lines with \"\\n\" or \"\\r\\n\"; use framing = \"delimiter\" for others", s)
		}
	case "slip", "cobs", "raw":
	case "delimiter":
		if len(d.Delimiter) == 0 {
			v.addf(key+".delimiter", "must not be empty with framing = \"delimiter\"")
		}
	case "fixed":
		if d.FrameSize < 1 || d.FrameSize > d.MaxFrame {
			v.addf(key+".frame_size", "%d: want 1 to max_frame (%d) with framing = \"fixed\"", d.FrameSize, d.MaxFrame)
		}
	case "idle":
		if d.IdleGap <= 0 {
			v.addf(key+".idle_gap", "%s: must be more than 0 with framing = \"idle\"", d.IdleGap)
		}
	default:
		v.addf(key+".framing", "%q is not one of line, delimiter, fixed, idle, slip, cobs, raw", d.Framing)
	}
	oneOf(v, key+".encoding", d.Encoding, "text", "hex", "base64", "json")
	if d.TCPListen != "" {
		v.listenAddr(key+".tcp_listen", d.TCPListen)
	}
	if d.TCPMaxClients < 1 {
		v.addf(key+".tcp_max_clients", "%d: must be at least 1", d.TCPMaxClients)
	}
	oneOf(v, key+".tcp_overflow", d.TCPOverflow, "refuse", "kick-oldest")
	oneOf(v, key+".tcp_protocol", d.TCPProtocol, "raw", "rfc2217")
	if d.TCPProtocol == "rfc2217" && d.Kind != "serial" {
		v.addf(key+".tcp_protocol", "rfc2217 sets a serial port's line: kind = %q has none", d.Kind)
	}
	if d.TCPIdleTimeout < 0 {
		v.addf(key+".tcp_idle_timeout", "%s: must not be negative (0 means none)", d.TCPIdleTimeout)
	}
	for _, a := range f.TCPAllow {
		p, err := netip.ParsePrefix(a)
		if err != nil {
			if addr, aerr := netip.ParseAddr(a); aerr == nil {
				p, err = addr.Prefix(addr.BitLen())
			}
		}
		if err != nil {
			v.addf(key+".tcp_allow", "%q: want an address or a CIDR block such as \"192.168.1.0/24\"", a)
			continue
		}
		d.TCPAllow = append(d.TCPAllow, p.Masked())
	}
	if d.ReconnectMin <= 0 {
		v.addf(key+".reconnect_min", "%s: must be more than 0", d.ReconnectMin)
	}
	if d.ReconnectMax < d.ReconnectMin {
		v.addf(key+".reconnect_max", "%s: must not be less than reconnect_min (%s)", d.ReconnectMax, d.ReconnectMin)
	}
	return d
}

// line checks the line settings of a serial port.
func (v *validator) line(key string, d *Device) {
	if d.Baud <= 0 || d.Baud > math.MaxInt32 {
		v.addf(key+".baud", "%d: want 1 to %d", d.Baud, math.MaxInt32) // what termios and RFC 2217 can carry
	}
	if d.DataBits < 5 || d.DataBits > 8 {
		v.addf(key+".data_bits", "%d: want 5, 6, 7 or 8", d.DataBits)
	}
	oneOf(v, key+".parity", d.Parity, "none", "even", "odd", "mark", "space")
	if d.StopBits != 1 && d.StopBits != 2 {
		v.addf(key+".stop_bits", "%d: want 1 or 2", d.StopBits)
	}
	oneOf(v, key+".flow", d.Flow, "none", "rtscts", "xonxoff")
}
