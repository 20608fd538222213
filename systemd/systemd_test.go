package systemd_test

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/iogate/iogate/systemd"
)

// listen stands in for the service manager: a datagram socket whose path
// is in $NOTIFY_SOCKET.
func listen(t *testing.T, name string) *net.UnixConn {
	t.Helper()
	addr := &net.UnixAddr{Name: name, Net: "unixgram"}
	conn, err := net.ListenUnixgram("unixgram", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func receive(t *testing.T, conn *net.UnixConn) string {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 256)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	return string(buf[:n])
}

func TestNotify(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify")
	conn := listen(t, path)
	t.Setenv("NOTIFY_SOCKET", path)
	for _, state := range []string{systemd.Ready, systemd.Watchdog, systemd.Stopping + "\nSTATUS=bye"} {
		sent, err := systemd.Notify(state)
		if !sent || err != nil {
			t.Fatalf("Notify(%q): %v %v", state, sent, err)
		}
		if got := receive(t, conn); got != state {
			t.Fatalf("manager got %q, want %q", got, state)
		}
	}
}

func TestNotifyAbstract(t *testing.T) {
	name := "iogate-test-" + strconv.Itoa(os.Getpid())
	conn := listen(t, "\x00"+name)
	t.Setenv("NOTIFY_SOCKET", "@"+name)
	if sent, err := systemd.Notify(systemd.Ready); !sent || err != nil {
		t.Fatalf("%v %v", sent, err)
	}
	if got := receive(t, conn); got != systemd.Ready {
		t.Fatalf("got %q", got)
	}
}

func TestOutsideSystemd(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	t.Setenv("WATCHDOG_USEC", "")
	if sent, err := systemd.Notify(systemd.Ready); sent || err != nil {
		t.Fatalf("%v %v", sent, err)
	}
	if d, err := systemd.WatchdogInterval(); d != 0 || err != nil {
		t.Fatalf("%v %v", d, err)
	}
	t.Setenv("NOTIFY_SOCKET", filepath.Join(t.TempDir(), "nobody"))
	if _, err := systemd.Notify(systemd.Ready); err == nil {
		t.Fatal("no error for a socket nobody listens on")
	}
}

func TestWatchdogInterval(t *testing.T) {
	for _, tc := range []struct {
		usec, pid string
		want      time.Duration
		err       bool
	}{
		{"30000000", "", 30 * time.Second, false},
		{"500000", strconv.Itoa(os.Getpid()), 500 * time.Millisecond, false},
		{"500000", "1", 0, false}, // for another process
		{"soon", "", 0, true},
		{"-5", "", 0, true},
	} {
		t.Setenv("WATCHDOG_USEC", tc.usec)
		t.Setenv("WATCHDOG_PID", tc.pid)
		got, err := systemd.WatchdogInterval()
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("USEC=%s PID=%s: %v %v", tc.usec, tc.pid, got, err)
		}
	}
}
