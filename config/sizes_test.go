package config_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iogate/iogate/config"
	"github.com/iogate/iogate/spool"
)

// A frame the configuration accepts fits one record of the spool, whose
// segments are sized for the largest; a device that cannot fit is an
// error that says what to change.
func TestSizesCheckedTogether(t *testing.T) {
	for _, tc := range []struct {
		name, device, spool string
		segment             int64  // 0: an error is wanted
		err                 string // in it
	}{
		{"default", "", "", 4 << 20, ""},
		{"8 MiB frames in base64", "max_frame = 8388608\nencoding = \"base64\"", "", 11184812 + spool.RecordOverhead + 6 + 32, ""},
		{"16 MiB frames in hex", "max_frame = 16777216\nencoding = \"hex\"", "", 0,
			"t.toml:8: device[0].max_frame: 16777216 bytes in hex make payloads of up to 33554432 bytes, more than spool.max_bytes = 64MiB can hold in one record; raise spool.max_bytes to at least"},
		{"a small spool", "max_frame = 1048576", "[spool]\nmax_bytes = \"1MiB\"\n", 0, "device[0].max_frame: 1048576 bytes in text"},
		{"not published", "max_frame = 16777216\nencoding = \"hex\"\npublish = false", "", 4 << 20, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := config.Parse("t.toml", []byte(tc.spool+minimal+tc.device+"\n"))
			if tc.segment == 0 {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one saying %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Spool.SegmentBytes != tc.segment {
				t.Errorf("segments of %d bytes, want %d", c.Spool.SegmentBytes, tc.segment)
			}
			if d := c.Devices[0]; !d.Publish {
				return
			}
			d := c.Devices[0]
			if rec := int64(spool.RecordOverhead + len(d.RxTail()) + d.MaxPayload()); rec+32 > c.Spool.SegmentBytes {
				t.Errorf("a record of %d bytes does not fit a segment of %d", rec, c.Spool.SegmentBytes)
			}
		})
	}
}

// The TLS files are parsed when the configuration is loaded, and the error
// names the file's key.
func TestTLSFilesParsed(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := writeKeyPair(t, dir, "a")
	_, otherKey := writeKeyPair(t, dir, "b")
	notPEM := filepath.Join(dir, "junk.pem")
	os.WriteFile(notPEM, []byte("junk\n"), 0o600)
	broker := "[gateway]\nid = \"g\"\n[mqtt]\nbroker = \"ssl://127.0.0.1:8883\"\n"
	for _, tc := range []struct {
		name, mqtt, err string
	}{
		{"good", fmt.Sprintf("ca_file = %q\ncert_file = %q\nkey_file = %q\n", certFile, certFile, keyFile), ""},
		{"ca not PEM", fmt.Sprintf("ca_file = %q\n", notPEM), "t.toml:5: mqtt.ca_file: " + notPEM + ": no PEM certificate in it"},
		{"ca missing", fmt.Sprintf("ca_file = %q\n", dir+"/none"), "t.toml:5: mqtt.ca_file: open " + dir + "/none: no such file"},
		{"cert not PEM", fmt.Sprintf("cert_file = %q\nkey_file = %q\n", notPEM, keyFile), "t.toml:5: mqtt.cert_file: " + notPEM + ": no PEM certificate in it"},
		{"key of another", fmt.Sprintf("cert_file = %q\nkey_file = %q\n", certFile, otherKey), "t.toml:6: mqtt.key_file: " + otherKey},
		{"key not PEM", fmt.Sprintf("cert_file = %q\nkey_file = %q\n", certFile, notPEM), "t.toml:6: mqtt.key_file:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := config.Parse("t.toml", []byte(broker+tc.mqtt))
			if tc.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				if c.MQTT.CA == nil || c.MQTT.Certificate == nil {
					t.Errorf("parsed CA %v, certificate %v", c.MQTT.CA, c.MQTT.Certificate)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("error %v, want one saying %q", err, tc.err)
			}
		})
	}
}

// Same compares the TLS files by content: a renewed certificate at the
// same path is a change.
func TestSameComparesTLSContents(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := writeKeyPair(t, dir, "a")
	text := fmt.Sprintf("[gateway]\nid = \"g\"\n[mqtt]\nbroker = \"ssl://127.0.0.1:8883\"\nca_file = %q\n", certFile)
	a, err := config.Parse("t.toml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := config.Parse("t.toml", []byte(text))
	if !a.MQTT.Same(b.MQTT) {
		t.Error("the same files are not Same")
	}
	writeKeyPairAt(t, certFile, keyFile)
	c, _ := config.Parse("t.toml", []byte(text))
	if a.MQTT.Same(c.MQTT) {
		t.Error("a renewed CA file is Same")
	}
}

func writeKeyPair(t *testing.T, dir, name string) (certFile, keyFile string) {
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	writeKeyPairAt(t, certFile, keyFile)
	return certFile, keyFile
}

func writeKeyPairAt(t *testing.T, certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: "test"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(key)
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}), 0o600)
}
