package reactor

import (
	"errors"
	"syscall"
)

// ID names a registered resource for the whole life of a Reactor. IDs are
// never reused, unlike descriptor numbers, so an event or a command about a
// resource that has gone can never reach its successor on the same fd.
type ID uint64

// Resource is anything the reactor can poll: it owns one file descriptor.
type Resource interface {
	// Fd is the descriptor, in non-blocking mode, and -1 once closed: a
	// closed resource must not name a descriptor number reused since.
	Fd() int
	// Close releases the descriptor. The reactor never calls it: resources
	// are handed back to the service, which decides.
	Close() error
}

// Transport is a resource that carries a byte stream. Read and Write never
// block: they return ErrWouldBlock when the descriptor is not ready, and Read
// returns io.EOF when the peer has closed. Like io.Reader and io.Writer they
// return 0 <= n <= len(p); the reactor clamps a count outside that range.
type Transport interface {
	Resource
	Read(p []byte) (int, error)
	Write(p []byte) (int, error)
}

// Listener is a resource that produces transports: a listening socket.
type Listener interface {
	Resource
	// Accept returns the next pending transport, ErrWouldBlock when there
	// is none, or an error.
	Accept() (Transport, error)
}

// Connector is a transport whose connection completes in the background,
// such as a socket after a non-blocking connect.
type Connector interface {
	Transport
	// FinishConnect is called when the descriptor becomes writable. It
	// returns nil once connected, ErrWouldBlock while still in progress, or
	// why the connection failed.
	FinishConnect() error
}

// ErrWouldBlock is what a resource returns when the operation would block.
// It is EAGAIN itself, so resources return the system call's error as is.
var ErrWouldBlock error = syscall.EAGAIN

// Errors the reactor reports.
var (
	// ErrNotRegistered: the ID names no registered resource (it was never
	// registered, or it was unregistered or disconnected since).
	ErrNotRegistered = errors.New("resource not registered")
	// ErrOverflow: a Send would take the pending output beyond Limits.Max.
	ErrOverflow = errors.New("output buffer full")
	// ErrHangup: the descriptor hung up without a more specific cause.
	ErrHangup = errors.New("hangup")
	// ErrStopped: the reactor has stopped and takes no more commands.
	ErrStopped = errors.New("reactor stopped")
)
