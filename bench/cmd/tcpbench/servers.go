package main

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/iogate/iogate/bench/internal/proc"
)

// The servers under test.
const (
	implIogate         = "iogate"
	implSer2net        = "ser2net"
	implSer2netDefault = "ser2net-defaults"
)

var allImpls = []string{implIogate, implSer2net, implSer2netDefault}

// startLimit bounds the time a server takes to take connections.
const startLimit = 15 * time.Second

// tools are the programs the benchmark starts.
type tools struct {
	dir     string // for configs
	iogate  string
	ser2net string
}

// iogateConf is what a user writes for raw TCP access without MQTT: one
// serial device per terminal, its own listener, and writes from the
// client allowed.
func iogateConf(dir string, paths, ports []string) string {
	var c strings.Builder
	fmt.Fprintf(&c, "[gateway]\nid = \"bench\"\nstate_dir = %q\n\n[mqtt]\nbroker = \"none\"\n", dir)
	for i, p := range paths {
		fmt.Fprintf(&c, "\n[[device]]\nname = \"d%d\"\nkind = \"serial\"\npath = %q\nbaud = 115200\nframing = \"line\"\npublish = false\nwritable = true\ntcp_listen = \"127.0.0.1:%s\"\n", i, p, ports[i])
	}
	return c.String()
}

// ser2netConf is ser2net's configuration of the same: one connection per
// terminal, raw TCP (no telnet, no banner), the port's modem lines
// ignored (local). Tuned to do iogate's work, it forwards every read at once
// (chardelay off), reads up to 64 KiB at a time from either side (gensio's
// readbuf and ser2net's own buffers; iogate reads into 64 KiB), and sets
// TCP_NODELAY on its clients, as iogate does. With ser2net's defaults it
// waits up to a few character times after each read for more, reads 1 KiB
// at a time, and leaves Nagle's algorithm on.
func ser2netConf(paths, ports []string, defaults bool) string {
	accepter, connector := "tcp(nodelay,readbuf=65536)", "serialdev(readbuf=65536)"
	options := "      kickolduser: true\n      chardelay: false\n      dev-to-net-bufsize: 65536\n      net-to-dev-bufsize: 65536\n"
	if defaults {
		accepter, connector, options = "tcp", "serialdev", "      kickolduser: true\n"
	}
	var c strings.Builder
	c.WriteString("%YAML 1.1\n---\n")
	for i, p := range paths {
		fmt.Fprintf(&c, "connection: &d%d\n    accepter: %s,127.0.0.1,%s\n    enable: on\n    options:\n%s    connector: %s,%s,115200n81,local\n",
			i, accepter, ports[i], options, connector, p)
	}
	return c.String()
}

// startServer starts impl on the terminals at paths, to serve device i on
// port ports[i].
func startServer(t tools, impl string, paths []string, ports []int) (*proc.Process, error) {
	p := make([]string, len(ports))
	for i, n := range ports {
		p[i] = strconv.Itoa(n)
	}
	var cmd *exec.Cmd
	switch impl {
	case implIogate:
		conf := filepath.Join(t.dir, "iogate.toml")
		if err := os.WriteFile(conf, []byte(iogateConf(t.dir, paths, p)), 0o644); err != nil {
			return nil, err
		}
		if out, err := exec.Command(t.iogate, "check", "-c", conf).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("iogate check -c %s: %w: %s", conf, err, out)
		}
		cmd = exec.Command(t.iogate, "run", "-c", conf)
	case implSer2net, implSer2netDefault:
		conf := filepath.Join(t.dir, "ser2net.yaml")
		if err := os.WriteFile(conf, []byte(ser2netConf(paths, p, impl == implSer2netDefault)), 0o644); err != nil {
			return nil, err
		}
		cmd = exec.Command(t.ser2net, ser2netArgs(conf, filepath.Join(t.dir, "ser2net.pid"))...)
	default:
		return nil, fmt.Errorf("no server %q", impl)
	}
	return proc.Start(impl, cmd, nil)
}

// ser2netArgs runs ser2net in the foreground on conf only (not the system's
// /etc/ser2net.yaml), its log on stdout, without UUCP lock files.
func ser2netArgs(conf, pidFile string) []string {
	return []string{"-n", "-d", "-u", "-c", conf, "-P", pidFile}
}

// freePorts returns n loopback TCP ports that were free a moment ago.
func freePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// dial connects a client to port, retrying while the server starts, and
// returns its socket: non-blocking, with TCP_NODELAY, as a client that
// sends commands sets it.
func dial(p *proc.Process, port int, deadline time.Time) (int, error) {
	addr := netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(port))
	for {
		fd, err := connect(addr)
		if err == nil {
			return fd, nil
		}
		if time.Now().After(deadline) {
			return -1, p.Failed(fmt.Sprintf("took no connection on %v within %v: %v", addr, startLimit, err))
		}
		select {
		case <-p.Exited():
			return -1, p.Failed("did not start")
		case <-time.After(20 * time.Millisecond): // retry pacing
		}
	}
}

func connect(addr netip.AddrPort) (int, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("socket: %w", err)
	}
	// A blocking connect on loopback: done or refused at once, unless a
	// signal interrupts it, when it goes on in the background.
	err = unix.Connect(fd, &unix.SockaddrInet4{Port: int(addr.Port()), Addr: addr.Addr().As4()})
	if err == unix.EINTR {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
		unix.Poll(fds, 1000)
		var soErr int
		if soErr, err = unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR); err == nil && soErr != 0 {
			err = unix.Errno(soErr)
		}
	}
	if err == nil {
		err = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	}
	if err == nil {
		err = unix.SetNonblock(fd, true)
	}
	if err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("connect %v: %w", addr, err)
	}
	return fd, nil
}
