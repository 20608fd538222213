package config

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
)

// The broker's TLS files are read and parsed when the configuration is
// loaded, so that `iogate check` names the file that does not parse, and so
// that a reload whose files are bad is refused whole before anything
// changes: the running connection keeps its TLS.

// tlsFiles loads ca_file (PEM certificates) and the client certificate
// and key of [mqtt], reporting each problem under its key.
func (v *validator) tlsFiles(m *MQTT) {
	h := sha256.New()
	if m.CAFile != "" {
		pem, err := os.ReadFile(m.CAFile)
		switch {
		case err != nil:
			v.add("mqtt.ca_file", err)
		default:
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				v.addf("mqtt.ca_file", "%s: no PEM certificate in it", m.CAFile)
			}
			m.CA = pool
			h.Write(pem)
		}
	}
	if m.CertFile != "" && m.KeyFile != "" {
		cert, certPEM, keyPEM, err := loadKeyPair(m.CertFile, m.KeyFile)
		if err != nil {
			v.add(err.key, err.err)
		} else {
			m.Certificate = &cert
			h.Write(certPEM)
			h.Write(keyPEM)
		}
	}
	h.Sum(m.TLSDigest[:0])
}

// keyPairError is a problem with one of the two files of a key pair.
type keyPairError struct {
	key string
	err error
}

// loadKeyPair reads a certificate and its private key and checks that
// they belong together.
func loadKeyPair(certFile, keyFile string) (tls.Certificate, []byte, []byte, *keyPairError) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return tls.Certificate{}, nil, nil, &keyPairError{"mqtt.cert_file", err}
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return tls.Certificate{}, nil, nil, &keyPairError{"mqtt.key_file", err}
	}
	if err := firstCertificate(certPEM); err != nil {
		return tls.Certificate{}, nil, nil, &keyPairError{"mqtt.cert_file", fmt.Errorf("%s: %w", certFile, err)}
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, nil, nil, &keyPairError{"mqtt.key_file", fmt.Errorf("%s (for cert_file %s): %w", keyFile, certFile, err)}
	}
	return cert, certPEM, keyPEM, nil
}

// firstCertificate checks that data starts with a PEM certificate that
// parses.
func firstCertificate(data []byte) error {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return errors.New("no PEM certificate in it")
		}
		if block.Type == "CERTIFICATE" {
			_, err := x509.ParseCertificate(block.Bytes)
			return err
		}
	}
}

// Same tells whether two [mqtt] settings are the same, the TLS files by
// their contents: a reload with a renewed certificate reconnects.
func (m MQTT) Same(o MQTT) bool {
	m.CA, m.Certificate, o.CA, o.Certificate = nil, nil, nil, nil
	return m == o
}
