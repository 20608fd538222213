package reactor

import (
	"sync"
	"sync/atomic"

	"github.com/iogate/iogate/poller"
)

// Controller reaches a running reactor from other goroutines: it queues
// commands for the service and asks the loop to stop, waking the loop
// through the poller. It is the only part of the reactor that is safe for
// concurrent use.
type Controller struct {
	poller  poller.Poller
	pending atomic.Bool // something is queued; checked by the loop without the lock

	mu       sync.Mutex
	queue    []any
	stop     bool
	finished bool
}

// Send queues cmd for the service's Command handler and wakes the loop.
// Commands are delivered in the order they were sent. It returns
// ErrStopped once the reactor has stopped.
func (c *Controller) Send(cmd any) error {
	// Wake under the lock: once finish has taken it, the poller may be
	// closed and its descriptor number reused.
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.finished {
		return ErrStopped
	}
	c.queue = append(c.queue, cmd)
	c.pending.Store(true)
	return c.poller.Wake()
}

// Stop asks the loop to stop after the commands already queued. Run then
// calls the service's Shutdown and returns. Stopping a stopped reactor does
// nothing.
func (c *Controller) Stop() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.finished {
		return nil
	}
	c.stop = true
	c.pending.Store(true)
	return c.poller.Wake()
}

// take hands the queued commands to the loop, swapping in spare as the next
// queue so that steady traffic does not allocate. It also reports whether a
// stop was asked.
func (c *Controller) take(spare []any) (cmds []any, stop bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pending.Store(false)
	cmds, c.queue = c.queue, spare[:0]
	return cmds, c.stop
}

// finish refuses further commands; those still queued are dropped. The
// loop calls it before closing the poller.
func (c *Controller) finish() {
	c.mu.Lock()
	c.finished = true
	c.queue = nil
	c.mu.Unlock()
}
