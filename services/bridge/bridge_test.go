package bridge_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/iogate/iogate/config"
	"github.com/iogate/iogate/resources/mqtt"
	"github.com/iogate/iogate/resources/serial"
	"github.com/iogate/iogate/services/bridge"
)

const deadline = 15 * time.Second

// testVersion is the iogate version of the gateways under test.
const testVersion = "v0.0.0-test"

// msg is one MQTT message the test's subscriber saw.
type msg struct {
	topic, payload string
	retain         bool
}

// world is a gateway under test: simulated devices on ptys, reached through
// symlinks so they can be unplugged and replugged, the embedded broker,
// and a subscriber on everything.
type world struct {
	t        *testing.T
	dir      string
	broker   *mqtt.Broker
	addr     string
	msgs     chan msg
	devices  map[string]*serial.PTY
	svc      *bridge.Service
	done     chan error
	noBroker bool   // broker = "none": raw TCP access only
	extra    string // more settings, after [mqtt]
}

func newWorld(t *testing.T, names ...string) *world {
	t.Helper()
	w := &world{t: t, dir: t.TempDir(), msgs: make(chan msg, 10000), devices: map[string]*serial.PTY{}}
	w.startBroker("127.0.0.1:0")
	for _, n := range names {
		w.plug(n)
	}
	t.Cleanup(func() {
		for _, p := range w.devices {
			p.Close()
		}
		w.broker.Close()
	})
	return w
}

func (w *world) startBroker(addr string) {
	w.t.Helper()
	// Packets of up to 32 MiB, for the largest frames of the tests.
	b, err := mqtt.StartBrokerWith(mqtt.BrokerOptions{Listen: addr, Limits: mqtt.BrokerLimits{MaxPacketSize: 32 << 20}})
	if err != nil {
		w.t.Fatal(err)
	}
	w.broker, w.addr = b, b.Addr()
	if err := b.Subscribe("#", func(topic string, payload []byte, retain bool) {
		w.msgs <- msg{topic, string(payload), retain}
	}); err != nil {
		w.t.Fatal(err)
	}
}

// plug creates a device: a pty whose terminal side is at dir/<name>.
func (w *world) plug(name string) *serial.PTY {
	w.t.Helper()
	p, err := serial.OpenPTY()
	if err != nil {
		w.t.Fatal(err)
	}
	link := filepath.Join(w.dir, name)
	os.Remove(link)
	if err := os.Symlink(p.SlavePath(), link); err != nil {
		w.t.Fatal(err)
	}
	w.devices[name] = p
	return p
}

// unplug closes the device's pty, its link first, as udev removes a
// device's links: a pty number freed by the close may soon be another
// test's, which the gateway would otherwise open as this device.
func (w *world) unplug(name string) {
	os.Remove(filepath.Join(w.dir, name))
	w.devices[name].Close()
	delete(w.devices, name)
}

// config is a gateway configuration with devices given as TOML fragments
// (name and path are filled in), and extra settings in [mqtt].
func (w *world) config(mqttExtra string, devices map[string]string) *config.Config {
	w.t.Helper()
	var b strings.Builder
	broker := "tcp://" + w.addr
	if w.noBroker {
		broker = "none"
	}
	fmt.Fprintf(&b, "[gateway]\nid = \"gw\"\nstate_dir = %q\n[mqtt]\nbroker = %q\nkeepalive = \"5s\"\n%s\n", w.dir, broker, mqttExtra)
	for name, extra := range devices {
		path := fmt.Sprintf("path = %q\n", filepath.Join(w.dir, name))
		if strings.Contains(extra, `kind = "tcp"`) {
			path = "" // reached at its address
		}
		fmt.Fprintf(&b, "[[device]]\nname = %q\n%sreconnect_min = \"20ms\"\nreconnect_max = \"200ms\"\n%s\n", name, path, extra)
	}
	c, err := config.Parse("test.toml", []byte(b.String()))
	if err != nil {
		w.t.Fatal(err)
	}
	return c
}

// run starts the gateway with devices given as TOML fragments.
func (w *world) run(devices map[string]string) {
	w.t.Helper()
	c := w.config(w.extra, devices)
	log := logrus.New()
	log.SetOutput(testWriter{w.t})
	log.SetLevel(logrus.DebugLevel)
	var err error
	w.svc, err = bridge.New(c, logrus.NewEntry(log))
	if err != nil {
		w.t.Fatal(err)
	}
	w.svc.SetVersion(testVersion)
	w.done = make(chan error, 1)
	go func() { w.done <- w.svc.Run() }()
	w.t.Cleanup(w.stop)
	// Run binds the listeners and opens the devices before its loop
	// answers: after a ping, they are there.
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	if err := w.svc.Ping(ctx); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) stop() {
	if w.done == nil {
		return
	}
	w.svc.Stop()
	select {
	case err := <-w.done:
		if err != nil {
			w.t.Errorf("Run: %v", err)
		}
	case <-time.After(deadline):
		w.t.Error("Run did not return after Stop")
	}
	w.done = nil
}

type testWriter struct{ t *testing.T }

func (tw testWriter) Write(p []byte) (int, error) {
	tw.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// expect waits for a message on topic and returns it; others are skipped.
func (w *world) expect(topic string) msg {
	w.t.Helper()
	timeout := time.After(deadline)
	for {
		select {
		case m := <-w.msgs:
			if m.topic == topic {
				return m
			}
		case <-timeout:
			w.t.Fatalf("no message on %s", topic)
		}
	}
}

// expectPayload waits for a message on topic with the given payload.
func (w *world) expectPayload(topic, payload string) {
	w.t.Helper()
	timeout := time.After(deadline)
	for {
		select {
		case m := <-w.msgs:
			if m.topic == topic && m.payload == payload {
				return
			}
		case <-timeout:
			w.t.Fatalf("no %q on %s", payload, topic)
		}
	}
}

// expectAll waits until every "topic payload" pair has been seen, in any
// order.
func (w *world) expectAll(pairs ...string) {
	w.t.Helper()
	want := map[string]bool{}
	for _, p := range pairs {
		want[p] = true
	}
	timeout := time.After(deadline)
	for len(want) > 0 {
		select {
		case m := <-w.msgs:
			delete(want, m.topic+" "+m.payload)
		case <-timeout:
			var missing []string
			for p := range want {
				if len(p) > 200 {
					p = fmt.Sprintf("%s... (%d bytes)", p[:200], len(p))
				}
				missing = append(missing, p)
			}
			w.t.Fatalf("never saw %q", missing)
		}
	}
}

// publish sends a command the way an MQTT user would.
func (w *world) publish(topic string, payload []byte, retain bool) {
	w.t.Helper()
	c := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + w.addr).SetClientID("test-publisher"))
	if tok := c.Connect(); !tok.WaitTimeout(deadline) || tok.Error() != nil {
		w.t.Fatalf("connect: %v", tok.Error())
	}
	defer c.Disconnect(0)
	if tok := c.Publish(topic, 1, retain, payload); !tok.WaitTimeout(deadline) || tok.Error() != nil {
		w.t.Fatalf("publish: %v", tok.Error())
	}
}

// device reads what the gateway wrote to a device, n bytes.
func (w *world) read(name string, n int) string {
	w.t.Helper()
	fd, err := unix.Dup(w.devices[name].Fd())
	if err != nil {
		w.t.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	f.SetReadDeadline(time.Now().Add(deadline))
	buf := make([]byte, n)
	if _, err := io.ReadFull(f, buf); err != nil {
		w.t.Fatalf("read %s: %v (got %q)", name, err, buf)
	}
	return string(buf)
}

func (w *world) write(name, data string) {
	w.t.Helper()
	// Through Go's poller on a duplicate: Write waits for room in the pty.
	fd, err := unix.Dup(w.devices[name].Fd())
	if err != nil {
		w.t.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	f.SetWriteDeadline(time.Now().Add(deadline))
	if _, err := f.Write([]byte(data)); err != nil {
		w.t.Fatalf("write %s: %v", name, err)
	}
}

func TestFramesInEveryEncoding(t *testing.T) {
	w := newWorld(t, "t", "h", "b", "j")
	w.run(map[string]string{
		"t": `encoding = "text"`,
		"h": `encoding = "hex"`,
		"b": `encoding = "base64"`,
		"j": `encoding = "json"`,
	})
	w.expectAll("iogate/gw/status online", "iogate/gw/t/status online", "iogate/gw/h/status online",
		"iogate/gw/b/status online", "iogate/gw/j/status online")
	for _, n := range []string{"t", "h", "b", "j"} {
		w.write(n, "$GPGGA,1\r\nsecond\n")
	}
	w.expectPayload("iogate/gw/t/rx", "$GPGGA,1")
	w.expectPayload("iogate/gw/h/rx", "2447504747412c31")
	w.expectPayload("iogate/gw/b/rx", base64.StdEncoding.EncodeToString([]byte("$GPGGA,1")))
	var env struct {
		Device string `json:"device"`
		Seq    uint64 `json:"seq"`
		TS     string `json:"ts"`
		Data   string `json:"data"`
		Enc    string `json:"enc"`
	}
	for i, want := range []string{"$GPGGA,1", "second"} {
		m := w.expect("iogate/gw/j/rx")
		if err := json.Unmarshal([]byte(m.payload), &env); err != nil {
			t.Fatalf("%q: %v", m.payload, err)
		}
		if env.Device != "j" || env.Seq != uint64(i+1) || env.Data != want || env.Enc != "text" {
			t.Fatalf("envelope %+v", env)
		}
		if _, err := time.Parse(time.RFC3339Nano, env.TS); err != nil {
			t.Fatalf("ts %q: %v", env.TS, err)
		}
	}
	// Not valid UTF-8: base64 in the envelope.
	w.write("j", "\xff\xfe\n")
	m := w.expect("iogate/gw/j/rx")
	json.Unmarshal([]byte(m.payload), &env)
	if env.Enc != "base64" || env.Data != base64.StdEncoding.EncodeToString([]byte("\xff\xfe")) {
		t.Fatalf("binary envelope %s", m.payload)
	}
}

func TestCommands(t *testing.T) {
	w := newWorld(t, "rw", "hex", "ro")
	// A retained command, left on the broker before the gateway starts, is
	// replayed at every subscription: it must not reach the device.
	w.publish("iogate/gw/rw/tx", []byte("STALE"), true)
	w.run(map[string]string{
		"rw":  "writable = true\ndelimiter = \"\\r\\n\"",
		"hex": "writable = true\nencoding = \"hex\"\nframing = \"slip\"",
		"ro":  "",
	})
	if e := w.expect("iogate/gw/rw/error"); !strings.Contains(e.payload, "retained") {
		t.Fatalf("error payload %s", e.payload)
	}
	w.publish("iogate/gw/rw/tx", []byte("RESET"), false)
	if got := w.read("rw", 7); got != "RESET\r\n" {
		t.Fatalf("device got %q", got)
	}
	w.publish("iogate/gw/hex/tx", []byte("c0ff"), false)
	if got := w.read("hex", 5); got != "\xc0\xdb\xdc\xff\xc0" { // SLIP: END, escaped END, 0xff, END
		t.Fatalf("device got %q", got)
	}
	w.publish("iogate/gw/hex/tx", []byte("not hex"), false)
	e := w.expect("iogate/gw/hex/error")
	if !strings.Contains(e.payload, `"device":"hex"`) || !strings.Contains(e.payload, "not hex") {
		t.Fatalf("error payload %s", e.payload)
	}
	// A read-only device is not subscribed: a command to it is not written.
	// The gateway gets the two commands in order, so once the second is
	// written the first would have been.
	w.publish("iogate/gw/ro/tx", []byte("IGNORED"), false)
	w.publish("iogate/gw/rw/tx", []byte("AFTER"), false)
	if got := w.read("rw", 7); got != "AFTER\r\n" {
		t.Fatalf("device got %q", got)
	}
	if got := w.pending("ro"); got != "" {
		t.Fatalf("the read-only device got %q", got)
	}
}

// pending is what the gateway wrote to a device and nobody read, without
// waiting.
func (w *world) pending(name string) string {
	w.t.Helper()
	buf := make([]byte, 4096)
	n, err := unix.Read(w.devices[name].Fd(), buf)
	if errors.Is(err, unix.EAGAIN) {
		return ""
	}
	if err != nil {
		w.t.Fatalf("read %s: %v", name, err)
	}
	return string(buf[:max(n, 0)])
}

func TestUnplugAndReplug(t *testing.T) {
	w := newWorld(t, "gps")
	w.run(map[string]string{"gps": ""})
	w.expectPayload("iogate/gw/gps/status", "online")
	w.write("gps", "before\n")
	w.expectPayload("iogate/gw/gps/rx", "before")
	w.unplug("gps")
	w.expectPayload("iogate/gw/gps/status", "offline")
	w.plug("gps")
	w.expectPayload("iogate/gw/gps/status", "online")
	w.write("gps", "after\n")
	w.expectPayload("iogate/gw/gps/rx", "after")
}

func TestMissingAtStartAndGarbage(t *testing.T) {
	w := newWorld(t, "good")
	w.run(map[string]string{"good": "max_frame = 16", "late": ""})
	w.expectAll("iogate/gw/good/status online", "iogate/gw/late/status offline")
	w.write("good", strings.Repeat("x", 100)+"\nok\n\xff\x00garbage\n")
	// Frames of a device arrive in order: the overlong line would come
	// before "ok".
	if m := w.expect("iogate/gw/good/rx"); m.payload != "ok" {
		t.Fatalf("first frame %q, want ok: the overlong line was not discarded", m.payload)
	}
	w.expectPayload("iogate/gw/good/rx", "\xff\x00garbage")
	w.plug("late")
	w.expectPayload("iogate/gw/late/status", "online")
}

// Frames written while the broker is away arrive, in order, once it is
// back: the outbox keeps what the broker has not acknowledged.
func TestBrokerGoesAwayAndComesBack(t *testing.T) {
	w := newWorld(t, "gps")
	w.run(map[string]string{"gps": ""})
	w.expectPayload("iogate/gw/gps/status", "online")
	w.write("gps", "0\n")
	w.expectPayload("iogate/gw/gps/rx", "0")
	addr := w.addr
	w.broker.Close()
	var sent bytes.Buffer
	for i := 1; i <= 50; i++ {
		fmt.Fprintf(&sent, "%d\n", i)
	}
	w.write("gps", sent.String())
	w.startBroker(addr)
	w.expectPayload("iogate/gw/status", "online") // before the frames that waited
	next := 1
	timeout := time.After(deadline)
	for next <= 50 {
		select {
		case m := <-w.msgs:
			if m.topic != "iogate/gw/gps/rx" {
				continue
			}
			n := 0
			fmt.Sscan(m.payload, &n)
			if n < next {
				continue // a duplicate around the reconnect is allowed
			}
			if n != next {
				t.Fatalf("frame %d arrived before %d", n, next)
			}
			next++
		case <-timeout:
			t.Fatalf("frames stopped at %d", next)
		}
	}
}

func TestGracefulStop(t *testing.T) {
	w := newWorld(t, "gps")
	w.run(map[string]string{"gps": ""})
	w.expectPayload("iogate/gw/gps/status", "online")
	w.stop()
	w.expectPayload("iogate/gw/gps/status", "offline")
	w.expectPayload("iogate/gw/status", "offline")
}

// A reload keeps the untouched device running without losing a frame,
// reopens the changed one, opens the new one and closes the removed one.
func TestReload(t *testing.T) {
	w := newWorld(t, "keep", "change", "drop", "add")
	w.run(map[string]string{"keep": "", "change": "", "drop": ""})
	w.expectAll("iogate/gw/keep/status online", "iogate/gw/change/status online", "iogate/gw/drop/status online")
	w.write("keep", "1\n")
	w.expectPayload("iogate/gw/keep/rx", "1")

	// The device side keeps writing across the reload.
	w.write("keep", "2\n")
	if err := w.svc.Reload(w.config("", map[string]string{"keep": "", "change": "encoding = \"hex\"", "add": ""})); err != nil {
		t.Fatal(err)
	}
	w.write("keep", "3\n")
	seen := map[string]bool{}
	timeout := time.After(deadline)
	want := []string{"keep/rx 2", "keep/rx 3", "drop/status offline", "add/status online", "change/status online"}
	for !allSeen(seen, want) {
		select {
		case m := <-w.msgs:
			key := strings.TrimPrefix(m.topic, "iogate/gw/") + " " + m.payload
			if key == "keep/status offline" {
				t.Fatal("the untouched device went offline")
			}
			seen[key] = true
		case <-timeout:
			t.Fatalf("after reload saw %v, want %v", seen, want)
		}
	}
	w.write("change", "AB\n")
	w.expectPayload("iogate/gw/change/rx", "4142") // the new encoding applies
	w.write("add", "new\n")
	w.expectPayload("iogate/gw/add/rx", "new")
}

// A new topic prefix moves the gateway: the old statuses go offline and the
// new ones online, on a new broker connection.
func TestReloadPrefix(t *testing.T) {
	w := newWorld(t, "gps")
	w.run(map[string]string{"gps": ""})
	w.expectAll("iogate/gw/status online", "iogate/gw/gps/status online")
	if err := w.svc.Reload(w.config(`topic_prefix = "site/{gateway}"`, map[string]string{"gps": ""})); err != nil {
		t.Fatal(err)
	}
	w.expectAll("iogate/gw/status offline", "iogate/gw/gps/status offline", "site/gw/status online", "site/gw/gps/status online")
	w.write("gps", "moved\n")
	w.expectPayload("site/gw/gps/rx", "moved")
}

func allSeen(seen map[string]bool, want []string) bool {
	for _, k := range want {
		if !seen[k] {
			return false
		}
	}
	return true
}

// While the broker is away the devices go on being read: frames go to the
// spool, however far past the outbox's memory window they reach. A paused
// device would hold the writer back here, and a real port would overrun.
func TestOutageDoesNotPauseDevices(t *testing.T) {
	w := newWorld(t, "gps")
	w.run(map[string]string{"gps": ""})
	w.expectPayload("iogate/gw/gps/status", "online")
	addr := w.addr
	w.broker.Close()
	var lines strings.Builder
	const n = 16384 // 1 MiB of 64-byte lines: four times the outbox
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&lines, "%-62d\n", i)
	}
	w.write("gps", lines.String()) // fails at its deadline if the gateway stops reading
	w.startBroker(addr)
	w.expectPayload("iogate/gw/gps/rx", fmt.Sprintf("%-62d", n))
}

// A frame of megabytes, which max_frame allows, is published whole, and
// the other devices keep flowing before and after it; one that waited in
// the spool is published by the next run.
func TestLargeFrame(t *testing.T) {
	w := newWorld(t, "big", "small")
	devices := map[string]string{
		"big":   "max_frame = 8388608\nencoding = \"base64\"",
		"small": "",
	}
	w.run(devices)
	w.expectAll("iogate/gw/big/status online", "iogate/gw/small/status online")
	line := bytes.Repeat([]byte("0123456789abcdef"), 3<<20/16) // 3 MiB
	w.write("small", "before\n")
	w.write("big", string(line)+"\n")
	w.write("big", "after\n")
	w.write("small", "after\n")
	want := base64.StdEncoding.EncodeToString(line)
	w.expectAll("iogate/gw/small/rx before", "iogate/gw/big/rx "+want,
		"iogate/gw/big/rx "+base64.StdEncoding.EncodeToString([]byte("after")), "iogate/gw/small/rx after")

	// The broker away, the frame goes to the spool; the gateway stops,
	// and the next one publishes it.
	addr := w.addr
	w.broker.Close()
	w.write("big", string(line)+"\n")
	w.write("small", "spooled\n")
	w.waitSpooled(2)
	w.stop()
	w.startBroker(addr)
	w.run(devices)
	w.expectAll("iogate/gw/big/rx "+want, "iogate/gw/small/rx spooled")
}

// waitSpooled waits until n frames are in the spool.
func (w *world) waitSpooled(n uint64) {
	w.t.Helper()
	for start := time.Now(); ; {
		sn, err := w.svc.Snapshot(context.Background())
		if err != nil {
			w.t.Fatal(err)
		}
		if sn.Spool != nil && sn.Spool.Frames >= n {
			return
		}
		if time.Since(start) > deadline {
			w.t.Fatalf("%d frames in the spool, want %d", sn.Spool.Frames, n)
		}
		time.Sleep(10 * time.Millisecond) // polling a condition, not waiting for time to pass
	}
}

// Hundreds of devices share one broker connection: every status comes
// online or offline, and every present device's frames arrive.
func TestManyDevices(t *testing.T) {
	const n, absent = 200, 20
	var names []string
	for i := range n {
		names = append(names, fmt.Sprintf("d%03d", i))
	}
	w := newWorld(t, names[absent:]...)
	devices := map[string]string{}
	for _, name := range names {
		devices[name] = ""
	}
	w.run(devices)
	var want []string
	for i, name := range names {
		status := "online"
		if i < absent {
			status = "offline"
		}
		want = append(want, "iogate/gw/"+name+"/status "+status)
	}
	w.expectAll(append(want, "iogate/gw/status online")...)
	want = want[:0]
	for _, name := range names[absent:] {
		w.write(name, name+"\n")
		want = append(want, "iogate/gw/"+name+"/rx "+name)
	}
	w.expectAll(want...)
	sn, err := w.svc.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if sn.MQTT.Connects != 1 {
		t.Errorf("%d broker connections, want 1", sn.MQTT.Connects)
	}
}

// A FIFO writer that leaves mid-line has written a frame: it is published
// when the writer leaves, not dropped.
func TestFIFOLastFrameWithoutNewline(t *testing.T) {
	w := newWorld(t)
	path := filepath.Join(w.dir, "weather")
	if err := unix.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	w.run(map[string]string{"weather": `kind = "file"`})
	w.expectPayload("iogate/gw/weather/status", "online")
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("T=20\nT=21")
	f.Close()
	w.expectPayload("iogate/gw/weather/rx", "T=20")
	w.expectPayload("iogate/gw/weather/rx", "T=21")
}

// A frame that the configuration's sizes allow but whose payload still
// cannot be stored (json text whose control characters take six bytes
// each) is dropped, counted, logged and reported on the device's error
// topic; the frames after it flow.
func TestFrameTooLargeAtRunTime(t *testing.T) {
	w := newWorld(t, "j")
	w.extra = "[spool]\nmax_bytes = \"1MiB\"" // segments of 64 KiB
	w.run(map[string]string{"j": "encoding = \"json\"\nmax_frame = 40000"})
	w.expectPayload("iogate/gw/j/status", "online")
	w.write("j", strings.Repeat("\x01", 40000)+"\nnext\n")
	e := w.expect("iogate/gw/j/error")
	if !strings.Contains(e.payload, "frame too large to publish") || !strings.Contains(e.payload, `"device":"j"`) {
		t.Fatalf("error payload %s", e.payload)
	}
	m := w.expect("iogate/gw/j/rx")
	if !strings.Contains(m.payload, `"data":"next"`) {
		t.Fatalf("next frame %s", m.payload)
	}
	sn, err := w.svc.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if d := sn.Devices[0]; d.Drops != 1 || d.Frames != 2 {
		t.Errorf("drops %d, frames %d; want 1 and 2", d.Drops, d.Frames)
	}
}
