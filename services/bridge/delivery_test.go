package bridge

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eclipse/paho.mqtt.golang/packets"
	"github.com/sirupsen/logrus"

	"github.com/iogate/iogate/config"
	"github.com/iogate/iogate/reactor"
	"github.com/iogate/iogate/resources/mqtt"
	"github.com/iogate/iogate/spool"
)

// Delivery is tested on its own, with a real spool and real MQTT packets:
// testLink stands for the broker link at the one boundary a real broker
// cannot be made to hold (PUBACKs on demand, a socket that refuses), and
// decodes what delivery writes with paho's codec, as a broker would.

type published struct {
	topic, payload string
	id             uint16
	qos            byte
}

type testLink struct {
	t       *testing.T
	session *mqtt.Session
	out     []published
	full    bool  // the socket is backed up
	fail    error // send fails so
}

func newTestLink(t *testing.T) *testLink {
	s := mqtt.NewSession(mqtt.Options{ClientID: "test", CleanSession: true})
	s.Start(time.Now())
	if err := s.Feed(time.Now(), []byte{0x20, 2, 0, 0}, nopHandler{}); err != nil { // CONNACK
		t.Fatal(err)
	}
	return &testLink{t: t, session: s}
}

type nopHandler struct{}

func (nopHandler) Connected(bool)               {}
func (nopHandler) Message(string, []byte, bool) {}
func (nopHandler) Acked(uint16)                 {}
func (nopHandler) Subscribed(uint16, []byte)    {}
func (l *testLink) room(int) bool               { return !l.full }
func (l *testLink) publish(now time.Time, m mqtt.Message) (uint16, []byte, error) {
	return l.session.Publish(now, m)
}

func (l *testLink) send(b []byte) error {
	if l.fail != nil {
		return l.fail
	}
	r := bytes.NewReader(b)
	for r.Len() > 0 {
		p, err := packets.ReadPacket(r)
		if err != nil {
			l.t.Fatalf("delivery wrote a bad packet: %v", err)
		}
		pub := p.(*packets.PublishPacket)
		l.out = append(l.out, published{pub.TopicName, string(pub.Payload), pub.MessageID, pub.Qos})
	}
	return nil
}

// take returns what was published since the last take.
func (l *testLink) take() []published {
	out := l.out
	l.out = nil
	return out
}

type fixture struct {
	t    *testing.T
	o    *delivery
	link *testLink
	dir  string
}

// newFixture is a delivery with a spool of maxBytes in a temporary
// directory and the given overflow policy.
func newFixture(t *testing.T, maxBytes int64, overflow string) *fixture {
	t.Helper()
	r, err := reactor.New(reactor.Base{}, reactor.Options{})
	if err != nil {
		t.Fatal(err)
	}
	log := logrus.New()
	log.SetOutput(io.Discard)
	f := &fixture{t: t, link: newTestLink(t), dir: t.TempDir()}
	f.o = newDelivery(r, logrus.NewEntry(log), newLimiter(), newTopics("p"), 1)
	f.o.link = f.link
	seg, err := spool.SegmentBytesFor(maxBytes, 0)
	if err != nil {
		t.Fatal(err)
	}
	c := &config.Config{Gateway: config.Gateway{StateDir: f.dir}, Spool: config.Spool{MaxBytes: maxBytes, Overflow: overflow, SyncInterval: time.Second, SegmentBytes: seg}}
	st, _, err := openStore(c, r.Controller(), func(key []byte, seq uint64) { f.o.disk.dropped(f.o, key, seq) })
	if err != nil {
		t.Fatal(err)
	}
	st.attach(r)
	f.o.disk = st
	t.Cleanup(func() { f.o.close() })
	return f
}

// take ends the wake-up, as the reactor does, and returns what was
// published.
func (f *fixture) take() []published {
	f.o.flush()
	return f.link.take()
}

func (f *fixture) frame(dev string, i int) {
	f.t.Helper()
	if err := f.o.frame(f.o.topics.get(dev+"/rx", false), fmt.Appendf(nil, "%s-%d", dev, i)); err != nil {
		f.t.Fatal(err)
	}
}

// ackAll acknowledges every QoS 1 message in pub.
func (f *fixture) ackAll(pub []published) {
	for _, p := range pub {
		if p.qos == 1 {
			f.o.acked(p.id)
		}
	}
}

func payloads(pub []published) []string {
	var out []string
	for _, p := range pub {
		out = append(out, p.payload)
	}
	return out
}

// Frames of several devices are published in the order they were made,
// never more than window at once, and the states go first on a new
// connection.
func TestDeliveryOrderAndWindow(t *testing.T) {
	f := newFixture(t, 64<<20, "drop-oldest")
	gw := f.o.newState(f.o.topics.get("status", true), "online")
	for i := range 3 {
		f.o.newState(f.o.topics.get(fmt.Sprintf("d%d/status", i), true), "online")
	}
	var want []string
	for i := range 300 {
		dev := fmt.Sprintf("d%d", i%3)
		f.frame(dev, i)
		want = append(want, fmt.Sprintf("%s-%d", dev, i))
	}
	f.o.connected()
	var got []published
	for round := 0; ; round++ {
		pub := f.take()
		if len(pub) == 0 {
			break
		}
		if f.o.inflight > window {
			t.Fatalf("%d in flight, window %d", f.o.inflight, window)
		}
		got = append(got, pub...)
		// Acknowledge in reverse: the order must not depend on the acks'.
		for i := len(pub) - 1; i >= 0; i-- {
			f.o.acked(pub[i].id)
		}
	}
	if len(got) != 4+300 || got[0].topic != "p/status" || got[0].payload != "online" {
		t.Fatalf("published %d, first %+v", len(got), got[0])
	}
	for i := 1; i <= 3; i++ {
		if !strings.HasSuffix(got[i].topic, "/status") {
			t.Fatalf("message %d is %+v, want a status ahead of the frames", i, got[i])
		}
	}
	if p := payloads(got[4:]); !equal(p, want) {
		t.Fatalf("frames out of order: %q", p)
	}
	if f.o.disk.sp.Stats().Records != 0 || f.o.ownPending() {
		t.Errorf("after every ack: %d records in the spool, own pending %t", f.o.disk.sp.Stats().Records, f.o.ownPending())
	}
	_ = gw
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// After a reconnect what was not acknowledged is sent again, in order,
// behind the states; the gateway's own messages of the old connection are
// not, and acknowledged frames are not either.
func TestDeliveryReplayAfterReconnect(t *testing.T) {
	f := newFixture(t, 64<<20, "drop-oldest")
	st := f.o.newState(f.o.topics.get("d/status", true), "online")
	f.o.connected()
	f.take()
	for i := range 10 {
		f.frame("d", i)
	}
	f.o.own(f.o.topics.get("d/error", false), []byte("an error"))
	pub := f.take()
	if len(pub) != 11 {
		t.Fatalf("published %d, want 11", len(pub))
	}
	f.ackAll(pub[:3])
	f.o.disconnected()
	f.o.set(st, "offline") // changed while away: the new value goes out
	f.o.connected()
	got := payloads(f.take())
	want := []string{"offline", "d-3", "d-4", "d-5", "d-6", "d-7", "d-8", "d-9"}
	if !equal(got, want) {
		t.Fatalf("after the reconnect %q, want %q", got, want)
	}
}

// Hundreds of states go through the window, not around it: a connection
// with more devices than the window does not fail.
func TestDeliveryManyStates(t *testing.T) {
	f := newFixture(t, 64<<20, "drop-oldest")
	for i := range 200 {
		f.o.newState(f.o.topics.get(fmt.Sprintf("d%d/status", i), true), "online")
	}
	f.o.connected()
	seen := 0
	for {
		pub := f.take()
		if len(pub) == 0 {
			break
		}
		if len(pub) > window || f.o.inflight > window {
			t.Fatalf("%d published at once, %d in flight", len(pub), f.o.inflight)
		}
		seen += len(pub)
		f.ackAll(pub)
	}
	if seen != 200 {
		t.Fatalf("%d statuses published, want 200", seen)
	}
}

// A message is in flight only once the link took its bytes: a QoS 0 frame
// whose write failed is still in the spool, and is sent on the next
// connection.
func TestDeliveryQoS0AckedOnlyWhenWritten(t *testing.T) {
	f := newFixture(t, 64<<20, "drop-oldest")
	f.o.qos = 0
	f.o.connected()
	f.link.fail = errors.New("connection reset")
	f.frame("d", 1)
	f.o.flush() // the write fails
	if n := f.o.disk.sp.Stats().Records; n != 1 {
		t.Fatalf("%d records in the spool after a failed write, want 1", n)
	}
	f.o.disconnected()
	f.link.fail = nil
	f.o.connected()
	if got := payloads(f.take()); !equal(got, []string{"d-1"}) {
		t.Fatalf("after the reconnect %q", got)
	}
	if n := f.o.disk.sp.Stats().Records; n != 0 {
		t.Fatalf("%d records in the spool once written at QoS 0, want 0", n)
	}
}

// Drop-oldest deletes segments whose frames the outbox holds, in flight:
// those are published from memory and are not counted as dropped. Every
// frame is either delivered or counted.
func TestDeliveryDropOldestInFlight(t *testing.T) {
	f := newFixture(t, 64<<10, "drop-oldest") // 32 KiB segments: two
	var drops int
	f.o.dropped = func(string) { drops++ }
	f.o.connected()
	const n = 5000 // 520 KiB: more than the outbox holds, and eight times the spool
	payload := bytes.Repeat([]byte("x"), 100)
	for i := range n {
		if err := f.o.frame(f.o.topics.get("d/rx", false), fmt.Appendf(payload[:0:0], "%d-%s", i, payload)); err != nil {
			t.Fatal(err)
		}
	}
	delivered := map[string]bool{}
	for {
		pub := f.take()
		if len(pub) == 0 {
			break
		}
		for _, p := range pub {
			delivered[p.payload] = true
		}
		f.ackAll(pub)
	}
	if len(delivered)+drops != n {
		t.Fatalf("%d delivered and %d counted as dropped: %d frames, want %d", len(delivered), drops, len(delivered)+drops, n)
	}
	if drops == 0 {
		t.Fatal("no drops: the test did not overflow the spool")
	}
	if uint64(drops) != f.o.disk.drops {
		t.Errorf("device drops %d, spool drops %d", drops, f.o.disk.drops)
	}
}

// A frame the spool refuses (the disk is full) waits in memory behind the
// frames stored before it, and the frames after it keep their place: the
// device's frames are not reordered. The disk is made full by a file size
// limit, in a child process: it applies to the whole process.
func TestDeliveryHeldFrameKeepsItsPlace(t *testing.T) {
	if os.Getenv("IOGATE_HELD_CHILD") == "1" {
		heldChild(t)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestDeliveryHeldFrameKeepsItsPlace$", "-test.v")
	cmd.Env = append(os.Environ(), "IOGATE_HELD_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("--- PASS")) {
		t.Fatalf("child: %v\n%s", err, out)
	}
}

func heldChild(t *testing.T) {
	f := newFixture(t, 64<<20, "drop-oldest")
	signal.Ignore(syscall.SIGXFSZ) // a write past the limit fails with EFBIG instead
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
		t.Fatal(err)
	}
	// Fill the outbox while the broker is away, so that the next frames
	// stay on disk only; then stop the segment file from growing.
	f.o.link.(*testLink).full = true
	f.o.connected()
	big := bytes.Repeat([]byte("b"), 64<<10)
	for range 5 {
		if err := f.o.frame(f.o.topics.get("d/rx", false), big); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		f.frame("d", i) // on disk, behind the outbox
	}
	st, _ := os.Stat(segmentFile(t, f.dir))
	lim.Cur = uint64(st.Size())
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
		t.Fatal(err)
	}
	f.frame("d", 3) // refused by the disk: held in memory
	if len(f.o.disk.held) != 1 {
		t.Fatalf("%d frames held in memory, want 1", len(f.o.disk.held))
	}
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
		t.Fatal(err)
	}
	for i := 4; i < 7; i++ {
		f.frame("d", i) // a new segment takes them
	}
	f.o.link.(*testLink).full = false
	f.o.due = true
	var got []string
	for {
		pub := f.take()
		if len(pub) == 0 {
			break
		}
		for _, p := range pub {
			if len(p.payload) < 100 {
				got = append(got, p.payload)
			}
		}
		f.ackAll(pub)
	}
	want := []string{"d-0", "d-1", "d-2", "d-3", "d-4", "d-5", "d-6"}
	if !equal(got, want) {
		t.Fatalf("frames %q, want %q", got, want)
	}
}

// segmentFile is the spool's only segment.
func segmentFile(t *testing.T, stateDir string) string {
	t.Helper()
	entries, err := os.ReadDir(stateDir + "/spool")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".seg") {
			return stateDir + "/spool/" + e.Name()
		}
	}
	t.Fatal("no segment")
	return ""
}

// A large frame the broker closes the connection on, every time, is
// dropped after poisonTries connections, counted and reported; the frames
// behind it go out. A small one is never dropped so.
func TestDeliveryFrameTheBrokerRefuses(t *testing.T) {
	f := newFixture(t, 64<<20, "drop-oldest")
	var drops int
	f.o.dropped = func(string) { drops++ }
	big := bytes.Repeat([]byte("x"), poisonBytes)
	if err := f.o.frame(f.o.topics.get("d/rx", false), big); err != nil {
		t.Fatal(err)
	}
	f.frame("d", 1)
	for try := 1; try <= poisonTries; try++ {
		f.o.connected()
		if pub := f.take(); len(pub) != 2 || len(pub[0].payload) != poisonBytes {
			t.Fatalf("connection %d published %d messages", try, len(pub))
		}
		f.o.disconnected() // the broker hangs up at once
	}
	if drops != 1 {
		t.Fatalf("%d drops, want 1", drops)
	}
	f.o.connected()
	got := payloads(f.take())
	if len(got) != 2 || got[0] != "d-1" || !strings.Contains(got[1], "dropped as too large") {
		t.Fatalf("after the drop %q", got)
	}
	// Small frames are sent again however often the connection ends.
	for range 2 * poisonTries {
		f.o.disconnected()
		f.o.connected()
		if got := payloads(f.take()); len(got) != 1 || got[0] != "d-1" {
			t.Fatalf("small frame: %q", got)
		}
	}
}

// A reload on a live connection must not forget what is in flight: the
// PUBACKs of the frames sent before it still finish them. (Each of
// connected's resets is for a new connection only.)
func TestDeliveryStateRemovedBeforeItsFirstAck(t *testing.T) {
	f := newFixture(t, 64<<20, "drop-oldest")
	f.o.connected()
	st := f.o.newState(f.o.topics.get("d/status", true), "online")
	f.o.remove(st, "offline")
	pub := f.take()
	if len(pub) != 2 {
		t.Fatalf("published %q", payloads(pub))
	}
	f.o.acked(pub[0].id) // the old value's ack: the broker may not have the last one
	f.o.disconnected()
	f.o.connected()
	if got := payloads(f.take()); len(got) != 1 || got[0] != "offline" {
		t.Fatalf("after a reconnect %q, want the last value again", got)
	}
}
