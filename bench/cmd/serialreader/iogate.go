package main

import (
	"bytes"
	"slices"
	"time"

	"github.com/iogate/iogate/reactor"
	"github.com/iogate/iogate/resources/serial"
)

// counter is what the reactor's service knows of one port.
type counter struct {
	count
	target int64 // bytes to read before finish may stop; -1 until expect
}

// counting is the iogate service: it counts what every port receives.
// Everything in it belongs to the reactor goroutine; other goroutines reach
// it through commands.
type counting struct {
	reactor.Base
	byID    map[reactor.ID]*counter
	order   []*counter // in the order of the paths
	waiting int        // ports short of their target, once expect came
}

// statsCmd asks for the counts so far.
type statsCmd struct{ reply chan []count }

// expectCmd asks the loop to stop once every port has read its target, or
// after drain.
type expectCmd struct {
	targets []int64
	drain   time.Duration
}

type iogateReader struct {
	svc  *counting
	ctl  *reactor.Controller
	done chan error
}

// openIogate opens every path as a serial.Port and registers it with one
// reactor on one locked thread, as iogate's gateway runs its devices.
func openIogate(paths []string, o options) (reader, error) {
	return openReactor(paths, o, true)
}

// openIogateNoLock is openIogate with a reactor whose goroutine is not
// locked to its thread: the runtime may move it between threads.
func openIogateNoLock(paths []string, o options) (reader, error) {
	return openReactor(paths, o, false)
}

func openReactor(paths []string, o options, lock bool) (reader, error) {
	svc := &counting{byID: make(map[reactor.ID]*counter)}
	r, err := reactor.New(svc, reactor.Options{LockThread: lock, ReadBuffer: o.buffer})
	if err != nil {
		return nil, err
	}
	for _, p := range paths {
		port, err := serial.Open(p, mode)
		if err != nil {
			svc.closeAll(r)
			return nil, err
		}
		id, err := r.RegisterTransport(port, svc)
		if err != nil {
			port.Close()
			svc.closeAll(r)
			return nil, err
		}
		c := &counter{count: count{Path: p}, target: -1}
		svc.byID[id] = c
		svc.order = append(svc.order, c)
	}
	ir := &iogateReader{svc: svc, ctl: r.Controller(), done: make(chan error, 1)}
	go func() { ir.done <- r.Run() }()
	return ir, nil
}

// closeAll closes the ports registered before an open failed.
func (s *counting) closeAll(r *reactor.Reactor) {
	for id := range s.byID {
		if res, err := r.Unregister(id); err == nil {
			res.Close()
		}
	}
}

func (s *counting) Received(r *reactor.Reactor, id reactor.ID, data []byte) {
	c := s.byID[id]
	if c == nil {
		return
	}
	c.Bytes += int64(len(data))
	c.Lines += int64(bytes.Count(data, newline))
	if c.target >= 0 && c.Bytes >= c.target {
		s.reached(r, c)
	}
}

var newline = []byte{'\n'}

// reached marks c as done with its target and stops the loop once every
// port is.
func (s *counting) reached(r *reactor.Reactor, c *counter) {
	c.target = -1
	if s.waiting--; s.waiting == 0 {
		r.Stop()
	}
}

func (s *counting) Disconnected(r *reactor.Reactor, id reactor.ID, res reactor.Resource, cause error) {
	res.Close()
	c := s.byID[id]
	if c == nil {
		return
	}
	c.Err = cause.Error()
	if c.target >= 0 {
		s.reached(r, c) // it will read no more
	}
}

func (s *counting) Command(r *reactor.Reactor, cmd any) {
	switch cmd := cmd.(type) {
	case statsCmd:
		cmd.reply <- s.snapshot()
	case expectCmd:
		s.waiting = len(s.order)
		for i, c := range s.order {
			c.target = cmd.targets[i]
			if c.Bytes >= c.target || c.Err != "" {
				s.reached(r, c)
			}
		}
		if s.waiting > 0 {
			r.SetTimer(cmd.drain, r.Stop) // the end of the drain: stop with what has been read
		}
	}
}

func (s *counting) snapshot() []count {
	out := make([]count, len(s.order))
	for i, c := range s.order {
		out[i] = c.count
	}
	return out
}

func (ir *iogateReader) counts() []count {
	reply := make(chan []count, 1)
	if err := ir.ctl.Send(statsCmd{reply: reply}); err == nil {
		select {
		case c := <-reply:
			return c
		case err := <-ir.done:
			ir.done <- err
			return ir.svc.snapshot()
		}
	}
	// The loop has stopped: its state is ours to read once Run has returned.
	err := <-ir.done
	ir.done <- err
	return ir.svc.snapshot()
}

func (ir *iogateReader) finish(targets []int64, drain time.Duration) []count {
	var err error
	if targets != nil {
		err = ir.ctl.Send(expectCmd{targets: slices.Clone(targets), drain: drain})
	}
	if targets == nil || err != nil {
		ir.ctl.Stop()
	}
	if err := <-ir.done; err != nil {
		return append(ir.svc.snapshot(), count{Path: "reactor", Err: err.Error()})
	}
	return ir.svc.snapshot()
}
