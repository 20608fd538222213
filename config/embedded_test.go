package config_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iogate/iogate/config"
)

// alice's password is "correct horse", made by mosquitto_passwd 2.0.11.
const passwd = "# made by mosquitto_passwd\n" +
	"alice:$7$101$qtXfVi7bjS1XyJkC$Z+i/YMbjZhnSQxDjukw9YOvbkZoviba75YzB0RooyzpYZH02wqKnhQNqyNyOQ6v/PbcVE2ai3ThGd7bbcHC/ag==\n"

const aclText = "user alice\ntopic readwrite iogate/#\n"

// writeFile writes text to name in dir and returns its path.
func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// selfSigned writes a certificate for 127.0.0.1 and its key, and returns
// their paths.
func selfSigned(t *testing.T, dir, name string) (cert, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: name},
		DNSNames:     []string{name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	cert = writeFile(t, dir, name+".crt", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	key = writeFile(t, dir, name+".key", string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})))
	return cert, key
}

func embeddedConfig(lines string) string {
	return "[gateway]\nid = \"g\"\n[mqtt]\nbroker = \"embedded\"\n" + lines
}

func TestEmbeddedDefaults(t *testing.T) {
	c, err := config.Parse("t.toml", []byte(embeddedConfig("")))
	if err != nil {
		t.Fatal(err)
	}
	want := config.EmbeddedBroker{MaxClients: 100, MaxPacketSize: 1 << 20, MaxInflight: 256, MaxQueued: 256, MaxRetainedBytes: 4 << 20}
	if fmt.Sprintf("%+v", c.Embedded) != fmt.Sprintf("%+v", want) {
		t.Errorf("embedded\n got %+v\nwant %+v", c.Embedded, want)
	}
	if c.MQTT.EmbeddedListen != "127.0.0.1:1883" {
		t.Errorf("embedded_listen %q", c.MQTT.EmbeddedListen)
	}
}

func TestEmbeddedStandalone(t *testing.T) {
	dir := t.TempDir()
	pw := writeFile(t, dir, "passwd", passwd)
	acl := writeFile(t, dir, "acl", aclText)
	cert, key := selfSigned(t, dir, "box.example")
	c, err := config.Parse("t.toml", []byte(embeddedConfig(fmt.Sprintf(`embedded_listen = ""
embedded_tls_listen = "0.0.0.0:8883"
embedded_cert_file = %q
embedded_key_file = %q
embedded_password_file = %q
embedded_acl_file = %q
embedded_max_clients = 10
embedded_max_packet_size = "64KiB"
embedded_max_inflight = 20
embedded_max_queued = 1000
embedded_max_retained_bytes = "16KiB"
`, cert, key, pw, acl))))
	if err != nil {
		t.Fatal(err)
	}
	e := c.Embedded
	if e.TLSListen != "0.0.0.0:8883" || c.MQTT.EmbeddedListen != "" {
		t.Errorf("listeners %q and %q", c.MQTT.EmbeddedListen, e.TLSListen)
	}
	if e.Certificate == nil || e.Certificate.Leaf == nil || e.Certificate.Leaf.Subject.CommonName != "box.example" {
		t.Errorf("certificate %+v", e.Certificate)
	}
	if e.Passwords == nil || !e.Passwords.Check("alice", "correct horse") {
		t.Error("the password file was not read")
	}
	if e.ACL == nil || e.ACL.Rules() != 1 {
		t.Error("the ACL file was not read")
	}
	if e.MaxClients != 10 || e.MaxPacketSize != 64<<10 || e.MaxInflight != 20 || e.MaxQueued != 1000 || e.MaxRetainedBytes != 16<<10 {
		t.Errorf("limits %+v", e)
	}
}

// Beyond loopback, a password file or embedded_allow_anonymous is needed.
func TestEmbeddedBeyondLoopback(t *testing.T) {
	dir := t.TempDir()
	pw := writeFile(t, dir, "passwd", passwd)
	cert, key := selfSigned(t, dir, "box")
	tls := fmt.Sprintf("embedded_cert_file = %q\nembedded_key_file = %q\n", cert, key)
	for _, c := range []struct {
		lines string
		want  string // "" for valid
	}{
		{`embedded_listen = "127.0.0.1:1883"`, ""},
		{`embedded_listen = "127.0.0.5:1883"`, ""},
		{`embedded_listen = "[::1]:1883"`, ""},
		{`embedded_listen = "localhost:1883"`, ""},
		{`embedded_listen = "0.0.0.0:1883"`, "t.toml:5: mqtt.embedded_listen: \"0.0.0.0:1883\" listens beyond loopback"},
		{`embedded_listen = "[::]:1883"`, "mqtt.embedded_listen: \"[::]:1883\" listens beyond loopback"},
		{`embedded_listen = "192.168.1.2:1883"`, "mqtt.embedded_listen"},
		{`embedded_listen = "box.lan:1883"`, "mqtt.embedded_listen"},
		{"embedded_listen = \"0.0.0.0:1883\"\nembedded_allow_anonymous = true", ""},
		{fmt.Sprintf("embedded_listen = \"0.0.0.0:1883\"\nembedded_password_file = %q", pw), ""},
		{"embedded_tls_listen = \"0.0.0.0:8883\"\n" + tls, "t.toml:5: mqtt.embedded_tls_listen: \"0.0.0.0:8883\" listens beyond loopback"},
		{"embedded_tls_listen = \"127.0.0.1:8883\"\n" + tls, ""},
	} {
		_, err := config.Parse("t.toml", []byte(embeddedConfig(c.lines+"\n")))
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.lines, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: error %v, want %q", c.lines, err, c.want)
		}
	}
	// The check is only for the embedded broker.
	if _, err := config.Parse("t.toml", []byte("[gateway]\nid = \"g\"\n[mqtt]\nembedded_listen = \"0.0.0.0:1883\"\n")); err != nil {
		t.Errorf("a remote broker and embedded_listen beyond loopback: %v", err)
	}
}

// A bad line of a file the config names is reported at the key's line,
// with the file's own line.
func TestEmbeddedFileErrors(t *testing.T) {
	dir := t.TempDir()
	badPW := writeFile(t, dir, "bad-passwd", passwd+"bob:secret\n")
	badACL := writeFile(t, dir, "bad-acl", "# viewers\nuser viewer\ntopic reed iogate/#\n")
	cert, key := selfSigned(t, dir, "box")
	_, otherKey := selfSigned(t, dir, "other")
	garbage := writeFile(t, dir, "garbage.pem", "not a certificate\n")
	files := func(cert, key string) string {
		return fmt.Sprintf("embedded_cert_file = %q\nembedded_key_file = %q\n", cert, key)
	}
	tls := func(cert, key string) string { return "embedded_tls_listen = \"127.0.0.1:8883\"\n" + files(cert, key) }
	for _, c := range []struct {
		name, lines string
		want        []string
	}{
		{"bad password line", fmt.Sprintf("embedded_password_file = %q\n", badPW),
			[]string{"t.toml:5: mqtt.embedded_password_file: " + badPW + ":3: user \"bob\":", "plain-text"}},
		{"missing password file", "embedded_password_file = \"/nonexistent/passwd\"\n",
			[]string{"t.toml:5: mqtt.embedded_password_file: open /nonexistent/passwd: no such file"}},
		{"bad ACL line", fmt.Sprintf("embedded_acl_file = %q\n", badACL),
			[]string{"t.toml:5: mqtt.embedded_acl_file: " + badACL + ":3: topic iogate/#: access \"reed\""}},
		{"certificate does not parse", tls(garbage, key), []string{"t.toml:6: mqtt.embedded_cert_file: " + garbage + ": no PEM CERTIFICATE"}},
		{"key does not parse", tls(cert, garbage), []string{"t.toml:7: mqtt.embedded_key_file: " + garbage}},
		{"key does not match", tls(cert, otherKey), []string{"t.toml:7: mqtt.embedded_key_file:", "does not match"}},
		{"TLS without files", "embedded_tls_listen = \"127.0.0.1:8883\"\n", []string{"t.toml:5: mqtt.embedded_tls_listen: TLS needs embedded_cert_file and embedded_key_file"}},
		{"files without TLS", files(cert, key), []string{"t.toml:5: mqtt.embedded_cert_file:", "embedded_tls_listen"}},
		{"no listener", "embedded_listen = \"\"\n", []string{"t.toml:5: mqtt.embedded_listen:", "needs a listener"}},
		{"same port twice", "embedded_listen = \"127.0.0.1:1883\"\nembedded_tls_listen = \"127.0.0.1:1883\"\n" + files(cert, key),
			[]string{"mqtt.embedded_tls_listen: 127.0.0.1:1883 is embedded_listen too"}},
		{"TLS listen without host", "embedded_tls_listen = \":8883\"\n" + files(cert, key),
			[]string{"t.toml:5: mqtt.embedded_tls_listen:", "0.0.0.0"}},
		{"max clients", "embedded_max_clients = 0\n", []string{"t.toml:5: mqtt.embedded_max_clients: 0: want 1 to 100000"}},
		{"max packet", "embedded_max_packet_size = \"512MiB\"\n", []string{"t.toml:5: mqtt.embedded_max_packet_size:"}},
		{"max inflight", "embedded_max_inflight = 65536\n", []string{"t.toml:5: mqtt.embedded_max_inflight:"}},
		{"max queued", "embedded_max_queued = -1\n", []string{"t.toml:5: mqtt.embedded_max_queued:"}},
		{"max retained", "embedded_max_retained_bytes = \"lots\"\n", []string{"t.toml:5: mqtt.embedded_max_retained_bytes:", "size"}},
		{"max retained too small", "embedded_max_retained_bytes = 0\n", []string{"t.toml:5: mqtt.embedded_max_retained_bytes: 0: want at least 1KiB"}},
		{"unknown key", "embedded_max_client = 10\n", []string{"t.toml:5: mqtt.embedded_max_client: unknown key"}},
		{"device on the TLS port", tls(cert, key) + "[[device]]\nname = \"d\"\npath = \"/dev/x\"\ntcp_listen = \"127.0.0.1:8883\"\n",
			[]string{"device[0].tcp_listen: 127.0.0.1:8883 is already taken by mqtt.embedded_tls_listen"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := config.Parse("t.toml", []byte(embeddedConfig(c.lines)))
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Fatalf("Parse: %v, want a *config.Error", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// The files are read only for the embedded broker.
func TestEmbeddedFilesIgnoredElsewhere(t *testing.T) {
	_, err := config.Parse("t.toml", []byte("[gateway]\nid = \"g\"\n[mqtt]\nbroker = \"none\"\nembedded_password_file = \"/nonexistent\"\n"))
	if err != nil {
		t.Errorf("broker = none reads the embedded broker's password file: %v", err)
	}
}
