package mqtt_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iogate/iogate/mqttauth"
	"github.com/iogate/iogate/reactor/reactortest"
	"github.com/iogate/iogate/resources/mqtt"
)

// tool returns the path of one of Debian's mosquitto programs, skipping the
// test when it is missing, or failing it under CI.
func tool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing; CI must have it (apt-get install mosquitto mosquitto-clients)", name)
		}
		t.Skipf("%s is not installed (apt-get install mosquitto mosquitto-clients)", name)
	}
	return path
}

// passwords makes a password file with mosquitto_passwd, from user and
// password pairs, and returns it parsed, and its path.
func passwords(t *testing.T, pairs ...string) (*mqttauth.Passwords, string) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "passwd")
	for i := 0; i < len(pairs); i += 2 {
		args := []string{"-b", file, pairs[i], pairs[i+1]}
		if i == 0 {
			args = append([]string{"-c"}, args...)
		}
		if out, err := exec.Command(tool(t, "mosquitto_passwd"), args...).CombinedOutput(); err != nil {
			t.Fatalf("mosquitto_passwd %q: %v: %s", args, err, out)
		}
	}
	return readPasswords(t, file), file
}

func readPasswords(t *testing.T, file string) *mqttauth.Passwords {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	p, err := mqttauth.ParsePasswords(data)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func acl(t *testing.T, text string) *mqttauth.ACL {
	t.Helper()
	a, err := mqttauth.ParseACL([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// records is a slog handler that keeps what the broker logs.
type records struct {
	mu    sync.Mutex
	lines []string
}

func (r *records) Enabled(context.Context, slog.Level) bool { return true }

func (r *records) Handle(_ context.Context, rec slog.Record) error {
	var b strings.Builder
	b.WriteString(rec.Level.String() + " " + rec.Message)
	rec.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	r.mu.Lock()
	r.lines = append(r.lines, b.String())
	r.mu.Unlock()
	return nil
}

func (r *records) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *records) WithGroup(string) slog.Handler      { return r }

func (r *records) all() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.lines, "\n")
}

// startAuthBroker starts a broker with o on loopback, logging into the
// returned records.
func startAuthBroker(t *testing.T, o mqtt.BrokerOptions) (*mqtt.Broker, *records) {
	t.Helper()
	if o.Listen == "" && o.TLSListen == "" {
		o.Listen = "127.0.0.1:0"
	}
	logs := new(records)
	o.Logger = slog.New(logs)
	b, err := mqtt.StartBrokerWith(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		b.Close()
		t.Logf("broker log:\n%s", logs.all())
	})
	return b, logs
}

// hostPort splits a listener's address into mosquitto clients' -h and -p.
func hostPort(t *testing.T, addr string) []string {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return []string{"-h", host, "-p", port}
}

// sub is a mosquitto_sub run by a test, with -d so that it says when the
// broker answered, and -v so that each message is "topic payload".
type sub struct {
	t     *testing.T
	cmd   *exec.Cmd
	lines chan string
	done  chan struct{}
	err   error
	mu    sync.Mutex
	out   []string
}

func startSub(t *testing.T, args ...string) *sub {
	t.Helper()
	// stdbuf -oL: mosquitto_sub's stdio would hold its lines back in a pipe.
	cmd := exec.Command(tool(t, "stdbuf"), append([]string{"-oL", tool(t, "mosquitto_sub"), "-d", "-v"}, args...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &sub{t: t, cmd: cmd, lines: make(chan string, 1024), done: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			s.mu.Lock()
			s.out = append(s.out, sc.Text())
			s.mu.Unlock()
			s.lines <- sc.Text()
		}
		s.err = cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-s.done
		s.mu.Lock()
		t.Logf("mosquitto_sub %q:\n%s", args, strings.Join(s.out, "\n"))
		s.mu.Unlock()
	})
	return s
}

// line returns the next line that contains want, skipping the others.
func (s *sub) line(want string) string {
	s.t.Helper()
	timeout := time.After(reactortest.Deadline)
	for {
		select {
		case l := <-s.lines:
			if strings.Contains(l, want) {
				return l
			}
		case <-s.done:
			for {
				select {
				case l := <-s.lines:
					if strings.Contains(l, want) {
						return l
					}
				default:
					s.t.Fatalf("mosquitto_sub exited (%v) without printing %q", s.err, want)
				}
			}
		case <-timeout:
			s.t.Fatalf("mosquitto_sub printed no %q within %v", want, reactortest.Deadline)
		}
	}
}

// kill ends mosquitto_sub without a goodbye, and waits until it is gone.
func (s *sub) kill() {
	s.t.Helper()
	s.cmd.Process.Kill()
	s.exited()
}

// waitClients waits until n clients are connected to b.
func waitClients(t *testing.T, b *mqtt.Broker, n int64) {
	t.Helper()
	for end := time.Now().Add(reactortest.Deadline); b.Stats().Clients != n; time.Sleep(time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("the broker has %d clients, want %d", b.Stats().Clients, n)
		}
	}
}

// subscribed waits until the broker answered the subscription.
func (s *sub) subscribed() { s.t.Helper(); s.line("received SUBACK") }

// message returns the next message received, "topic payload".
func (s *sub) message() string {
	s.t.Helper()
	s.line("received PUBLISH")
	for timeout := time.After(reactortest.Deadline); ; {
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

// exited waits for mosquitto_sub to end, and returns all it printed.
func (s *sub) exited() string {
	s.t.Helper()
	select {
	case <-s.done:
	case <-time.After(reactortest.Deadline):
		s.t.Fatalf("mosquitto_sub still runs after %v", reactortest.Deadline)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.out, "\n")
}

// pub runs mosquitto_pub to its end and returns what it printed and how it
// exited.
func pub(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), reactortest.Deadline)
	defer cancel()
	out, err := exec.CommandContext(ctx, tool(t, "mosquitto_pub"), append([]string{"-d"}, args...)...).CombinedOutput()
	t.Logf("mosquitto_pub %q: %v\n%s", args, err, out)
	return string(out), err
}

func mustPub(t *testing.T, args ...string) {
	t.Helper()
	if out, err := pub(t, args...); err != nil {
		t.Fatalf("mosquitto_pub %q: %v: %s", args, err, out)
	}
}

func TestBrokerPasswordFile(t *testing.T) {
	pw, _ := passwords(t, "alice", "correct horse", "bob", "p@ss:wörd")
	b, logs := startAuthBroker(t, mqtt.BrokerOptions{Auth: mqtt.BrokerAuth{Passwords: pw}})
	at := hostPort(t, b.Addr())

	s := startSub(t, append(at, "-u", "alice", "-P", "correct horse", "-t", "box/#", "-q", "1")...)
	s.subscribed()
	mustPub(t, append(at, "-u", "bob", "-P", "p@ss:wörd", "-t", "box/temp", "-m", "21.5", "-q", "1")...)
	if got := s.message(); got != "box/temp 21.5" {
		t.Errorf("alice got %q, want bob's box/temp 21.5", got)
	}

	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"wrong password", []string{"-u", "alice", "-P", "correct-horse"}, "not authorised"},
		{"unknown user", []string{"-u", "carol", "-P", "correct horse"}, "not authorised"},
		{"anonymous from loopback", nil, "not authorised"},
		{"MQTT 5, wrong password", []string{"-V", "mqttv5", "-u", "alice", "-P", "x"}, "Bad User Name or Password"},
		{"MQTT 5, anonymous", []string{"-V", "mqttv5"}, "Not authorized"},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, err := pub(t, append(append(at, c.args...), "-t", "box/temp", "-m", "intruder")...)
			if err == nil || !strings.Contains(out, c.want) {
				t.Errorf("mosquitto_pub: %v, %q; want it refused: %q", err, out, c.want)
			}
		})
	}
	mustPub(t, append(at, "-u", "bob", "-P", "p@ss:wörd", "-t", "box/temp", "-m", "22", "-q", "1")...)
	if got := s.message(); got != "box/temp 22" {
		t.Errorf("alice got %q after the refused ones, want box/temp 22", got)
	}
	st := b.Stats()
	if st.LoginFailures != 3 || st.AnonymousRefused != 2 {
		t.Errorf("Stats: %d login failures, %d anonymous refused; want 3 and 2", st.LoginFailures, st.AnonymousRefused)
	}
	log := logs.all()
	for _, secret := range []string{"correct horse", "correct-horse", "p@ss"} {
		if strings.Contains(log, secret) {
			t.Errorf("a password is in the broker's log:\n%s", log)
		}
	}
	if !strings.Contains(log, "login refused") || !strings.Contains(log, "user=alice") || !strings.Contains(log, "remote=127.0.0.1:") {
		t.Errorf("the broker's log does not say who was refused from where:\n%s", log)
	}
}

// The ACL of docs/operations.md: viewers read, operators also write.
const viewersAndOperators = `user viewer
topic read iogate/#
topic read clients/#

user operator
topic readwrite iogate/#
topic write elsewhere
pattern write clients/%u/#
`

func TestBrokerACL(t *testing.T) {
	pw, _ := passwords(t, "viewer", "v", "operator", "o")
	b, logs := startAuthBroker(t, mqtt.BrokerOptions{Auth: mqtt.BrokerAuth{Passwords: pw, ACL: acl(t, viewersAndOperators)}})
	at := hostPort(t, b.Addr())
	viewer := append(at, "-u", "viewer", "-P", "v")
	operator := append(at, "-u", "operator", "-P", "o")

	s := startSub(t, append(viewer, "-t", "iogate/#", "-t", "clients/#", "-q", "1")...)
	s.subscribed()
	for _, version := range []string{"mqttv311", "mqttv5"} {
		// The viewer's publish is acknowledged (and, in MQTT 5, refused
		// in the acknowledgement) but goes nowhere; the operator's, sent
		// after it, is the first message the viewer sees.
		out, _ := pub(t, append(viewer, "-V", version, "-t", "iogate/edge/gps/tx", "-m", "from-viewer", "-q", "1")...)
		if version == "mqttv5" && !strings.Contains(out, "Not authorized") {
			t.Errorf("MQTT 5 publish of a viewer: %q, want a refusal in the PUBACK", out)
		}
		mustPub(t, append(operator, "-V", version, "-t", "iogate/edge/gps/tx", "-m", "marker-"+version, "-q", "1")...)
		if got := s.message(); got != "iogate/edge/gps/tx marker-"+version {
			t.Errorf("the viewer saw %q first, want the operator's marker", got)
		}
	}
	// A pattern: the operator writes under its own name only.
	mustPub(t, append(operator, "-t", "clients/viewer/x", "-m", "not mine", "-q", "1")...)
	mustPub(t, append(operator, "-t", "clients/operator/x", "-m", "mine", "-q", "1")...)
	if got := s.message(); got != "clients/operator/x mine" {
		t.Errorf("the viewer saw %q, want clients/operator/x mine", got)
	}
	// A wildcard subscription is granted and filtered; one topic the
	// viewer may not read is refused.
	wide := startSub(t, append(viewer, "-t", "#", "-q", "1")...)
	wide.subscribed()
	mustPub(t, append(operator, "-t", "elsewhere", "-m", "hidden", "-q", "1")...)
	mustPub(t, append(operator, "-t", "iogate/x", "-m", "shown", "-q", "1")...)
	if got := wide.message(); got != "iogate/x shown" {
		t.Errorf("a viewer subscribed to # saw %q, want only iogate/x shown", got)
	}
	denied := startSub(t, append(viewer, "-t", "elsewhere")...)
	denied.line("Subscribed (mid: 1): 128")

	st := b.Stats()
	if st.PublishDenied != 3 || st.SubscribeDenied != 1 {
		t.Errorf("Stats: %d publishes and %d subscriptions denied; want 3 and 1", st.PublishDenied, st.SubscribeDenied)
	}
	if log := logs.all(); !strings.Contains(log, "publish denied") || !strings.Contains(log, "topic=iogate/edge/gps/tx") {
		t.Errorf("the broker's log does not tell of the denied publish:\n%s", log)
	}
}

// nonLoopback returns an address of this machine beyond loopback, or skips.
func nonLoopback(t *testing.T) string {
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

// A client that comes from beyond loopback needs a password, unless
// anonymous clients are allowed; one from loopback does not.
func TestBrokerBeyondLoopback(t *testing.T) {
	lan := nonLoopback(t)
	for _, allow := range []bool{false, true} {
		t.Run(fmt.Sprintf("allow_anonymous=%t", allow), func(t *testing.T) {
			b, _ := startAuthBroker(t, mqtt.BrokerOptions{Listen: "0.0.0.0:0", Auth: mqtt.BrokerAuth{AllowAnonymous: allow}})
			_, port, _ := net.SplitHostPort(b.Addr())
			s := startSub(t, "-h", "127.0.0.1", "-p", port, "-t", "t", "-q", "1")
			s.subscribed()
			out, err := pub(t, "-h", lan, "-p", port, "-t", "t", "-m", "from-"+lan, "-q", "1")
			if allow {
				if err != nil {
					t.Fatalf("an anonymous client from %s was refused: %s", lan, out)
				}
				if got := s.message(); got != "t from-"+lan {
					t.Errorf("got %q", got)
				}
				return
			}
			if err == nil || !strings.Contains(out, "not authorised") {
				t.Errorf("an anonymous client from %s: %v, %q; want it refused", lan, err, out)
			}
			mustPub(t, "-h", "127.0.0.1", "-p", port, "-t", "t", "-m", "from-loopback", "-q", "1")
			if got := s.message(); got != "t from-loopback" {
				t.Errorf("got %q, want only the loopback client's message", got)
			}
		})
	}
}

func TestBrokerTLS(t *testing.T) {
	p := newPKI(t)
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.caDER}), 0o644); err != nil {
		t.Fatal(err)
	}
	pw, _ := passwords(t, "alice", "correct horse")
	b, _ := startAuthBroker(t, mqtt.BrokerOptions{TLSListen: "127.0.0.1:0", Certificate: &p.server, Auth: mqtt.BrokerAuth{Passwords: pw}})
	if b.Addr() != "" {
		t.Errorf("Addr() = %q with no plain listener", b.Addr())
	}
	at := append(hostPort(t, b.TLSAddr()), "--cafile", ca, "-u", "alice", "-P", "correct horse")
	s := startSub(t, append(at, "-t", "secure/#", "-q", "1")...)
	s.subscribed()
	mustPub(t, append(at, "-t", "secure/x", "-m", "over TLS", "-q", "1")...)
	if got := s.message(); got != "secure/x over TLS" {
		t.Errorf("got %q", got)
	}
	// mosquitto_pub's --tls-version is a minimum: ask for 1.1 at most here.
	if c, err := tls.Dial("tcp", b.TLSAddr(), &tls.Config{RootCAs: p.roots, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}); err == nil {
		c.Close()
		t.Error("a TLS 1.1 handshake succeeded")
	}
	other := newPKI(t)
	if out, err := pub(t, append(hostPort(t, b.TLSAddr()), "-u", "alice", "-P", "correct horse", "-t", "x", "-m", "y")...); err == nil {
		t.Errorf("plain MQTT on the TLS port got in: %s", out)
	}
	// A new certificate for the connections to come.
	b.SetCertificate(&other.server)
	if out, err := pub(t, append(at, "-t", "secure/x", "-m", "old CA")...); err == nil {
		t.Errorf("the old CA still verifies after SetCertificate: %s", out)
	}
}

func TestBrokerReload(t *testing.T) {
	_, file := passwords(t, "alice", "correct horse", "bob", "b", "carol", "c")
	b, logs := startAuthBroker(t, mqtt.BrokerOptions{Auth: mqtt.BrokerAuth{Passwords: readPasswords(t, file)}})
	at := hostPort(t, b.Addr())
	alice := startSub(t, append(at, "-u", "alice", "-P", "correct horse", "-t", "t", "-q", "1")...)
	bob := startSub(t, append(at, "-u", "bob", "-P", "b", "-t", "t", "-q", "1")...)
	carol := startSub(t, append(at, "-u", "carol", "-P", "c", "-t", "t", "-q", "1")...)
	for _, s := range []*sub{alice, bob, carol} {
		s.subscribed()
	}
	passwd := tool(t, "mosquitto_passwd")
	if out, err := exec.Command(passwd, "-D", file, "bob").CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if out, err := exec.Command(passwd, "-b", file, "carol", "c2").CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if n := b.Reload(mqtt.BrokerAuth{Passwords: readPasswords(t, file)}); n != 2 {
		t.Errorf("Reload disconnected %d clients, want 2 (bob removed, carol's password changed)", n)
	}
	// mosquitto_sub connects again on its own, and is refused for good.
	if out := bob.exited(); !strings.Contains(out, "not authorised") {
		t.Errorf("bob's mosquitto_sub ended without being refused:\n%s", out)
	}
	carol.exited()
	mustPub(t, append(at, "-u", "alice", "-P", "correct horse", "-t", "t", "-m", "still here", "-q", "1")...)
	if got := alice.message(); got != "t still here" {
		t.Errorf("alice got %q", got)
	}
	if out, err := pub(t, append(at, "-u", "bob", "-P", "b", "-t", "t", "-m", "x")...); err == nil {
		t.Errorf("bob logged in after he was removed: %s", out)
	}
	mustPub(t, append(at, "-u", "carol", "-P", "c2", "-t", "t", "-m", "new password", "-q", "1")...)
	if got := alice.message(); got != "t new password" {
		t.Errorf("alice got %q", got)
	}
	if st := b.Stats(); st.ReloadDisconnects != 2 {
		t.Errorf("Stats: %d disconnected by reload, want 2", st.ReloadDisconnects)
	}
	if log := logs.all(); !strings.Contains(log, "disconnected after a reload") || !strings.Contains(log, "user=bob") {
		t.Errorf("the broker's log does not tell who was disconnected:\n%s", log)
	}
}

// The gateway's connection gets in with its credential only, on its own
// listener, past any ACL; no one else can have its client id.
func TestBrokerGatewayCredentials(t *testing.T) {
	pw, _ := passwords(t, "alice", "correct horse")
	b, _ := startAuthBroker(t, mqtt.BrokerOptions{
		Auth: mqtt.BrokerAuth{Passwords: pw, ACL: acl(t, "user alice\ntopic read #\n"), GatewayClientID: "iogate-edge"},
	})
	user, password := b.GatewayCredentials()
	if user == "" || len(password) < 32 {
		t.Fatalf("GatewayCredentials() = %q, %d characters", user, len(password))
	}
	other, _ := startAuthBroker(t, mqtt.BrokerOptions{})
	if _, p2 := other.GatewayCredentials(); p2 == password {
		t.Error("two brokers made the same gateway password")
	}
	gw := dial(t, b.GatewayAddr(), nil, mqtt.Options{ClientID: "iogate-edge", Username: user, Password: password, CleanSession: true})
	gw.expect("connected false")
	gw.subscribe("iogate/edge/+/tx")

	at := hostPort(t, b.Addr())
	s := startSub(t, append(at, "-u", "alice", "-P", "correct horse", "-t", "#", "-q", "1")...)
	s.subscribed()
	gw.publish(mqtt.Message{Topic: "anywhere/at/all", Payload: []byte("the gateway"), QoS: 1})
	if got := s.message(); got != "anywhere/at/all the gateway" {
		t.Errorf("got %q", got)
	}
	for _, c := range []struct {
		name string
		args []string
	}{
		{"the gateway's client id", append(at, "-u", "alice", "-P", "correct horse", "-i", "iogate-edge")},
		{"the gateway's credential on the public listener", append(at, "-u", user, "-P", password)},
		{"a user on the gateway's listener", append(hostPort(t, b.GatewayAddr()), "-u", "alice", "-P", "correct horse")},
		{"anonymous on the gateway's listener", hostPort(t, b.GatewayAddr())},
	} {
		if out, err := pub(t, append(c.args, "-t", "iogate/edge/gps/tx", "-m", "x")...); err == nil {
			t.Errorf("%s got in: %s", c.name, out)
		}
	}
	gw.publish(mqtt.Message{Topic: "anywhere/else", Payload: []byte("still connected"), QoS: 1})
	if got := s.message(); got != "anywhere/else still connected" {
		t.Errorf("got %q: the gateway's session was taken over", got)
	}
	if st := b.Stats(); st.ClientIDRefused != 1 || st.LoginFailures != 3 {
		t.Errorf("Stats: %d client ids refused, %d login failures; want 1 and 3", st.ClientIDRefused, st.LoginFailures)
	}
}

func TestBrokerMaxClients(t *testing.T) {
	b, _ := startAuthBroker(t, mqtt.BrokerOptions{Limits: mqtt.BrokerLimits{MaxClients: 2}})
	at := hostPort(t, b.Addr())
	for i := range 2 {
		startSub(t, append(at, "-t", "t", "-i", fmt.Sprint("s", i))...).subscribed()
	}
	if out, err := pub(t, append(at, "-t", "t", "-m", "third")...); err == nil || !strings.Contains(out, "unavailable") {
		t.Errorf("a third client: %v, %q; want it refused as the broker is full", err, out)
	}
	if out, err := pub(t, append(at, "-V", "mqttv5", "-t", "t", "-m", "third")...); err == nil || !strings.Contains(out, "busy") {
		t.Errorf("a third MQTT 5 client: %v, %q; want it refused as the broker is full", err, out)
	}
	user, password := b.GatewayCredentials()
	gw := dial(t, b.GatewayAddr(), nil, mqtt.Options{ClientID: "gw", Username: user, Password: password, CleanSession: true})
	gw.expect("connected false")
	if st := b.Stats(); st.Busy != 2 || st.Clients != 3 {
		t.Errorf("Stats: %d refused as busy, %d clients; want 2 and 3", st.Busy, st.Clients)
	}
}

// Sessions kept for clients that went away make room for new clients.
func TestBrokerKeptSessions(t *testing.T) {
	b, _ := startAuthBroker(t, mqtt.BrokerOptions{Limits: mqtt.BrokerLimits{MaxClients: 2}})
	at := hostPort(t, b.Addr())
	for i := range 3 {
		// -c: a session kept after the client leaves; -q 1 so it queues.
		mustPub(t, append(at, "-c", "-i", fmt.Sprint("kept", i), "-t", "t", "-m", "x", "-q", "1")...)
	}
	s := startSub(t, append(at, "-t", "t", "-i", "new")...)
	s.subscribed()
	mustPub(t, append(at, "-t", "t", "-m", "room enough", "-q", "1")...)
	if got := s.message(); got != "t room enough" {
		t.Errorf("got %q", got)
	}
}

func TestBrokerRetainedFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "broker", "retained")
	b, _ := startAuthBroker(t, mqtt.BrokerOptions{RetainedFile: file})
	at := hostPort(t, b.Addr())
	mustPub(t, append(at, "-t", "box/setpoint", "-m", "21.5", "-r", "-q", "1")...)
	mustPub(t, append(at, "-t", "box/mode", "-m", "auto", "-r", "-q", "1")...)
	mustPub(t, append(at, "-t", "box/mode", "-m", "", "-r", "-q", "1")...) // cleared
	mustPub(t, append(at, "-V", "mqttv5", "-t", "box/soon-gone", "-m", "x", "-r", "-q", "1", "-D", "publish", "message-expiry-interval", "1")...)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(file); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("retained file: %v, %v; want mode 0600", st, err)
	}
	b, _ = startAuthBroker(t, mqtt.BrokerOptions{RetainedFile: file})
	at = hostPort(t, b.Addr())
	s := startSub(t, append(at, "-t", "box/#", "-q", "1")...)
	s.subscribed()
	mustPub(t, append(at, "-t", "box/zz", "-m", "marker", "-q", "1")...)
	var got []string
	for m := s.message(); m != "box/zz marker"; m = s.message() {
		got = append(got, m)
	}
	slices.Sort(got)
	if g := strings.Join(got, ","); g != "box/setpoint 21.5" && g != "box/setpoint 21.5,box/soon-gone x" {
		t.Errorf("after a restart, the retained messages are %q, want box/setpoint 21.5 (and box/soon-gone until it expires)", got)
	}
	// The expiry came back too: box/soon-gone goes.
	for end := time.Now().Add(reactortest.Deadline); b.Stats().Retained != 1; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("%d retained messages, want 1 once box/soon-gone expired", b.Stats().Retained)
		}
	}
}

// A change reaches the file without a Close, a moment later.
func TestBrokerRetainedSaved(t *testing.T) {
	file := filepath.Join(t.TempDir(), "retained")
	b, _ := startAuthBroker(t, mqtt.BrokerOptions{RetainedFile: file})
	mustPub(t, append(hostPort(t, b.Addr()), "-t", "status", "-m", "online", "-r", "-q", "1")...)
	for end := time.Now().Add(reactortest.Deadline); ; time.Sleep(10 * time.Millisecond) {
		if data, err := os.ReadFile(file); err == nil && strings.Contains(string(data), "online") {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("%s does not hold the retained message %v after it was published", file, reactortest.Deadline)
		}
	}
}

func TestBrokerMaxRetained(t *testing.T) {
	b, logs := startAuthBroker(t, mqtt.BrokerOptions{Limits: mqtt.BrokerLimits{MaxRetainedBytes: 20}})
	at := hostPort(t, b.Addr())
	mustPub(t, append(at, "-t", "a", "-m", "0123456789", "-r", "-q", "1")...)         // 11 bytes
	mustPub(t, append(at, "-t", "b", "-m", "0123456789", "-r", "-q", "1")...)         // 22: not retained
	mustPub(t, append(at, "-t", "a", "-m", "012345678901234567", "-r", "-q", "1")...) // replaces a: 19
	user, password := b.GatewayCredentials()
	gw := dial(t, b.GatewayAddr(), nil, mqtt.Options{ClientID: "gw", Username: user, Password: password, CleanSession: true})
	gw.expect("connected false")
	id := gw.publish(mqtt.Message{Topic: "g", Payload: []byte("the gateway's own"), QoS: 1, Retain: true})
	gw.expect(fmt.Sprintf("acked %d", id))
	s := startSub(t, append(at, "-t", "#")...)
	got := []string{s.message(), s.message()}
	slices.Sort(got)
	if strings.Join(got, ",") != "a 012345678901234567,g the gateway's own" {
		t.Errorf("retained: %q, want a's second and the gateway's, not b", got)
	}
	if st := b.Stats(); st.RetainedRefused != 1 || st.Retained != 2 {
		t.Errorf("Stats: %d refused, %d retained; want 1 and 2", st.RetainedRefused, st.Retained)
	}
	if !strings.Contains(logs.all(), "not retained") {
		t.Errorf("the refusal is not logged:\n%s", logs.all())
	}
}

func TestBrokerOptionsRefused(t *testing.T) {
	for _, o := range []mqtt.BrokerOptions{
		{},
		{Listen: ":0"},
		{TLSListen: "127.0.0.1:0"},
		{Listen: "127.0.0.1:0", Limits: mqtt.BrokerLimits{MaxInflight: 70000}},
	} {
		if b, err := mqtt.StartBrokerWith(o); err == nil {
			b.Close()
			t.Errorf("StartBrokerWith(%+v) started", o)
		}
	}
}

// A will the client may not publish is dropped when it connects.
func TestBrokerWillDenied(t *testing.T) {
	pw, _ := passwords(t, "viewer", "v", "operator", "o")
	b, logs := startAuthBroker(t, mqtt.BrokerOptions{Auth: mqtt.BrokerAuth{Passwords: pw, ACL: acl(t, viewersAndOperators)}})
	at := hostPort(t, b.Addr())
	s := startSub(t, append(at, "-u", "viewer", "-P", "v", "-t", "iogate/#", "-q", "1")...)
	s.subscribed()
	for _, user := range []string{"viewer", "operator"} {
		w := startSub(t, append(at, "-u", user, "-P", user[:1], "-t", "iogate/none/#", "--will-topic", "iogate/will", "--will-payload", "gone-"+user, "--will-qos", "1")...)
		w.subscribed()
		w.kill()
		waitClients(t, b, 1) // the broker saw it go, and sent its will if it was to
	}
	// The operator's will is published; the viewer's, whose connection
	// ended first, was dropped.
	if got := s.message(); got != "iogate/will gone-operator" {
		t.Errorf("got %q, want the operator's will only", got)
	}
	if st := b.Stats(); st.WillDenied != 1 {
		t.Errorf("Stats: %d wills denied, want 1", st.WillDenied)
	}
	if !strings.Contains(logs.all(), "will dropped") {
		t.Errorf("the dropped will is not logged:\n%s", logs.all())
	}
}

func TestBrokerMaxPacket(t *testing.T) {
	b, _ := startAuthBroker(t, mqtt.BrokerOptions{Limits: mqtt.BrokerLimits{MaxPacketSize: 2048}})
	at := hostPort(t, b.Addr())
	s := startSub(t, append(at, "-t", "t", "-q", "1")...)
	s.subscribed()
	if out, err := pub(t, append(at, "-t", "t", "-m", strings.Repeat("x", 4000), "-q", "1")...); err == nil {
		t.Errorf("a packet past the limit was taken: %s", out)
	}
	mustPub(t, append(at, "-t", "t", "-m", strings.Repeat("y", 1000), "-q", "1")...)
	if got := s.message(); got != "t "+strings.Repeat("y", 1000) {
		t.Errorf("got %q, want only the message within the limit", got)
	}
}

// A connection that says nothing is closed, and one past the listener's
// share is closed at once.
func TestBrokerIdleConnections(t *testing.T) {
	mqtt.SetConnectTimeout(200 * time.Millisecond)
	defer mqtt.SetConnectTimeout(10 * time.Second)
	b, _ := startAuthBroker(t, mqtt.BrokerOptions{Limits: mqtt.BrokerLimits{MaxClients: 1}})
	var conns []net.Conn
	for range 1 + 32 + 1 {
		c, err := net.Dial("tcp", b.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	for i, c := range conns {
		c.SetReadDeadline(time.Now().Add(reactortest.Deadline))
		if n, err := c.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("connection %d, silent: read %d, %v; want it closed", i, n, err)
		}
	}
	if st := b.Stats(); st.Busy != 1 {
		t.Errorf("Stats: %d refused as busy, want 1 (the connection past 1 + 32)", st.Busy)
	}
}

// A user cannot take another user's session by its client id: not while
// it is connected, and a kept one is dropped rather than handed over.
func TestBrokerSessionOwners(t *testing.T) {
	pw, _ := passwords(t, "alice", "a", "bob", "b")
	b, _ := startAuthBroker(t, mqtt.BrokerOptions{Auth: mqtt.BrokerAuth{Passwords: pw}})
	at := hostPort(t, b.Addr())
	alice := append(at, "-u", "alice", "-P", "a")
	bob := append(at, "-u", "bob", "-P", "b")

	live := startSub(t, append(alice, "-i", "shared", "-t", "t", "-q", "1")...)
	live.subscribed()
	if out, err := pub(t, append(bob, "-i", "shared", "-t", "t", "-m", "x")...); err == nil || !strings.Contains(out, "identifier rejected") {
		t.Errorf("bob with alice's connected client id: %v, %q; want it refused", err, out)
	}
	mustPub(t, append(alice, "-t", "t", "-m", "alice still here", "-q", "1")...)
	if got := live.message(); got != "t alice still here" {
		t.Errorf("got %q: alice's connection was taken", got)
	}

	live.kill()
	kept := startSub(t, append(alice, "-c", "-i", "kept", "-t", "t", "-q", "1")...)
	kept.subscribed()
	kept.kill()
	waitClients(t, b, 0)
	mustPub(t, append(alice, "-t", "t", "-m", "for alice", "-q", "1")...) // queued in her kept session
	s := startSub(t, append(bob, "-c", "-i", "kept", "-t", "other", "-q", "1")...)
	s.subscribed()
	mustPub(t, append(bob, "-t", "other", "-m", "marker", "-q", "1")...)
	if got := s.message(); got != "other marker" {
		t.Errorf("bob, with alice's kept client id, got %q first: her session was handed over", got)
	}
	if st := b.Stats(); st.ClientIDRefused != 1 {
		t.Errorf("Stats: %d client ids refused, want 1", st.ClientIDRefused)
	}
}

// A session kept for a client that went away gets the messages it may
// read queued, and they come when it is back.
func TestBrokerKeptSessionQueue(t *testing.T) {
	pw, _ := passwords(t, "viewer", "v", "operator", "o")
	b, _ := startAuthBroker(t, mqtt.BrokerOptions{Auth: mqtt.BrokerAuth{Passwords: pw, ACL: acl(t, viewersAndOperators)}})
	at := hostPort(t, b.Addr())
	viewer := append(at, "-u", "viewer", "-P", "v", "-c", "-i", "dashboard", "-t", "#", "-q", "1")
	s := startSub(t, viewer...)
	s.subscribed()
	s.kill()
	waitClients(t, b, 0)
	operator := append(at, "-u", "operator", "-P", "o")
	mustPub(t, append(operator, "-t", "elsewhere", "-m", "not for viewers", "-q", "1")...)
	mustPub(t, append(operator, "-t", "iogate/x", "-m", "while away", "-q", "1")...)
	back := startSub(t, viewer...)
	if got := back.message(); got != "iogate/x while away" {
		t.Errorf("back, the viewer got %q first, want what came while it was away", got)
	}
}

// A damaged retained file is set aside, and the broker starts without it.
func TestBrokerRetainedFileDamaged(t *testing.T) {
	file := filepath.Join(t.TempDir(), "retained")
	if err := os.WriteFile(file, []byte("iogate retained 1\nnot what it wrote"), 0o600); err != nil {
		t.Fatal(err)
	}
	b, logs := startAuthBroker(t, mqtt.BrokerOptions{RetainedFile: file})
	if st := b.Stats(); st.Retained != 0 {
		t.Errorf("%d retained messages from a damaged file", st.Retained)
	}
	if _, err := os.Stat(file + ".bad"); err != nil {
		t.Errorf("the damaged file was not set aside: %v", err)
	}
	if !strings.Contains(logs.all(), "retained messages not restored") {
		t.Errorf("the damage is not logged:\n%s", logs.all())
	}
}
