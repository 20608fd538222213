package mqtt

import (
	"cmp"
	"crypto/subtle"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/iogate/iogate/mqttauth"
)

// sessionExpiry is how long, in seconds, the broker keeps the session of a
// client that went away with clean session off: a day, where mochi would
// keep it forever.
const sessionExpiry = 24 * 60 * 60

// session is what the auth hook knows of a client it let in. It never
// changes: Reload replaces it.
type session struct {
	gateway   bool
	user      string              // the user name it proved; "" for an anonymous client
	passwords *mqttauth.Passwords // the file it proved it against
	remote    string
}

// refusal is why a client is not let in.
type refusal int

const (
	admitted refusal = iota
	badLogin
	anonymous  // no user name, with a password file
	remoteAnon // no password file, from beyond loopback, without AllowAnonymous
	reservedID
	otherUsers // the client id is connected as another user
	busy
)

func (r refusal) String() string {
	switch r {
	case badLogin:
		return "wrong user name or password"
	case anonymous:
		return "no user name: the password file wants one"
	case remoteAnon:
		return "from beyond loopback without a password file: anonymous clients are not allowed"
	case reservedID:
		return "the client id is the gateway's"
	case otherUsers:
		return "the client id is connected as another user"
	case busy:
		return "too many clients"
	}
	return "admitted"
}

// code is the CONNACK's for a client of MQTT version v. mochi turns a
// code MQTT 3 has into its MQTT 3 form; for the others, one it maps is
// chosen: "not authorized" and "server unavailable".
func (r refusal) code(v byte) packets.Code {
	switch {
	case r == reservedID || r == otherUsers:
		return packets.ErrClientIdentifierNotValid
	case r == busy && v == 5:
		return packets.ErrServerBusy
	case r == busy:
		return packets.ErrServerUnavailable
	case (r == anonymous || r == remoteAnon) && v == 5:
		return packets.ErrNotAuthorized
	}
	return packets.ErrBadUsernameOrPassword
}

// authHook decides who gets in and what they may do: mosquitto's password
// file and ACL, the loopback rule for anonymous clients, the gateway's own
// credential, and the client limit. Logins are judged in OnConnect rather
// than OnConnectAuthenticate, so that the refusal carries its own reason
// code and a full broker answers "busy".
type authHook struct {
	mochi.HookBase
	server     *mochi.Server
	auth       atomic.Pointer[BrokerAuth]
	maxClients int
	user       []byte
	secret     []byte
	log        *rateLog
	counts     *counters

	mu       sync.RWMutex
	sessions map[*mochi.Client]*session
}

func newAuthHook(server *mochi.Server, auth BrokerAuth, maxClients int, user, secret string, log *rateLog, counts *counters) *authHook {
	h := &authHook{
		server: server, maxClients: maxClients,
		user: []byte(user), secret: []byte(secret), log: log, counts: counts,
		sessions: map[*mochi.Client]*session{},
	}
	h.auth.Store(&auth)
	return h
}

func (h *authHook) ID() string { return "iogate-auth" }

func (h *authHook) Provides(b byte) bool {
	switch b {
	case mochi.OnConnect, mochi.OnConnectAuthenticate, mochi.OnDisconnect,
		mochi.OnACLCheck, mochi.OnSubscribe, mochi.OnPublish:
		return true
	}
	return false
}

// OnConnect lets a client in or refuses it with a CONNACK of its own.
func (h *authHook) OnConnect(cl *mochi.Client, pk packets.Packet) error {
	s, why := h.login(cl.Net.Listener, cl.Net.Remote, cl.ID, pk.Connect.Username, pk.Connect.Password)
	if why == admitted {
		why = h.claim(cl, s)
	}
	if why == admitted {
		why = h.admit(cl, s)
	}
	if why == admitted {
		h.checkWill(cl, s)
		return nil
	}
	switch why {
	case badLogin:
		h.counts.loginFailures.Add(1)
	case anonymous, remoteAnon:
		h.counts.anonymousRefused.Add(1)
	case reservedID, otherUsers:
		h.counts.clientIDRefused.Add(1)
	case busy:
		h.counts.busy.Add(1)
	}
	h.log.warn("login "+why.String(), cl.Net.Remote, "broker: login refused",
		"remote", cl.Net.Remote, "user", string(pk.Connect.Username), "client", cl.ID, "reason", why.String())
	code := why.code(cl.Properties.ProtocolVersion)
	h.server.SendConnack(cl, code, false, nil)
	return code
}

// login judges a CONNECT's credentials; it opens no session.
func (h *authHook) login(listener, remote, clientID string, user, password []byte) (*session, refusal) {
	if listener == gatewayListener {
		// Both compared, in constant time, whatever the first says.
		u := subtle.ConstantTimeCompare(user, h.user)
		p := subtle.ConstantTimeCompare(password, h.secret)
		if u&p == 1 {
			return &session{gateway: true, remote: remote}, admitted
		}
		return nil, badLogin
	}
	a := h.auth.Load()
	if a.GatewayClientID != "" && clientID == a.GatewayClientID {
		return nil, reservedID
	}
	if a.Passwords != nil {
		if len(user) == 0 {
			return nil, anonymous
		}
		if !a.Passwords.Check(string(user), string(password)) {
			return nil, badLogin
		}
		return &session{user: string(user), passwords: a.Passwords, remote: remote}, admitted
	}
	// Without a password file a user name proves nothing: the client is
	// anonymous, for the loopback rule and for the ACL.
	if !a.AllowAnonymous && !isLoopback(remote) {
		return nil, remoteAnon
	}
	return &session{remote: remote}, admitted
}

// isLoopback reports whether a client's address ("ip:port") is this
// machine's loopback.
func isLoopback(remote string) bool {
	ap, err := netip.ParseAddrPort(remote)
	return err == nil && ap.Addr().Unmap().IsLoopback()
}

// checkWill drops a will the client may not publish, as mosquitto does
// (it judges the will when it would send it; here it is judged at connect,
// by the ACL of that moment).
func (h *authHook) checkWill(cl *mochi.Client, s *session) {
	if cl.Properties.Will.Flag == 0 || h.allowed(cl, cl.Properties.Will.TopicName, mqttauth.Write) {
		return
	}
	h.counts.willDenied.Add(1)
	h.log.warn("will", cl.Net.Remote, "broker: will dropped: the ACL does not let the client publish to its topic",
		"remote", cl.Net.Remote, "user", s.user, "client", cl.ID, "topic", cl.Properties.Will.TopicName)
	cl.Properties.Will = mochi.Will{}
}

// claim keeps a user from taking over another user's session by its
// client id, which would hand it the messages queued for the other: a
// session kept for another user's client that went away is dropped first,
// and one still connected is not taken from it. mosquitto lets any user
// take any session over. Without a password file nobody proved a name,
// and every session is anyone's.
func (h *authHook) claim(cl *mochi.Client, s *session) refusal {
	if s.gateway || h.auth.Load().Passwords == nil {
		return admitted
	}
	old, ok := h.server.Clients.Get(cl.ID)
	if !ok || old.Net.Inline || string(old.Properties.Username) == s.user {
		return admitted
	}
	if !old.Closed() {
		return otherUsers
	}
	h.drop(old)
	return admitted
}

// drop forgets a session kept for a client that went away.
func (h *authHook) drop(c *mochi.Client) {
	h.server.UnsubscribeClient(c)
	c.ClearInflights()
	h.server.Clients.Delete(c.ID)
}

// admit opens the session of a client that logged in, unless MaxClients
// others are connected. It makes room among the sessions kept for clients
// that went away if need be.
func (h *authHook) admit(cl *mochi.Client, s *session) refusal {
	h.mu.Lock()
	n := 0
	if !s.gateway {
		for c, o := range h.sessions {
			switch {
			case c.Closed():
				delete(h.sessions, c) // a client mochi dropped before OnDisconnect could tell
			case !o.gateway && c.ID != cl.ID: // the same id takes the session over
				n++
			}
		}
		if n >= h.maxClients {
			h.mu.Unlock()
			return busy
		}
	}
	h.sessions[cl] = s
	h.mu.Unlock()
	if !s.gateway {
		h.makeRoom(n, cl.ID)
	}
	return admitted
}

// makeRoom drops the oldest sessions kept for clients that went away
// until connected clients and kept sessions fit in MaxClients.
func (h *authHook) makeRoom(connected int, id string) {
	var kept []*mochi.Client
	for cid, c := range h.server.Clients.GetAll() {
		if cid != id && !c.Net.Inline && c.Net.Listener != gatewayListener && c.Closed() {
			kept = append(kept, c)
		}
	}
	extra := connected + 1 + len(kept) - h.maxClients
	if extra <= 0 {
		return
	}
	slices.SortFunc(kept, func(a, b *mochi.Client) int { return cmp.Compare(a.StopTime(), b.StopTime()) })
	for _, c := range kept[:min(extra, len(kept))] {
		h.drop(c)
	}
}

// OnConnectAuthenticate lets in the clients OnConnect admitted.
func (h *authHook) OnConnectAuthenticate(cl *mochi.Client, _ packets.Packet) bool {
	return h.session(cl) != nil
}

func (h *authHook) OnDisconnect(cl *mochi.Client, _ error, _ bool) {
	h.mu.Lock()
	delete(h.sessions, cl)
	h.mu.Unlock()
}

func (h *authHook) session(cl *mochi.Client) *session {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.sessions[cl]
}

// allowed reports whether the ACL lets cl have access to topic. The user
// is taken from the client rather than from its session: a session kept
// for a client that went away has none here, and still gets its messages
// queued. With a password file, every client in the broker proved its
// user name; without one, nobody did, and every client is anonymous.
func (h *authHook) allowed(cl *mochi.Client, topic string, access mqttauth.Access) bool {
	if cl.Net.Listener == gatewayListener {
		return true
	}
	a := h.auth.Load()
	if a.ACL == nil {
		return true
	}
	user := ""
	if a.Passwords != nil {
		user = string(cl.Properties.Username)
	}
	return a.ACL.Allows(user, cl.ID, topic, access)
}

// OnACLCheck answers mochi's read checks: a subscription's filter, and
// each message on its way to a subscriber. As in mosquitto, a wildcard
// subscription is granted and each message is checked on delivery; a
// subscription to one topic is refused if the client may not read it
// (mosquitto grants it and delivers nothing). Writes are judged in
// OnPublish instead: mochi disconnects an MQTT 3 client whose publish
// fails here, where mosquitto acknowledges it and drops it.
func (h *authHook) OnACLCheck(cl *mochi.Client, topic string, write bool) bool {
	if write {
		return true
	}
	filter := unshared(topic)
	if strings.ContainsAny(filter, "+#") {
		return true
	}
	return h.allowed(cl, filter, mqttauth.Read)
}

// unshared is the filter of a shared subscription ("$share/group/filter").
func unshared(filter string) string {
	if rest, ok := strings.CutPrefix(filter, "$share/"); ok {
		if _, f, ok := strings.Cut(rest, "/"); ok {
			return f
		}
	}
	return filter
}

// OnSubscribe counts and logs the subscriptions OnACLCheck will refuse.
func (h *authHook) OnSubscribe(cl *mochi.Client, pk packets.Packet) packets.Packet {
	for _, sub := range pk.Filters {
		f := unshared(sub.Filter)
		if !strings.ContainsAny(f, "+#") && !h.allowed(cl, f, mqttauth.Read) {
			h.counts.subscribeDenied.Add(1)
			h.log.warn("subscribe", cl.Net.Remote, "broker: subscription denied by the ACL",
				"remote", cl.Net.Remote, "user", string(cl.Properties.Username), "client", cl.ID, "topic", sub.Filter)
		}
	}
	return pk
}

// OnPublish refuses what the ACL does not let the client write, after
// topic aliases are resolved, as mosquitto does: an MQTT 5 client's QoS 1
// publish is acknowledged with "not authorized", the others are
// acknowledged as usual and dropped.
func (h *authHook) OnPublish(cl *mochi.Client, pk packets.Packet) (packets.Packet, error) {
	if cl.Net.Inline {
		return pk, nil
	}
	// A client disconnected by a reload has no session left for what it
	// sent last.
	if h.session(cl) != nil && h.allowed(cl, pk.TopicName, mqttauth.Write) {
		return pk, nil
	}
	h.counts.publishDenied.Add(1)
	h.log.warn("publish", cl.Net.Remote, "broker: publish denied by the ACL",
		"remote", cl.Net.Remote, "user", string(cl.Properties.Username), "client", cl.ID, "topic", pk.TopicName)
	if cl.Properties.ProtocolVersion == 5 && pk.FixedHeader.Qos == 1 {
		return pk, packets.ErrNotAuthorized
	}
	return pk, packets.CodeSuccessIgnore
}

// reload applies new rules to the clients connected, as mosquitto's
// security_apply does.
func (h *authHook) reload(a BrokerAuth) int {
	h.auth.Store(&a)
	type kick struct {
		cl  *mochi.Client
		s   *session
		why string
	}
	var kicks []kick
	h.mu.Lock()
	for c, s := range h.sessions {
		if c.Closed() {
			delete(h.sessions, c)
			continue
		}
		if s.gateway {
			continue
		}
		next, why := recheck(s, a)
		if why != "" {
			kicks = append(kicks, kick{c, s, why})
			delete(h.sessions, c)
			continue
		}
		h.sessions[c] = next
	}
	h.mu.Unlock()
	for _, k := range kicks {
		h.counts.reloadDisconnects.Add(1)
		// Not rate-limited: one line per client the operator's change
		// disconnected, at most MaxClients of them.
		h.log.l.Warn("broker: client disconnected after a reload",
			"remote", k.s.remote, "user", k.s.user, "client", k.cl.ID, "reason", k.why)
		if k.cl.Properties.ProtocolVersion == 5 {
			h.server.DisconnectClient(k.cl, packets.ErrNotAuthorized)
		} else {
			k.cl.Stop(packets.ErrNotAuthorized) // MQTT 3 has no DISCONNECT from the broker: the connection just ends
		}
	}
	return len(kicks)
}

// recheck judges a client let in before by the new rules: its new
// session, or why it must go.
func recheck(s *session, a BrokerAuth) (*session, string) {
	if a.Passwords != nil {
		switch {
		case s.user == "":
			return nil, "a password file is in force: anonymous clients must log in"
		case !s.passwords.Same(s.user, a.Passwords):
			return nil, "its user was removed or its password changed"
		}
		return &session{user: s.user, passwords: a.Passwords, remote: s.remote}, ""
	}
	if !a.AllowAnonymous && !isLoopback(s.remote) {
		return nil, "no password file: clients beyond loopback are not allowed without embedded_allow_anonymous"
	}
	return &session{remote: s.remote}, ""
}
