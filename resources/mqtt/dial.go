package mqtt

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"

	"github.com/iogate/iogate/reactor"
	"github.com/iogate/iogate/resources/tcp"
)

// Dial starts a connection to the broker at addr, "host:port" with IPv6 in
// brackets, and returns at once: register the result with
// reactor.Connect, which reports Connected once the broker can be spoken
// to, or Disconnected with why not. Then Start a Session and send its
// CONNECT.
//
// A host name is looked up here with tcp.Resolve, which may block on DNS
// until ctx ends: call Dial at setup, from a goroutine of its own, or with
// an IP address, never with a name from a reactor handler. ctx bounds the
// lookup only; the connection goes on in the background after Dial returns.
//
// With tlsConf nil the result is a *tcp.Conn. With tlsConf set, a pump
// goroutine connects and runs the TLS handshake (within 30 s), and the
// result is the reactor's end of a socketpair whose other end the pump
// carries to and from the TLS connection, so that the reactor still polls
// a descriptor. Its FinishConnect reports the handshake: ErrWouldBlock
// until it is over, then nil or why it failed (a dial error, or a
// certificate the configuration does not trust). A tlsConf without
// ServerName verifies the broker's certificate against the host of addr.
// Closing the result ends the pump: what was written before still goes to
// the broker, then the real connection is closed, within 5 s even for a
// broker that does not read.
func Dial(ctx context.Context, addr string, tlsConf *tls.Config) (reactor.Connector, error) {
	ap, err := tcp.Resolve(ctx, addr)
	if err != nil {
		return nil, fmt.Errorf("mqtt: dial %s: %w", addr, err)
	}
	if tlsConf == nil {
		c, err := tcp.Dial(ap.String())
		if err != nil {
			return nil, err
		}
		return c, nil
	}
	conf := tlsConf.Clone()
	if conf.ServerName == "" {
		conf.ServerName, _, _ = net.SplitHostPort(addr) // Resolve has split it already
	}
	c, err := dialTLS(ap, conf)
	if err != nil {
		return nil, err
	}
	return c, nil
}
