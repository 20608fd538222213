package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/iogate/iogate/control"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// sampleStatus is a gateway with something of everything: a connected
// broker, a spool, a device with slaves, one of which is offline, and an
// offline device.
func sampleStatus() *control.Status {
	t0 := time.Date(2026, 12, 4, 2, 20, 4, 0, time.UTC)
	return &control.Status{
		Gateway: "edge-01", Version: "v1.2.3", Time: t0, Started: t0.Add(-26*time.Hour - 3*time.Minute),
		Broker: control.Broker{State: control.LinkConnected, Address: "tcp://127.0.0.1:1883", Since: t0.Add(-192 * time.Second)},
		Spool:  &control.Spool{Frames: 12, Bytes: 3481, Oldest: t0.Add(-12 * time.Second), Drops: 1},
		Devices: []control.Device{
			{Name: "gps", Kind: "serial", State: control.Online, Since: t0.Add(-192 * time.Second), RxFrames: 1234, RxBytes: 81234,
				TxFrames: 2, TxBytes: 20, Drops: 1, Discarded: 3, Reopens: 1, TCPClients: 1, LastFrame: t0.Add(-200 * time.Millisecond)},
			{Name: "rs485-bus", Kind: "serial", State: control.Online, Since: t0.Add(-3720 * time.Second), RxFrames: 123456789, TxFrames: 123456789,
				LastFrame: t0.Add(-time.Second), Slaves: []control.Slave{
					{Name: "meter", ID: 1, State: control.Online, Since: t0.Add(-3720 * time.Second), LastAnswer: t0.Add(-time.Second)},
					{Name: "pump", ID: 247, State: control.Offline, Since: t0.Add(-12 * time.Second), LastAnswer: t0.Add(-302 * time.Second), Timeouts: 31},
				}},
			{Name: "door", Kind: "file", State: control.Offline, Error: "open /dev/door: no such file or directory"},
		},
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -run %s -update rewrites it):\n got:\n%s\nwant:\n%s", path, t.Name(), got, want)
	}
}

func TestPrintStatusGolden(t *testing.T) {
	down := sampleStatus()
	down.Broker = control.Broker{State: control.LinkDown, Address: "ssl://broker.example.com:8883", Since: down.Time.Add(-90 * time.Minute),
		LastError: "dial tcp 192.0.2.7:8883: connect: connection refused"}
	down.Spool.Oldest, down.Spool.Drops, down.Spool.Bytes = down.Time.Add(-3*24*time.Hour-5*time.Hour), 0, 64<<20
	none := &control.Status{Gateway: "tcp-only", Version: "v1.2.3", Time: down.Time, Started: down.Time.Add(-5 * time.Second),
		Broker: control.Broker{State: control.LinkNone}}
	for name, st := range map[string]*control.Status{"status.golden": sampleStatus(), "status-down.golden": down, "status-none.golden": none} {
		var out bytes.Buffer
		if err := printStatus(&out, st); err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(out.String(), "\n") {
			if len(line) > 80 && !strings.HasPrefix(line, "        last error:") {
				t.Errorf("%s: a line of %d columns: %q", name, len(line), line)
			}
		}
		golden(t, name, out.Bytes())
	}
}

func TestAge(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{-1, "-"}, {0, "0.0s"}, {199 * time.Millisecond, "0.1s"}, {9999 * time.Millisecond, "9.9s"}, {10 * time.Second, "10s"},
		{59 * time.Second, "59s"}, {192 * time.Second, "3m12s"}, {3720 * time.Second, "1h2m"}, {26*time.Hour + 59*time.Minute, "1d2h"},
		{400 * 24 * time.Hour, "400d0h"},
	} {
		if got := age(tc.d); got != tc.want {
			t.Errorf("age(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 3481: "3.4 KiB", 64 << 20: "64.0 MiB", 5 << 40: "5.0 TiB"} {
		if got := sizeIEC(n); got != want {
			t.Errorf("sizeIEC(%d) = %q, want %q", n, got, want)
		}
	}
}

// The exit code says whether everything is up; the table and the JSON
// are what the gateway said.
func TestStatusCommand(t *testing.T) {
	up := sampleStatus()
	up.Devices = up.Devices[:1]
	slaveDown := sampleStatus()
	slaveDown.Devices = slaveDown.Devices[:2]
	noBroker := sampleStatus()
	noBroker.Devices, noBroker.Broker, noBroker.Spool = noBroker.Devices[:1], control.Broker{State: control.LinkNone}, nil
	withDown := func(state control.LinkState) *control.Status {
		st := sampleStatus()
		st.Devices = st.Devices[:1]
		st.Broker = control.Broker{State: state, Address: "tcp://127.0.0.1:1883", LastError: "connection refused"}
		return st
	}
	for _, tc := range []struct {
		name   string
		status *control.Status
		code   int
		stderr string
	}{
		{"everything up", up, exitOK, ""},
		{"no broker", noBroker, exitOK, ""},
		{"a device offline", sampleStatus(), exitFailure, "iogate status: slave pump of device rs485-bus offline; device door offline\n"},
		{"a slave offline", slaveDown, exitFailure, "iogate status: slave pump of device rs485-bus offline\n"},
		{"broker down", withDown(control.LinkDown), exitFailure, "iogate status: broker down: connection refused\n"},
		{"broker connecting", withDown(control.LinkConnecting), exitFailure, "iogate status: broker connecting: connection refused\n"},
	} {
		g := startGateway(t)
		g.status = tc.status
		code, stdout, stderr := runCLI("status", "-c", g.config)
		var table bytes.Buffer
		printStatus(&table, tc.status)
		if code != tc.code || stderr != tc.stderr || stdout != table.String() {
			t.Errorf("%s: exit %d, stderr %q, stdout:\n%s\nwant exit %d, stderr %q, stdout:\n%s", tc.name, code, stderr, stdout, tc.code, tc.stderr, table.String())
		}
		code, stdout, _ = runCLI("status", "--json", "-c", g.config)
		var doc control.Status
		if err := json.Unmarshal([]byte(stdout), &doc); err != nil || code != tc.code || !reflect.DeepEqual(&doc, tc.status) {
			t.Errorf("%s --json: exit %d, %v:\n%s", tc.name, code, err, stdout)
		}
	}
}

// What goes wrong between the CLI and the gateway is said in a sentence,
// with exit 1.
func TestStatusFailures(t *testing.T) {
	empty := stateDir(t)
	writeConfig(t, filepath.Join(empty, "config.toml"), empty)
	stale := stateDir(t)
	writeConfig(t, filepath.Join(stale, "config.toml"), stale)
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: control.SocketPath(stale), Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	l.Close()

	mismatch := startGateway(t)
	mismatch.hello = `{"type":"hello","protocol":2,"version":"v2.0.0"}` + "\n" +
		`{"type":"error","code":"version","error":"the client speaks control protocol 1, this gateway speaks 2"}` + "\n"
	garbage := startGateway(t)
	garbage.hello = "HTTP/1.1 400 Bad Request\r\n\r\n"
	truncated := startGateway(t)
	truncated.hello, truncated.bye = `{"type":"hello","proto`, true
	busy := startGateway(t)
	busy.failure = &control.Error{Code: control.ErrBusy, Message: "the gateway serves 16 control clients already"}
	wrong := startGateway(t)
	wrong.hello = string(control.AppendHello(nil, "v1")) + string(control.AppendTracing(nil, []string{"x"}))
	refused := startGateway(t)
	refused.hello, refused.bye = string(control.AppendError(nil, &control.Error{Code: control.ErrPermission,
		Message: "uid 1000 is neither root nor the gateway's uid 998, nor a member of group iogate (gid 998): permission denied"})), true
	if err := os.Chmod(refused.dir, 0o710); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name, config, stderr string
	}{
		{"no socket", filepath.Join(empty, "config.toml"),
			"iogate status: no gateway is running with state_dir " + empty + " (no socket at " + empty + "/iogate.sock)\n"},
		{"stale socket", filepath.Join(stale, "config.toml"),
			"iogate status: no gateway is running with state_dir " + stale + " (nothing answers on " + stale + "/iogate.sock)\n"},
		{"version mismatch", mismatch.config,
			"iogate status: the gateway speaks control protocol 2, this iogate speaks 1: use the same iogate version (gateway v2.0.0, this iogate " + buildVersion() + ")\n"},
		{"garbage", garbage.config, "iogate status: the gateway's answer is not the control protocol: "},
		{"closed mid-line", truncated.config, "iogate status: the gateway closed the connection\n"},
		{"an error", busy.config, "iogate status: the gateway serves 16 control clients already\n"},
		{"a wrong answer", wrong.config, "iogate status: the gateway answered a status request with a tracing message\n"},
		{"refused", refused.config, "iogate status: uid 1000 is neither root nor the gateway's uid 998, nor a member of group iogate (gid 998): permission denied: run it as root, or as a member of the group "},
	} {
		code, stdout, stderr := runCLI("status", "-c", tc.config)
		if code != exitFailure || stdout != "" || !strings.HasPrefix(stderr, tc.stderr) {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit 1 and %q", tc.name, code, stdout, stderr, tc.stderr)
		}
	}
	if code, _, stderr := runCLI("status", "-c", "/nonexistent.toml"); code != exitUsage || !strings.Contains(stderr, "/nonexistent.toml") {
		t.Errorf("no config: exit %d, %q", code, stderr)
	}
	if code, _, stderr := runCLI("status", "extra"); code != exitUsage || !strings.Contains(stderr, `unexpected argument "extra"`) {
		t.Errorf("an argument: exit %d, %q", code, stderr)
	}
}

// Permission denied comes with what to do about it: a state directory
// that shuts the group out, or the socket's group to join.
func TestPermissionAdvice(t *testing.T) {
	dir := stateDir(t)
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if got := permissionAdvice(control.SocketPath(dir)); !strings.Contains(got, dir+" is mode 0700") || !strings.Contains(got, "StateDirectoryMode=0710") {
		t.Errorf("0700 state dir: %q", got)
	}
	if err := os.Chmod(dir, 0o710); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", control.SocketPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var want string
	if os.Getuid() == 0 {
		if err := os.Lchown(control.SocketPath(dir), -1, 0); err != nil {
			t.Fatal(err)
		}
		want = "a member of the group root (sudo adduser $USER root, then log in again)"
	} else {
		want = "a member of the group "
	}
	if got := permissionAdvice(control.SocketPath(dir)); !strings.Contains(got, want) {
		t.Errorf("0710 state dir: %q, want %q", got, want)
	}
}
