package auth

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/oklog/ulid/v2"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/events"
)

// Roles a token can carry: the domain's one list (domain.Roles).
const (
	RoleGlobalAdmin  = domain.RoleGlobalAdmin
	RoleUserAdmin    = domain.RoleUserAdmin
	RoleLicenseAdmin = domain.RoleLicenseAdmin
	RoleUser         = domain.RoleUser
	RoleIngest       = domain.RoleIngest
	RoleSCIM         = domain.RoleSCIM
)

// Roles lists every known role.
var Roles = domain.Roles

// AdminRoles are the roles the contract calls "any admin".
var AdminRoles = domain.DirectoryRoles

// ValidRole reports whether r is one of Roles.
func ValidRole(r string) bool { return slices.Contains(Roles, r) }

// TokenIssuer is the value of the "iss" claim of every Seatflow token.
const TokenIssuer = "seatflow"

// TokenAudience is the value of the "aud" claim of every Seatflow bearer
// token, checked on every request: a JWT some other system signed for
// itself, even with a shared key, is not a Seatflow token.
const TokenAudience = "seatflow-api"

// DefaultMaxTTL is Config.MaxTTL's default: no token lives longer than 30
// days.
const DefaultMaxTTL = 720 * time.Hour

// MaxClockSkew is how far in the future a token's iat may lie and still be
// accepted, so that instances whose clocks differ slightly accept each
// other's fresh tokens. Expiry is checked without leeway.
const MaxClockSkew = time.Minute

// maxTokenLen bounds what Verify parses; real tokens are a few hundred bytes.
const maxTokenLen = 8 << 10

// ErrInvalidToken is wrapped by every error Verify returns.
var ErrInvalidToken = errors.New("invalid token")

// ErrRevoked is wrapped (with ErrInvalidToken) by Verify's error for a token
// the revocation check refused.
var ErrRevoked = errors.New("token has been revoked")

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
	// ID is the token's unique id (the "jti" claim, a ULID), by which it
	// can be revoked. Issue ignores it and makes a new one; Verify fills it
	// in.
	ID string
	// IssuedAt and ExpiresAt bound the token's life. Issue ignores them and
	// sets now and now+ttl; Verify fills them in (whole seconds, UTC).
	IssuedAt, ExpiresAt time.Time
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

// jwtClaims is the JSON payload of a bearer token and of a console
// session (which adds csrf).
type jwtClaims struct {
	Tenant string   `json:"tenant"`
	Roles  []string `json:"roles"`
	CSRF   string   `json:"csrf,omitempty"`
	jwt.RegisteredClaims
}

// registeredClaims is a payload whose registered claims parse checks.
type registeredClaims interface {
	jwt.Claims
	registered() jwt.RegisteredClaims
}

func (c *jwtClaims) registered() jwt.RegisteredClaims { return c.RegisteredClaims }

// Config configures an Issuer.
type Config struct {
	// Keys sign (the current one) and verify (all of them, by kid).
	// Required.
	Keys Keys
	// MaxTTL is the longest life a token may have: Issue refuses a longer
	// ttl and Verify refuses a token whose exp-iat exceeds it. Default
	// DefaultMaxTTL.
	MaxTTL time.Duration
	// Revoked, if set, is asked about every token that is otherwise valid;
	// a non-nil error (wrapping ErrRevoked) refuses it.
	Revoked func(Claims) error
}

// Issuer signs and verifies tokens. It is safe for concurrent use.
type Issuer struct {
	keys    Keys
	maxTTL  time.Duration
	revoked func(Claims) error
	seen    verifiedTokens
}

// verifiedTokens remembers the claims of bearer tokens whose signature and
// claims checked out, so that a client sending the same token on every
// request costs a map lookup instead of a signature check and a JSON
// decode. What depends on the time (exp, nbf, iat) is checked again on
// every use, and the revocation check is asked every time. An Issuer's keys
// never change (a rotation builds a new Issuer), so a remembered token
// stays well signed. At most verifiedTokensMax are kept; when full, the
// memory starts again empty, so a caller minting a token per request (as
// the soak does) costs a bounded few hundred KiB, not a growing heap.
type verifiedTokens struct {
	mu     sync.Mutex
	claims map[string]jwtClaims
}

const verifiedTokensMax = 1024

func (v *verifiedTokens) get(token string, now time.Time) (jwtClaims, bool) {
	v.mu.Lock()
	jc, ok := v.claims[token]
	v.mu.Unlock()
	switch {
	case !ok:
		return jwtClaims{}, false
	case jc.ExpiresAt == nil || !now.Before(jc.ExpiresAt.Time),
		jc.NotBefore != nil && now.Before(jc.NotBefore.Time),
		jc.IssuedAt == nil || jc.IssuedAt.After(now.Add(MaxClockSkew)):
		return jwtClaims{}, false // parse says why
	}
	return jc, true
}

func (v *verifiedTokens) put(token string, jc jwtClaims) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.claims == nil || len(v.claims) >= verifiedTokensMax {
		v.claims = make(map[string]jwtClaims)
	}
	v.claims[token] = jc
}

// New returns an Issuer for cfg.
func New(cfg Config) (*Issuer, error) {
	if len(cfg.Keys.all) == 0 {
		return nil, errors.New("auth: no token key")
	}
	if cfg.MaxTTL == 0 {
		cfg.MaxTTL = DefaultMaxTTL
	}
	if cfg.MaxTTL < 0 {
		return nil, fmt.Errorf("auth: maximum token ttl %v is negative", cfg.MaxTTL)
	}
	return &Issuer{keys: cfg.Keys, maxTTL: cfg.MaxTTL, revoked: cfg.Revoked}, nil
}

// NewIssuer returns an Issuer with one key, secret (at least MinSecretLen
// bytes), and the default maximum ttl.
func NewIssuer(secret []byte) (*Issuer, error) {
	keys, err := NewKeys(secret)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	return New(Config{Keys: keys})
}

// MaxTTL is the longest life a token may have.
func (i *Issuer) MaxTTL() time.Duration { return i.maxTTL }

// Issue signs a token for c valid from now for ttl, with the current key
// (its id in the "kid" header), a new jti and aud TokenAudience. It returns
// an error wrapping ErrInvalidClaims when c has an invalid tenant or
// subject, no roles or an unknown role, or when ttl is not positive or
// above the maximum.
func (i *Issuer) Issue(c Claims, ttl time.Duration, now time.Time) (string, error) {
	if err := i.checkIssue(c, ttl); err != nil {
		return "", err
	}
	claims := jwtClaims{Tenant: c.Tenant, Roles: slices.Clone(c.Roles), RegisteredClaims: i.registered(TokenAudience, c.Subject, ttl, now)}
	return i.sign(claims)
}

// checkIssue refuses claims or a ttl that Verify would reject.
func (i *Issuer) checkIssue(c Claims, ttl time.Duration) error {
	p := c.problems()
	if ttl <= 0 {
		p = append(p, fmt.Sprintf("ttl %v is not positive", ttl))
	} else if ttl > i.maxTTL {
		p = append(p, fmt.Sprintf("ttl %v exceeds the maximum %v (--token-max-ttl)", ttl, i.maxTTL))
	}
	if len(p) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalidClaims, strings.Join(p, "; "))
	}
	return nil
}

// registered is the registered claims of a new token for audience: issuer
// TokenIssuer, a new ULID jti, iat now and exp now+ttl.
func (i *Issuer) registered(audience, subject string, ttl time.Duration, now time.Time) jwt.RegisteredClaims {
	return jwt.RegisteredClaims{
		Issuer:    TokenIssuer,
		Subject:   subject,
		Audience:  jwt.ClaimStrings{audience},
		ID:        ulid.Make().String(),
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}
}

// sign signs claims with the current key, its id in the "kid" header.
func (i *Issuer) sign(claims jwt.Claims) (string, error) {
	key := i.keys.Current()
	t := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	t.Header["kid"] = key.ID
	tok, err := t.SignedString(key.Secret)
	if err != nil {
		return "", fmt.Errorf("auth: sign token: %w", err)
	}
	return tok, nil
}

// Verify checks token's signature and claims at time now and returns what it
// says. The key is the one named by the token's kid; a token without kid
// (issued before keys had ids) or with an unknown one is refused. Every
// error wraps ErrInvalidToken; its text says why (expired, bad signature,
// unknown key, wrong audience, lifetime above the maximum, revoked, ...)
// and may be shown to the caller, as it reveals nothing about the keys.
func (i *Issuer) Verify(token string, now time.Time) (Claims, error) {
	if jc, ok := i.seen.get(token, now); ok {
		return i.identity(jc)
	}
	var jc jwtClaims
	if err := i.parse(token, now, TokenAudience, &jc); err != nil {
		return Claims{}, err
	}
	c, err := i.identity(jc)
	if err == nil {
		i.seen.put(token, jc)
	}
	return c, err
}

// parse checks token's signature, algorithm, key, issuer, audience, iat,
// exp, lifetime and jti at time now and decodes its payload into dst.
// Every error wraps ErrInvalidToken.
func (i *Issuer) parse(token string, now time.Time, audience string, dst registeredClaims) error {
	if len(token) > maxTokenLen {
		return fmt.Errorf("%w: longer than %d bytes", ErrInvalidToken, maxTokenLen)
	}
	p := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(TokenIssuer),
		jwt.WithAudience(audience),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(func() time.Time { return now }),
		jwt.WithStrictDecoding(),
	)
	_, err := p.ParseWithClaims(token, dst, func(t *jwt.Token) (any, error) {
		if t.Method != jwt.SigningMethodHS256 {
			return nil, fmt.Errorf("signing method %v is not HS256", t.Header["alg"])
		}
		kid, ok := t.Header["kid"].(string)
		if !ok || kid == "" {
			return nil, errors.New("kid is missing (a token issued before key ids: issue a new one)")
		}
		key, ok := i.keys.Find(kid)
		if !ok {
			return nil, fmt.Errorf("signed with an unknown or removed key (kid %.16q)", kid)
		}
		return key.Secret, nil
	})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	rc := dst.registered()
	if rc.IssuedAt == nil {
		return fmt.Errorf("%w: iat is missing", ErrInvalidToken)
	}
	if rc.IssuedAt.After(now.Add(MaxClockSkew)) {
		return fmt.Errorf("%w: issued in the future (iat %s)", ErrInvalidToken, rc.IssuedAt.UTC().Format(time.RFC3339))
	}
	if life := rc.ExpiresAt.Sub(rc.IssuedAt.Time); life > i.maxTTL {
		return fmt.Errorf("%w: lifetime %v exceeds the maximum %v", ErrInvalidToken, life, i.maxTTL)
	}
	if _, err := ulid.ParseStrict(rc.ID); err != nil {
		return fmt.Errorf("%w: jti %.40q is not a ULID", ErrInvalidToken, rc.ID)
	}
	return nil
}

// identity checks the identity a parsed token carries and asks the
// revocation check about it.
func (i *Issuer) identity(jc jwtClaims) (Claims, error) {
	c := Claims{Tenant: jc.Tenant, Subject: jc.Subject, Roles: slices.Clone(jc.Roles), ID: jc.ID,
		IssuedAt: jc.IssuedAt.UTC(), ExpiresAt: jc.ExpiresAt.UTC()}
	if p := c.problems(); len(p) > 0 {
		return Claims{}, fmt.Errorf("%w: %s", ErrInvalidToken, strings.Join(p, "; "))
	}
	if i.revoked != nil {
		if err := i.revoked(c); err != nil {
			return Claims{}, fmt.Errorf("%w: %w", ErrInvalidToken, err)
		}
	}
	return c, nil
}
