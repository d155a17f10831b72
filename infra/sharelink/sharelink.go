package sharelink

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/infra/auth"
)

// Issuer is the "iss" claim of every share link token.
const Issuer = "seatflow-share"

// ErrInvalid is wrapped by Verify's errors for a token that is malformed,
// forged or names no valid request or share.
var ErrInvalid = errors.New("invalid share link")

// ErrExpired is wrapped by Verify's error for a genuine token past its
// expiry.
var ErrExpired = errors.New("share link expired")

// Claims is what a share link says.
type Claims struct {
	Tenant    string
	RequestID string
	ShareID   string
	ExpiresAt time.Time
}

type jwtClaims struct {
	Tenant    string `json:"tenant"`
	RequestID string `json:"request_id"`
	ShareID   string `json:"share_id"`
	jwt.RegisteredClaims
}

// Signer signs and verifies share links. It is safe for concurrent use.
type Signer struct {
	// keys are derived from the bearer-token keys, in their order, each
	// under its base key's id.
	keys []auth.Key
}

// New returns a Signer whose keys are derived from the bearer-token keys:
// it signs with the current one (its kid in the header) and verifies with
// the one a link's kid names, so share links follow key rotation like
// bearer tokens.
func New(keys auth.Keys) (*Signer, error) {
	all := keys.All()
	if len(all) == 0 {
		return nil, errors.New("sharelink: no key")
	}
	s := &Signer{}
	for _, k := range all {
		m := hmac.New(sha256.New, k.Secret)
		m.Write([]byte("seatflow share link v1"))
		s.keys = append(s.keys, auth.Key{ID: k.ID, Secret: m.Sum(nil)})
	}
	return s, nil
}

// Sign returns the token for c.
func (s *Signer) Sign(c Claims) (string, error) {
	if !events.ValidTenant(c.Tenant) || !events.ValidID(c.RequestID) || !events.ValidID(c.ShareID) || c.ExpiresAt.IsZero() {
		return "", fmt.Errorf("sharelink: cannot sign %+v", c)
	}
	t := jwt.NewWithClaims(jwt.SigningMethodHS256, jwtClaims{
		Tenant: c.Tenant, RequestID: c.RequestID, ShareID: c.ShareID,
		RegisteredClaims: jwt.RegisteredClaims{Issuer: Issuer, ExpiresAt: jwt.NewNumericDate(c.ExpiresAt)},
	})
	t.Header["kid"] = s.keys[0].ID
	return t.SignedString(s.keys[0].Secret)
}

// keyFor picks the key a link's kid names. A link without kid was e-mailed
// before keys had ids: it is tried against the current key only, which is
// the one that signed it as long as the key has not been rotated; such
// links live no longer than the share (its expiry is in the link) and
// answer only that share.
func (s *Signer) keyFor(t *jwt.Token) (any, error) {
	kid, ok := t.Header["kid"]
	if !ok {
		return s.keys[0].Secret, nil
	}
	for _, k := range s.keys {
		if k.ID == kid {
			return k.Secret, nil
		}
	}
	return nil, errors.New("signed with an unknown or removed key")
}

// Verify checks token at now. Errors wrap ErrInvalid or ErrExpired.
func (s *Signer) Verify(token string, now time.Time) (Claims, error) {
	if len(token) > 4096 {
		return Claims{}, fmt.Errorf("%w: too long", ErrInvalid)
	}
	p := jwt.NewParser(jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), jwt.WithIssuer(Issuer),
		jwt.WithExpirationRequired(), jwt.WithTimeFunc(func() time.Time { return now }), jwt.WithStrictDecoding())
	var jc jwtClaims
	_, err := p.ParseWithClaims(token, &jc, s.keyFor)
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return Claims{}, fmt.Errorf("%w at %s", ErrExpired, jc.ExpiresAt.Time.UTC().Format(time.RFC3339))
	case err != nil:
		return Claims{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if !events.ValidTenant(jc.Tenant) || !events.ValidID(jc.RequestID) || !events.ValidID(jc.ShareID) {
		return Claims{}, fmt.Errorf("%w: bad claims", ErrInvalid)
	}
	return Claims{Tenant: jc.Tenant, RequestID: jc.RequestID, ShareID: jc.ShareID, ExpiresAt: jc.ExpiresAt.Time.UTC()}, nil
}
