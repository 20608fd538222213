package integration

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// waitOnline waits until the gateway and every device are announced
// online: the gateway is connected and has the devices open, so what they
// send from now on is read.
func waitOnline(t *testing.T, sub *client, devs ...*fakeDevice) {
	t.Helper()
	sub.waitFor(prefix+"/status", "online")
	for _, d := range devs {
		sub.waitFor(d.topic("status"), "online")
	}
}

// Several devices at once, one per encoding, frames both ways.
func TestFramesBothWays(t *testing.T) {
	t.Parallel()
	mq := startMosquitto(t)
	txt, hx, b64, js := plug(t, "txt"), plug(t, "hex"), plug(t, "b64"), plug(t, "js")
	sub := subscribe(t, mq.url(), prefix+"/#")
	startGateway(t, mq.url(),
		txt.toml(`encoding = "text"`+"\nwritable = true"),
		hx.toml(`encoding = "hex"`+"\nwritable = true"),
		b64.toml(`encoding = "base64"`+"\nwritable = true"),
		js.toml(`encoding = "json"`+"\nwritable = true"))
	waitOnline(t, sub, txt, hx, b64, js)

	// What each device sends, one line per frame; the line ending, "\n" or
	// "\r\n", is not part of the frame.
	const n = 25
	lines := map[*fakeDevice][]string{}
	for i := 1; i <= n; i++ {
		lines[txt] = append(lines[txt], fmt.Sprintf("$GPGGA,%d,4916.45,N*%02d", i, i))
		lines[hx] = append(lines[hx], "\x00\x01\xfe\xff"+string([]byte{0x80 + byte(i)}))
		lines[b64] = append(lines[b64], fmt.Sprintf("\xc0frame %d\x80", i))
		lines[js] = append(lines[js], fmt.Sprintf("temp=\"%d.5\"\t\\ok", i))
	}
	lines[txt] = append(lines[txt], "caf\u00e9 \r in the middle")
	lines[js] = append(lines[js], "\xff\xfe not UTF-8")

	written := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for d, ls := range lines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i, l := range ls {
				end := "\n"
				if i%2 == 1 {
					end = "\r\n"
				}
				if _, err := d.f.WriteString(l + end); err != nil {
					errs <- fmt.Errorf("write to %s: %v", d.name, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	sub.expect(txt.topic("rx"), lines[txt]...)
	for _, l := range lines[hx] {
		sub.expect(hx.topic("rx"), hex.EncodeToString([]byte(l)))
	}
	for _, l := range lines[b64] {
		sub.expect(b64.topic("rx"), base64.StdEncoding.EncodeToString([]byte(l)))
	}
	var lastSeq uint64
	for i, l := range lines[js] {
		m := sub.next(js.topic("rx"))
		var env map[string]json.RawMessage
		if err := json.Unmarshal([]byte(m.payload), &env); err != nil {
			t.Fatalf("json frame %q: %v", m.payload, err)
		}
		if keys := slices.Sorted(maps.Keys(env)); !slices.Equal(keys, []string{"data", "device", "enc", "seq", "ts"}) {
			t.Fatalf("json frame %s has fields %v, want data, device, enc, seq, ts", m.payload, keys)
		}
		var f struct {
			Device, TS, Data, Enc string
			Seq                   uint64
		}
		if err := json.Unmarshal([]byte(m.payload), &f); err != nil {
			t.Fatalf("json frame %s: %v", m.payload, err)
		}
		wantData, wantEnc := l, "text"
		if i == n { // the one frame that is not UTF-8
			wantData, wantEnc = base64.StdEncoding.EncodeToString([]byte(l)), "base64"
		}
		if f.Device != "js" || f.Data != wantData || f.Enc != wantEnc {
			t.Fatalf("json frame %s: want device js, data %q, enc %s", m.payload, wantData, wantEnc)
		}
		if i > 0 && f.Seq != lastSeq+1 {
			t.Fatalf("json frame %s: seq %d after %d", m.payload, f.Seq, lastSeq)
		}
		lastSeq = f.Seq
		ts, err := time.Parse(time.RFC3339Nano, f.TS)
		if err != nil {
			t.Fatalf("json frame %s: ts: %v", m.payload, err)
		}
		if ts.Before(written.Add(-time.Second)) || ts.After(time.Now().Add(time.Second)) {
			t.Fatalf("json frame %s: ts %v is not when the frame was read (%v)", m.payload, ts, written)
		}
	}

	// Commands, decoded per encoding, with line framing's "\n" appended
	// when missing.
	for _, c := range []struct {
		dev           *fakeDevice
		payload, want string
	}{
		{txt, "RESET", "RESET\n"},
		{txt, "PING\n", "PING\n"},
		{hx, "48454c4c4f", "HELLO\n"},
		{hx, "00FF0d", "\x00\xff\r\n"},
		{b64, base64.StdEncoding.EncodeToString([]byte("\x01\x02 hi")), "\x01\x02 hi\n"},
		{js, `{"data":"on"}`, "on\n"},
		{js, `{"data":"AAE=","enc":"base64"}`, "\x00\x01\n"},
	} {
		sub.publish(c.dev.topic("tx"), c.payload)
		if got := c.dev.read(len(c.want)); got != c.want {
			t.Fatalf("%s/tx %q: device got %q, want %q", c.dev.name, c.payload, got, c.want)
		}
	}

	// The statuses are retained: a client that comes later learns them.
	late := subscribe(t, mq.url(), prefix+"/status", prefix+"/+/status")
	for _, topic := range []string{prefix + "/status", txt.topic("status"), hx.topic("status"), b64.topic("status"), js.topic("status")} {
		if m := late.next(topic); m.payload != "online" || !m.retained {
			t.Errorf("late subscriber: %s is %q (retained %v), want retained online", topic, m.payload, m.retained)
		}
	}
}

// A gateway killed with SIGKILL says nothing; the broker publishes its last
// will for it.
func TestLastWill(t *testing.T) {
	t.Parallel()
	mq := startMosquitto(t)
	dev := plug(t, "gps")
	sub := subscribe(t, mq.url(), prefix+"/#")
	gw := startGateway(t, mq.url(), dev.toml(""))
	waitOnline(t, sub, dev)

	gw.crash()
	sub.waitFor(prefix+"/status", "offline")
	late := subscribe(t, mq.url(), prefix+"/status")
	if m := late.next(prefix + "/status"); m.payload != "offline" || !m.retained {
		t.Errorf("after the will, %s is %q (retained %v), want retained offline", prefix+"/status", m.payload, m.retained)
	}
}

// SIGTERM: every status goes offline, and the process exits 0 within 5 s.
func TestGracefulStop(t *testing.T) {
	t.Parallel()
	mq := startMosquitto(t)
	a, b := plug(t, "a"), plug(t, "b")
	sub := subscribe(t, mq.url(), prefix+"/#")
	gw := startGateway(t, mq.url(), a.toml(""), b.toml(`writable = true`))
	waitOnline(t, sub, a, b)
	a.write("last words\n")
	sub.expect(a.topic("rx"), "last words")

	gw.stop()
	sub.waitFor(a.topic("status"), "offline")
	sub.waitFor(b.topic("status"), "offline")
	sub.waitFor(prefix+"/status", "offline")
	late := subscribe(t, mq.url(), prefix+"/status", prefix+"/+/status")
	for _, topic := range []string{prefix + "/status", a.topic("status"), b.topic("status")} {
		if m := late.next(topic); m.payload != "offline" || !m.retained {
			t.Errorf("after the stop, %s is %q (retained %v), want retained offline", topic, m.payload, m.retained)
		}
	}
}

// An unplugged device goes offline without stopping the others, and comes
// back when it is plugged in again.
func TestUnplugAndReplug(t *testing.T) {
	t.Parallel()
	mq := startMosquitto(t)
	d1, d2, d3 := plug(t, "d1"), plug(t, "d2"), plug(t, "d3")
	sub := subscribe(t, mq.url(), prefix+"/#")
	gw := startGateway(t, mq.url(), d1.toml(""), d2.toml(`writable = true`), d3.toml(""))
	waitOnline(t, sub, d1, d2, d3)
	for _, d := range []*fakeDevice{d1, d2, d3} {
		d.write(d.name + " before\n")
		sub.expect(d.topic("rx"), d.name+" before")
	}

	d2.unplug()
	sub.expect(d2.topic("status"), "offline")
	gw.log.waitFor(t, "warning: device d2 offline", func(e entry) bool {
		return e.is("warning", "device offline") && e["device"] == "d2"
	})
	// A command for the missing device is refused, on its error topic.
	sub.publish(d2.topic("tx"), "anyone there?")
	var refusal struct{ Device, Topic, Error string }
	if m := sub.next(d2.topic("error")); json.Unmarshal([]byte(m.payload), &refusal) != nil ||
		refusal.Device != "d2" || refusal.Topic != d2.topic("tx") || refusal.Error == "" {
		t.Errorf("command to unplugged d2: error message %s, want JSON with device, topic and error", m.payload)
	}
	for i := range 3 {
		for _, d := range []*fakeDevice{d1, d3} {
			d.write(fmt.Sprintf("%s during %d\n", d.name, i))
			sub.expect(d.topic("rx"), fmt.Sprintf("%s during %d", d.name, i))
		}
	}

	d2.replug()
	sub.expect(d2.topic("status"), "online")
	d2.write("d2 after\n")
	sub.expect(d2.topic("rx"), "d2 after")
	sub.publish(d2.topic("tx"), "hello again")
	if got := d2.read(12); got != "hello again\n" {
		t.Fatalf("d2 after replug: device got %q", got)
	}
	for _, d := range []*fakeDevice{d1, d3} {
		d.write(d.name + " after\n")
		sub.expect(d.topic("rx"), d.name+" after")
		if got := sub.seen(d.topic("status")); !slices.Equal(got, []string{"online"}) {
			t.Errorf("%s status went %v while d2 was unplugged, want only online", d.name, got)
		}
	}
}

// Overlong lines and SLIP garbage are skipped, the good frames around them
// pass, and the log says so once, not once per bad frame.
func TestGarbageAndOverlong(t *testing.T) {
	t.Parallel()
	mq := startMosquitto(t)
	ln, sl := plug(t, "ln"), plug(t, "sl")
	sub := subscribe(t, mq.url(), prefix+"/#")
	gw := startGateway(t, mq.url(),
		ln.toml("max_frame = 16"),
		sl.toml("framing = \"slip\"\nmax_frame = 16\nencoding = \"hex\""))
	waitOnline(t, sub, ln, sl)
	first := time.Now()

	rnd := rand.New(rand.NewPCG(1, 2))
	garbage := make([]byte, 5000)
	for i := range garbage {
		for garbage[i] = byte(rnd.UintN(256)); garbage[i] == '\n'; garbage[i] = byte(rnd.UintN(256)) {
		}
	}
	ln.write("ok-1\n" + strings.Repeat("x", 100) + "\nok-2\n")
	ln.write(string(garbage[:2000]))
	ln.write(string(garbage[2000:]) + "\nok-3\n")
	ln.write("sixteen-bytes-ok\n" + "seventeen-bytes-x\n" + "sixteen-bytes-cr\r\n" + "ok-4\n")
	sub.expect(ln.topic("rx"), "ok-1", "ok-2", "ok-3", "sixteen-bytes-ok", "sixteen-bytes-cr", "ok-4")

	const end, esc = "\xc0", "\xdb"
	sl.write(end + "good-1" + end)
	sl.write(end + "bad" + esc + "x escape" + end) // ESC must be followed by ESC_END or ESC_ESC
	sl.write(end + "good-2" + end)
	sl.write(end + strings.Repeat("long", 10) + end)
	sl.write(end + "a" + esc + "\xdc" + "b" + esc + "\xdd" + end) // escaped END and ESC are data
	sl.write(end + esc + end + "good-3" + end)
	sub.expect(sl.topic("rx"), hex.EncodeToString([]byte("good-1")), hex.EncodeToString([]byte("good-2")),
		"61c062db", hex.EncodeToString([]byte("good-3")))

	// More of the same: counted, but not logged again so soon.
	ln.write(strings.Repeat("y", 50) + "\n" + strings.Repeat("z", 5000) + "\nok-5\n")
	sl.write(end + esc + "?" + end + strings.Repeat("L", 40) + end + "good-4" + end)
	sub.expect(ln.topic("rx"), "ok-5")
	sub.expect(sl.topic("rx"), hex.EncodeToString([]byte("good-4")))
	gw.stop()
	elapsed := time.Since(first)

	for _, c := range []struct{ device, msg string }{
		{"ln", "max_frame"},
		{"sl", "max_frame"},
		{"sl", "malformed"},
	} {
		got := gw.log.entries(func(e entry) bool { return e.is("warning", c.msg) && e["device"] == c.device })
		// One line per 10 s and kind of problem at most.
		if limit := 1 + int(elapsed/(10*time.Second)); len(got) == 0 || len(got) > limit {
			t.Errorf("device %s: %d warnings about %s in %v, want 1 to %d", c.device, len(got), c.msg, elapsed, limit)
		}
	}
	if es := gw.log.entries(func(e entry) bool { return e["level"] == "error" || e["level"] == "fatal" }); len(es) > 0 {
		t.Errorf("bad input was logged as an error: %v", es)
	}
}

// The broker goes away and comes back on the same port: every frame the
// device sent meanwhile arrives, in order.
func TestBrokerOutage(t *testing.T) {
	t.Parallel()
	mq := startMosquitto(t)
	dev := plug(t, "meter")
	sub := subscribe(t, mq.url(), prefix+"/#")
	gw := startGateway(t, mq.url(), dev.toml(""))
	waitOnline(t, sub, dev)

	frame := func(i int) string { return fmt.Sprintf("m-%04d", i) }
	var want []string
	send := func(from, to int) {
		var b strings.Builder
		for i := from; i <= to; i++ {
			b.WriteString(frame(i) + "\n")
			want = append(want, frame(i))
		}
		dev.write(b.String())
	}
	send(1, 20)
	sub.expect(dev.topic("rx"), want...)
	before := len(want)

	mq.kill()
	send(21, 500) // some may go out on the dead connection, to be sent again
	gw.log.waitFor(t, "mqtt: connection lost", func(e entry) bool { return e.is("warning", "connection lost") })
	send(501, 1500)

	// Frozen while the broker restarts, so that the test's subscriber is in
	// before the gateway publishes: a fresh broker keeps nothing for
	// subscribers that are not there yet.
	gw.pause()
	mq.restart()
	sub2 := subscribe(t, mq.url(), prefix+"/#")
	gw.resume()
	send(1501, 1600)
	sub2.waitFor(prefix+"/status", "online")

	// Frames the old broker had are allowed again at the start (their
	// PUBACK may have been lost with it); after that, every frame once, in
	// order.
	got := sub2.until(dev.topic("rx"), frame(1600))
	rest := got
	for len(rest) > 0 && slices.Contains(want[:before], rest[0]) {
		rest = rest[1:]
	}
	if i := mismatch(rest, want[before:]); i >= 0 {
		t.Fatalf("after the broker came back, %d frames arrived; after the first %d (%s..%s) came %q, want %q\nall: %q",
			len(got), i, want[before], want[before+max(i-1, 0)], rest[i:min(i+5, len(rest))], want[before+i:min(before+i+5, len(want))], got)
	}

	// The new broker knew nothing: the gateway told it the statuses again.
	late := subscribe(t, mq.url(), prefix+"/status", dev.topic("status"))
	for _, topic := range []string{prefix + "/status", dev.topic("status")} {
		if m := late.next(topic); m.payload != "online" || !m.retained {
			t.Errorf("after the outage, %s is %q (retained %v), want retained online", topic, m.payload, m.retained)
		}
	}
}

// mismatch returns the index where got and want first differ, or -1.
func mismatch(got, want []string) int {
	for i := range max(len(got), len(want)) {
		if i >= len(got) || i >= len(want) || got[i] != want[i] {
			return i
		}
	}
	return -1
}
