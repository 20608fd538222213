package main

import (
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// proxy relays TCP between the gateway and the broker, and cuts the link on
// demand: it closes every relayed connection and refuses new ones (its
// listener is closed) until it resumes on the same port.
type proxy struct {
	addr    string // where it listens
	backend string

	mu       sync.Mutex
	ln       net.Listener
	conns    map[net.Conn]struct{}
	accepted int // connections relayed since the start
	wg       sync.WaitGroup
}

func startProxy(backend string) (*proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	p := &proxy{addr: ln.Addr().String(), backend: backend, conns: map[net.Conn]struct{}{}}
	p.serve(ln)
	return p, nil
}

func (p *proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return // closed by cut or close
			}
			b, err := net.DialTimeout("tcp", p.backend, 5*time.Second)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns[c], p.conns[b] = struct{}{}, struct{}{}
			p.accepted++
			p.mu.Unlock()
			p.wg.Add(2)
			go p.pipe(c, b)
			go p.pipe(b, c)
		}
	}()
}

// pipe copies from src to dst; the end of either closes both.
func (p *proxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	io.Copy(dst, src)
	p.mu.Lock()
	delete(p.conns, dst)
	delete(p.conns, src)
	p.mu.Unlock()
	dst.Close()
	src.Close()
}

// cut closes the listener and every relayed connection.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
}

// resume listens again on the same port. The port was just ours, so a
// failure is retried for a little while.
func (p *proxy) resume() error {
	var err error
	for range 50 {
		var ln net.Listener
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			p.serve(ln)
			return nil
		}
		time.Sleep(100 * time.Millisecond) // retry pacing
	}
	return fmt.Errorf("proxy: listen again on %s: %w", p.addr, err)
}

func (p *proxy) connections() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepted
}

func (p *proxy) close() {
	p.cut()
	p.wg.Wait()
}
