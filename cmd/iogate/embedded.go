package main

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/sirupsen/logrus"

	"github.com/iogate/iogate/config"
	"github.com/iogate/iogate/resources/mqtt"
)

// startBroker starts the embedded broker c asks for, and points c's MQTT
// connection at it with the gateway's own credentials.
func startBroker(c *config.Config, log *logrus.Entry) (*mqtt.Broker, error) {
	e := c.Embedded
	b, err := mqtt.StartBrokerWith(mqtt.BrokerOptions{
		Listen:       c.MQTT.EmbeddedListen,
		TLSListen:    e.TLSListen,
		Certificate:  e.Certificate,
		Auth:         brokerAuth(c),
		Limits:       brokerLimits(c),
		RetainedFile: retainedFile(c),
		Logger:       slogTo(log),
	})
	if err != nil {
		return nil, err
	}
	useBroker(c, b)
	log.WithFields(logrus.Fields{"listen": b.Addr(), "tls_listen": b.TLSAddr()}).Info("embedded broker started")
	return b, nil
}

func brokerAuth(c *config.Config) mqtt.BrokerAuth {
	e := c.Embedded
	return mqtt.BrokerAuth{Passwords: e.Passwords, ACL: e.ACL, AllowAnonymous: e.AllowAnonymous, GatewayClientID: c.MQTT.ClientID}
}

func brokerLimits(c *config.Config) mqtt.BrokerLimits {
	e := c.Embedded
	return mqtt.BrokerLimits{
		MaxClients:       e.MaxClients,
		MaxPacketSize:    max(e.MaxPacketSize, gatewayPacket(c)),
		MaxInflight:      e.MaxInflight,
		MaxQueued:        e.MaxQueued,
		MaxRetainedBytes: e.MaxRetainedBytes,
	}
}

// retainedFile is where the embedded broker keeps retained messages across
// restarts.
func retainedFile(c *config.Config) string {
	return filepath.Join(c.Gateway.StateDir, "broker", "retained")
}

// gatewayPacket bounds the largest packet the gateway itself publishes,
// which the broker must take whatever embedded_max_packet_size says: a
// frame of max_frame bytes is at worst six times longer in JSON (every byte
// a \u00XX escape), with room for the topic and the other fields.
func gatewayPacket(c *config.Config) int {
	frame := 0
	for _, d := range c.Devices {
		frame = max(frame, d.MaxFrame)
	}
	return 6*frame + 64<<10
}

// useBroker points c's MQTT connection at b's loopback listener for the
// gateway, with its credentials: mqtt.username and password_file do not
// apply to the embedded broker.
func useBroker(c *config.Config, b *mqtt.Broker) {
	user, password := b.GatewayCredentials()
	c.MQTT.Address = b.GatewayAddr()
	c.MQTT.TLS = false
	c.MQTT.Username = user
	c.MQTT.Password = config.Secret(password)
}

// reloadBroker applies the embedded broker's part of a new configuration:
// the password and ACL files, embedded_allow_anonymous and the certificate
// now (clients no longer allowed are disconnected), the listeners and the
// limits at the next start. b is nil when no broker was started.
func reloadBroker(b *mqtt.Broker, running, next *config.Config, log *logrus.Entry) {
	if running.MQTT.Kind != config.BrokerEmbedded && next.MQTT.Kind != config.BrokerEmbedded {
		return
	}
	if b == nil || next.MQTT.Kind != config.BrokerEmbedded {
		log.Warn("reload: the embedded broker starts and stops with the process; this change takes effect at the next start")
		return
	}
	if running.MQTT.EmbeddedListen != next.MQTT.EmbeddedListen || running.Embedded.TLSListen != next.Embedded.TLSListen ||
		brokerLimits(running) != brokerLimits(next) {
		log.Warn("reload: the embedded broker's listeners and limits take effect at the next start")
	}
	n := b.Reload(brokerAuth(next))
	b.SetCertificate(next.Embedded.Certificate)
	log.WithField("disconnected", n).Info("reload: the embedded broker's logins and ACL applied")
}

// describeBroker prints, for iogate check, what the embedded broker would
// listen on and whom it would let in.
func describeBroker(w io.Writer, c *config.Config) {
	m, e := c.MQTT, c.Embedded
	var on []string
	if m.EmbeddedListen != "" {
		on = append(on, m.EmbeddedListen)
	}
	if e.TLSListen != "" {
		on = append(on, e.TLSListen+" (TLS)")
	}
	fmt.Fprintf(w, "mqtt: embedded broker on %s, client %s, topics %s/..., qos %d\n", strings.Join(on, " and "), m.ClientID, m.TopicPrefix, m.QoS)
	if cert := e.Certificate; cert != nil && cert.Leaf != nil {
		names := cert.Leaf.DNSNames
		for _, ip := range cert.Leaf.IPAddresses {
			names = append(names, ip.String())
		}
		fmt.Fprintf(w, "  tls: certificate of %q for %s, valid until %s\n", cert.Leaf.Subject.CommonName,
			strings.Join(names, ", "), cert.Leaf.NotAfter.UTC().Format("2006-01-02"))
	}
	switch {
	case e.Passwords != nil:
		fmt.Fprintf(w, "  logins: the users of %s (%d); every client logs in\n", e.PasswordFile, len(e.Passwords.Users()))
	case e.AllowAnonymous:
		fmt.Fprintln(w, "  logins: none; anonymous clients from anywhere (embedded_allow_anonymous)")
	default:
		fmt.Fprintln(w, "  logins: none; anonymous clients from loopback only")
	}
	if e.ACL != nil {
		fmt.Fprintf(w, "  acl: %s: topic and pattern lines %d (patterns %d), user sections %s\n",
			e.ACLFile, e.ACL.Rules(), e.ACL.Patterns(), strings.Join(e.ACL.Users(), ", "))
	} else {
		fmt.Fprintln(w, "  acl: none; every client let in may read and write every topic")
	}
	l := brokerLimits(c)
	fmt.Fprintf(w, "  limits: %d clients, packets up to %s, %d in flight and %d queued per client, %s retained\n",
		l.MaxClients, config.FormatSize(int64(l.MaxPacketSize)), l.MaxInflight, l.MaxQueued, config.FormatSize(l.MaxRetainedBytes))
	fmt.Fprintf(w, "  retained messages kept in %s\n", retainedFile(c))
}
