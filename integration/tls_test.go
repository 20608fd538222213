package integration

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// authority is a certificate authority of a test's own, its certificate
// in a PEM file for ca_file and cafile.
type authority struct {
	t    *testing.T
	dir  string
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	file string
}

// newAuthority makes a CA named name, its files in dir.
func newAuthority(t *testing.T, dir, name string) *authority {
	t.Helper()
	a := &authority{t: t, dir: dir, key: newKey(t)}
	tmpl := &x509.Certificate{
		SerialNumber:          newSerial(t),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &a.key.PublicKey, a.key)
	if err != nil {
		t.Fatal(err)
	}
	if a.cert, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	a.file = filepath.Join(dir, name+".crt")
	writePEM(t, a.file, "CERTIFICATE", der)
	return a
}

// issue signs a certificate for name and writes it and its key. hosts are
// the server's addresses, IPs or DNS names; none makes a client
// certificate.
func (a *authority) issue(name string, hosts ...string) (certFile, keyFile string) {
	a.t.Helper()
	key := newKey(a.t)
	tmpl := &x509.Certificate{
		SerialNumber: newSerial(a.t),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if len(hosts) > 0 {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.cert, &key.PublicKey, a.key)
	if err != nil {
		a.t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		a.t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(a.dir, name+".crt"), filepath.Join(a.dir, name+".key")
	writePEM(a.t, certFile, "CERTIFICATE", der)
	writePEM(a.t, keyFile, "PRIVATE KEY", pkcs8)
	return certFile, keyFile
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func newSerial(t *testing.T) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func writePEM(t *testing.T, path, kind string, der []byte) {
	t.Helper()
	// Readable by all: mosquitto may drop root for its own user.
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
}

// sharedDir is a temporary directory that mosquitto can read after it
// drops root for its own user, as it does when started as root.
func sharedDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} { // the test's and its own
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// The broker is reached over TLS, verified against ca_file by its IP or
// its name, with a client certificate when it wants one; a broker that
// cannot be trusted, or that refuses the gateway's certificate, is never
// spoken to, the log says why, and the gateway keeps trying without
// falling over.
func TestTLS(t *testing.T) {
	t.Parallel()
	dir := sharedDir(t)
	ca := newAuthority(t, dir, "iogate-test-ca")
	other := newAuthority(t, dir, "another-ca")
	serverCert, serverKey := ca.issue("broker", "127.0.0.1", "localhost")
	elsewhereCert, elsewhereKey := ca.issue("elsewhere", "broker.example")
	clientCert, clientKey := ca.issue("gateway")
	strangerCert, strangerKey := other.issue("stranger")

	for _, c := range []struct {
		name       string
		host       string // in mqtt.broker
		cert, key  string // the broker's
		require    bool   // the broker wants a client certificate
		mqtt       string // the gateway's TLS settings
		refusedFor string // in the log when it must not connect; "" when it must
	}{
		{name: "verified by IP", host: "127.0.0.1", cert: serverCert, key: serverKey,
			mqtt: fmt.Sprintf("ca_file = %q", ca.file)},
		{name: "verified by name", host: "localhost", cert: serverCert, key: serverKey,
			mqtt: fmt.Sprintf("ca_file = %q", ca.file)},
		{name: "client certificate", host: "127.0.0.1", cert: serverCert, key: serverKey, require: true,
			mqtt: fmt.Sprintf("ca_file = %q\ncert_file = %q\nkey_file = %q", ca.file, clientCert, clientKey)},
		{name: "insecure_skip_verify", host: "127.0.0.1", cert: serverCert, key: serverKey,
			mqtt: "insecure_skip_verify = true"},
		{name: "unknown authority", host: "127.0.0.1", cert: serverCert, key: serverKey,
			mqtt:       fmt.Sprintf("ca_file = %q", other.file),
			refusedFor: "x509: certificate signed by unknown authority"},
		{name: "no system root", host: "127.0.0.1", cert: serverCert, key: serverKey,
			refusedFor: "x509: certificate signed by unknown authority"},
		{name: "certificate for another host", host: "127.0.0.1", cert: elsewhereCert, key: elsewhereKey,
			mqtt:       fmt.Sprintf("ca_file = %q", ca.file),
			refusedFor: "x509: cannot validate certificate for 127.0.0.1"},
		{name: "no client certificate", host: "127.0.0.1", cert: serverCert, key: serverKey, require: true,
			mqtt:       fmt.Sprintf("ca_file = %q", ca.file),
			refusedFor: "certificate required"},
		{name: "client certificate of another authority", host: "127.0.0.1", cert: serverCert, key: serverKey, require: true,
			mqtt:       fmt.Sprintf("ca_file = %q\ncert_file = %q\nkey_file = %q", ca.file, strangerCert, strangerKey),
			refusedFor: "unknown certificate authority"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			// The test's client on a plain listener, the gateway on a TLS one.
			mq := startMosquittoWith(t, func(port, tlsPort int) string {
				return plainListener(port) + fmt.Sprintf("listener %d 127.0.0.1\ncafile %s\ncertfile %s\nkeyfile %s\nrequire_certificate %t\n",
					tlsPort, ca.file, c.cert, c.key, c.require)
			})
			dev := plug(t, "gps")
			sub := subscribe(t, mq.url(), prefix+"/#")
			gw := startGatewayWith(t, gatewayOptions{mqtt: c.mqtt}, fmt.Sprintf("ssl://%s:%d", c.host, mq.port2), dev.toml(""))

			if c.refusedFor == "" {
				waitOnline(t, sub, dev)
				dev.write("over tls\n")
				sub.expect(dev.topic("rx"), "over tls")
				if strings.Contains(c.mqtt, "insecure_skip_verify") {
					gw.log.waitFor(t, "warning: insecure_skip_verify", func(e entry) bool {
						return e.is("warning", "insecure_skip_verify")
					})
				}
				return
			}

			refusal := gw.log.waitFor(t, "warning: mqtt: cannot connect", func(e entry) bool {
				return e.is("warning", "mqtt: cannot connect")
			})
			if why := fmt.Sprint(refusal["error"]); !strings.Contains(why, c.refusedFor) {
				t.Errorf("cannot connect because %q, want it to say %q", why, c.refusedFor)
			}
			// It tries again, and again, and is still there.
			mq.log.waitUntil(t, "second connection attempt", func() bool { return mq.connections(mq.port2) >= 2 })
			if es := gw.log.entries(func(e entry) bool { return e.is("info", "mqtt: connected") }); len(es) > 0 {
				t.Errorf("the gateway connected to a broker it must refuse: %v", es)
			}
			if got := sub.seen(prefix + "/status"); len(got) > 0 {
				t.Errorf("the gateway published its status %q through a broker it must refuse", got)
			}
		})
	}
}
