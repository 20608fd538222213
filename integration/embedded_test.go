package integration

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// mosqSub is a mosquitto_sub run by a test, with -d so that it says when the
// broker answered, and -v so that each message is "topic payload".
type mosqSub struct {
	t     *testing.T
	p     *proc
	lines chan string
}

func startMosqSub(t *testing.T, args ...string) *mosqSub {
	t.Helper()
	stdbuf, sub := need(t, "stdbuf"), need(t, "mosquitto_sub")
	s := &mosqSub{t: t, lines: make(chan string, 4096)}
	// stdbuf -oL: mosquitto_sub's stdio would hold its lines back in a pipe.
	s.p = start(t, func(line string) bool { s.lines <- line; return false },
		stdbuf, append([]string{"-oL", sub, "-d", "-v"}, args...)...)
	return s
}

// line returns the next line that contains want, skipping the others.
func (s *mosqSub) line(want string) string {
	s.t.Helper()
	timeout := time.After(deadline)
	for {
		select {
		case l := <-s.lines:
			if strings.Contains(l, want) {
				return l
			}
		case <-timeout:
			s.t.Fatalf("mosquitto_sub printed no %q within %v", want, deadline)
		}
	}
}

// message returns the next message received, "topic payload".
func (s *mosqSub) message() string {
	s.t.Helper()
	s.line("received PUBLISH")
	for timeout := time.After(deadline); ; {
		select {
		case l := <-s.lines:
			if !strings.HasPrefix(l, "Client ") { // -d's lines: the PUBACK it sends
				return l
			}
		case <-timeout:
			s.t.Fatal("mosquitto_sub printed no message after receiving one")
		}
	}
}

// messageOn returns the next message on topic, skipping the others.
func (s *mosqSub) messageOn(topic string) string {
	s.t.Helper()
	for {
		if m := s.message(); strings.HasPrefix(m, topic+" ") {
			return m
		}
	}
}

// exited waits for mosquitto_sub to end.
func (s *mosqSub) exited() {
	s.t.Helper()
	select {
	case <-s.p.done:
	case <-time.After(deadline):
		s.t.Fatalf("mosquitto_sub still runs after %v", deadline)
	}
}

// mosqPub runs mosquitto_pub to its end and returns what it printed and
// how it exited.
func mosqPub(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	out, err := exec.CommandContext(ctx, need(t, "mosquitto_pub"), append([]string{"-d"}, args...)...).CombinedOutput()
	t.Logf("mosquitto_pub %q: %v\n%s", args, err, out)
	return string(out), err
}

func mustMosqPub(t *testing.T, args ...string) {
	t.Helper()
	if out, err := mosqPub(t, args...); err != nil {
		t.Fatalf("mosquitto_pub %q: %v: %s", args, err, out)
	}
}

// passwdFile makes a password file with mosquitto_passwd from user and
// password pairs.
func passwdFile(t *testing.T, dir string, pairs ...string) string {
	t.Helper()
	file := filepath.Join(dir, "passwd")
	for i := 0; i < len(pairs); i += 2 {
		args := []string{"-b", file, pairs[i], pairs[i+1]}
		if i == 0 {
			args = append([]string{"-c"}, args...)
		}
		if out, err := exec.Command(need(t, "mosquitto_passwd"), args...).CombinedOutput(); err != nil {
			t.Fatalf("mosquitto_passwd %q: %v: %s", args, err, out)
		}
	}
	return file
}

// The ACL of docs/operations.md: viewers read, operators also write.
const viewersAndOperators = `# viewers see everything the gateway publishes
user viewer
topic read iogate/#

# operators also send commands to the devices
user operator
topic readwrite iogate/#
`

// brokerUp waits until the gateway's embedded broker listens.
func brokerUp(t *testing.T, gw *gateway) {
	t.Helper()
	gw.log.waitFor(t, "the embedded broker", func(e entry) bool { return e.is("info", "embedded broker started") })
}

func writeText(t *testing.T, path, text string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// A standalone box: the embedded broker with logins and an ACL, reached by
// mosquitto's own clients.
func TestEmbeddedBrokerLogins(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	passwd := passwdFile(t, dir, "viewer", "v-pass", "operator", "o-pass")
	acl := writeText(t, filepath.Join(dir, "acl"), viewersAndOperators)
	port := freePort(t)
	metricsAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	dev := plug(t, "gps")
	gw := startGatewayWith(t, gatewayOptions{mqtt: fmt.Sprintf(
		"embedded_listen = \"127.0.0.1:%d\"\nembedded_password_file = %q\nembedded_acl_file = %q\n[metrics]\nlisten = %q",
		port, passwd, acl, metricsAddr)}, "embedded", dev.toml("writable = true"))
	brokerUp(t, gw)
	at := []string{"-h", "127.0.0.1", "-p", fmt.Sprint(port)}
	viewer := append(at, "-u", "viewer", "-P", "v-pass")
	operator := append(at, "-u", "operator", "-P", "o-pass")

	sub := startMosqSub(t, append(viewer, "-t", prefix+"/#", "-q", "1")...)
	sub.line("received SUBACK")
	sub.line(dev.topic("status") + " online")
	dev.write("$GPGGA,1\n")
	if got := sub.messageOn(dev.topic("rx")); got != dev.topic("rx")+" $GPGGA,1" {
		t.Errorf("the viewer got %q, want the device's frame", got)
	}

	for _, c := range []struct {
		name string
		args []string
	}{
		{"a wrong password", append(at, "-u", "viewer", "-P", "o-pass")},
		{"an unknown user", append(at, "-u", "nobody", "-P", "v-pass")},
		{"an anonymous client", at},
	} {
		if out, err := mosqPub(t, append(c.args, "-t", dev.topic("tx"), "-m", "intruder")...); err == nil || !strings.Contains(out, "not authorised") {
			t.Errorf("%s: %v, %q; want it refused", c.name, err, out)
		}
	}
	// The viewer's command is acknowledged and dropped; the operator's,
	// sent after it, is the first the device gets.
	mustMosqPub(t, append(viewer, "-t", dev.topic("tx"), "-m", "from-viewer", "-q", "1")...)
	mustMosqPub(t, append(operator, "-t", dev.topic("tx"), "-m", "marker", "-q", "1")...)
	if got := dev.read(len("marker\n")); got != "marker\n" {
		t.Errorf("the device got %q, want the operator's marker only", got)
	}

	waitScrape(t, metricsAddr, "/metrics", "counting the refusals", func(code int, body string) bool {
		return code == 200 && strings.Contains(body, `iogate_broker_logins_refused_total{reason="password"} 2`) &&
			strings.Contains(body, `iogate_broker_logins_refused_total{reason="anonymous"} 1`) &&
			strings.Contains(body, `iogate_broker_acl_denied_total{action="publish"} 1`) &&
			strings.Contains(body, "iogate_broker_clients 2")
	})
	gw.log.waitFor(t, "the denied publish", func(e entry) bool {
		return e.is("warning", "broker: publish denied") && e["user"] == "viewer" && e["topic"] == dev.topic("tx")
	})
	refusal := gw.log.waitFor(t, "the refused login", func(e entry) bool { return e.is("warning", "broker: login refused") })
	if !strings.HasPrefix(fmt.Sprint(refusal["remote"]), "127.0.0.1:") || refusal["user"] == nil {
		t.Errorf("the refusal does not say who and from where: %v", refusal)
	}
	for _, secret := range []string{"v-pass", "o-pass"} {
		if gw.log.contains(secret) {
			t.Errorf("a password is in the gateway's log")
		}
	}
}

// TLS only: no plain listener, mosquitto_sub verifies the broker with
// --cafile, and the gateway gets in on its own loopback listener.
func TestEmbeddedBrokerTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca := newAuthority(t, dir, "box-ca")
	cert, key := ca.issue("box", "127.0.0.1")
	passwd := passwdFile(t, dir, "operator", "o-pass")
	port := freePort(t)
	dev := plug(t, "gps")
	gw := startGatewayWith(t, gatewayOptions{mqtt: fmt.Sprintf(
		"embedded_listen = \"\"\nembedded_tls_listen = \"127.0.0.1:%d\"\nembedded_cert_file = %q\nembedded_key_file = %q\nembedded_password_file = %q",
		port, cert, key, passwd)}, "embedded", dev.toml(""))
	brokerUp(t, gw)
	at := []string{"-h", "127.0.0.1", "-p", fmt.Sprint(port), "--cafile", ca.file, "-u", "operator", "-P", "o-pass"}
	sub := startMosqSub(t, append(at, "-t", prefix+"/#", "-q", "1")...)
	sub.line("received SUBACK")
	sub.line(dev.topic("status") + " online")
	dev.write("over TLS\n")
	if got := sub.messageOn(dev.topic("rx")); got != dev.topic("rx")+" over TLS" {
		t.Errorf("got %q", got)
	}
	other := newAuthority(t, dir, "other-ca")
	if out, err := mosqPub(t, "-h", "127.0.0.1", "-p", fmt.Sprint(port), "--cafile", other.file, "-u", "operator", "-P", "o-pass", "-t", "x", "-m", "y"); err == nil {
		t.Errorf("a client that trusts another CA got in: %s", out)
	}
}

// SIGHUP rereads the password file: a removed user is disconnected and
// cannot log in again, the others and the gateway stay connected.
func TestEmbeddedBrokerReload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	passwd := passwdFile(t, dir, "viewer", "v-pass", "operator", "o-pass")
	port := freePort(t)
	metricsAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	dev := plug(t, "gps")
	gw := startGatewayWith(t, gatewayOptions{mqtt: fmt.Sprintf(
		"embedded_listen = \"127.0.0.1:%d\"\nembedded_password_file = %q\n[metrics]\nlisten = %q", port, passwd, metricsAddr)},
		"embedded", dev.toml(""))
	brokerUp(t, gw)
	at := []string{"-h", "127.0.0.1", "-p", fmt.Sprint(port)}
	viewer := startMosqSub(t, append(at, "-u", "viewer", "-P", "v-pass", "-t", prefix+"/#", "-q", "1")...)
	operator := startMosqSub(t, append(at, "-u", "operator", "-P", "o-pass", "-t", prefix+"/#", "-q", "1")...)
	for _, s := range []*mosqSub{viewer, operator} {
		s.line(dev.topic("status") + " online")
	}
	if out, err := exec.Command(need(t, "mosquitto_passwd"), "-D", passwd, "viewer").CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_passwd -D: %v: %s", err, out)
	}
	syscall.Kill(gw.cmd.Process.Pid, syscall.SIGHUP)
	// mosquitto_sub connects again on its own, and is refused for good.
	viewer.line("not authorised")
	viewer.exited()
	applied := gw.log.waitFor(t, "the reload of the broker's logins", func(e entry) bool {
		return e.is("info", "reload: the embedded broker's logins and ACL applied")
	})
	if fmt.Sprint(applied["disconnected"]) != "1" {
		t.Errorf("the reload says it disconnected %v clients, want 1", applied["disconnected"])
	}
	dev.write("after the reload\n")
	if got := operator.messageOn(dev.topic("rx")); got != dev.topic("rx")+" after the reload" {
		t.Errorf("the operator got %q", got)
	}
	if out, err := mosqPub(t, append(at, "-u", "viewer", "-P", "v-pass", "-t", "x", "-m", "y")...); err == nil {
		t.Errorf("the removed viewer logged in: %s", out)
	}
	waitScrape(t, metricsAddr, "/metrics", "one client disconnected by the reload, the gateway not reconnected", func(code int, body string) bool {
		return code == 200 && strings.Contains(body, "iogate_broker_reload_disconnects_total 1") &&
			strings.Contains(body, "iogate_mqtt_reconnects_total 0")
	})
}

// Retained messages outlive a restart of the gateway and its broker.
func TestEmbeddedBrokerRetained(t *testing.T) {
	t.Parallel()
	state := t.TempDir()
	port := freePort(t)
	opts := gatewayOptions{stateDir: state, mqtt: fmt.Sprintf("embedded_listen = \"127.0.0.1:%d\"", port)}
	at := []string{"-h", "127.0.0.1", "-p", fmt.Sprint(port)}
	gw := startGatewayWith(t, opts, "embedded")
	brokerUp(t, gw)
	sub := startMosqSub(t, append(at, "-t", prefix+"/status", "-q", "1")...)
	sub.line(prefix + "/status online")
	mustMosqPub(t, append(at, "-t", "dashboard/layout", "-m", "two columns", "-r", "-q", "1")...)
	gw.stop()
	if st, err := os.Stat(filepath.Join(state, "broker", "retained")); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("the retained file: %v, %v; want it, mode 0600", st, err)
	}

	brokerUp(t, startGatewayWith(t, opts, "embedded"))
	again := startMosqSub(t, append(at, "-t", "dashboard/layout", "-C", "1")...)
	if got := again.message(); got != "dashboard/layout two columns" {
		t.Errorf("after a restart, dashboard/layout is %q, want the retained two columns", got)
	}
}

// With embedded_allow_anonymous, clients from beyond loopback need no
// password; without it, iogate refuses to listen there.
func TestEmbeddedBrokerAnonymous(t *testing.T) {
	t.Parallel()
	lan := lanAddress(t)
	port := freePort(t)
	conf := fmt.Sprintf("[gateway]\nid = %q\nstate_dir = %q\n[mqtt]\nbroker = \"embedded\"\nembedded_listen = \"0.0.0.0:%d\"\n", gatewayID, t.TempDir(), port)
	path := writeText(t, filepath.Join(t.TempDir(), "open.toml"), conf)
	code, _, stderr := checkConfig(t, path)
	if code != 2 || !strings.Contains(stderr, path+":6: mqtt.embedded_listen:") || !strings.Contains(stderr, "beyond loopback") {
		t.Errorf("iogate check of a broker open to anyone: exit %d, want 2 and an error on mqtt.embedded_listen:\n%s", code, stderr)
	}

	dev := plug(t, "gps")
	brokerUp(t, startGatewayWith(t, gatewayOptions{mqtt: fmt.Sprintf("embedded_listen = \"0.0.0.0:%d\"\nembedded_allow_anonymous = true", port)},
		"embedded", dev.toml("")))
	sub := startMosqSub(t, "-h", lan, "-p", fmt.Sprint(port), "-t", prefix+"/#", "-q", "1")
	sub.line(dev.topic("status") + " online")
	dev.write("to the LAN\n")
	if got := sub.messageOn(dev.topic("rx")); got != dev.topic("rx")+" to the LAN" {
		t.Errorf("got %q", got)
	}
}

// lanAddress returns an IPv4 address of this machine beyond loopback, or
// skips the test.
func lanAddress(t *testing.T) string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if ip, ok := a.(*net.IPNet); ok && ip.IP.To4() != nil && !ip.IP.IsLoopback() {
			return ip.IP.String()
		}
	}
	t.Skip("this machine has no IPv4 address beyond loopback")
	return ""
}

// iogate check reads the broker's files and says where a line is wrong.
func TestEmbeddedBrokerCheck(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	passwd := passwdFile(t, dir, "viewer", "v-pass")
	badPasswd := writeText(t, filepath.Join(dir, "bad-passwd"), "# users\nviewer:v-pass\n")
	badACL := writeText(t, filepath.Join(dir, "bad-acl"), "user viewer\ntopic red iogate/#\n")
	ca := newAuthority(t, dir, "ca")
	cert, _ := ca.issue("box", "127.0.0.1")
	_, otherKey := ca.issue("other", "127.0.0.1")
	base := fmt.Sprintf("[gateway]\nid = %q\n[mqtt]\nbroker = \"embedded\"\n", gatewayID)
	for _, c := range []struct {
		name, lines string
		at          string // after the config file's path
		also        string
	}{
		{"bad password line", fmt.Sprintf("embedded_password_file = %q\n", badPasswd),
			":5: mqtt.embedded_password_file: " + badPasswd + ":2: user \"viewer\"", "plain-text"},
		{"bad ACL line", fmt.Sprintf("embedded_password_file = %q\nembedded_acl_file = %q\n", passwd, badACL),
			":6: mqtt.embedded_acl_file: " + badACL + ":2:", `access "red"`},
		{"key of another certificate", fmt.Sprintf("embedded_tls_listen = \"127.0.0.1:8883\"\nembedded_cert_file = %q\nembedded_key_file = %q\n", cert, otherKey),
			":7: mqtt.embedded_key_file:", "does not match"},
	} {
		path := writeText(t, filepath.Join(dir, strings.ReplaceAll(c.name, " ", "-")+".toml"), base+c.lines)
		code, _, stderr := checkConfig(t, path)
		if code != 2 || !strings.Contains(stderr, path+c.at) || !strings.Contains(stderr, c.also) {
			t.Errorf("%s: exit %d, want 2 and %q ... %q:\n%s", c.name, code, path+c.at, c.also, stderr)
		}
	}
	good := writeText(t, filepath.Join(dir, "good.toml"), base+fmt.Sprintf("embedded_listen = \"0.0.0.0:1883\"\nembedded_password_file = %q\n", passwd))
	code, stdout, stderr := checkConfig(t, good)
	if code != 0 || !strings.Contains(stdout, "logins: the users of "+passwd+" (1)") {
		t.Errorf("a valid standalone box: exit %d\n%s%s", code, stdout, stderr)
	}
}
