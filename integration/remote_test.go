package integration

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/iogate/iogate/resources/serial"
)

// ptyDevice is a serial device behind a serial server: a pty whose
// terminal side the server opens, and whose other side the test plays.
type ptyDevice struct {
	t   *testing.T
	pty *serial.PTY
	f   *os.File // the test's side, through Go's poller for deadlines
}

func newPTYDevice(t *testing.T) *ptyDevice {
	t.Helper()
	p, err := serial.OpenPTY()
	if err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Dup(p.Fd())
	if err != nil {
		p.Close()
		t.Fatal(err)
	}
	d := &ptyDevice{t: t, pty: p, f: os.NewFile(uintptr(fd), "pty")}
	t.Cleanup(func() {
		d.f.Close()
		p.Close()
	})
	return d
}

func (d *ptyDevice) path() string { return d.pty.SlavePath() }

func (d *ptyDevice) write(data string) {
	d.t.Helper()
	d.f.SetWriteDeadline(time.Now().Add(deadline))
	if _, err := d.f.WriteString(data); err != nil {
		d.t.Fatalf("write to the pty: %v", err)
	}
}

// read returns the next n bytes the server wrote to the device.
func (d *ptyDevice) read(n int) string {
	d.t.Helper()
	d.f.SetReadDeadline(time.Now().Add(deadline))
	buf := make([]byte, n)
	for k := 0; k < n; {
		m, err := d.f.Read(buf[k:])
		if err != nil {
			d.t.Fatalf("the device read %q: %v", buf[:k], err)
		}
		k += m
	}
	return string(buf)
}

// line returns the words of stty -a on the terminal side: the line the
// server set.
func (d *ptyDevice) line() []string {
	d.t.Helper()
	out, err := exec.Command(need(d.t, "stty"), "-F", d.path(), "-a").CombinedOutput()
	if err != nil {
		d.t.Fatalf("stty: %v: %s", err, out)
	}
	return strings.FieldsFunc(string(out), func(r rune) bool { return r == ' ' || r == ';' || r == '\n' })
}

// ser2net is Debian's ser2net in the foreground, with one accepter in
// front of one device.
type ser2net struct {
	t    *testing.T
	bin  string
	conf string
	pid  string
	port int
	p    *proc
}

// startSer2net runs ser2net with accepter ("tcp" for raw, or
// "telnet(rfc2217),tcp") on a free loopback port in front of the device
// at path, and waits until it listens.
func startSer2net(t *testing.T, accepter, path string) *ser2net {
	t.Helper()
	s := &ser2net{t: t, bin: need(t, "ser2net"), port: freePort(t)}
	dir := t.TempDir()
	s.conf, s.pid = filepath.Join(dir, "ser2net.yaml"), filepath.Join(dir, "ser2net.pid")
	yaml := fmt.Sprintf("connection: &iogate\n  accepter: %s,127.0.0.1,%d\n  connector: serialdev,%s,9600n81,local\n", accepter, s.port, path)
	if err := os.WriteFile(s.conf, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	s.start()
	return s
}

func (s *ser2net) addr() string { return fmt.Sprintf("127.0.0.1:%d", s.port) }

// start starts ser2net and returns once its port listens; it is looked
// for in /proc, since a connection would open the device.
func (s *ser2net) start() {
	s.t.Helper()
	s.p = start(s.t, nil, s.bin, "-n", "-d", "-u", "-P", s.pid, "-c", s.conf)
	for end := time.Now().Add(deadline); !listening(s.t, s.port); {
		select {
		case <-s.p.done:
			s.t.Fatalf("ser2net exited: %v", s.p.err)
		default:
		}
		if time.Now().After(end) {
			s.t.Fatalf("ser2net does not listen on %s", s.addr())
		}
		time.Sleep(10 * time.Millisecond) // polling a condition, not waiting for time to pass
	}
}

// listening tells whether a socket listens on the loopback port.
func listening(t *testing.T, port int) bool {
	t.Helper()
	f, err := os.Open("/proc/net/tcp")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := fmt.Sprintf("0100007F:%04X", port)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// "  0: 0100007F:0FA1 00000000:0000 0A ...": local address, remote, state.
		if fields := strings.Fields(sc.Text()); len(fields) > 3 && fields[1] == want && fields[3] == "0A" {
			return true
		}
	}
	return false
}

// remoteToml is the [[device]] section of a kind = "tcp" device.
func remoteToml(name, addr, extra string) string {
	return fmt.Sprintf("[[device]]\nname = %q\nkind = \"tcp\"\naddress = %q\nreconnect_min = \"50ms\"\nreconnect_max = \"500ms\"\n%s\n",
		name, addr, extra)
}

// probe writes a command to the device through MQTT and reads it at the
// device: proof that the whole path is up, ser2net having opened the pty.
func probe(t *testing.T, sub *client, dev *ptyDevice, name string) {
	t.Helper()
	sub.publish(prefix+"/"+name+"/tx", "probe")
	if got := dev.read(6); got != "probe\n" {
		t.Fatalf("the device got %q, want the probe", got)
	}
}

// A device behind ser2net's raw TCP port: frames both ways; ser2net killed
// takes the device offline, and once it is back the device is dialled
// again and frames flow as before.
func TestSer2netRaw(t *testing.T) {
	t.Parallel()
	dev := newPTYDevice(t)
	s2n := startSer2net(t, "tcp", dev.path())
	mq := startMosquitto(t)
	sub := subscribe(t, mq.url(), prefix+"/#")
	startGateway(t, mq.url(), remoteToml("gps", s2n.addr(), "writable = true"))
	rx, status := prefix+"/gps/rx", prefix+"/gps/status"
	sub.waitFor(status, "online")
	probe(t, sub, dev, "gps")
	dev.write("$GPGGA,1\r\n$GPGGA,2\r\n")
	sub.expect(rx, "$GPGGA,1", "$GPGGA,2")

	s2n.p.kill(syscall.SIGKILL)
	sub.waitFor(status, "offline")
	s2n.start()
	sub.waitFor(status, "online")
	probe(t, sub, dev, "gps")
	dev.write("$GPGGA,3\r\n")
	sub.expect(rx, "$GPGGA,3")
}

// A device behind ser2net's telnet(rfc2217) port: the gateway sets the
// remote port's line, which stty reads back from the pty, ser2net confirms
// it, 0xFF goes both ways whole, and after ser2net restarts, with the pty
// at 9600 again, the line is set again.
//
// Linux's pty driver keeps every character 8 bits without parity, so of
// the line stty can show the rate, the stop bits and the flow control.
func TestSer2netRFC2217(t *testing.T) {
	t.Parallel()
	dev := newPTYDevice(t)
	s2n := startSer2net(t, "telnet(rfc2217),tcp", dev.path())
	mq := startMosquitto(t)
	sub := subscribe(t, mq.url(), prefix+"/#")
	gw := startGateway(t, mq.url(), remoteToml("port", s2n.addr(),
		"tcp_protocol = \"rfc2217\"\nbaud = 19200\nstop_bits = 2\nflow = \"rtscts\"\nwritable = true\nencoding = \"hex\""))
	rx, status := prefix+"/port/rx", prefix+"/port/status"
	confirmed := func(e entry) bool {
		return e.is("info", "rfc2217: the server confirmed the line settings") && e["device"] == "port" &&
			e["confirmed"] == "baud, data bits, parity, stop bits, flow" && e["mode"] == "19200 8N2 rtscts"
	}
	checkLine := func() {
		t.Helper()
		line := dev.line()
		for _, w := range []string{"19200", "cstopb", "crtscts"} {
			if !contains(line, w) {
				t.Errorf("the pty's line is not %s: %v", w, line)
			}
		}
	}
	sub.waitFor(status, "online")
	gw.log.waitFor(t, "ser2net's confirmation", confirmed)
	checkLine()
	sub.publish(prefix+"/port/tx", "41ff42") // A 0xFF B
	if got := dev.read(4); got != "A\xffB\n" {
		t.Fatalf("the device got %q", got)
	}
	dev.write("\xff$GP\xff\xff\n")
	sub.expect(rx, "ff244750ffff")

	s2n.p.kill(syscall.SIGKILL)
	sub.waitFor(status, "offline")
	out, err := exec.Command(need(t, "stty"), "-F", dev.path(), "9600", "-cstopb", "-crtscts").CombinedOutput()
	if err != nil {
		t.Fatalf("stty: %v: %s", err, out)
	}
	s2n.start()
	sub.waitFor(status, "online")
	gw.log.waitUntil(t, "ser2net's second confirmation", func() bool { return len(gw.log.entries(confirmed)) == 2 })
	checkLine()
	dev.write("\xffback\n")
	sub.expect(rx, "ff6261636b")
	if es := gw.log.entries(func(e entry) bool { return e.is("warning", "rfc2217:") }); len(es) > 0 {
		t.Errorf("warnings about the remote line: %v", es)
	}
}

func contains(words []string, w string) bool {
	for _, x := range words {
		if x == w {
			return true
		}
	}
	return false
}

// floodServer accepts the gateway's connections: the first gets random
// bytes as fast as it takes them until stop is closed, and is then
// closed; the ones after get ok.
func floodServer(t *testing.T, seed uint64, stop <-chan struct{}) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		rnd := rand.New(rand.NewPCG(seed, seed))
		buf := make([]byte, 64<<10)
		for {
			for i := range buf {
				buf[i] = byte(rnd.UintN(256))
			}
			select {
			case <-stop:
				c.Close()
				var later []net.Conn
				defer func() {
					for _, c := range later {
						c.Close()
					}
				}()
				for {
					c, err := l.Accept() // until the test closes l
					if err != nil {
						return
					}
					c.Write([]byte("ok\r\n\r\n"))
					later = append(later, c)
				}
			default:
			}
			c.SetWriteDeadline(time.Now().Add(deadline))
			if _, err := c.Write(buf); err != nil {
				c.Close()
				return
			}
		}
	}()
	return l.Addr().String()
}

// metric reads a sample from a /metrics page, or -1 if it is not there.
func metric(body, series string) float64 {
	for line := range strings.Lines(body) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err == nil {
				return f
			}
		}
	}
	return -1
}

// Two servers flood the gateway with random bytes, one of them as an RFC
// 2217 server: another device's frames keep flowing, the metrics endpoint
// answers and counts the garbage (overlong frames, malformed telnet), the
// gateway's memory stays bounded however much it reads, and once the
// flood ends the devices are dialled again and work.
func TestRemoteFlood(t *testing.T) {
	t.Parallel()
	mq := startMosquitto(t)
	calm := plug(t, "calm")
	stop := make(chan struct{})
	defer func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
	}()
	raw, tn := floodServer(t, 1, stop), floodServer(t, 2, stop)
	sub := subscribe(t, mq.url(), prefix+"/status", prefix+"/+/status", calm.topic("rx"), prefix+"/raw/rx", prefix+"/tn/rx")
	metrics := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	// Random bytes practically never hold the delimiter: the flood is all
	// overlong frames, and nothing of it is published.
	const flooded = "framing = \"delimiter\"\ndelimiter = \"\\r\\n\\r\\n\"\nmax_frame = 64"
	gw := startGatewayWith(t, gatewayOptions{mqtt: fmt.Sprintf("[metrics]\nlisten = %q", metrics)}, mq.url(),
		calm.toml(""), remoteToml("raw", raw, flooded), remoteToml("tn", tn, flooded+"\ntcp_protocol = \"rfc2217\""))
	gw.log.waitFor(t, "the metrics listener", func(e entry) bool { return e.is("info", "metrics: serving /metrics and /healthz") })
	waitOnline(t, sub, calm)

	read := func(device string) func(string) float64 {
		return func(body string) float64 {
			return metric(body, fmt.Sprintf(`iogate_device_bytes_total{device=%q,direction="rx"}`, device))
		}
	}
	readAtLeast := func(n float64) {
		t.Helper()
		waitScrape(t, metrics, "/metrics", fmt.Sprintf("reading %.0f MiB of each flood", n/(1<<20)), func(code int, body string) bool {
			return code == 200 && read("raw")(body) >= n && read("tn")(body) >= n
		})
	}
	readAtLeast(16 << 20)
	gw.checkRSS("after 16 MiB of each flood")
	first := gw.rss()
	for i := range 5 {
		line := fmt.Sprintf("calm %d", i)
		calm.write(line + "\n")
		sub.expect(calm.topic("rx"), line)
	}
	readAtLeast(128 << 20)
	gw.checkRSS("after 128 MiB of each flood")
	if grown := gw.rss() - first; grown > 32<<20 {
		t.Errorf("the gateway's memory grew by %.1f MiB while it read 112 MiB more of each flood", float64(grown)/(1<<20))
	}
	waitScrape(t, metrics, "/metrics", "counting the garbage", func(code int, body string) bool {
		return code == 200 &&
			metric(body, `iogate_device_framing_drops_total{device="raw",reason="overlong"}`) > 0 &&
			metric(body, `iogate_device_framing_drops_total{device="tn",reason="malformed"}`) > 0
	})
	if got := sub.seen(prefix + "/raw/rx"); len(got) > 0 {
		t.Errorf("garbage published: %d frames", len(got))
	}
	close(stop)

	sub.expect(prefix+"/raw/rx", "ok")
	sub.expect(prefix+"/tn/rx", "ok")
	calm.write("calm after\n")
	sub.expect(calm.topic("rx"), "calm after")
	if n := gw.log.count("malformed telnet from the server"); n > 20 {
		t.Errorf("%d log lines about malformed telnet: not rate-limited", n)
	}
}
