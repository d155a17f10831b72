package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// SessionAudience is the "aud" claim of a console session (the value of
// the console's session cookie after an organisation sign-in). A session is
// not a bearer token: Verify refuses it and VerifySession refuses a bearer
// token, so neither can stand in for the other.
const SessionAudience = "seatflow-console"

// LoginAudience is the "aud" claim of the short-lived token that carries a
// console sign-in from the redirect to the identity provider to its return
// (LoginState).
const LoginAudience = "seatflow-console-login"

// ErrBadCSRFToken is returned by Session.CheckCSRF for a missing or wrong
// anti-forgery token.
var ErrBadCSRFToken = errors.New("the CSRF token is missing or does not belong to this session")

// ErrUnmapped is wrapped by the error of an organisation sign-in whose
// identity provider vouched for someone who is no Seatflow principal: the
// claims name no valid tenant or user id (see infra/oidc's Mapping).
var ErrUnmapped = errors.New("the identity provider's claims name no Seatflow user")

// Session is a console session: the same principal as a bearer token's
// (tenant, user, roles, jti, lifetime) and the session's anti-forgery
// token.
type Session struct {
	Claims
	// CSRF is the session's anti-forgery token: a request authenticated by
	// the session cookie that changes anything must carry it, which a page
	// of another origin cannot, since it cannot read it (a synchronizer
	// token kept inside the signed session, so no server state).
	CSRF string
}

// CheckCSRF reports ErrBadCSRFToken unless token is the session's CSRF
// token. The comparison takes the same time wherever they differ.
func (s Session) CheckCSRF(token string) error {
	if s.CSRF == "" || subtle.ConstantTimeCompare([]byte(token), []byte(s.CSRF)) != 1 {
		return ErrBadCSRFToken
	}
	return nil
}

// IssueSession signs a console session for c valid from now for ttl, with a
// new jti (by which signing out revokes it) and a new CSRF token. It
// refuses what Issue refuses.
func (i *Issuer) IssueSession(c Claims, ttl time.Duration, now time.Time) (string, Session, error) {
	if err := i.checkIssue(c, ttl); err != nil {
		return "", Session{}, err
	}
	claims := jwtClaims{Tenant: c.Tenant, Roles: slices.Clone(c.Roles), CSRF: rand.Text(),
		RegisteredClaims: i.registered(SessionAudience, c.Subject, ttl, now)}
	tok, err := i.sign(claims)
	if err != nil {
		return "", Session{}, err
	}
	rc := claims.RegisteredClaims
	return tok, Session{CSRF: claims.CSRF, Claims: Claims{Tenant: c.Tenant, Subject: c.Subject, Roles: claims.Roles, ID: rc.ID,
		IssuedAt: rc.IssuedAt.UTC(), ExpiresAt: rc.ExpiresAt.UTC()}}, nil
}

// VerifySession checks a console session as Verify checks a bearer token
// (signature, key, expiry, lifetime, identity, revocation) and returns it.
// Every error wraps ErrInvalidToken.
func (i *Issuer) VerifySession(token string, now time.Time) (Session, error) {
	var jc jwtClaims
	if err := i.parse(token, now, SessionAudience, &jc); err != nil {
		return Session{}, err
	}
	if jc.CSRF == "" {
		return Session{}, fmt.Errorf("%w: csrf is missing", ErrInvalidToken)
	}
	c, err := i.identity(jc)
	if err != nil {
		return Session{}, err
	}
	return Session{Claims: c, CSRF: jc.CSRF}, nil
}

// LoginState is what a console sign-in remembers between sending the
// browser to the identity provider and its return: the OAuth state the
// provider echoes, the OpenID Connect nonce the ID token must carry, and
// the PKCE code verifier that redeems the code.
type LoginState struct {
	State    string `json:"state"`
	Nonce    string `json:"nonce"`
	Verifier string `json:"verifier"`
}

type loginClaims struct {
	LoginState
	jwt.RegisteredClaims
}

func (c *loginClaims) registered() jwt.RegisteredClaims { return c.RegisteredClaims }

// IssueLogin signs l for ttl. The token is signed, not encrypted: it travels
// only between the browser that started the sign-in and this service, in
// an HttpOnly cookie, and what it holds is of use only to that browser's
// own sign-in.
func (i *Issuer) IssueLogin(l LoginState, ttl time.Duration, now time.Time) (string, error) {
	if l.State == "" || l.Nonce == "" || l.Verifier == "" {
		return "", fmt.Errorf("%w: a login state needs state, nonce and verifier", ErrInvalidClaims)
	}
	if ttl <= 0 || ttl > i.maxTTL {
		return "", fmt.Errorf("%w: ttl %v is not positive or exceeds the maximum %v", ErrInvalidClaims, ttl, i.maxTTL)
	}
	return i.sign(&loginClaims{LoginState: l, RegisteredClaims: i.registered(LoginAudience, "", ttl, now)})
}

// VerifyLogin checks a token IssueLogin made and returns its state. Every
// error wraps ErrInvalidToken.
func (i *Issuer) VerifyLogin(token string, now time.Time) (LoginState, error) {
	var lc loginClaims
	if err := i.parse(token, now, LoginAudience, &lc); err != nil {
		return LoginState{}, err
	}
	if lc.State == "" || lc.Nonce == "" || lc.Verifier == "" {
		return LoginState{}, fmt.Errorf("%w: the login state is incomplete", ErrInvalidToken)
	}
	return lc.LoginState, nil
}
