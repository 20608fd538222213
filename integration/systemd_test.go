package integration

import (
	"net"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Under systemd (Type=notify, WatchdogSec=), iogate says READY once it
// runs, pings the watchdog while its loop answers, and says STOPPING on
// SIGTERM. The test plays the service manager.
func TestSystemdNotify(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify")
	manager, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer manager.Close()
	t.Setenv("NOTIFY_SOCKET", sock)
	t.Setenv("WATCHDOG_USEC", "400000") // pings every 200 ms

	mq := startMosquitto(t)
	d := plug(t, "gps")
	g := startGateway(t, mq.url(), d.toml(""))

	next := func() string {
		t.Helper()
		manager.SetReadDeadline(time.Now().Add(deadline))
		buf := make([]byte, 512)
		n, err := manager.Read(buf)
		if err != nil {
			t.Fatalf("no notification: %v", err)
		}
		return string(buf[:n])
	}
	if got := next(); !strings.HasPrefix(got, "READY=1") {
		t.Fatalf("first notification %q, want READY=1", got)
	}
	for range 3 {
		if got := next(); got != "WATCHDOG=1" {
			t.Fatalf("notification %q, want WATCHDOG=1", got)
		}
	}
	syscall.Kill(g.cmd.Process.Pid, syscall.SIGTERM)
	for {
		got := next()
		if got == "STOPPING=1" {
			break
		}
		if got != "WATCHDOG=1" {
			t.Fatalf("notification %q, want STOPPING=1", got)
		}
	}
	// Wait for the exit here: a second SIGTERM from the cleanup, landing
	// after the gateway stopped watching signals, would kill it.
	select {
	case <-g.done:
		if g.err != nil {
			t.Fatalf("iogate exited with %v after SIGTERM, want 0", g.err)
		}
	case <-time.After(deadline):
		t.Fatal("iogate did not exit after SIGTERM")
	}
}
