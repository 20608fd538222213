package reactor

// Service holds the business logic. The reactor calls it, always from the
// goroutine running Run, for everything that happens to its resources; the
// service acts through the *Reactor it is given (Send, Register, SetTimer
// and the others), never from another goroutine.
//
// Handlers must not block: the whole loop waits for them.
type Service interface {
	// Accepted hands over a transport that a listener produced. The service
	// registers it, or closes it to refuse the connection.
	Accepted(r *Reactor, listener ID, t Transport)
	// Connected reports that a Connector registered with Connect is up.
	Connected(r *Reactor, id ID)
	// Received delivers bytes read from a transport. data belongs to the
	// reactor and is valid only until Received returns.
	Received(r *Reactor, id ID, data []byte)
	// Congested reports that a transport's pending output passed
	// Limits.High: the service should stop producing for it.
	Congested(r *Reactor, id ID)
	// Drained reports that a congested transport's pending output fell to
	// Limits.Low or below.
	Drained(r *Reactor, id ID)
	// Disconnected hands back a resource the reactor has unregistered on
	// its own: the peer closed (cause io.EOF), the device hung up, or a
	// read, write, accept or connect failed. Whatever was readable before
	// has been delivered. The service closes or reopens it.
	Disconnected(r *Reactor, id ID, res Resource, cause error)
	// Failed reports an error that left the resource registered: a listener
	// that could not accept for want of descriptors or memory. The listener
	// is paused until the service calls Resume.
	Failed(r *Reactor, id ID, err error)
	// Timer reports that a timer set with SetTimer is due.
	Timer(r *Reactor, t TimerID)
	// Command delivers a value sent through the Controller.
	Command(r *Reactor, cmd any)
	// Shutdown is called once when the loop stops, with every resource
	// still registered, now unregistered. The service closes them, or keeps
	// them for a later reactor. Run returns after it.
	Shutdown(r *Reactor, resources map[ID]Resource)
}

// Base is a Service that refuses and closes everything and ignores the
// rest. Embed it in a service to implement only the handlers it needs.
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

// Timer does nothing.
func (Base) Timer(*Reactor, TimerID) {}

// Command does nothing.
func (Base) Command(*Reactor, any) {}

// Shutdown closes every resource.
func (Base) Shutdown(_ *Reactor, resources map[ID]Resource) {
	for _, res := range resources {
		res.Close()
	}
}
