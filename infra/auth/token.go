package auth

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/seatflow/seatflow/events"
)

// Roles a token can carry.
const (
	RoleGlobalAdmin  = "global-admin"
	RoleUserAdmin    = "user-admin"
	RoleLicenseAdmin = "license-admin"
	RoleUser         = "user"
	// RoleIngest is for upstream systems that post sign-ins over HTTP.
	RoleIngest = "ingest"
)

// Roles lists every known role.
var Roles = []string{RoleGlobalAdmin, RoleUserAdmin, RoleLicenseAdmin, RoleUser, RoleIngest}

// AdminRoles are the roles the contract calls "any admin".
var AdminRoles = []string{RoleGlobalAdmin, RoleUserAdmin, RoleLicenseAdmin}

// ValidRole reports whether r is one of Roles.
func ValidRole(r string) bool { return slices.Contains(Roles, r) }

// TokenIssuer is the value of the "iss" claim of every Seatflow token.
const TokenIssuer = "seatflow"

// MinSecretLen is the shortest secret NewIssuer accepts: HS256 wants a key at
// least as long as its output.
const MinSecretLen = 32

// MaxClockSkew is how far in the future a token's iat may lie and still be
// accepted, so that instances whose clocks differ slightly accept each
// other's fresh tokens. Expiry is checked without leeway.
const MaxClockSkew = time.Minute

// maxTokenLen bounds what Verify parses; real tokens are a few hundred bytes.
const maxTokenLen = 8 << 10

// ErrInvalidToken is wrapped by every error Verify returns.
var ErrInvalidToken = errors.New("invalid token")

// ErrInvalidClaims is wrapped by every error Issue returns for claims or a
// ttl it refuses to sign.
var ErrInvalidClaims = errors.New("invalid claims")

// Claims is what a token says about its bearer.
type Claims struct {
	// Tenant is the organisation the bearer acts in; every request is
	// confined to it.
	Tenant string
	// Subject is the bearer's user id (the "sub" claim).
	Subject string
	// Roles are the bearer's roles, each one of Roles.
	Roles []string
	// ExpiresAt is when the token stops being valid. Issue ignores it and
	// sets now+ttl; Verify fills it in (whole seconds, UTC).
	ExpiresAt time.Time
}

// HasRole reports whether the claims hold at least one of roles.
func (c Claims) HasRole(roles ...string) bool {
	for _, r := range roles {
		if slices.Contains(c.Roles, r) {
			return true
		}
	}
	return false
}

// IsAdmin reports whether the claims hold any of AdminRoles.
func (c Claims) IsAdmin() bool { return c.HasRole(AdminRoles...) }

// problems lists everything wrong with the identity part of c.
func (c Claims) problems() []string {
	var p []string
	if c.Tenant == "" {
		p = append(p, "tenant is missing")
	} else if !events.ValidTenant(c.Tenant) {
		p = append(p, fmt.Sprintf("tenant %q is not valid (1-63 lower-case letters, digits and '-')", c.Tenant))
	}
	if c.Subject == "" {
		p = append(p, "sub is missing")
	} else if !events.ValidID(c.Subject) {
		p = append(p, fmt.Sprintf("sub %q is not a valid user id", c.Subject))
	}
	if len(c.Roles) == 0 {
		p = append(p, "roles are missing")
	}
	for _, r := range c.Roles {
		if !ValidRole(r) {
			p = append(p, fmt.Sprintf("role %q is unknown (known: %s)", r, strings.Join(Roles, ", ")))
		}
	}
	return p
}

// jwtClaims is the token's JSON payload.
type jwtClaims struct {
	Tenant string   `json:"tenant"`
	Roles  []string `json:"roles"`
	jwt.RegisteredClaims
}

// Issuer signs and verifies tokens with one HS256 secret. It is safe for
// concurrent use.
type Issuer struct {
	secret []byte
}

// NewIssuer returns an Issuer for secret, which must be at least
// MinSecretLen bytes. The secret is copied.
func NewIssuer(secret []byte) (*Issuer, error) {
	if len(secret) < MinSecretLen {
		return nil, fmt.Errorf("auth: token secret is %d bytes, need at least %d", len(secret), MinSecretLen)
	}
	return &Issuer{secret: slices.Clone(secret)}, nil
}

// Issue signs a token for c valid from now for ttl. It returns an error
// wrapping ErrInvalidClaims when c has an invalid tenant or subject, no
// roles or an unknown role, or when ttl is not positive.
func (i *Issuer) Issue(c Claims, ttl time.Duration, now time.Time) (string, error) {
	p := c.problems()
	if ttl <= 0 {
		p = append(p, fmt.Sprintf("ttl %v is not positive", ttl))
	}
	if len(p) > 0 {
		return "", fmt.Errorf("%w: %s", ErrInvalidClaims, strings.Join(p, "; "))
	}
	claims := jwtClaims{
		Tenant: c.Tenant,
		Roles:  slices.Clone(c.Roles),
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    TokenIssuer,
			Subject:   c.Subject,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(i.secret)
	if err != nil {
		return "", fmt.Errorf("auth: sign token: %w", err)
	}
	return tok, nil
}

// Verify checks token's signature and claims at time now and returns what it
// says. Every error wraps ErrInvalidToken; its text says why (expired, bad
// signature, wrong algorithm, missing tenant, unknown role, ...) and may be
// shown to the caller, as it reveals nothing about the secret.
func (i *Issuer) Verify(token string, now time.Time) (Claims, error) {
	if len(token) > maxTokenLen {
		return Claims{}, fmt.Errorf("%w: longer than %d bytes", ErrInvalidToken, maxTokenLen)
	}
	p := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(TokenIssuer),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(func() time.Time { return now }),
		jwt.WithStrictDecoding(),
	)
	var jc jwtClaims
	_, err := p.ParseWithClaims(token, &jc, func(t *jwt.Token) (any, error) {
		if t.Method != jwt.SigningMethodHS256 {
			return nil, fmt.Errorf("signing method %v is not HS256", t.Header["alg"])
		}
		return i.secret, nil
	})
	if err != nil {
		return Claims{}, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if jc.IssuedAt == nil {
		return Claims{}, fmt.Errorf("%w: iat is missing", ErrInvalidToken)
	}
	if jc.IssuedAt.After(now.Add(MaxClockSkew)) {
		return Claims{}, fmt.Errorf("%w: issued in the future (iat %s)", ErrInvalidToken, jc.IssuedAt.UTC().Format(time.RFC3339))
	}
	c := Claims{Tenant: jc.Tenant, Subject: jc.Subject, Roles: jc.Roles, ExpiresAt: jc.ExpiresAt.UTC()}
	if p := c.problems(); len(p) > 0 {
		return Claims{}, fmt.Errorf("%w: %s", ErrInvalidToken, strings.Join(p, "; "))
	}
	return c, nil
}
