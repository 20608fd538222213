package bridge

import (
	"testing"

	"golang.org/x/sys/unix"

	"github.com/iogate/iogate/config"
	"github.com/iogate/iogate/control"
	"github.com/iogate/iogate/reactor"
)

// sock is one end of a socketpair as a reactor transport.
type sock struct{ fd int }

func (s *sock) Read(p []byte) (int, error)  { return reactor.ReadFd(s.fd, p) }
func (s *sock) Write(p []byte) (int, error) { return reactor.WriteFd(s.fd, p) }
func (s *sock) Fd() int                     { return s.fd }
func (s *sock) Close() error                { return unix.Close(s.fd) }

// tapped is a device with one tracer on a socketpair nobody reads, on a
// reactor that is not running: what tap does is all there is.
func tapped(t testing.TB) (*device, *controlClient, *reactor.Reactor) {
	t.Helper()
	r, err := reactor.New(reactor.Base{}, reactor.Options{})
	if err != nil {
		t.Fatal(err)
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fds[0]); unix.Close(fds[1]) })
	s := &Service{r: r}
	c := &controlClient{p: &controlPort{s: s}, srv: control.NewServer("v")}
	if c.id, err = r.RegisterTransport(&sock{fds[0]}, c); err != nil {
		t.Fatal(err)
	}
	r.SetLimits(c.id, tracerLimits)
	w := &deviceWatch{tracers: []*controlClient{c}}
	c.traced = []*deviceWatch{w}
	return &device{s: s, cfg: config.Device{Name: "gps"}, watch: w}, c, r
}

// Tracing sends each read as it is, and a tracer that falls behind costs
// a count: neither allocates. Untraced, a tap is a length check.
func TestTapDoesNotAllocate(t *testing.T) {
	d, c, r := tapped(t)
	read := []byte("$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47\r\n")
	if n := testing.AllocsPerRun(100, func() { d.tap(control.RX, read) }); n != 0 {
		t.Errorf("a traced read: %v allocations", n)
	}
	for r.Pending(c.id) < tracerLimits.High {
		d.tap(control.TX, make([]byte, 4096))
	}
	if n := testing.AllocsPerRun(100, func() { d.tap(control.RX, read) }); n != 0 {
		t.Errorf("a read dropped for a tracer behind: %v allocations", n)
	}
	if got := c.srv.Drained(nil, r.Now()); len(got) == 0 {
		t.Error("the dropped events were not counted")
	}
	c.untrace()
	if len(d.watch.tracers) != 0 {
		t.Fatal("untraced, the device still has a tracer")
	}
	if n := testing.AllocsPerRun(100, func() { d.tap(control.RX, read) }); n != 0 {
		t.Errorf("an untraced read: %v allocations", n)
	}
}

func BenchmarkTap(b *testing.B) {
	read := make([]byte, 64)
	b.Run("untraced", func(b *testing.B) {
		d := &device{watch: &deviceWatch{}}
		b.ReportAllocs()
		for b.Loop() {
			d.tap(control.RX, read)
		}
	})
	b.Run("dropped", func(b *testing.B) {
		d, c, r := tapped(b)
		for r.Pending(c.id) < tracerLimits.High {
			d.tap(control.TX, make([]byte, 4096))
		}
		b.ReportAllocs()
		for b.Loop() {
			d.tap(control.RX, read)
		}
	})
}
