package mqtt_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iogate/iogate/reactor"
	"github.com/iogate/iogate/reactor/reactortest"
	"github.com/iogate/iogate/resources/mqtt"
)

// pki is a certificate authority and a broker certificate it signed for
// 127.0.0.1.
type pki struct {
	roots  *x509.CertPool
	caDER  []byte // the authority's certificate, for clients that read it from a file
	server tls.Certificate
}

func newPKI(t *testing.T) pki {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ca := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "iogate test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err = x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "broker"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	return pki{roots: roots, caDER: caDER, server: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}}
}

// startTLSBroker runs the embedded broker behind TLS with p's certificate.
func startTLSBroker(t *testing.T, p pki) *mqtt.Broker {
	t.Helper()
	b, err := mqtt.StartBrokerWith(mqtt.BrokerOptions{TLSListen: "127.0.0.1:0", Certificate: &p.server})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func TestTLSUntrusted(t *testing.T) {
	b := startTLSBroker(t, newPKI(t))
	other := newPKI(t)
	c := dial(t, b.TLSAddr(), &tls.Config{RootCAs: other.roots}, mqtt.Options{ClientID: "gw", CleanSession: true})
	e := c.loop.Expect("disconnected", c.id)
	var verify *tls.CertificateVerificationError
	if !errors.As(e.Err, &verify) {
		t.Errorf("Disconnected(%v), want a certificate verification error", e.Err)
	}
	if !strings.Contains(e.Err.Error(), b.TLSAddr()) {
		t.Errorf("Disconnected(%v) does not name the broker %s", e.Err, b.TLSAddr())
	}
}

func TestTLSRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c := dial(t, addr, &tls.Config{}, mqtt.Options{ClientID: "gw", CleanSession: true})
	if e := c.loop.Expect("disconnected", c.id); !errors.Is(e.Err, syscall.ECONNREFUSED) {
		t.Errorf("Disconnected(%v), want ECONNREFUSED", e.Err)
	}
}

// While the handshake waits on a broker that says nothing, the reactor
// sleeps; closing the connection then ends the pump and the real
// connection.
func TestTLSCloseDuringHandshake(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	hello, gone := make(chan error, 1), make(chan error, 1)
	go func() {
		conn, err := l.Accept()
		if err != nil {
			hello <- err
			return
		}
		defer conn.Close()
		_, err = conn.Read(make([]byte, 1024)) // the ClientHello
		hello <- err
		_, err = io.Copy(io.Discard, conn)
		gone <- err
	}()
	c := dial(t, l.Addr().String(), &tls.Config{}, mqtt.Options{ClientID: "gw"})
	if err := <-hello; err != nil {
		t.Fatal(err)
	}

	var before, after uint64
	c.do(func(r *reactor.Reactor) { before = r.Wakeups(); c.loop.Svc.SetTimer(r, 50*time.Millisecond) })
	c.loop.Expect("timer", 0)
	c.do(func(r *reactor.Reactor) { after = r.Wakeups() })
	// One wake-up each for the command, the timer and the last command.
	if after-before > 3 {
		t.Errorf("%d wake-ups in 50 ms of handshake, want 3: the reactor spins", after-before)
	}

	c.drop()
	select {
	case err := <-gone:
		if err != nil {
			t.Errorf("broker side: %v, want end of file", err)
		}
	case <-time.After(reactortest.Deadline):
		t.Fatal("the real connection stayed open after Close")
	}
}
