package reactor

// Handlers hold the business logic. Each resource is registered with the
// handler that gets its events, so a service made of parts (a device, a
// client connection, a broker link) has each part handle its own resource,
// and nothing routes events by ID. The reactor calls handlers always from
// the goroutine running Run; they act through the *Reactor they are given
// (Send, Register, SetTimer and the others), never from another goroutine.
//
// Handlers must not block: the whole loop waits for them.

// Handler gets the events of a transport.
type Handler interface {
	// Received delivers bytes read from the transport. data belongs to the
	// reactor and is valid only until Received returns.
	Received(r *Reactor, id ID, data []byte)
	// Congested reports that the transport's pending output passed
	// Limits.High: the handler should stop producing for it.
	Congested(r *Reactor, id ID)
	// Drained reports that a congested transport's pending output fell to
	// Limits.Low or below.
	Drained(r *Reactor, id ID)
	// Disconnected hands back a transport the reactor has unregistered on
	// its own: the peer closed (cause io.EOF), the device hung up, or a
	// read, write or connect failed. Whatever was readable before has been
	// delivered. The handler closes or reopens it.
	Disconnected(r *Reactor, id ID, res Resource, cause error)
}

// ConnectHandler gets the events of a transport registered with Connect.
type ConnectHandler interface {
	Handler
	// Connected reports that the connection is up; Sends made before it
	// are written now.
	Connected(r *Reactor, id ID)
}

// HalfCloser is a Handler that wants to keep a transport whose peer has
// closed its sending side (a TCP FIN from shutdown(SHUT_WR)): the reactor
// stops reading it and keeps writing what is sent to it, and PeerClosed
// replaces the Disconnected that an end of file would bring. The handler
// unregisters the transport when it is done answering; a write that fails
// or a full hangup still ends in Disconnected.
type HalfCloser interface {
	Handler
	PeerClosed(r *Reactor, id ID)
}

// ListenHandler gets the events of a listener.
type ListenHandler interface {
	// Accepted hands over a transport the listener produced. The handler
	// registers it, or closes it to refuse the connection.
	Accepted(r *Reactor, listener ID, t Transport)
	// Failed reports an accept error that left the listener registered:
	// it ran out of descriptors or memory. The listener is paused until
	// the handler calls Resume.
	Failed(r *Reactor, id ID, err error)
	// Disconnected hands back a listener that failed for good.
	Disconnected(r *Reactor, id ID, res Resource, cause error)
}

// Service gets what concerns the whole reactor rather than one resource.
type Service interface {
	// Command delivers a value sent through the Controller.
	Command(r *Reactor, cmd any)
	// Shutdown is called once when the loop stops, with every resource
	// still registered, now unregistered. The service closes them, or keeps
	// them for a later reactor. Run returns after it.
	Shutdown(r *Reactor, resources map[ID]Resource)
}

// Flusher is a Service that is called once per wake-up of the loop, after
// every event, timer and command of it: the moment to write, in one go,
// what the handlers of the wake-up produced (the frames of several devices
// to one socket, say) instead of one write per event.
type Flusher interface {
	Service
	Flush(r *Reactor)
}

// Base is a handler and a service that refuses and closes everything and
// ignores the rest. Embed it to implement only the methods needed.
type Base struct{}

// Accepted closes the transport.
func (Base) Accepted(_ *Reactor, _ ID, t Transport) { t.Close() }

// Connected does nothing.
func (Base) Connected(*Reactor, ID) {}

// Received discards the data.
func (Base) Received(*Reactor, ID, []byte) {}

// Congested does nothing.
func (Base) Congested(*Reactor, ID) {}

// Drained does nothing.
func (Base) Drained(*Reactor, ID) {}

// Disconnected closes the resource.
func (Base) Disconnected(_ *Reactor, _ ID, res Resource, _ error) { res.Close() }

// Failed does nothing: the listener stays paused.
func (Base) Failed(*Reactor, ID, error) {}

// Command does nothing.
func (Base) Command(*Reactor, any) {}

// Shutdown closes every resource.
func (Base) Shutdown(_ *Reactor, resources map[ID]Resource) {
	for _, res := range resources {
		res.Close()
	}
}
