package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iogate/iogate/config"
)

// The broker's account for the gateway. The password is one nobody would
// write by chance, so that finding it in a log means it leaked.
const (
	brokerUser     = "gw-edge"
	brokerPassword = "pw-5f0c93e1-Sesame!"
)

// startAuthBroker starts a broker that lets the test's client in
// anonymously on mq.port, and wants brokerUser and brokerPassword on
// mq.port2.
func startAuthBroker(t *testing.T) *mosquitto {
	t.Helper()
	passwd, err := exec.LookPath("mosquitto_passwd")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("mosquitto_passwd is missing; CI must have it (apt-get install mosquitto: Debian ships it there)")
		}
		t.Skip("mosquitto_passwd is not installed (Debian's mosquitto package has it): cannot make a password file for mosquitto")
	}
	file := filepath.Join(sharedDir(t), "passwd")
	if out, err := exec.Command(passwd, "-c", "-b", file, brokerUser, brokerPassword).CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_passwd: %v: %s", err, out)
	}
	if err := os.Chmod(file, 0o644); err != nil { // mosquitto may read it as its own user
		t.Fatal(err)
	}
	return startMosquittoWith(t, func(port, authPort int) string {
		return "per_listener_settings true\n" + plainListener(port) +
			fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous false\npassword_file %s\n", authPort, file)
	})
}

// secretFile writes a password file for the gateway, with the newline an
// editor or echo leaves at the end.
func secretFile(t *testing.T, password string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "mqtt-password")
	if err := os.WriteFile(file, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// authGateway runs a gateway with debug logs against the broker's
// password listener, and checks that it gets in when it should, and is
// refused, says why and keeps trying when it should not. Either way it
// stops cleanly, and no secret appears anywhere in what it printed.
func authGateway(t *testing.T, mq *mosquitto, mqtt string, wantIn bool, refusedFor string, secrets ...string) {
	t.Helper()
	dev := plug(t, "gps")
	sub := subscribe(t, mq.url(), prefix+"/#")
	gw := startGatewayWith(t, gatewayOptions{mqtt: mqtt, args: []string{"--log-level", "debug"}},
		fmt.Sprintf("tcp://127.0.0.1:%d", mq.port2), dev.toml(""))
	if wantIn {
		waitOnline(t, sub, dev)
		dev.write("authenticated\n")
		sub.expect(dev.topic("rx"), "authenticated")
		// mosquitto: "New client connected from ... as iogate-edge-01 (p2, c1, k10, u'gw-edge')."
		// Its log is read on a goroutine of its own: wait for the line.
		mq.log.waitUntil(t, "mosquitto's line that the gateway logged in as "+brokerUser, func() bool {
			return mq.log.contains(fmt.Sprintf("as iogate-%s (", gatewayID)) && mq.log.contains(fmt.Sprintf("u'%s'", brokerUser))
		})
	} else {
		refusal := gw.log.waitFor(t, "warning: mqtt: cannot connect", func(e entry) bool {
			return e.is("warning", "mqtt: cannot connect")
		})
		if why := fmt.Sprint(refusal["error"]); !strings.Contains(why, "broker refused the connection") || !strings.Contains(why, refusedFor) {
			t.Errorf("cannot connect because %q, want the broker's refusal: %s", why, refusedFor)
		}
		mq.log.waitUntil(t, "second connection attempt", func() bool { return mq.connections(mq.port2) >= 2 })
		if got := sub.seen(prefix + "/status"); len(got) > 0 {
			t.Errorf("the gateway published its status %q though the broker refused it", got)
		}
	}
	gw.stop()
	if !gw.log.contains(`"level":"debug"`) && !gw.log.contains(`"level":"info"`) {
		t.Error("the gateway logged nothing: the check for secrets below would prove nothing")
	}
	for _, s := range secrets {
		if gw.log.contains(s) {
			t.Errorf("the password %q is in the gateway's log", s)
		}
	}
}

// A broker that wants a password gets it from password_file; a wrong one
// is refused with the broker's reason. The password is never logged, not
// even at debug level.
func TestBrokerPassword(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name       string
		user       string
		password   string // in password_file; "" for none
		refusedFor string // "" when it gets in
	}{
		{name: "right", user: brokerUser, password: brokerPassword},
		{name: "wrong", user: brokerUser, password: "not-" + brokerPassword, refusedFor: "not authorized"},
		{name: "unknown user", user: "intruder", password: brokerPassword, refusedFor: "not authorized"},
		{name: "none", user: brokerUser, refusedFor: "not authorized"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			mq := startAuthBroker(t)
			mqtt := fmt.Sprintf("username = %q", c.user)
			if c.password != "" {
				mqtt += fmt.Sprintf("\npassword_file = %q", secretFile(t, c.password))
			}
			authGateway(t, mq, mqtt, c.refusedFor == "", c.refusedFor, brokerPassword, "not-"+brokerPassword)
		})
	}
}

// The password may come from the environment instead of a file.
func TestBrokerPasswordFromEnv(t *testing.T) {
	t.Setenv(config.PasswordEnv, brokerPassword) // not parallel: the gateway inherits the environment
	mq := startAuthBroker(t)
	authGateway(t, mq, fmt.Sprintf("username = %q", brokerUser), true, "", brokerPassword)
}
