package main

import (
	"errors"
	"net"
	"net/netip"
	"time"
)

// serveNet is the idiomatic Go server: a goroutine per connection, blocking
// reads and writes, the runtime's netpoller underneath.
func serveNet(addr string, ready func(netip.AddrPort)) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	ready(ln.Addr().(*net.TCPAddr).AddrPort())
	for {
		c, err := ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			// Out of descriptors or similar: back off as net/http does.
			time.Sleep(5 * time.Millisecond)
			continue
		}
		go echo(c)
	}
}

// echo copies c to itself through a buffer of one message, like io.Copy
// with a small buffer (io.Copy itself would take TCPConn's splice path).
func echo(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 64)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
