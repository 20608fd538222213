package bridge_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// freeAddr is a loopback address nobody listens on: a port just released.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// dial connects a raw TCP client; run has waited for the listeners.
func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func readN(t *testing.T, c net.Conn, n int) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(deadline))
	buf := make([]byte, n)
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatalf("client read: %v (got %q)", err, buf)
	}
	return string(buf)
}

// closedByGateway tells whether the gateway closed c: a read ends with EOF
// or a reset, not a timeout.
func closedByGateway(t *testing.T, c net.Conn) bool {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(deadline))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	return !(errors.As(err, &ne) && ne.Timeout())
}

// Like ser2net: every client gets what the device sends, and what clients
// send goes to a writable device; MQTT goes on beside it.
func TestTCPAccess(t *testing.T) {
	w := newWorld(t, "meter")
	addr := freeAddr(t)
	w.run(map[string]string{"meter": fmt.Sprintf("writable = true\ntcp_listen = %q", addr)})
	a, b := dial(t, addr), dial(t, addr)
	w.expectPayload("iogate/gw/meter/status", "online")
	// Both clients are registered once the gateway has answered a round
	// trip on each: send a command through each and see it arrive.
	a.Write([]byte("A\n"))
	if got := w.read("meter", 2); got != "A\n" {
		t.Fatalf("device got %q", got)
	}
	b.Write([]byte("B\n"))
	if got := w.read("meter", 2); got != "B\n" {
		t.Fatalf("device got %q", got)
	}
	w.write("meter", "reading 42\n")
	if got := readN(t, a, 11); got != "reading 42\n" {
		t.Fatalf("client a got %q", got)
	}
	if got := readN(t, b, 11); got != "reading 42\n" {
		t.Fatalf("client b got %q", got)
	}
	w.expectPayload("iogate/gw/meter/rx", "reading 42")
}

func TestTCPMaxClients(t *testing.T) {
	for _, policy := range []string{"refuse", "kick-oldest"} {
		t.Run(policy, func(t *testing.T) {
			w := newWorld(t, "d")
			w.noBroker = true
			addr := freeAddr(t)
			w.run(map[string]string{"d": fmt.Sprintf("writable = true\ntcp_listen = %q\ntcp_max_clients = 1\ntcp_overflow = %q", addr, policy)})
			first := dial(t, addr)
			first.Write([]byte("1"))
			if got := w.read("d", 1); got != "1" {
				t.Fatalf("device got %q", got)
			}
			second := dial(t, addr)
			closed, kept := second, first
			if policy == "kick-oldest" {
				closed, kept = first, second
			}
			if !closedByGateway(t, closed) {
				t.Fatal("the client beyond the limit was not closed")
			}
			kept.Write([]byte("2"))
			if got := w.read("d", 1); got != "2" {
				t.Fatalf("device got %q from the client that stayed", got)
			}
		})
	}
}

func TestTCPAllowAndIdle(t *testing.T) {
	w := newWorld(t, "locked", "idle")
	w.noBroker = true
	locked, idle := freeAddr(t), freeAddr(t)
	w.run(map[string]string{
		"locked": fmt.Sprintf("tcp_listen = %q\ntcp_allow = [\"10.0.0.0/8\"]", locked),
		"idle":   fmt.Sprintf("tcp_listen = %q\ntcp_idle_timeout = \"100ms\"", idle),
	})
	if !closedByGateway(t, dial(t, locked)) {
		t.Fatal("a client outside tcp_allow was served")
	}
	if !closedByGateway(t, dial(t, idle)) {
		t.Fatal("a silent client was not closed after tcp_idle_timeout")
	}
}

// A client that never reads is dropped once its buffer is full; the others
// get every byte, and MQTT is not held up.
func TestTCPSlowClientDropped(t *testing.T) {
	w := newWorld(t, "fast")
	addr := freeAddr(t)
	w.run(map[string]string{"fast": fmt.Sprintf("tcp_listen = %q\nmax_frame = 65536", addr)})
	slow, quick := dial(t, addr), dial(t, addr)
	w.expectPayload("iogate/gw/fast/status", "online")
	// Make sure both are registered: a marker reaches both.
	w.write("fast", "go\n")
	readN(t, slow, 3)
	readN(t, quick, 3)

	chunk := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB
	const chunks = 256                                      // 16 MiB: past every buffer on the way
	got := make(chan int, 1)
	go func() {
		quick.SetReadDeadline(time.Now().Add(4 * deadline))
		n, _ := io.CopyN(io.Discard, quick, int64(len(chunk)*chunks))
		got <- int(n)
	}()
	for range chunks {
		w.write("fast", string(chunk))
	}
	if n := <-got; n != len(chunk)*chunks {
		t.Fatalf("the reading client got %d of %d bytes", n, len(chunk)*chunks)
	}
	if !closedByGateway(t, slow) {
		t.Fatal("the client that never read was not dropped")
	}
	w.write("fast", "\nstill\n") // the 16 MiB were one overlong line; this starts afresh
	w.expectPayload("iogate/gw/fast/rx", "still")
}

// broker = "none" with publish = false is a ser2net replacement.
func TestTCPOnly(t *testing.T) {
	w := newWorld(t, "port")
	w.noBroker = true
	addr := freeAddr(t)
	w.run(map[string]string{"port": fmt.Sprintf("writable = true\npublish = false\ntcp_listen = %q", addr)})
	c := dial(t, addr)
	c.Write([]byte("AT\r"))
	if got := w.read("port", 3); got != "AT\r" {
		t.Fatalf("device got %q", got)
	}
	w.write("port", "OK\r\n")
	if got := readN(t, c, 4); !strings.HasPrefix(got, "OK") {
		t.Fatalf("client got %q", got)
	}
}

// A client that closes its sending side after a command (printf 'AT\r' |
// nc -N) still gets the device's answer.
func TestTCPHalfClose(t *testing.T) {
	w := newWorld(t, "modem")
	addr := freeAddr(t)
	w.run(map[string]string{"modem": fmt.Sprintf("tcp_listen = %q\nwritable = true", addr)})
	w.expectPayload("iogate/gw/modem/status", "online")
	c := dial(t, addr)
	if _, err := c.Write([]byte("AT\r")); err != nil {
		t.Fatal(err)
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if got := w.read("modem", 3); got != "AT\r" {
		t.Fatalf("device got %q", got)
	}
	w.write("modem", "OK\r\n")
	got, err := io.ReadAll(c) // until the gateway closes it
	if err != nil || string(got) != "OK\r\n" {
		t.Fatalf("client got %q, %v", got, err)
	}
}
