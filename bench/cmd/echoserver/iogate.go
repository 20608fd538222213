package main

import (
	"errors"
	"net/netip"

	"github.com/iogate/iogate/reactor"
	"github.com/iogate/iogate/resources/tcp"
)

// iogateEcho sends back whatever a connection receives. Base closes what
// the reactor hands back.
type iogateEcho struct{ reactor.Base }

// serveIogate runs the echo service on iogate's reactor: one loop on one
// locked thread, for the listener and every connection.
func serveIogate(addr string, ready func(netip.AddrPort)) error {
	l, err := tcp.Listen(addr)
	if err != nil {
		return err
	}
	r, err := reactor.New(iogateEcho{}, reactor.Options{LockThread: true})
	if err != nil {
		l.Close()
		return err
	}
	if _, err := r.RegisterListener(l, iogateEcho{}); err != nil {
		l.Close()
		return err
	}
	ready(l.Addr())
	return r.Run()
}

func (iogateEcho) Accepted(r *reactor.Reactor, _ reactor.ID, t reactor.Transport) {
	if _, err := r.RegisterTransport(t, iogateEcho{}); err != nil {
		t.Close()
	}
}

// Received echoes data; a Send that fails has already disconnected the
// transport, except on overflow, which a closed-loop client never causes.
func (iogateEcho) Received(r *reactor.Reactor, id reactor.ID, data []byte) {
	if err := r.Send(id, data); errors.Is(err, reactor.ErrOverflow) {
		if res, err := r.Unregister(id); err == nil {
			res.Close()
		}
	}
}
