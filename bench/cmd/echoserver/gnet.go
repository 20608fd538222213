package main

import (
	"fmt"
	"net/netip"
	"os"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"
)

type gnetEcho struct {
	gnet.BuiltinEventEngine
	ready func(netip.AddrPort)
	err   error
}

// serveGnet runs gnet with one event loop (plus gnet's own acceptor loop,
// which it always has without SO_REUSEPORT), locked to its thread like
// iogate's reactor.
func serveGnet(addr string, ready func(netip.AddrPort)) error {
	s := &gnetEcho{ready: ready}
	err := gnet.Run(s, "tcp://"+addr,
		gnet.WithMulticore(false),
		gnet.WithNumEventLoop(1),
		gnet.WithLockOSThread(true),
		gnet.WithLogger(stderrLogger{}),
	)
	if s.err != nil {
		return s.err
	}
	return err
}

// OnBoot reports the address gnet listens on, which it does not expose but
// through a copy of the listening descriptor.
func (s *gnetEcho) OnBoot(eng gnet.Engine) gnet.Action {
	fd, err := eng.Dup()
	if err != nil {
		s.err = fmt.Errorf("dup listener: %w", err)
		return gnet.Shutdown
	}
	defer unix.Close(fd)
	sa, err := unix.Getsockname(fd)
	if err != nil {
		s.err = fmt.Errorf("getsockname: %w", err)
		return gnet.Shutdown
	}
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		s.ready(netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port)))
	case *unix.SockaddrInet6:
		s.ready(netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), uint16(sa.Port)))
	default:
		s.err = fmt.Errorf("listener address %T is not TCP", sa)
		return gnet.Shutdown
	}
	return gnet.None
}

// OnTraffic echoes what came, as gnet's own echo example does.
func (s *gnetEcho) OnTraffic(c gnet.Conn) gnet.Action {
	buf, _ := c.Next(-1)
	if _, err := c.Write(buf); err != nil {
		return gnet.Close
	}
	return gnet.None
}

// stderrLogger keeps gnet's warnings and errors and keeps stdout, which
// gnet's default logger writes its launch banner to, for the ready line.
type stderrLogger struct{}

func (stderrLogger) Debugf(string, ...any) {}
func (stderrLogger) Infof(string, ...any)  {}
func (stderrLogger) Warnf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "gnet: warning: "+format+"\n", args...)
}
func (stderrLogger) Errorf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "gnet: error: "+format+"\n", args...)
}
func (stderrLogger) Fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "gnet: fatal: "+format+"\n", args...)
	os.Exit(1)
}
