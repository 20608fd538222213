package bridge

// A device that must be asked has one transaction open at a time: a
// half-duplex line cannot take two. The transactions wait in a queue of two
// lanes: what someone waits for (an MQTT request, a write, a Modbus TCP
// master's request) goes before what comes back on a schedule (polls,
// Modbus reads), so that polls never starve a write; within a lane, first
// come, first served. Each lane is bounded: a full one refuses with an
// error, never by growing.

// Lanes of the queue.
const (
	urgent    = 0 // someone waits for it
	scheduled = 1 // a poll or a periodic read
)

// laneSize bounds each lane of a device's queue.
const laneSize = 64

// txnQueue is the queue of one device.
type txnQueue[T any] struct {
	lanes [2]ring[T]
}

// push queues t in a lane; it reports false when the lane is full.
func (q *txnQueue[T]) push(lane int, t T) bool { return q.lanes[lane].push(t) }

// pop takes the next transaction: urgent first.
func (q *txnQueue[T]) pop() (T, bool) {
	if t, ok := q.lanes[urgent].pop(); ok {
		return t, true
	}
	return q.lanes[scheduled].pop()
}

// drain removes every transaction waiting, calling fn on each.
func (q *txnQueue[T]) drain(fn func(T)) {
	for {
		t, ok := q.pop()
		if !ok {
			return
		}
		fn(t)
	}
}

// ring is a bounded FIFO that allocates its slots once.
type ring[T any] struct {
	buf  [laneSize]T
	head int
	n    int
}

func (r *ring[T]) push(t T) bool {
	if r.n == len(r.buf) {
		return false
	}
	r.buf[(r.head+r.n)%len(r.buf)] = t
	r.n++
	return true
}

func (r *ring[T]) pop() (T, bool) {
	var zero T
	if r.n == 0 {
		return zero, false
	}
	t := r.buf[r.head]
	r.buf[r.head] = zero
	r.head = (r.head + 1) % len(r.buf)
	r.n--
	return t, true
}
