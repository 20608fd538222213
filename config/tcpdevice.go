package config

import (
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Remote is the far end of a kind = "tcp" device: a serial server on the
// network (ser2net, a Moxa NPort, a USR-TCP232, an ESP-Link) or a sensor
// that speaks TCP itself.
type Remote struct {
	Address     string        // host:port; a host name is resolved at each dial
	Protocol    string        // raw | rfc2217: what is spoken to it
	IdleTimeout time.Duration // reconnect when it has been silent this long; 0: never
}

// tcpDevice checks a kind = "tcp" device. On such a device tcp_protocol and
// tcp_idle_timeout are about the connection to the remote end, so they move
// to d.Remote, and its own listener, if any, is raw with no idle timeout.
func (v *validator) tcpDevice(key string, f *deviceFile, d *Device) {
	if d.Path != "" {
		v.addf(key+".path", "a tcp device is reached at its address, not a path")
	}
	if d.USB != "" {
		v.addf(key+".usb", "usb matching is for serial devices")
	}
	if d.USBSerial != "" {
		v.addf(key+".usb_serial", "usb_serial narrows a usb match, for serial devices")
	}
	v.remoteAddress(key+".address", f.Address)
	oneOf(v, key+".tcp_protocol", d.TCPProtocol, "raw", "rfc2217")
	if d.TCPProtocol == "rfc2217" {
		v.line(key, d) // sent to the remote port
	}
	if d.TCPIdleTimeout < 0 {
		v.addf(key+".tcp_idle_timeout", "%s: must not be negative (0 means never)", d.TCPIdleTimeout)
	}
	d.Remote = Remote{Address: f.Address, Protocol: d.TCPProtocol, IdleTimeout: d.TCPIdleTimeout}
	d.TCPProtocol, d.TCPIdleTimeout = "raw", 0
}

// remoteAddress checks the syntax of the host:port a device is dialled
// at. Whether the host resolves is for the dial to find out, off the loop
// and again at every reconnect: a name that does not resolve today may
// tomorrow.
func (v *validator) remoteAddress(key, addr string) {
	if addr == "" {
		v.addf(key, "required for kind = \"tcp\": the remote end as host:port, such as \"192.168.1.50:4001\"")
		return
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		v.addf(key, "%q: want host:port, such as \"192.168.1.50:4001\" or \"nport-3.local:4001\"", addr)
		return
	}
	if ip, err := netip.ParseAddr(host); strings.HasPrefix(addr, "[") && (err != nil || !ip.Is6()) {
		v.addf(key, "%q: brackets are for an IPv6 address, such as \"[fd00::7]:4001\"", addr)
	} else if !validHost(host) {
		v.addf(key, "%q: %q is neither an IP address nor a host name", addr, host)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		v.addf(key, "%q: port must be a number from 1 to 65535", addr)
	}
}

// validHost tells whether host is an IP address, or a name made of labels
// of letters, digits, '-' and '_' (which some local names have), none
// empty, none starting or ending with '-'; a final dot is allowed.
func validHost(host string) bool {
	if _, err := netip.ParseAddr(host); err == nil {
		return true
	}
	name := strings.TrimSuffix(host, ".")
	if name == "" || len(name) > 253 {
		return false
	}
	for label := range strings.SplitSeq(name, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range []byte(label) {
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}
