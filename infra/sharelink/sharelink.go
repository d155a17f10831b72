package sharelink

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/seatflow/seatflow/events"
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
type Signer struct{ key []byte }

// New returns a Signer whose key is derived from secret (the bearer-token
// secret).
func New(secret []byte) (*Signer, error) {
	if len(secret) < 32 {
		return nil, fmt.Errorf("sharelink: secret is %d bytes, need at least 32", len(secret))
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("seatflow share link v1"))
	return &Signer{key: m.Sum(nil)}, nil
}

// Sign returns the token for c.
func (s *Signer) Sign(c Claims) (string, error) {
	if !events.ValidTenant(c.Tenant) || !events.ValidID(c.RequestID) || !events.ValidID(c.ShareID) || c.ExpiresAt.IsZero() {
		return "", fmt.Errorf("sharelink: cannot sign %+v", c)
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, jwtClaims{
		Tenant: c.Tenant, RequestID: c.RequestID, ShareID: c.ShareID,
		RegisteredClaims: jwt.RegisteredClaims{Issuer: Issuer, ExpiresAt: jwt.NewNumericDate(c.ExpiresAt)},
	}).SignedString(s.key)
}

// Verify checks token at now. Errors wrap ErrInvalid or ErrExpired.
func (s *Signer) Verify(token string, now time.Time) (Claims, error) {
	if len(token) > 4096 {
		return Claims{}, fmt.Errorf("%w: too long", ErrInvalid)
	}
	p := jwt.NewParser(jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), jwt.WithIssuer(Issuer),
		jwt.WithExpirationRequired(), jwt.WithTimeFunc(func() time.Time { return now }), jwt.WithStrictDecoding())
	var jc jwtClaims
	_, err := p.ParseWithClaims(token, &jc, func(*jwt.Token) (any, error) { return s.key, nil })
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
