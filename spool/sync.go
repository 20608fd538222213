package spool

import (
	"errors"
	"os"
	"sync"
	"sync/atomic"
)

// SyncResult is what a completed sync reports to Options.OnSync.
type SyncResult struct {
	// Durable is the highest seq on stable storage: every record Append
	// returned a seq up to it for survives a power cut, and so does the
	// acknowledged position as it was when the sync was requested.
	Durable uint64
	// Err is the first error of this sync, if any (see Spool.Err).
	Err error
}

// syncJob is the work handed to the syncer: everything written before the
// job was queued is on disk when it completes.
type syncJob struct {
	close   []*os.File // segments rolled since the last job: sync, then close
	active  *os.File   // the segment being appended to, or nil
	upTo    uint64     // the highest seq written when the job was queued
	dir     bool       // a segment was created, removed or truncated
	waiters []chan error
	stop    bool
}

func (j *syncJob) reset() {
	clear(j.close)
	clear(j.waiters)
	*j = syncJob{close: j.close[:0], waiters: j.waiters[:0]}
}

// syncer is the goroutine that calls fsync, so that the spool's owner never
// waits for the disk. The owner fills the pending job under mu (held for a
// few assignments, never across a system call) and kicks the goroutine;
// requests that arrive while it is busy fold into one job, which is the
// group commit. Two jobs are swapped back and forth, so a steady stream of
// syncs does not allocate.
type syncer struct {
	mu      sync.Mutex
	pending *syncJob
	spare   *syncJob
	kick    chan struct{}
	done    chan struct{}
	dir     *os.File
	onSync  func(SyncResult)

	durable atomic.Uint64
	syncs   atomic.Uint64
	errMu   sync.Mutex
	err     error // the first sync error, sticky
}

func newSyncer(dir *os.File, onSync func(SyncResult)) *syncer {
	y := &syncer{
		pending: new(syncJob),
		spare:   new(syncJob),
		kick:    make(chan struct{}, 1),
		done:    make(chan struct{}),
		dir:     dir,
		onSync:  onSync,
	}
	go y.run()
	return y
}

// wake makes the goroutine take the pending job.
func (y *syncer) wake() {
	select {
	case y.kick <- struct{}{}:
	default: // already kicked: the pending job will be taken as a whole
	}
}

func (y *syncer) run() {
	defer close(y.done)
	for range y.kick {
		y.mu.Lock()
		j := y.pending
		y.pending, y.spare = y.spare, nil
		y.mu.Unlock()

		stop := j.stop
		y.do(j)
		j.reset()

		y.mu.Lock()
		y.spare = j
		y.mu.Unlock()
		if stop {
			return
		}
	}
}

func (y *syncer) do(j *syncJob) {
	var err error
	for _, f := range j.close {
		err = errors.Join(err, datasync(f), f.Close())
	}
	if j.active != nil {
		err = errors.Join(err, datasync(j.active))
	}
	if j.dir {
		err = errors.Join(err, syncDir(y.dir))
	}
	if err != nil {
		y.setErr(err)
	} else if j.upTo > y.durable.Load() {
		y.durable.Store(j.upTo)
	}
	y.syncs.Add(1)
	for _, w := range j.waiters {
		w <- err
	}
	if y.onSync != nil && !j.stop {
		y.onSync(SyncResult{Durable: y.durable.Load(), Err: err})
	}
}

func (y *syncer) firstErr() error {
	y.errMu.Lock()
	defer y.errMu.Unlock()
	return y.err
}

func (y *syncer) setErr(err error) {
	y.errMu.Lock()
	if y.err == nil {
		y.err = err
	}
	y.errMu.Unlock()
}

// stop ends the goroutine without syncing anything.
func (y *syncer) stop() {
	y.mu.Lock()
	y.pending.stop = true
	y.mu.Unlock()
	y.wake()
	<-y.done
}
