package mqtt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"slices"
	"testing"

	"github.com/iogate/iogate/mqttauth"
)

// alice's password is "correct horse", made by mosquitto_passwd 2.0.11.
const alicePasswd = "alice:$7$101$qtXfVi7bjS1XyJkC$Z+i/YMbjZhnSQxDjukw9YOvbkZoviba75YzB0RooyzpYZH02wqKnhQNqyNyOQ6v/PbcVE2ai3ThGd7bbcHC/ag==\n"

func mustPasswords(t *testing.T, text string) *mqttauth.Passwords {
	t.Helper()
	p, err := mqttauth.ParsePasswords([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// The decision per connection, with addresses no test could connect from.
func TestLogin(t *testing.T) {
	pw := mustPasswords(t, alicePasswd)
	open := BrokerAuth{GatewayClientID: "iogate-gw"}
	anyone := BrokerAuth{AllowAnonymous: true, GatewayClientID: "iogate-gw"}
	locked := BrokerAuth{Passwords: pw, AllowAnonymous: true, GatewayClientID: "iogate-gw"}
	for _, c := range []struct {
		name           string
		auth           BrokerAuth
		listener       string
		remote, client string
		user, password string
		want           refusal
	}{
		{"loopback anonymous", open, plainListener, "127.0.0.1:50000", "c", "", "", admitted},
		{"loopback 127.0.0.2", open, plainListener, "127.0.0.2:50000", "c", "", "", admitted},
		{"loopback IPv6", open, tlsListener, "[::1]:50000", "c", "", "", admitted},
		{"loopback IPv4 in IPv6", open, plainListener, "[::ffff:127.0.0.1]:50000", "c", "", "", admitted},
		{"LAN anonymous", open, plainListener, "192.168.1.20:50000", "c", "", "", remoteAnon},
		{"LAN with an unproven user", open, plainListener, "192.168.1.20:50000", "c", "alice", "x", remoteAnon},
		{"LAN IPv6 anonymous", open, tlsListener, "[fe80::1%eth0]:50000", "c", "", "", remoteAnon},
		{"no address", open, plainListener, "", "c", "", "", remoteAnon},
		{"LAN allowed", anyone, plainListener, "192.168.1.20:50000", "c", "", "", admitted},
		{"password file: loopback anonymous", locked, plainListener, "127.0.0.1:50000", "c", "", "", anonymous},
		{"password file: LAN anonymous", locked, plainListener, "10.0.0.1:50000", "c", "", "", anonymous},
		{"password file: right", locked, plainListener, "10.0.0.1:50000", "c", "alice", "correct horse", admitted},
		{"password file: wrong", locked, plainListener, "127.0.0.1:50000", "c", "alice", "correct-horse", badLogin},
		{"password file: unknown user", locked, plainListener, "127.0.0.1:50000", "c", "bob", "correct horse", badLogin},
		{"gateway's client id", open, plainListener, "127.0.0.1:50000", "iogate-gw", "", "", reservedID},
		{"gateway's client id and credential elsewhere", open, plainListener, "127.0.0.1:50000", "iogate-gw", "iogate-gateway", "s3cret", reservedID},
		{"gateway", locked, gatewayListener, "127.0.0.1:50000", "iogate-gw", "iogate-gateway", "s3cret", admitted},
		{"gateway, wrong password", locked, gatewayListener, "127.0.0.1:50000", "iogate-gw", "iogate-gateway", "s3cre", badLogin},
		{"gateway, another id", locked, gatewayListener, "127.0.0.1:50000", "other", "iogate-gateway", "s3cret", admitted},
		{"gateway listener, a user of the file", locked, gatewayListener, "127.0.0.1:50000", "c", "alice", "correct horse", badLogin},
		{"gateway listener, anonymous", open, gatewayListener, "127.0.0.1:50000", "c", "", "", badLogin},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newAuthHook(nil, c.auth, 10, "iogate-gateway", "s3cret", nil, new(counters))
			s, got := h.login(c.listener, c.remote, c.client, []byte(c.user), []byte(c.password))
			if got != c.want || (s != nil) != (got == admitted) {
				t.Fatalf("login = %v, %v; want %v", s, got, c.want)
			}
			if s != nil && s.user != "" && s.user != c.user {
				t.Errorf("session user %q, want %q", s.user, c.user)
			}
			if s != nil && c.auth.Passwords == nil && s.user != "" {
				t.Errorf("session user %q without a password file: a user name proves nothing then", s.user)
			}
		})
	}
}

func TestRecheck(t *testing.T) {
	pw := mustPasswords(t, alicePasswd)
	again := mustPasswords(t, alicePasswd)
	changed := mustPasswords(t, "alice:$6$qtXfVi7bjS1XyJkC$Z+i/YMbjZhnSQxDjukw9YOvbkZoviba75YzB0RooyzpYZH02wqKnhQNqyNyOQ6v/PbcVE2ai3ThGd7bbcHC/ag==\n")
	none := mustPasswords(t, "")
	alice := &session{user: "alice", passwords: pw, remote: "10.0.0.1:5"}
	anonLAN := &session{remote: "10.0.0.1:5"}
	anonLocal := &session{remote: "127.0.0.1:5"}
	for _, c := range []struct {
		name string
		s    *session
		auth BrokerAuth
		stay bool
	}{
		{"same file", alice, BrokerAuth{Passwords: again}, true},
		{"password changed", alice, BrokerAuth{Passwords: changed}, false},
		{"user removed", alice, BrokerAuth{Passwords: none}, false},
		{"password file now", anonLocal, BrokerAuth{Passwords: pw}, false},
		{"password file gone, LAN", alice, BrokerAuth{}, false},
		{"password file gone, LAN allowed", alice, BrokerAuth{AllowAnonymous: true}, true},
		{"anonymous LAN no longer allowed", anonLAN, BrokerAuth{}, false},
		{"anonymous LAN still allowed", anonLAN, BrokerAuth{AllowAnonymous: true}, true},
		{"anonymous loopback", anonLocal, BrokerAuth{}, true},
	} {
		next, why := recheck(c.s, c.auth)
		if (why == "") != c.stay || (next != nil) != c.stay {
			t.Errorf("%s: recheck = %v, %q; want to stay %t", c.name, next, why, c.stay)
		}
	}
}

func TestRetainedFileRoundTrip(t *testing.T) {
	msgs := []retainedMessage{
		{Topic: "iogate/edge/status", Payload: []byte("online"), QoS: 1},
		{Topic: "a/b", Payload: []byte{0, 1, 2, 0xff}, V5: true, Expiry: 1900000000},
		{Topic: "ü/x", Payload: bytes.Repeat([]byte("x"), 70000), QoS: 2},
	}
	data := appendRetained([]byte("prefix"), msgs)
	got, err := decodeRetained(data[len("prefix"):])
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(msgs) {
		t.Fatalf("%d messages back, want %d", len(got), len(msgs))
	}
	for i := range msgs {
		if got[i].Topic != msgs[i].Topic || !bytes.Equal(got[i].Payload, msgs[i].Payload) ||
			got[i].QoS != msgs[i].QoS || got[i].V5 != msgs[i].V5 || got[i].Expiry != msgs[i].Expiry {
			t.Errorf("message %d: %+v, want %+v", i, got[i], msgs[i])
		}
	}
	if empty, err := decodeRetained(appendRetained(nil, nil)); err != nil || len(empty) != 0 {
		t.Errorf("no messages: %v, %v", empty, err)
	}
	for _, bad := range [][]byte{
		nil,
		[]byte("iogate retained 1\n"),
		append(data[len("prefix"):len(data)-1:len(data)-1], 0),                                                         // the checksum's last byte
		appendRetained(nil, []retainedMessage{{Topic: "a/+", Payload: []byte("x")}}),                                   // a wildcard
		appendRetained(nil, []retainedMessage{{Topic: "a", Payload: nil}}),                                             // an empty payload
		appendRetained(nil, []retainedMessage{{Topic: "a", Payload: []byte("1")}, {Topic: "a", Payload: []byte("2")}}), // twice
	} {
		if m, err := decodeRetained(bad); !errors.Is(err, errRetainedFile) {
			t.Errorf("decodeRetained(%q) = %v, %v; want errRetainedFile", bad, m, err)
		}
	}
}

// Whatever the file holds, decodeRetained returns messages that are valid
// to retain, or an error; what it returns encodes back to the same file.
// The input is a file without its checksum, which the target appends, so
// that the fuzzer reaches the messages.
func FuzzDecodeRetained(f *testing.F) {
	seed := func(msgs ...retainedMessage) []byte {
		b := appendRetained(nil, msgs)
		return b[:len(b)-4]
	}
	f.Add(seed(retainedMessage{Topic: "a/b", Payload: []byte("online"), QoS: 1}, retainedMessage{Topic: "c", Payload: []byte("x"), V5: true, Expiry: 5}))
	f.Add(seed())
	f.Add([]byte("iogate retained 1\n\x00\x00\x01"))
	f.Fuzz(func(t *testing.T, body []byte) {
		decodeRetained(body) // the checksum is likely wrong: an error, and no panic
		data := binary.BigEndian.AppendUint32(slices.Clip(body), crc32.Checksum(body, castagnoli))
		msgs, err := decodeRetained(data)
		if err != nil {
			if !errors.Is(err, errRetainedFile) {
				t.Fatalf("error %v is not errRetainedFile", err)
			}
			return
		}
		for _, m := range msgs {
			if checkTopic(m.Topic) != nil || len(m.Payload) == 0 || m.QoS > 2 || m.Expiry < 0 {
				t.Fatalf("decoded %+v", m)
			}
		}
		if again := appendRetained(nil, msgs); !bytes.Equal(again, data) {
			t.Fatalf("encodes back to %q, not %q", again, data)
		}
	})
}
