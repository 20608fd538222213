package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iogate/iogate/control"
	"github.com/iogate/iogate/resources/serial"
)

// buildGateway builds this command into a directory of the test's, the
// way a user builds it.
func buildGateway(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool to build iogate with")
	}
	bin := filepath.Join(t.TempDir(), "iogate")
	cmd := exec.Command(goTool, "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// freeAddr is a loopback address nobody listens on: a port just released.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// The status page of a real gateway, in a real browser: every device is
// listed with its state, as the gateway's own status document has them.
func TestStatusPageOfTheGateway(t *testing.T) {
	browser := chromium(t)
	bin := buildGateway(t)
	gps, err := serial.OpenPTY()
	if err != nil {
		t.Fatal(err)
	}
	defer gps.Close()
	dir := stateDir(t)
	web := freeAddr(t)
	conf := filepath.Join(dir, "config.toml")
	text := fmt.Sprintf(`[gateway]
id = "page-test"
state_dir = %q
[mqtt]
broker = "embedded"
embedded_listen = %q
[metrics]
listen = %q
[[device]]
name = "gps"
path = %q
[[device]]
name = "door"
kind = "file"
path = %q
`, dir, freeAddr(t), web, gps.SlavePath(), filepath.Join(dir, "door"))
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	var log lockedBuffer
	gw := exec.Command(bin, "run", "-c", conf)
	gw.Stdout, gw.Stderr = &log, &log
	if err := gw.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- gw.Wait() }()
	defer func() {
		gw.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("iogate run: %v after SIGTERM\n%s", err, log.String())
			}
		case <-time.After(deadline):
			gw.Process.Kill()
			t.Errorf("iogate did not stop on SIGTERM\n%s", log.String())
		}
	}()

	// Once the broker is connected and gps is open, the page is loaded.
	gps.Write([]byte("$GPGGA,1\n"))
	var st control.Status
	for end := time.Now().Add(deadline); ; time.Sleep(20 * time.Millisecond) {
		if ok := readStatus(web, &st); ok && st.Broker.State == control.LinkConnected && len(st.Devices) == 2 && st.Devices[0].RxFrames == 1 {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("the gateway's status never showed gps's frame: %+v\n%s", st, log.String())
		}
	}
	if st.Gateway != "page-test" || st.Version == "" || st.Devices[0].State != control.Online || st.Devices[1].State != control.Offline {
		t.Fatalf("status %+v", st)
	}

	dom := headless(t, browser, "http://"+web+"/", "--virtual-time-budget=5000", "--dump-dom")
	for _, want := range []string{
		`data-device="gps" data-state="online"`,
		`data-device="door" data-state="offline"`,
		`<section class="card" id="broker" data-state="connected">`,
		"open " + filepath.Join(dir, "door") + ": no such file or directory",
		"<li>device door offline</li>",
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("the rendered page lacks %q", want)
		}
	}
	if n := len(regexp.MustCompile(`data-device="[^"]*" data-state=`).FindAllString(dom, -1)); n != 2 {
		t.Errorf("the page lists %d devices, the gateway has 2", n)
	}
	if t.Failed() {
		t.Logf("the rendered page:\n%s", dom)
	}

	shot := filepath.Join(t.TempDir(), "status-gateway.png")
	headless(t, browser, "http://"+web+"/", "--virtual-time-budget=5000", "--hide-scrollbars", "--window-size=1280,900", "--screenshot="+shot)
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if img, err := png.Decode(f); err != nil || img.Bounds().Dx() != 1280 {
		t.Fatalf("screenshot: %v", err)
	}
	t.Logf("screenshot of the gateway's page: %s", shot)
}

// readStatus reads the gateway's /status.json into st, and tells whether
// it answered.
func readStatus(addr string, st *control.Status) bool {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/status.json", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	return resp.StatusCode == 200 && json.Unmarshal(buf.Bytes(), st) == nil
}
