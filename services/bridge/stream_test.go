package bridge_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// instrument answers queries on a device's pty the way a SCPI or NMEA
// query device does: a line in, a line out, per the answers given; a query
// it does not know gets no answer.
func (w *world) instrument(name string, answers map[string]string) {
	w.t.Helper()
	fd, err := unix.Dup(w.devices[name].Fd())
	if err != nil {
		w.t.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), name)
	w.t.Cleanup(func() { f.Close() })
	go func() {
		r := bufio.NewReader(f)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			if a, ok := answers[strings.TrimRight(line, "\r\n")]; ok {
				f.WriteString(a + "\n")
			}
		}
	}()
}

// A poll's reply is published on its own topic, a request's on reply with
// its id and latency; a request nobody answers times out; frames that come
// with no transaction open go to rx.
func TestPollsAndRequests(t *testing.T) {
	w := newWorld(t, "meter")
	w.run(map[string]string{"meter": `writable = true
[[device.poll]]
name = "temp"
send = "READ?\n"
every = "50ms"
timeout = "2s"`})
	w.expectPayload("iogate/gw/meter/status", "online")
	w.instrument("meter", map[string]string{"READ?": "T=21.5", "ID?": "IOGATE-SIM"})
	w.expectPayload("iogate/gw/meter/temp", "T=21.5")

	w.publish("iogate/gw/meter/request", []byte(`{"id":"r1","data":"ID?\n"}`), false)
	var reply struct {
		ID, Data, Enc, Error string
		MS                   *float64
	}
	for {
		m := w.expect("iogate/gw/meter/reply")
		if err := json.Unmarshal([]byte(m.payload), &reply); err != nil {
			t.Fatalf("reply %s: %v", m.payload, err)
		}
		if reply.ID == "r1" {
			break
		}
	}
	if reply.Data != "IOGATE-SIM" || reply.Enc != "text" || reply.MS == nil || *reply.MS < 0 {
		t.Fatalf("reply %+v", reply)
	}

	w.publish("iogate/gw/meter/request", []byte(`{"id":"r2","data":"NOPE?\n","timeout":"100ms"}`), false)
	for reply.ID != "r2" {
		json.Unmarshal([]byte(w.expect("iogate/gw/meter/reply").payload), &reply)
	}
	if reply.Error != "timeout" {
		t.Fatalf("unanswered request: %+v", reply)
	}

	w.publish("iogate/gw/meter/request", []byte(`{"data":"ID?\n"}`), false)
	if e := w.expect("iogate/gw/meter/error"); !strings.Contains(e.payload, `without an \"id\"`) {
		t.Fatalf("request without an id: %s", e.payload)
	}
	w.publish("iogate/gw/meter/request", []byte(`{"id":"r3","data":"zz","enc":"hex"}`), false)
	for reply.ID != "r3" {
		json.Unmarshal([]byte(w.expect("iogate/gw/meter/reply").payload), &reply)
	}
	if !strings.Contains(reply.Error, "not hex") {
		t.Fatalf("bad hex: %+v", reply)
	}
}

// Frames the device sends on its own, between transactions, go to rx.
func TestUnsolicitedFramesGoToRx(t *testing.T) {
	w := newWorld(t, "gps")
	w.run(map[string]string{"gps": "[[device.poll]]\nname = \"ver\"\nsend = \"VER?\\n\"\nevery = \"1h\"\ntimeout = \"2s\""})
	w.expectPayload("iogate/gw/gps/status", "online")
	w.write("gps", "v1.2\n") // the answer to the first poll, sent at open
	w.expectPayload("iogate/gw/gps/ver", "v1.2")
	w.write("gps", "$GPGGA,1\n")
	w.expectPayload("iogate/gw/gps/rx", "$GPGGA,1")
}

// A full queue refuses, never grows: with one request open and a lane of
// 64 waiting, the next is answered with an error.
func TestRequestQueueBounded(t *testing.T) {
	w := newWorld(t, "slow")
	w.run(map[string]string{"slow": "writable = true"})
	w.expectPayload("iogate/gw/slow/status", "online")
	var b strings.Builder
	for i := range 70 {
		fmt.Fprintf(&b, `{"id":"q%d","data":"X\n","timeout":"10s"}`+"\n", i)
	}
	for _, r := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		w.publish("iogate/gw/slow/request", []byte(r), false)
	}
	for {
		var reply struct{ ID, Error string }
		json.Unmarshal([]byte(w.expect("iogate/gw/slow/reply").payload), &reply)
		if strings.Contains(reply.Error, "queue is full") {
			return
		}
	}
}
