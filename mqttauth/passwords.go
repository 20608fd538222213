package mqttauth

import (
	"crypto/pbkdf2"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// MaxIterations bounds the PBKDF2 iterations of a "$7$" hash: a login costs
// that many HMAC-SHA512 rounds, and a file asking for billions would make
// every login a denial of service. mosquitto_passwd writes 101.
const MaxIterations = 10_000_000

// saltLen is the salt mosquitto_passwd makes and mosquitto insists on.
const saltLen = 12

// Passwords is a parsed password file: the users and the hashes of their
// passwords. It is safe for concurrent use; it never changes once parsed.
type Passwords struct {
	users map[string]hash
}

// hash is one user's entry. It is comparable, so that a reload can tell
// whether a user's password changed.
type hash struct {
	pbkdf2     bool // "$7$"; false for "$6$"
	iterations int
	salt       [saltLen]byte
	sum        [sha512.Size]byte
}

// dummy is checked against when the user is unknown, so that a wrong user
// name costs the same time as a wrong password.
var dummy = hash{pbkdf2: true, iterations: 101}

// ParsePasswords reads a password file in mosquitto_passwd's format: a line
// per user, "name:$7$iterations$salt$hash" (PBKDF2-SHA512, what mosquitto
// 2.x writes) or "name:$6$salt$hash" (SHA-512 of the password and the salt,
// mosquitto 1.x), salt and hash in base64. Blank lines and lines starting
// with '#' are skipped. A line mosquitto would drop (no hash, a plain-text
// password, a bad salt) is an error here, a *LineError.
func ParsePasswords(data []byte) (*Passwords, error) {
	p := &Passwords{users: map[string]hash{}}
	first := map[string]int{}
	err := lines(data, func(n int, line string) error {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			return nil
		}
		user, text, ok := strings.Cut(line, ":")
		user, text = strings.TrimSpace(user), strings.TrimSpace(text)
		switch {
		case !ok:
			return errors.New("want user:hash, as mosquitto_passwd writes")
		case user == "":
			return errors.New("empty user name before ':'")
		case len(user) > 65535:
			return fmt.Errorf("user name of %d bytes: MQTT allows 65535", len(user))
		}
		if at, dup := first[user]; dup {
			return fmt.Errorf("user %q is already on line %d", user, at)
		}
		h, err := parseHash(text)
		if err != nil {
			return fmt.Errorf("user %q: %w", user, err)
		}
		first[user] = n
		p.users[user] = h
		return nil
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

func parseHash(text string) (hash, error) {
	var h hash
	fields := strings.Split(text, "$")
	if len(fields) < 2 || fields[0] != "" {
		return h, errors.New("not a hash of mosquitto_passwd ($7$... or $6$...); plain-text passwords are not accepted")
	}
	switch fields[1] {
	case "7":
		if len(fields) != 5 {
			return h, errors.New("want $7$iterations$salt$hash")
		}
		n, err := strconv.Atoi(fields[2])
		if err != nil || n < 1 || n > MaxIterations {
			return h, fmt.Errorf("iterations %q: want 1 to %d", fields[2], MaxIterations)
		}
		h.pbkdf2, h.iterations = true, n
		fields = fields[3:]
	case "6":
		if len(fields) != 4 {
			return h, errors.New("want $6$salt$hash")
		}
		fields = fields[2:]
	default:
		return h, fmt.Errorf("hash type $%s$: want $7$ (PBKDF2-SHA512) or $6$ (SHA-512)", fields[1])
	}
	if err := decode(h.salt[:], fields[0]); err != nil {
		return h, fmt.Errorf("salt: %w", err)
	}
	if err := decode(h.sum[:], fields[1]); err != nil {
		return h, fmt.Errorf("hash: %w", err)
	}
	return h, nil
}

// decode fills dst with the base64 text, which must be exactly as long.
func decode(dst []byte, text string) error {
	b, err := base64.StdEncoding.DecodeString(text)
	if err != nil {
		b, err = base64.RawStdEncoding.DecodeString(text)
	}
	if err != nil {
		return fmt.Errorf("%q is not base64", text)
	}
	if len(b) != len(dst) {
		return fmt.Errorf("%d bytes, want %d", len(b), len(dst))
	}
	copy(dst, b)
	return nil
}

// Check reports whether password is user's. It takes as long for a user
// that is not in the file, and compares in constant time.
func (p *Passwords) Check(user, password string) bool {
	h, known := p.users[user]
	if !known {
		h = dummy
	}
	sum, ok := h.digest(password)
	return subtle.ConstantTimeCompare(sum[:], h.sum[:]) == 1 && ok && known
}

func (h *hash) digest(password string) (sum [sha512.Size]byte, ok bool) {
	if !h.pbkdf2 {
		return sha512.Sum512(append([]byte(password), h.salt[:]...)), true
	}
	key, err := pbkdf2.Key(sha512.New, password, h.salt[:], h.iterations, sha512.Size)
	if err != nil {
		return sum, false
	}
	copy(sum[:], key)
	return sum, true
}

// Has reports whether user is in the file.
func (p *Passwords) Has(user string) bool {
	_, ok := p.users[user]
	return ok
}

// Same reports whether user has the same entry in p and q: a client that
// logged in under p may stay under q. A password set again, even to the
// same one, has a new salt and is not the same.
func (p *Passwords) Same(user string, q *Passwords) bool {
	a, ok := p.users[user]
	b, ok2 := q.users[user]
	return ok && ok2 && a == b
}

// Users returns the user names, sorted.
func (p *Passwords) Users() []string {
	users := make([]string, 0, len(p.users))
	for u := range p.users {
		users = append(users, u)
	}
	slices.Sort(users)
	return users
}
