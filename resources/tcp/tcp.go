// Package tcp provides TCP listeners and connections as reactor resources.
//
// A *Listener and a *Conn each own one non-blocking socket, made with the
// system calls directly rather than through package net, so that a reactor
// polls them beside serial ports and devices with no goroutine per
// connection. Listen binds and listens; Accept hands out connections; Dial
// starts a connection that the reactor completes, since *Conn is a
// reactor.Connector. Accept, Read and Write never block: they return
// reactor.ErrWouldBlock when the socket is not ready.
//
// It is not a replacement for package net: there are no blocking calls, no
// deadlines and no TLS, and a *Conn is not a net.Conn. Like every resource, a
// Listener or a Conn belongs to the goroutine running its reactor and is not
// safe for concurrent use. Host names are looked up only by Resolve and
// Listen, which may block on DNS; Dial takes IP addresses alone, so that it
// can be called from a handler.
//
// Accepted and dialed connections have Nagle's algorithm off (TCP_NODELAY)
// and keep-alive on: after 30 s of silence a probe goes out every 10 s, and
// three unanswered ones end the connection, so a peer that vanished without
// a word, such as one whose cable was pulled, frees its slot in about a
// minute. SetKeepAlive and SetNoDelay change that per connection.
//
// Apart from reactor.ErrWouldBlock and io.EOF, which come bare, the errors
// of Listen, Dial and the methods are *net.OpError values naming the
// operation and the addresses, as in
// "read tcp 127.0.0.1:4001->127.0.0.1:51234: connection reset by peer".
// They wrap the system's error, so errors.Is(err, syscall.ECONNRESET) works;
// a closed Listener or Conn reports net.ErrClosed.
//
// The package builds for Linux, darwin, FreeBSD, NetBSD, OpenBSD and
// DragonFly.
package tcp

import (
	"context"
	"net"
	"net/netip"
	"os"
	"strconv"
	"syscall"
)

// Resolve turns "host:port" into an address. The host may not be empty, and
// the port is a number. An IP address, IPv6 in brackets ("[::1]:4001"), is
// parsed with no lookup. A host name is looked up
// with net.DefaultResolver, which may block on DNS: call Resolve at setup or
// from a goroutine of its own, never from a handler. Of several addresses the
// first IPv4 one is taken, as net.Listen does, so that "localhost" means
// 127.0.0.1 where clients expect it; else the first.
func Resolve(ctx context.Context, addr string) (netip.AddrPort, error) {
	host, port, err := splitHostPort(addr)
	if err != nil {
		return netip.AddrPort{}, err
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return netip.AddrPortFrom(ip.Unmap(), port), nil
	}
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return netip.AddrPort{}, err
	}
	ip := ips[0]
	for _, candidate := range ips {
		if candidate.Unmap().Is4() {
			ip = candidate
			break
		}
	}
	return netip.AddrPortFrom(ip.Unmap(), port), nil
}

// parseIP is Resolve for IP addresses alone: it never blocks.
func parseIP(addr string) (netip.AddrPort, error) {
	host, port, err := splitHostPort(addr)
	if err != nil {
		return netip.AddrPort{}, err
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.AddrPort{}, &net.AddrError{Err: "not an IP address (look host names up with tcp.Resolve)", Addr: addr}
	}
	return netip.AddrPortFrom(ip.Unmap(), port), nil
}

func splitHostPort(addr string) (string, uint16, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	// An empty host means every interface to package net; here it is an
	// error, so that nothing listens beyond loopback by omission.
	if host == "" {
		return "", 0, &net.AddrError{Err: "missing host", Addr: addr}
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return "", 0, &net.AddrError{Err: "invalid port", Addr: addr}
	}
	return host, uint16(n), nil
}

// The calls that carry addresses (bind, connect, accept, getsockname) go
// through package syscall, which has accept4 on every BSD where x/sys/unix
// lacks it on NetBSD and OpenBSD; they then share one Sockaddr type. The
// other calls go through x/sys/unix.

// sockaddr turns an address into what bind and connect take, with the
// address family for socket.
func sockaddr(ap netip.AddrPort) (syscall.Sockaddr, int, error) {
	ip := ap.Addr()
	if ip.Is4() {
		return &syscall.SockaddrInet4{Port: int(ap.Port()), Addr: ip.As4()}, syscall.AF_INET, nil
	}
	zone, err := zoneIndex(ip.Zone())
	if err != nil {
		return nil, 0, err
	}
	return &syscall.SockaddrInet6{Port: int(ap.Port()), ZoneId: zone, Addr: ip.As16()}, syscall.AF_INET6, nil
}

// zoneIndex turns the zone of a link-local IPv6 address, an interface name
// or number, into the interface index the kernel wants.
func zoneIndex(zone string) (uint32, error) {
	if zone == "" {
		return 0, nil
	}
	if n, err := strconv.ParseUint(zone, 10, 32); err == nil {
		return uint32(n), nil
	}
	ifi, err := net.InterfaceByName(zone)
	if err != nil {
		return 0, err
	}
	return uint32(ifi.Index), nil
}

// addrPort is the inverse of sockaddr. Zones come back as interface
// numbers, which cost no lookup.
func addrPort(sa syscall.Sockaddr) netip.AddrPort {
	switch sa := sa.(type) {
	case *syscall.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port))
	case *syscall.SockaddrInet6:
		// A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d.
		ip := netip.AddrFrom16(sa.Addr).Unmap()
		if sa.ZoneId != 0 {
			ip = ip.WithZone(strconv.FormatUint(uint64(sa.ZoneId), 10))
		}
		return netip.AddrPortFrom(ip, uint16(sa.Port))
	}
	return netip.AddrPort{}
}

// localAddr is the address a socket is bound to.
func localAddr(fd int) (netip.AddrPort, error) {
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		return netip.AddrPort{}, os.NewSyscallError("getsockname", err)
	}
	return addrPort(sa), nil
}

// netAddr converts an address for a net.OpError, which prints a nil
// net.Addr as nothing but a typed nil as "<nil>".
func netAddr(ap netip.AddrPort) net.Addr {
	if !ap.IsValid() {
		return nil
	}
	return net.TCPAddrFromAddrPort(ap)
}
