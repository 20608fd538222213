package mqtt

import (
	"cmp"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"sync/atomic"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/iogate/iogate/mqttauth"
)

// DefaultBrokerAddr is where the embedded broker listens unless told
// otherwise: loopback, MQTT's port.
const DefaultBrokerAddr = "127.0.0.1:1883"

// The embedded broker's limits when BrokerLimits leaves them 0. They are
// sized for a small box serving a few dashboards and automations.
const (
	// DefaultBrokerMaxClients: each client costs two goroutines, buffers
	// and queues; a hundred is far beyond what a box's own users need and
	// far below what would exhaust its memory or descriptors.
	DefaultBrokerMaxClients = 100
	// DefaultBrokerMaxPacket is as much as the gateway's own session takes
	// from a broker (DefaultMaxPacket, less room for the topic), so that
	// whatever the broker accepts can reach the gateway.
	DefaultBrokerMaxPacket = 1 << 20
	// DefaultBrokerMaxInflight: QoS 1 and 2 messages held for a client
	// until it acknowledges them, also while it is away (mosquitto keeps
	// 20 in flight and 1000 queued).
	DefaultBrokerMaxInflight = 256
	// DefaultBrokerMaxQueued: messages waiting to be written to a client's
	// socket; a client that does not read loses what comes past them.
	DefaultBrokerMaxQueued = 256
	// DefaultBrokerMaxRetained bounds the retained messages, topics and
	// payloads together: room for thousands of statuses and values.
	DefaultBrokerMaxRetained = 4 << 20
)

// BrokerLimits keep one client from harming the box the broker runs on. A
// zero field takes its default (DefaultBrokerMaxClients and the others).
type BrokerLimits struct {
	// MaxClients bounds the clients connected at once, the gateway's own
	// connection not counted. Sessions kept for clients that went away
	// (clean session off) count too: the oldest is dropped to make room.
	MaxClients int
	// MaxPacketSize is the largest MQTT packet a client may send. It must
	// be at least the largest the gateway itself publishes.
	MaxPacketSize int
	// MaxInflight bounds the QoS 1 and 2 messages held for one client
	// until it acknowledges them, online or not.
	MaxInflight int
	// MaxQueued bounds the messages waiting to be written to one client.
	MaxQueued int
	// MaxRetainedBytes bounds the retained messages (topic and payload
	// bytes): past it, a client's message is delivered but not retained.
	// The gateway's own are always retained, and counted.
	MaxRetainedBytes int64
}

func (l BrokerLimits) withDefaults() BrokerLimits {
	if l.MaxClients == 0 {
		l.MaxClients = DefaultBrokerMaxClients
	}
	if l.MaxPacketSize == 0 {
		l.MaxPacketSize = DefaultBrokerMaxPacket
	}
	if l.MaxInflight == 0 {
		l.MaxInflight = DefaultBrokerMaxInflight
	}
	if l.MaxQueued == 0 {
		l.MaxQueued = DefaultBrokerMaxQueued
	}
	if l.MaxRetainedBytes == 0 {
		l.MaxRetainedBytes = DefaultBrokerMaxRetained
	}
	return l
}

func (l BrokerLimits) check() error {
	switch {
	case l.MaxClients < 1:
		return fmt.Errorf("max clients %d: want at least 1", l.MaxClients)
	case l.MaxPacketSize < 1 || l.MaxPacketSize > maxRemaining:
		return fmt.Errorf("max packet size %d: want 1 to %d", l.MaxPacketSize, maxRemaining)
	case l.MaxInflight < 1 || l.MaxInflight > math.MaxUint16:
		return fmt.Errorf("max inflight %d: want 1 to %d", l.MaxInflight, math.MaxUint16)
	case l.MaxQueued < 1 || l.MaxQueued > math.MaxInt32:
		return fmt.Errorf("max queued %d: want 1 to %d", l.MaxQueued, math.MaxInt32)
	case l.MaxRetainedBytes < 0:
		return fmt.Errorf("max retained bytes %d: must not be negative", l.MaxRetainedBytes)
	}
	return nil
}

// BrokerAuth is who may use the broker and for what. Reload replaces it
// whole.
type BrokerAuth struct {
	// Passwords, when set, is the only way in: every client logs in with
	// a user and password of the file, loopback or not.
	Passwords *mqttauth.Passwords
	// ACL, when set, says what each client may read and write; without
	// it, every client let in may do everything.
	ACL *mqttauth.ACL
	// AllowAnonymous lets in clients without a password from beyond
	// loopback when there are no Passwords. Clients from a loopback
	// address need none then.
	AllowAnonymous bool
	// GatewayClientID, when set, is the client id of the gateway's own
	// connection: another client asking for it is refused, so that none
	// can take the gateway's session over.
	GatewayClientID string
}

// BrokerOptions configure StartBrokerWith.
type BrokerOptions struct {
	Listen      string           // plain MQTT, host:port; "" for none
	TLSListen   string           // MQTT over TLS (1.2 and later), host:port; "" for none
	Certificate *tls.Certificate // the TLS listener's; SetCertificate replaces it
	Auth        BrokerAuth
	Limits      BrokerLimits
	// RetainedFile is where retained messages outlive a restart: loaded at
	// start, written a few seconds after a change (at most once a
	// minute) and at Close. "" keeps them in memory only.
	RetainedFile string
	// Logger gets refused logins and denied publishes (rate-limited,
	// never a password) and mochi's own warnings; nil discards them.
	Logger *slog.Logger
}

// Broker is the gateway's embedded MQTT broker, mochi-mqtt in-process, for
// configurations with broker = "embedded" and for the demo. It speaks MQTT
// 3.1.1 and 5 on a plain listener, a TLS one or both, with mosquitto's
// password and ACL files, and runs on goroutines of its own. The gateway
// reaches it over TCP like any broker, on a loopback listener of its own
// where only the credentials of GatewayCredentials get in.
type Broker struct {
	server      *mochi.Server
	auth        *authHook
	retained    *retainHook
	counts      *counters
	addr        string
	tlsAddr     string
	gatewayAddr string
	guards      []*guard
	user        string
	secret      string
	cert        atomic.Pointer[tls.Certificate]
	subs        atomic.Int64 // inline subscription ids handed out
	closed      atomic.Bool
}

// The listeners' ids, as mochi knows them.
const (
	plainListener   = "mqtt"
	tlsListener     = "mqtts"
	gatewayListener = "gateway"
)

// gatewayUser is the user name of the gateway's own connection. Its
// password is what makes it the gateway: random, made at start, and never
// written anywhere.
const gatewayUser = "iogate-gateway"

// StartBroker is StartBrokerWith for a plain listener on addr ("" means
// DefaultBrokerAddr) and nothing else: clients from loopback need no
// password, others are refused.
func StartBroker(addr string, logger *slog.Logger) (*Broker, error) {
	if addr == "" {
		addr = DefaultBrokerAddr
	}
	return StartBrokerWith(BrokerOptions{Listen: addr, Logger: logger})
}

// StartBrokerWith listens on o.Listen, o.TLSListen or both (port 0 picks a
// free one, see Addr and TLSAddr) and serves until Close. A host may not be
// empty: listening beyond loopback takes an explicit "0.0.0.0:1883".
func StartBrokerWith(o BrokerOptions) (*Broker, error) {
	b, err := startBroker(o)
	if err != nil {
		return nil, fmt.Errorf("mqtt: embedded broker: %w", err)
	}
	return b, nil
}

func startBroker(o BrokerOptions) (*Broker, error) {
	if o.Listen == "" && o.TLSListen == "" {
		return nil, errors.New("no listener: give a plain or a TLS address, or both")
	}
	if o.TLSListen != "" && o.Certificate == nil {
		return nil, fmt.Errorf("TLS on %s needs a certificate", o.TLSListen)
	}
	limits := o.Limits.withDefaults()
	if err := limits.check(); err != nil {
		return nil, err
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	secret := make([]byte, 32)
	rand.Read(secret)
	b := &Broker{user: gatewayUser, secret: hex.EncodeToString(secret), counts: new(counters)}
	b.cert.Store(o.Certificate)

	caps := mochi.NewDefaultServerCapabilities()
	caps.MaximumClients = math.MaxInt64 // counted by the auth hook, which spares the gateway
	caps.MaximumPacketSize = uint32(limits.MaxPacketSize)
	caps.MaximumInflight = uint16(limits.MaxInflight)
	caps.MaximumClientWritesPending = int32(limits.MaxQueued)
	// mochi forgets retained and in-flight messages older than this, a
	// day by default; a retained status must stay until it is replaced.
	caps.MaximumMessageExpiryInterval = 0
	caps.MaximumSessionExpiryInterval = sessionExpiry
	caps.TopicAliasMaximum = 10 // mosquitto's max_topic_alias; each one is memory the client chooses
	server := mochi.New(&mochi.Options{
		Logger:       slog.New(newMochiLog(logger.Handler())),
		InlineClient: true,
		Capabilities: caps,
	})
	b.server = server
	log := newRateLog(logger)
	b.auth = newAuthHook(server, o.Auth, limits.MaxClients, b.user, b.secret, log, b.counts)
	b.retained = newRetainHook(server, limits.MaxRetainedBytes, o.RetainedFile, log, b.counts)
	if err := b.retained.load(); err != nil {
		log.warn("retained", "", "broker: retained messages not restored", "file", o.RetainedFile, "error", err)
	}
	var opened []net.Listener
	fail := func(err error) (*Broker, error) {
		for _, l := range opened {
			l.Close()
		}
		server.Close()
		return nil, err
	}
	for _, h := range []mochi.Hook{b.auth, b.retained} {
		if err := server.AddHook(h, nil); err != nil {
			return fail(err)
		}
	}
	type listener struct {
		id, addr string
		tls      bool
		max      int
	}
	for _, l := range []listener{
		{plainListener, o.Listen, false, limits.MaxClients + spareConns},
		{tlsListener, o.TLSListen, true, limits.MaxClients + spareConns},
		{gatewayListener, "127.0.0.1:0", false, spareConns},
	} {
		if l.addr == "" {
			continue
		}
		raw, err := listen(l.addr)
		if err != nil {
			return fail(err)
		}
		opened = append(opened, raw)
		g := &guard{Listener: raw, max: int64(l.max), busy: &b.counts.busy}
		b.guards = append(b.guards, g)
		var nl net.Listener = g
		switch {
		case l.tls:
			nl = tls.NewListener(nl, &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: b.certificate})
			b.tlsAddr = raw.Addr().String()
		case l.id == gatewayListener:
			b.gatewayAddr = raw.Addr().String()
		default:
			b.addr = raw.Addr().String()
		}
		if err := server.AddListener(listeners.NewNet(l.id, nl)); err != nil {
			return fail(err)
		}
	}
	if err := server.Serve(); err != nil {
		return fail(err)
	}
	return b, nil
}

// listen opens a TCP listener on addr, whose host may not be empty.
func listen(addr string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %q: %w", addr, err)
	}
	if host == "" {
		return nil, fmt.Errorf("listen on %q: missing host (0.0.0.0 listens on every interface)", addr)
	}
	return net.Listen("tcp", addr)
}

func (b *Broker) certificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return b.cert.Load(), nil
}

// Addr is the address of the plain listener, with the port it got; "" if
// there is none.
func (b *Broker) Addr() string { return b.addr }

// TLSAddr is the address of the TLS listener, with the port it got; "" if
// there is none.
func (b *Broker) TLSAddr() string { return b.tlsAddr }

// GatewayAddr is the loopback address where the gateway's own connection
// gets in, with GatewayCredentials and nothing else.
func (b *Broker) GatewayAddr() string { return b.gatewayAddr }

// GatewayCredentials are the user and password of the gateway's own
// connection: a password made at start from crypto/rand, which is not
// subject to the ACL and is known only to this process. Give them to no
// one else.
func (b *Broker) GatewayCredentials() (user, password string) { return b.user, b.secret }

// Reload replaces the passwords, the ACL, the anonymous rule and the
// gateway's client id, as SIGHUP asks. Clients still allowed stay connected and are judged by the new
// ACL from now on; a client whose user was removed or whose password
// changed, or an anonymous one no longer allowed, is disconnected. It
// returns how many were.
func (b *Broker) Reload(auth BrokerAuth) int { return b.auth.reload(auth) }

// SetCertificate replaces the TLS listener's certificate for the
// connections to come; those up keep theirs.
func (b *Broker) SetCertificate(cert *tls.Certificate) {
	if cert != nil {
		b.cert.Store(cert)
	}
}

// Subscribe delivers the messages matching filter to fn, from inside the
// broker: the demo prints the traffic this way. fn runs on the publishing
// client's goroutine, so calls may be concurrent; topic and payload are
// valid only during the call.
func (b *Broker) Subscribe(filter string, fn func(topic string, payload []byte, retain bool)) error {
	id := int(b.subs.Add(1))
	err := b.server.Subscribe(filter, id, func(_ *mochi.Client, _ packets.Subscription, pk packets.Packet) {
		fn(pk.TopicName, pk.Payload, pk.FixedHeader.Retain)
	})
	if err != nil {
		return fmt.Errorf("mqtt: embedded broker: subscribe to %q: %w", filter, err)
	}
	return nil
}

// BrokerStats are the embedded broker's counters since it started, for
// the metrics endpoint.
type BrokerStats struct {
	Clients            int64  // connected now, the gateway's own connection included
	LoginFailures      uint64 // a wrong password, an unknown user, or the gateway's listener without its credentials
	AnonymousRefused   uint64 // no user name where one is needed
	ClientIDRefused    uint64 // another client asked for the gateway's client id
	Busy               uint64 // refused: MaxClients connected, or too many connections open
	PublishDenied      uint64 // publishes the ACL refused
	SubscribeDenied    uint64 // subscriptions to a topic the ACL does not let the client read
	WillDenied         uint64 // wills dropped at connect: the ACL does not let the client write their topic
	Retained           int    // retained messages held, $SYS not counted
	RetainedBytes      int64  // their topics and payloads
	RetainedRefused    uint64 // messages delivered but not retained: MaxRetainedBytes reached
	RetainedSaveErrors uint64 // failed writes of RetainedFile
	ReloadDisconnects  uint64 // clients disconnected by Reload
}

// Stats returns the counters. Safe from any goroutine.
func (b *Broker) Stats() BrokerStats {
	c := b.counts
	n, size := b.retained.size()
	return BrokerStats{
		Clients:            atomic.LoadInt64(&b.server.Info.ClientsConnected),
		LoginFailures:      c.loginFailures.Load(),
		AnonymousRefused:   c.anonymousRefused.Load(),
		ClientIDRefused:    c.clientIDRefused.Load(),
		Busy:               c.busy.Load(),
		PublishDenied:      c.publishDenied.Load(),
		SubscribeDenied:    c.subscribeDenied.Load(),
		WillDenied:         c.willDenied.Load(),
		Retained:           n,
		RetainedBytes:      size,
		RetainedRefused:    c.retainedRefused.Load(),
		RetainedSaveErrors: c.retainedSaveErrors.Load(),
		ReloadDisconnects:  c.reloadDisconnects.Load(),
	}
}

// counters are the broker's, shared by its hooks and listeners.
type counters struct {
	loginFailures, anonymousRefused, clientIDRefused, busy atomic.Uint64
	publishDenied, subscribeDenied, willDenied             atomic.Uint64
	retainedRefused, retainedSaveErrors                    atomic.Uint64
	reloadDisconnects                                      atomic.Uint64
}

// Close disconnects the clients, closes the listeners, waits for the
// connections to end and writes the retained messages to RetainedFile.
// Closing again returns an error wrapping net.ErrClosed.
func (b *Broker) Close() error {
	if !b.closed.CompareAndSwap(false, true) {
		return fmt.Errorf("mqtt: embedded broker on %s: %w", cmp.Or(b.addr, b.tlsAddr), net.ErrClosed)
	}
	for _, g := range b.guards {
		g.settle()
	}
	b.server.Close()
	if err := b.retained.close(); err != nil {
		return fmt.Errorf("mqtt: embedded broker: %w", err)
	}
	return nil
}
