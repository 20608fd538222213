package reactor

import (
	"container/heap"
	"time"
)

// TimerID names a timer for its whole life; IDs are never reused.
type TimerID uint64

type timer struct {
	id    TimerID
	at    time.Time // carries the monotonic clock reading
	fn    func()
	index int // position in the heap
}

// timers is a min-heap on the due time with cancellation by ID. Spent
// timers are recycled, so a service that arms a timer per frame does not
// allocate per frame.
type timers struct {
	heap   timerHeap
	byID   map[TimerID]*timer
	free   []*timer
	nextID TimerID
}

func (ts *timers) set(now time.Time, d time.Duration, fn func()) TimerID {
	var t *timer
	if n := len(ts.free); n > 0 {
		t, ts.free = ts.free[n-1], ts.free[:n-1]
	} else {
		t = new(timer)
	}
	ts.nextID++
	t.id, t.at, t.fn = ts.nextID, now.Add(d), fn
	heap.Push(&ts.heap, t)
	ts.byID[t.id] = t
	return t.id
}

func (ts *timers) cancel(id TimerID) bool {
	t, ok := ts.byID[id]
	if !ok {
		return false
	}
	heap.Remove(&ts.heap, t.index)
	ts.release(t)
	return true
}

func (ts *timers) release(t *timer) {
	delete(ts.byID, t.id)
	t.fn = nil
	ts.free = append(ts.free, t)
}

// timeout is how long the poller may sleep: until the next timer, or
// forever (-1) when none is set.
func (ts *timers) timeout(now time.Time) time.Duration {
	if len(ts.heap) == 0 {
		return -1
	}
	return max(ts.heap[0].at.Sub(now), 0)
}

// pop removes the earliest timer due at now, if any, and returns its
// function.
func (ts *timers) pop(now time.Time) (func(), bool) {
	if len(ts.heap) == 0 || ts.heap[0].at.After(now) {
		return nil, false
	}
	t := heap.Pop(&ts.heap).(*timer)
	fn := t.fn
	ts.release(t)
	return fn, true
}

type timerHeap []*timer

func (h timerHeap) Len() int { return len(h) }

// Less breaks ties by ID so timers due together fire in the order they were set.
func (h timerHeap) Less(i, j int) bool {
	if h[i].at.Equal(h[j].at) {
		return h[i].id < h[j].id
	}
	return h[i].at.Before(h[j].at)
}

func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}

func (h *timerHeap) Push(x any) {
	t := x.(*timer)
	t.index = len(*h)
	*h = append(*h, t)
}

func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return t
}
