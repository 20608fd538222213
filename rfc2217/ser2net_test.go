package rfc2217

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/iogate/iogate/resources/serial"
)

// need returns the path of the program name, or skips the test when it
// is missing; on CI, where it must be there, the test fails instead.
func need(t *testing.T, name string) string {
	t.Helper()
	if path, err := exec.LookPath(name); err == nil {
		return path
	}
	for _, dir := range []string{"/usr/sbin", "/usr/local/sbin", "/sbin"} {
		if p := filepath.Join(dir, name); unix.Access(p, unix.X_OK) == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is missing; CI must have it (apt-get install %s)", name, name)
	}
	t.Skipf("%s is not installed (apt-get install %s)", name, name)
	return ""
}

// deadline bounds every wait of the ser2net test.
const deadline = 15 * time.Second

// TestSer2net runs the Client against ser2net's telnet(rfc2217) in front of
// a pty, the way a gateway reaches a remote serial server: the server
// confirms each setting, the pty's line is set, and data with 0xFF in it
// goes both ways whole.
//
// The pty driver keeps every character 8 bits without parity (Linux's
// pty_set_termios clears CSIZE and PARENB), so of the line only the rate,
// the stop bits and the flow control can be read back from the pty; the
// data size and parity are held to ser2net's answers.
func TestSer2net(t *testing.T) {
	ser2net := need(t, "ser2net")
	stty := need(t, "stty")
	pty, err := serial.OpenPTY()
	if err != nil {
		t.Fatal(err)
	}
	defer pty.Close()

	addr := startSer2net(t, ser2net, pty.SlavePath())
	conn := dial(t, addr)
	defer conn.Close()

	mode := serial.Mode{Baud: 19200, DataBits: 7, Parity: serial.ParityEven, StopBits: 2, Flow: serial.FlowRTSCTS}
	g := &gateway{cl: NewClient("iogate test", mode)}
	write(t, conn, g.cl.Greeting(nil))
	readUntil(t, conn, g, func() bool { return g.cl.Line().Answered == AllSettings })

	want := Line{Mode: mode, Sent: AllSettings, Answered: AllSettings, Confirmed: AllSettings}
	if l := g.cl.Line(); l != want {
		t.Errorf("line %+v, want %+v; ser2net said %v", l, want, g.said)
	}
	if g.said[0] != (Command{OpComPort, 1}) {
		t.Errorf("ser2net said %v", g.said)
	}
	out, err := exec.Command(stty, "-F", pty.SlavePath(), "-a").CombinedOutput()
	if err != nil {
		t.Fatalf("stty: %v: %s", err, out)
	}
	fields := strings.FieldsFunc(string(out), func(r rune) bool { return r == ' ' || r == ';' || r == '\n' })
	for _, w := range []string{"19200", "cstopb", "crtscts"} {
		if !contains(fields, w) {
			t.Errorf("the pty's line is not %s:\n%s", w, out)
		}
	}

	// The device speaks first, as a sensor does, then the gateway.
	fromDevice := []byte("\xff$GPGGA\xff\xff,1\r\n\x00")
	if _, err := pty.Write(fromDevice); err != nil {
		t.Fatal(err)
	}
	readUntil(t, conn, g, func() bool { return len(g.fromDevice) >= len(fromDevice) })
	if !bytes.Equal(g.fromDevice, fromDevice) {
		t.Errorf("from the device %q, want %q", g.fromDevice, fromDevice)
	}
	toDevice := []byte("AT\xff\xff\x00\r\n\xff")
	write(t, conn, Escape(nil, toDevice))
	if got := readPTY(t, pty, len(toDevice)); !bytes.Equal(got, toDevice) {
		t.Errorf("to the device %q, want %q", got, toDevice)
	}
	if st := g.cl.Stats(); st.Malformed != 0 || st.Overlong != 0 || st.Refused != 1 {
		t.Errorf("stats %+v: want the server's ECHO refused, and nothing malformed", st)
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

// startSer2net runs ser2net with a telnet(rfc2217) accepter on a free
// loopback port in front of the device at path, and returns its address.
func startSer2net(t *testing.T, ser2net, path string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, port, _ := net.SplitHostPort(addr)

	dir := t.TempDir()
	config := filepath.Join(dir, "ser2net.yaml")
	yaml := fmt.Sprintf("connection: &iogate\n  accepter: telnet(rfc2217),tcp,127.0.0.1,%s\n  connector: serialdev,%s,9600n81,local\n", port, path)
	if err := os.WriteFile(config, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	cmd := exec.Command(ser2net, "-n", "-d", "-u", "-P", filepath.Join(dir, "ser2net.pid"), "-c", config)
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("ser2net's output:\n%s", log.String())
		}
	})
	return addr
}

// dial connects to addr once ser2net listens there.
func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	end := time.Now().Add(deadline)
	for {
		conn, err := net.DialTimeout("tcp", addr, deadline)
		if err == nil {
			return conn
		}
		if time.Now().After(end) {
			t.Fatalf("ser2net does not listen on %s: %v", addr, err)
		}
		// Not listening yet: ser2net is starting. Wait for it to be
		// scheduled rather than spin.
		time.Sleep(10 * time.Millisecond)
	}
}

func write(t *testing.T, conn net.Conn, b []byte) {
	t.Helper()
	if _, err := conn.Write(b); err != nil {
		t.Fatal(err)
	}
}

// readUntil reads from the server into g, sending g's answers, until done.
func readUntil(t *testing.T, conn net.Conn, g *gateway, done func() bool) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(deadline))
	buf := make([]byte, 4096)
	for !done() {
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("read: %v; so far the server said %v, the device %q", err, g.said, g.fromDevice)
		}
		g.received(buf[:n])
		if len(g.out) > 0 {
			write(t, conn, g.out)
			g.out = g.out[:0]
		}
	}
}

// readPTY reads n bytes from the device side of pty.
func readPTY(t *testing.T, pty *serial.PTY, n int) []byte {
	t.Helper()
	end := time.Now().Add(deadline)
	var got []byte
	buf := make([]byte, 256)
	for len(got) < n {
		left := time.Until(end)
		if left <= 0 {
			t.Fatalf("the device got %q, want %d bytes", got, n)
		}
		fds := []unix.PollFd{{Fd: int32(pty.Fd()), Events: unix.POLLIN}}
		if _, err := unix.Poll(fds, int(left/time.Millisecond)+1); err != nil && !errors.Is(err, unix.EINTR) {
			t.Fatal(err)
		}
		k, err := pty.Read(buf)
		if err != nil && !errors.Is(err, unix.EAGAIN) {
			t.Fatal(err)
		}
		got = append(got, buf[:max(k, 0)]...)
	}
	return got
}
