package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/iogate/iogate/control"
)

// deadline bounds every wait for something that must happen.
const deadline = 15 * time.Second

// fakeGateway is the server side of the control protocol on a real Unix
// socket, answering with the control package's Server as the gateway
// does, so that the CLI is tested without the bridge.
type fakeGateway struct {
	config string // a configuration file whose state_dir has the socket
	dir    string // that state_dir

	// What the gateway answers; set before the CLI connects.
	hello   string          // a line sent instead of the gateway's hello, when not empty
	bye     bool            // close after that line
	status  *control.Status // the answer to a status request
	failure *control.Error  // the answer to any request but the hello, when not nil
	devices []string        // the devices that may be traced
	events  []any           // after "tracing": a control.Event to send, or an int: so many dropped
	hangUp  bool            // close once the events are sent

	wg sync.WaitGroup
}

// startGateway serves the control socket in a new state directory until
// the test ends.
func startGateway(t *testing.T) *fakeGateway {
	t.Helper()
	dir := stateDir(t)
	g := &fakeGateway{dir: dir, config: filepath.Join(dir, "config.toml"), devices: []string{"d0", "d1"}}
	writeConfig(t, g.config, dir)
	l, err := net.Listen("unix", control.SocketPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			g.wg.Add(1)
			go func() {
				defer g.wg.Done()
				g.serve(t, conn)
			}()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		g.wg.Wait()
	})
	return g
}

// stateDir is a new directory, short enough for a socket's path.
func stateDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "iogate-ctl-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func writeConfig(t *testing.T, path, stateDir string) {
	t.Helper()
	if err := os.WriteFile(path, fmt.Appendf(nil, "[gateway]\nid = \"test\"\nstate_dir = %q\n", stateDir), 0o600); err != nil {
		t.Fatal(err)
	}
}

func (g *fakeGateway) serve(t *testing.T, conn net.Conn) {
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(deadline))
	srv := control.NewServer("v0.0.0-test")
	buf := make([]byte, 4096)
	var out []byte
	for {
		n, err := conn.Read(buf)
		if err != nil {
			return
		}
		for data := buf[:n]; len(data) > 0; {
			var used int
			var req control.Request
			var failed error
			out, used, req, failed = srv.Decode(out[:0], data)
			data = data[used:]
			switch {
			case req.Kind == control.KindHello && g.hello != "":
				out = append(out[:0], g.hello...)
			case req.Kind != "" && req.Kind != control.KindHello && g.failure != nil:
				out = srv.Fail(out, g.failure)
				failed = g.failure
			case req.Kind == control.KindStatus:
				out, err = control.AppendStatus(out, g.status)
				if err != nil {
					t.Error(err)
				}
			case req.Kind == control.KindTrace:
				out, failed = g.trace(srv, out, req.Devices)
			}
			if _, err := conn.Write(out); err != nil || failed != nil || (req.Kind == control.KindHello && g.bye) {
				return
			}
			if srv.Tracing() && g.hangUp {
				return
			}
		}
	}
}

// trace answers a trace request and appends the events.
func (g *fakeGateway) trace(srv *control.Server, out []byte, devices []string) ([]byte, error) {
	var unknown []string
	for _, d := range devices {
		if !slices.Contains(g.devices, d) {
			unknown = append(unknown, d)
		}
	}
	if len(unknown) > 0 {
		e := control.UnknownDevices(unknown...)
		return srv.Fail(out, e), e
	}
	out = control.AppendTracing(out, devices)
	for _, e := range g.events {
		switch e := e.(type) {
		case control.Event:
			out = srv.Trace(out, e)
		case int:
			for range e {
				srv.Drop()
			}
		}
	}
	return out, nil
}
