package control

import (
	"testing"
	"time"
)

func benchEvent() Event {
	return Event{Time: time.Date(2026, 12, 4, 2, 20, 4, 123456789, time.UTC), Device: "gps", Dir: RX,
		Data: []byte("$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47\r\n")}
}

// The trace path allocates nothing once the buffer has grown: the server
// encodes every event of a device read, and the client formats each line.
func TestTraceDoesNotAllocate(t *testing.T) {
	ev := benchEvent()
	s := NewServer("v1")
	buf := make([]byte, 0, 4096)
	for name, f := range map[string]func(){
		"AppendEvent":  func() { buf = AppendEvent(buf[:0], ev) },
		"Server.Trace": func() { s.Drop(); buf = s.Trace(buf[:0], ev) },
		"AppendLine":   func() { buf = AppendLine(buf[:0], ev, true) },
		"AppendLost": func() {
			buf = AppendLostLine(AppendLost(buf[:0], Lost{Time: ev.Time, Count: 3}), Lost{Time: ev.Time, Count: 3})
		},
	} {
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("%s: %v allocations per call", name, n)
		}
	}
}

// BenchmarkTrace is the server's cost per traced read of a 68-byte line.
func BenchmarkTrace(b *testing.B) {
	ev := benchEvent()
	s := NewServer("v1")
	buf := make([]byte, 0, 4096)
	b.SetBytes(int64(len(ev.Data)))
	b.ReportAllocs()
	for b.Loop() {
		buf = s.Trace(buf[:0], ev)
	}
}

// BenchmarkTrace64K is the same for a full 64 KiB read.
func BenchmarkTrace64K(b *testing.B) {
	ev := benchEvent()
	ev.Data = make([]byte, 64<<10)
	s := NewServer("v1")
	buf := make([]byte, 0, 128<<10)
	b.SetBytes(int64(len(ev.Data)))
	b.ReportAllocs()
	for b.Loop() {
		buf = s.Trace(buf[:0], ev)
	}
}

// BenchmarkAppendLine is the client's cost per line, with hex.
func BenchmarkAppendLine(b *testing.B) {
	ev := benchEvent()
	buf := make([]byte, 0, 4096)
	b.SetBytes(int64(len(ev.Data)))
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendLine(buf[:0], ev, true)
	}
}
