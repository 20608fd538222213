package mqtt

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync/atomic"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
)

// DefaultBrokerAddr is where the embedded broker listens unless told
// otherwise: loopback, MQTT's port.
const DefaultBrokerAddr = "127.0.0.1:1883"

// Broker is the gateway's embedded MQTT broker, mochi-mqtt in-process, for
// configurations with broker = "embedded" and for the demo. It takes
// anonymous clients, MQTT 3.1.1 and 5, on one TCP listener. It runs on
// goroutines of its own; the gateway reaches it over TCP like any broker.
type Broker struct {
	server *mochi.Server
	addr   string
	subs   atomic.Int64 // inline subscription ids handed out
	closed atomic.Bool
}

// StartBroker listens on addr ("" means DefaultBrokerAddr; port 0 picks a
// free one, see Addr) and serves until Close. The host may not be empty:
// listening beyond loopback takes an explicit "0.0.0.0:1883". The broker's
// own log lines of level warning and above go to logger; nil discards them.
func StartBroker(addr string, logger *slog.Logger) (*Broker, error) {
	if addr == "" {
		addr = DefaultBrokerAddr
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("mqtt: embedded broker on %q: %w", addr, err)
	}
	if host == "" {
		return nil, fmt.Errorf("mqtt: embedded broker on %q: missing host (0.0.0.0 listens on every interface)", addr)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("mqtt: embedded broker: %w", err)
	}
	return serveBroker(l, logger)
}

// serveBroker runs the broker on l, which it closes when it fails.
func serveBroker(l net.Listener, logger *slog.Logger) (*Broker, error) {
	handler := slog.DiscardHandler
	if logger != nil {
		handler = warnings{logger.Handler()}
	}
	server := mochi.New(&mochi.Options{Logger: slog.New(handler), InlineClient: true})
	if err := server.AddHook(new(anonymous), nil); err != nil {
		l.Close()
		return nil, fmt.Errorf("mqtt: embedded broker: %w", err)
	}
	if err := server.AddListener(listeners.NewNet("tcp", l)); err != nil {
		l.Close()
		return nil, fmt.Errorf("mqtt: embedded broker: %w", err)
	}
	if err := server.Serve(); err != nil {
		server.Close()
		return nil, fmt.Errorf("mqtt: embedded broker: %w", err)
	}
	return &Broker{server: server, addr: l.Addr().String()}, nil
}

// Addr is the address the broker listens on, with the port it got.
func (b *Broker) Addr() string { return b.addr }

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

// Close disconnects the clients, closes the listener and waits for the
// connections to end. Closing again returns an error wrapping net.ErrClosed.
func (b *Broker) Close() error {
	if !b.closed.CompareAndSwap(false, true) {
		return fmt.Errorf("mqtt: embedded broker on %s: %w", b.addr, net.ErrClosed)
	}
	return b.server.Close()
}

// anonymous lets every client connect and use every topic. It stands in
// for mochi's auth.AllowHook, whose package needs a YAML library besides.
type anonymous struct{ mochi.HookBase }

func (anonymous) ID() string { return "anonymous" }

func (anonymous) Provides(b byte) bool {
	return b == mochi.OnConnectAuthenticate || b == mochi.OnACLCheck
}

func (anonymous) OnConnectAuthenticate(*mochi.Client, packets.Packet) bool { return true }

func (anonymous) OnACLCheck(*mochi.Client, string, bool) bool { return true }

// warnings passes on the records of level warning and above: mochi logs
// every connection at info, which is the gateway's to log or not.
type warnings struct{ slog.Handler }

func (w warnings) Enabled(ctx context.Context, level slog.Level) bool {
	return level >= slog.LevelWarn && w.Handler.Enabled(ctx, level)
}

func (w warnings) WithAttrs(attrs []slog.Attr) slog.Handler {
	return warnings{w.Handler.WithAttrs(attrs)}
}

func (w warnings) WithGroup(name string) slog.Handler {
	return warnings{w.Handler.WithGroup(name)}
}
