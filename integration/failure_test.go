package integration

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// maxRSS bounds the gateway's resident memory under any load the tests
// make, with room for the race detector's shadow memory.
const maxRSS = 150 << 20

// rss is the resident memory of the gateway, from /proc/PID/status.
func (g *gateway) rss() int64 {
	g.t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", g.cmd.Process.Pid))
	if err != nil {
		g.t.Fatalf("iogate is gone: %v", err)
	}
	for line := range strings.Lines(string(b)) {
		// "VmRSS:	   12345 kB"
		if f := strings.Fields(line); len(f) == 3 && f[0] == "VmRSS:" && f[2] == "kB" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				g.t.Fatalf("VmRSS of iogate: %q", line)
			}
			return kb << 10
		}
	}
	g.t.Fatalf("no VmRSS in /proc/%d/status", g.cmd.Process.Pid)
	return 0
}

// checkRSS fails the test if the gateway holds more memory than maxRSS.
func (g *gateway) checkRSS(when string) {
	g.t.Helper()
	rss := g.rss()
	g.t.Logf("iogate RSS %s: %.1f MiB", when, float64(rss)/(1<<20))
	if rss > maxRSS {
		g.t.Errorf("iogate RSS %s: %.1f MiB, want at most %d MiB", when, float64(rss)/(1<<20), maxRSS>>20)
	}
}

// Commands flood a device that takes nothing: those beyond its output
// buffer are refused on its error topic as "device busy", memory stays
// bounded, another device goes on, and once the device reads, every
// command that was not refused comes out whole and in order.
func TestCommandFlood(t *testing.T) {
	t.Parallel()
	mq := startMosquitto(t)
	slow, other := plug(t, "slow"), plug(t, "other")
	errTopic := slow.topic("error")
	sub := subscribe(t, mq.url(), prefix+"/status", prefix+"/+/status", errTopic, other.topic("rx"))
	gw := startGateway(t, mq.url(), slow.toml("writable = true"), other.toml(""))
	waitOnline(t, sub, slow, other)
	sub.publish(slow.topic("tx"), "probe") // the gateway is subscribed
	if got := slow.read(6); got != "probe\n" {
		t.Fatalf("probe command: device got %q", got)
	}
	gw.checkRSS("before the flood")

	// 3 MB of commands against about 1 MiB of buffer in the gateway and
	// some in the ptys and socat.
	const n, size = 3000, 1000
	command := func(i int) string {
		s := fmt.Sprintf("cmd-%05d-", i)
		return s + strings.Repeat(string(rune('a'+i%26)), size-len(s))
	}
	var others []string
	flooded := make(chan error, 1)
	go func() {
		var last paho.Token
		for i := 1; i <= n; i++ {
			last = sub.c.Publish(slow.topic("tx"), 1, false, command(i))
			if i%500 == 0 { // the other device talks meanwhile
				line := fmt.Sprintf("other-%d", i/500)
				if _, err := other.f.WriteString(line + "\n"); err != nil {
					flooded <- err
					return
				}
			}
		}
		if !last.WaitTimeout(deadline) {
			flooded <- fmt.Errorf("the broker did not take %d commands within %v", n, deadline)
			return
		}
		flooded <- last.Error()
	}()
	for i := 1; i <= n/500; i++ {
		others = append(others, fmt.Sprintf("other-%d", i))
	}

	busy := sub.next(errTopic)
	var refusal struct{ Device, Topic, Error string }
	if json.Unmarshal([]byte(busy.payload), &refusal) != nil || refusal.Device != "slow" ||
		refusal.Topic != slow.topic("tx") || !strings.Contains(refusal.Error, "device busy") {
		t.Errorf("refused command: error message %s, want JSON with device slow, its tx topic and \"device busy\"", busy.payload)
	}
	gw.checkRSS("during the flood")
	sub.expect(other.topic("rx"), others...)
	if err := <-flooded; err != nil {
		t.Fatal(err)
	}
	other.write("other-after\n")
	sub.expect(other.topic("rx"), "other-after")
	gw.checkRSS("after the flood")

	// Now the device reads: every command is either refused or written,
	// whole, in order.
	lines := make(chan string)
	done := make(chan struct{})
	defer close(done)
	if err := slow.f.SetReadDeadline(time.Now().Add(deadline)); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(lines)
		r := bufio.NewReaderSize(slow.f, 64<<10)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			select {
			case lines <- line:
			case <-done:
				return
			}
		}
	}()
	timeout := time.NewTimer(deadline)
	defer timeout.Stop()
	written, refused, last := 0, 0, 0
	for {
		sub.mu.Lock()
		more := sub.more
		refused = len(sub.byTopic[errTopic])
		sub.mu.Unlock()
		if written+refused >= n {
			break
		}
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("device read stopped after %d commands (last %d), with %d refused of %d", written, last, refused, n)
			}
			i, err := strconv.Atoi(strings.TrimPrefix(line[:min(len(line), 9)], "cmd-"))
			if err != nil || i <= last || line != command(i)+"\n" {
				t.Fatalf("after command %d the device got %.40q... (%d bytes), want a later command whole", last, line, len(line))
			}
			written, last = written+1, i
		case <-more:
		case <-timeout.C:
			t.Fatalf("%d commands written and %d refused within %v, want %d in all", written, refused, deadline, n)
		}
	}
	t.Logf("%d commands written, %d refused as busy", written, refused)
	if written+refused != n {
		t.Errorf("%d commands written and %d refused, of %d", written, refused, n)
	}
	for _, m := range sub.seen(errTopic) {
		if !strings.Contains(m, "device busy") {
			t.Errorf("refused command: %s, want \"device busy\"", m)
		}
	}
}

// A megabyte of noise with no line end is one frame far beyond max_frame,
// discarded; a megabyte of noise cut into lines of all lengths loses only
// the lines beyond max_frame. The good lines after it arrive, and memory
// stays bounded.
func TestMegabyteOfNoise(t *testing.T) {
	t.Parallel()
	mq := startMosquitto(t)
	dev := plug(t, "noise")
	sub := subscribe(t, mq.url(), prefix+"/#")
	gw := startGateway(t, mq.url(), dev.toml("")) // max_frame 4096 by default
	waitOnline(t, sub, dev)

	rnd := rand.New(rand.NewPCG(3, 4))
	noise := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			for b[i] = byte(rnd.UintN(256)); b[i] == '\n'; b[i] = byte(rnd.UintN(256)) {
			}
		}
		return b
	}
	dev.write(string(noise(1<<20)) + "\nafter one long line\n")
	sub.expect(dev.topic("rx"), "after one long line")
	gw.log.waitFor(t, "warning: overlong frame", func(e entry) bool {
		return e.is("warning", "longer than max_frame") && e["device"] == "noise"
	})
	gw.checkRSS("after a megabyte in one line")

	var stream bytes.Buffer
	var want []string
	for dropped := 0; stream.Len() < 1<<20; {
		line := noise(1 + rnd.IntN(9000))
		if line[len(line)-1] == '\r' {
			line[len(line)-1] = '.' // a "\r" there would be taken for the line end
		}
		stream.Write(line)
		stream.WriteByte('\n')
		if len(line) <= 4096 {
			want = append(want, string(line))
		} else {
			dropped++
		}
		if stream.Len() >= 1<<20 {
			t.Logf("%d noise lines, %d of them beyond max_frame", len(want)+dropped, dropped)
		}
	}
	stream.WriteString("after many lines\n")
	want = append(want, "after many lines")
	dev.write(stream.String())
	for i, w := range want {
		if m := sub.next(dev.topic("rx")); m.payload != w {
			t.Fatalf("noise line %d of %d: got %d bytes %.20q..., want %d bytes %.20q...", i+1, len(want), len(m.payload), m.payload, len(w), w)
		}
	}
	gw.checkRSS("after a megabyte of lines")
	if es := gw.log.entries(func(e entry) bool { return e["level"] == "error" || e["level"] == "fatal" }); len(es) > 0 {
		t.Errorf("noise was logged as an error: %v", es)
	}
}

// A device unplugged while it sends as fast as it can goes offline and
// comes back online when replugged, again and again; what it sent before
// each unplug arrives as whole lines in order, up to where the unplug cut
// it, and what it sends after each replug arrives in full. Another device
// never notices.
func TestUnplugUnderLoad(t *testing.T) {
	t.Parallel()
	mq := startMosquitto(t)
	busy, calm := plug(t, "busy"), plug(t, "calm")
	sub := subscribe(t, mq.url(), prefix+"/#")
	startGateway(t, mq.url(), busy.toml(""), calm.toml(""))
	waitOnline(t, sub, busy, calm)
	rx := busy.topic("rx")

	// load writes lines to f as fast as it can, 64 to a write, until a
	// write fails or stop is closed; then it writes the line last.
	load := func(f *os.File, cycle int, stop <-chan struct{}) <-chan error {
		done := make(chan error, 1)
		go func() {
			var b bytes.Buffer
			for i := 1; ; {
				select {
				case <-stop:
					_, err := f.WriteString(fmt.Sprintf("c%d-last\n", cycle))
					done <- err
					return
				default:
				}
				b.Reset()
				for range 64 {
					fmt.Fprintf(&b, "c%d-%07d\n", cycle, i)
					i++
				}
				if _, err := f.Write(b.Bytes()); err != nil {
					done <- err
					return
				}
			}
		}()
		return done
	}
	// consecutive checks that frames are lines 1, 2, ... of a cycle, then
	// maybe its last line.
	consecutive := func(cycle int, frames []string) {
		t.Helper()
		for i, f := range frames {
			if f == fmt.Sprintf("c%d-last", cycle) && i == len(frames)-1 {
				break
			}
			if want := fmt.Sprintf("c%d-%07d", cycle, i+1); f != want {
				t.Fatalf("cycle %d: frame %d is %q, want %q", cycle, i+1, f, want)
			}
		}
	}

	const cycles = 3
	for cycle := 1; cycle <= cycles; cycle++ {
		stop := make(chan struct{})
		loaded := load(busy.f, cycle, stop)
		first := sub.next(rx) // it flows
		busy.unplug()
		if err := <-loaded; err == nil {
			t.Fatalf("cycle %d: writing to the unplugged device did not fail", cycle)
		}
		close(stop)
		sub.waitFor(busy.topic("status"), "offline")
		got := append([]string{first.payload}, drain(sub, rx)...)
		consecutive(cycle, got)
		t.Logf("cycle %d: %d lines before the unplug", cycle, len(got))

		calm.write(fmt.Sprintf("calm %d\n", cycle))
		sub.expect(calm.topic("rx"), fmt.Sprintf("calm %d", cycle))

		busy.replug()
		sub.expect(busy.topic("status"), "online")
	}
	// After the last replug, a load that ends on its own: all of it arrives.
	stop := make(chan struct{})
	loaded := load(busy.f, cycles+1, stop)
	first := sub.next(rx)
	close(stop)
	if err := <-loaded; err != nil {
		t.Fatal(err)
	}
	got := append([]string{first.payload}, sub.until(rx, fmt.Sprintf("c%d-last", cycles+1))...)
	consecutive(cycles+1, got)
	t.Logf("after the last replug: %d lines", len(got))
	if st := sub.seen(calm.topic("status")); len(st) != 1 || st[0] != "online" {
		t.Errorf("calm's status went %v while busy was unplugged, want only online", st)
	}
}

// drain returns the messages on topic that have arrived and are not read.
func drain(c *client, topic string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, m := range c.byTopic[topic][c.read[topic]:] {
		out = append(out, m.payload)
	}
	c.read[topic] = len(c.byTopic[topic])
	return out
}

// A device that is not there when the gateway starts is announced
// offline, and comes online when it appears.
func TestDeviceMissingAtBoot(t *testing.T) {
	t.Parallel()
	mq := startMosquitto(t)
	late := &fakeDevice{t: t, name: "late", dir: t.TempDir()}
	late.path = filepath.Join(late.dir, "a") // where socatPair will put it
	early := plug(t, "early")
	sub := subscribe(t, mq.url(), prefix+"/#")
	gw := startGateway(t, mq.url(), late.toml(""), early.toml(""))
	waitOnline(t, sub, early)
	if m := sub.next(late.topic("status")); m.payload != "offline" {
		t.Fatalf("%s is %q, want offline", late.topic("status"), m.payload)
	}
	gw.log.waitFor(t, "warning: device late not available", func(e entry) bool {
		return e.is("warning", "device not available") && e["device"] == "late"
	})
	early.write("early bird\n")
	sub.expect(early.topic("rx"), "early bird")

	late.replug()
	sub.expect(late.topic("status"), "online")
	late.write("better late\n")
	sub.expect(late.topic("rx"), "better late")
}
