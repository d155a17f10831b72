package auth

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// MinSecretLen is the shortest key accepted, in bytes: HS256 wants a key at
// least as long as its output.
const MinSecretLen = 32

// ErrBadSecret is wrapped by the errors of ParseSecret and NewKeys.
var ErrBadSecret = errors.New("bad token secret")

// Key is one HS256 key and its id, the "kid" header of what it signs.
type Key struct {
	ID     string
	Secret []byte
}

// KeyID derives the kid of secret: the first 8 bytes of a labelled SHA-256
// of it, in hex. It names the key without revealing anything usable about
// it, and needs no configuration: the same secret has the same kid on every
// instance.
func KeyID(secret []byte) string {
	h := sha256.New()
	h.Write([]byte("seatflow token key id\n"))
	h.Write(secret)
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// ParseSecret reads a secret in its one documented form: hex, at least
// MinSecretLen bytes (64 hex digits), as `openssl rand -hex 32` prints and
// the data dir's token-secret file holds. Surrounding space is ignored.
func ParseSecret(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: not hex (want %d or more hex digits, e.g. from `openssl rand -hex 32`)", ErrBadSecret, 2*MinSecretLen)
	}
	if len(b) < MinSecretLen {
		return nil, fmt.Errorf("%w: %d bytes, need at least %d (%d hex digits)", ErrBadSecret, len(b), MinSecretLen, 2*MinSecretLen)
	}
	return b, nil
}

// Keys are the keys tokens are signed and verified with: the first
// (Current) signs, every one verifies, picked by kid. Rotating means adding
// a new key in front and, once every token it signed has expired, removing
// the old one.
type Keys struct {
	all []Key
}

// NewKeys returns the keys for secrets, the first the current one. Every
// secret must be at least MinSecretLen bytes and no two may be equal.
func NewKeys(secrets ...[]byte) (Keys, error) {
	if len(secrets) == 0 {
		return Keys{}, fmt.Errorf("%w: no key", ErrBadSecret)
	}
	var k Keys
	for i, s := range secrets {
		if len(s) < MinSecretLen {
			return Keys{}, fmt.Errorf("%w: key %d is %d bytes, need at least %d", ErrBadSecret, i+1, len(s), MinSecretLen)
		}
		id := KeyID(s)
		if _, ok := k.Find(id); ok {
			return Keys{}, fmt.Errorf("%w: key %d repeats an earlier key (kid %s)", ErrBadSecret, i+1, id)
		}
		k.all = append(k.all, Key{ID: id, Secret: slices.Clone(s)})
	}
	return k, nil
}

// Current is the key that signs.
func (k Keys) Current() Key { return k.all[0] }

// All lists every key, the current one first.
func (k Keys) All() []Key { return slices.Clone(k.all) }

// Find returns the key whose id is kid.
func (k Keys) Find(kid string) (Key, bool) {
	i := slices.IndexFunc(k.all, func(key Key) bool { return key.ID == kid })
	if i < 0 {
		return Key{}, false
	}
	return k.all[i], true
}

// IDs lists the key ids, the current one first.
func (k Keys) IDs() []string {
	ids := make([]string, len(k.all))
	for i, key := range k.all {
		ids[i] = key.ID
	}
	return ids
}
