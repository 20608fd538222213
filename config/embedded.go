package config

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"

	"github.com/iogate/iogate/mqttauth"
)

// EmbeddedBroker is the embedded broker's part of the [mqtt] table: the
// embedded_* keys beyond embedded_listen (which is MQTT.EmbeddedListen),
// with the files they name read and parsed at load, so that a bad line is
// found by `iogate check` and the broker never reads a file itself. It is
// filled in with broker = "embedded" only.
type EmbeddedBroker struct {
	TLSListen   string // MQTT over TLS; "" for none
	CertFile    string
	KeyFile     string
	Certificate *tls.Certificate // from CertFile and KeyFile, its Leaf parsed; nil without TLSListen

	PasswordFile   string
	Passwords      *mqttauth.Passwords // nil without a password file
	ACLFile        string
	ACL            *mqttauth.ACL // nil without an ACL file: the clients let in may do everything
	AllowAnonymous bool          // anonymous clients beyond loopback; no effect with a password file

	MaxClients       int   // connected at once, the gateway not counted
	MaxPacketSize    int   // the largest MQTT packet a client may send, in bytes
	MaxInflight      int   // QoS 1 and 2 messages held per client until acknowledged
	MaxQueued        int   // messages waiting to be written per client
	MaxRetainedBytes int64 // retained topics and payloads; the gateway's own are retained past it
}

// embeddedFile holds the embedded_* keys as the file says them. It is
// embedded in the [mqtt] table's struct, whose keys it adds.
type embeddedFile struct {
	PasswordFile     string `toml:"embedded_password_file"`
	ACLFile          string `toml:"embedded_acl_file"`
	AllowAnonymous   bool   `toml:"embedded_allow_anonymous"`
	TLSListen        string `toml:"embedded_tls_listen"`
	CertFile         string `toml:"embedded_cert_file"`
	KeyFile          string `toml:"embedded_key_file"`
	MaxClients       int    `toml:"embedded_max_clients"`
	MaxPacketSize    Size   `toml:"embedded_max_packet_size"`
	MaxInflight      int    `toml:"embedded_max_inflight"`
	MaxQueued        int    `toml:"embedded_max_queued"`
	MaxRetainedBytes Size   `toml:"embedded_max_retained_bytes"`
}

// The limits' defaults, the embedded broker's own (resources/mqtt's
// DefaultBroker* constants, which say why).
func (e *embeddedFile) setDefaults() {
	e.MaxClients = 100
	e.MaxPacketSize = 1 << 20
	e.MaxInflight = 256
	e.MaxQueued = 256
	e.MaxRetainedBytes = 4 << 20
}

// maxMQTTPacket is the largest packet MQTT can encode.
const maxMQTTPacket = 1<<28 - 1

// embedded checks the embedded broker's keys and reads its files into
// c.Embedded; listen is embedded_listen.
func (v *validator) embedded(c *Config, e *embeddedFile, listen string) {
	out := EmbeddedBroker{
		TLSListen: e.TLSListen, CertFile: e.CertFile, KeyFile: e.KeyFile,
		PasswordFile: e.PasswordFile, ACLFile: e.ACLFile, AllowAnonymous: e.AllowAnonymous,
		MaxClients: e.MaxClients, MaxPacketSize: int(e.MaxPacketSize), MaxInflight: e.MaxInflight,
		MaxQueued: e.MaxQueued, MaxRetainedBytes: int64(e.MaxRetainedBytes),
	}
	switch {
	case listen == "" && e.TLSListen == "":
		v.addf("mqtt.embedded_listen", `"": the embedded broker needs a listener: embedded_listen, embedded_tls_listen or both`)
	case listen != "" && listen == e.TLSListen:
		v.addf("mqtt.embedded_tls_listen", "%s is embedded_listen too: plain MQTT and TLS need a port each", e.TLSListen)
	}
	if e.TLSListen != "" {
		v.listenAddr("mqtt.embedded_tls_listen", e.TLSListen)
		if e.CertFile == "" || e.KeyFile == "" {
			v.addf("mqtt.embedded_tls_listen", "TLS needs embedded_cert_file and embedded_key_file")
		} else {
			out.Certificate = v.serverCertificate(e.CertFile, e.KeyFile)
		}
	} else if e.CertFile != "" || e.KeyFile != "" {
		v.addf("mqtt.embedded_cert_file", "embedded_cert_file and embedded_key_file are for embedded_tls_listen, which is not set")
	}
	if e.PasswordFile != "" {
		if data := v.readFile("mqtt.embedded_password_file", e.PasswordFile); data != nil {
			p, err := mqttauth.ParsePasswords(data)
			v.fileError("mqtt.embedded_password_file", e.PasswordFile, err)
			out.Passwords = p
		}
	}
	if e.ACLFile != "" {
		if data := v.readFile("mqtt.embedded_acl_file", e.ACLFile); data != nil {
			a, err := mqttauth.ParseACL(data)
			v.fileError("mqtt.embedded_acl_file", e.ACLFile, err)
			out.ACL = a
		}
	}
	if e.PasswordFile == "" && !e.AllowAnonymous {
		for _, l := range [][2]string{{"mqtt.embedded_listen", listen}, {"mqtt.embedded_tls_listen", e.TLSListen}} {
			if beyondLoopback(l[1]) {
				v.addf(l[0], "%q listens beyond loopback, where anyone could connect without a password: "+
					"set embedded_password_file (made with mosquitto_passwd), or embedded_allow_anonymous = true if that is meant", l[1])
			}
		}
	}
	if out.MaxClients < 1 || out.MaxClients > 100000 {
		v.addf("mqtt.embedded_max_clients", "%d: want 1 to 100000", out.MaxClients)
	}
	if out.MaxPacketSize < 1<<10 || out.MaxPacketSize > maxMQTTPacket {
		v.addf("mqtt.embedded_max_packet_size", "%d: want 1KiB to %d bytes, the most MQTT can carry", out.MaxPacketSize, maxMQTTPacket)
	}
	if out.MaxInflight < 1 || out.MaxInflight > 65535 {
		v.addf("mqtt.embedded_max_inflight", "%d: want 1 to 65535", out.MaxInflight)
	}
	if out.MaxQueued < 1 || out.MaxQueued > 1000000 {
		v.addf("mqtt.embedded_max_queued", "%d: want 1 to 1000000", out.MaxQueued)
	}
	if out.MaxRetainedBytes < 1<<10 {
		v.addf("mqtt.embedded_max_retained_bytes", "%d: want at least 1KiB", out.MaxRetainedBytes)
	}
	c.Embedded = out
}

// readFile returns the file's contents, or nil after reporting why not.
func (v *validator) readFile(key, path string) []byte {
	data, err := os.ReadFile(path)
	if err != nil {
		v.add(key, err)
		return nil
	}
	if data == nil {
		data = []byte{}
	}
	return data
}

// fileError reports a parse error of the file at path as path:line.
func (v *validator) fileError(key, path string, err error) {
	var le *mqttauth.LineError
	switch {
	case err == nil:
	case errors.As(err, &le):
		v.add(key, fmt.Errorf("%s:%d: %w", path, le.Line, le.Err))
	default:
		v.add(key, fmt.Errorf("%s: %w", path, err))
	}
}

// serverCertificate reads a certificate chain and its key, reporting a
// certificate that does not parse on embedded_cert_file and a key that
// does not parse or match it on embedded_key_file.
func (v *validator) serverCertificate(certFile, keyFile string) *tls.Certificate {
	certPEM := v.readFile("mqtt.embedded_cert_file", certFile)
	keyPEM := v.readFile("mqtt.embedded_key_file", keyFile)
	if certPEM == nil || keyPEM == nil {
		return nil
	}
	block, _ := pem.Decode(certPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		v.addf("mqtt.embedded_cert_file", "%s: no PEM CERTIFICATE block", certFile)
		return nil
	}
	if _, err := x509.ParseCertificate(block.Bytes); err != nil {
		v.addf("mqtt.embedded_cert_file", "%s: %v", certFile, err)
		return nil
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		v.addf("mqtt.embedded_key_file", "%s (for %s): %v", keyFile, certFile, err)
		return nil
	}
	return &cert
}

// beyondLoopback reports whether a listener on addr could be reached from
// another machine. A host name other than localhost might be.
func beyondLoopback(addr string) bool {
	if addr == "" {
		return false
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "localhost" {
		return false // a bad address is reported on its own
	}
	ip, err := netip.ParseAddr(host)
	return err != nil || !ip.Unmap().IsLoopback()
}
