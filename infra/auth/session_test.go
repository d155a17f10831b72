package auth_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/seatflow/seatflow/infra/auth"
)

func TestSessionRoundTrip(t *testing.T) {
	iss := newIssuer(t)
	tok, s, err := iss.IssueSession(admin(), 8*time.Hour, now)
	if err != nil {
		t.Fatalf("IssueSession: %v", err)
	}
	got, err := iss.VerifySession(tok, now.Add(time.Hour))
	if err != nil {
		t.Fatalf("VerifySession: %v", err)
	}
	if got.Tenant != "acme" || got.Subject != "alice" || strings.Join(got.Roles, ",") != "license-admin,user" ||
		got.ID != s.ID || got.CSRF != s.CSRF || !got.ExpiresAt.Equal(now.Add(8*time.Hour)) || !got.IssuedAt.Equal(s.IssuedAt) {
		t.Fatalf("verified %+v, issued %+v", got, s)
	}
	if len(s.CSRF) < 20 {
		t.Errorf("CSRF token %q is too short to be unguessable", s.CSRF)
	}
	_, other, _ := iss.IssueSession(admin(), time.Hour, now)
	if other.CSRF == s.CSRF || other.ID == s.ID {
		t.Errorf("two sessions share a CSRF token or jti")
	}
	if err := got.CheckCSRF(s.CSRF); err != nil {
		t.Errorf("its own CSRF token: %v", err)
	}
	for _, bad := range []string{"", other.CSRF, s.CSRF + "x", strings.ToLower(s.CSRF)} {
		if err := got.CheckCSRF(bad); !errors.Is(err, auth.ErrBadCSRFToken) {
			t.Errorf("CheckCSRF(%q): got %v, want ErrBadCSRFToken", bad, err)
		}
	}
}

// A session and a bearer token cannot stand in for each other, nor can a
// login state for either.
func TestSessionAudiences(t *testing.T) {
	iss := newIssuer(t)
	session, _, err := iss.IssueSession(admin(), time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	bearer, err := iss.Issue(admin(), time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	login, err := iss.IssueLogin(auth.LoginState{State: "s", Nonce: "n", Verifier: "v"}, 10*time.Minute, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := iss.Verify(session, now); !errors.Is(err, auth.ErrInvalidToken) || !strings.Contains(err.Error(), "invalid audience") {
		t.Errorf("a session as a bearer token: got %v", err)
	}
	if _, err := iss.VerifySession(bearer, now); !errors.Is(err, auth.ErrInvalidToken) || !strings.Contains(err.Error(), "invalid audience") {
		t.Errorf("a bearer token as a session: got %v", err)
	}
	if _, err := iss.VerifySession(login, now); !errors.Is(err, auth.ErrInvalidToken) {
		t.Errorf("a login state as a session: got %v", err)
	}
	if _, err := iss.VerifyLogin(session, now); !errors.Is(err, auth.ErrInvalidToken) {
		t.Errorf("a session as a login state: got %v", err)
	}
}

func TestVerifySessionRejects(t *testing.T) {
	iss := newIssuer(t)
	tok, _, err := iss.IssueSession(admin(), time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(tok, ".")
	sess := func(k string, v any) jwt.MapClaims {
		m := jwt.MapClaims{"tenant": "acme", "sub": "alice", "roles": []string{"user"}, "iss": "seatflow",
			"aud": auth.SessionAudience, "jti": jti, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "csrf": "c"}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	hs := jwt.SigningMethodHS256
	flipped := []byte(parts[1])
	flipped[10] ^= 1
	cases := map[string]struct {
		token string
		at    time.Time
		want  string
	}{
		"expired":          {tok, now.Add(time.Hour), "token is expired"},
		"tampered payload": {parts[0] + "." + string(flipped) + "." + parts[2], now, ""},
		"other secret":     {sign(t, hs, []byte("another-secret-another-secret-xx"), sess("", nil)), now, "signature is invalid"},
		"no csrf":          {sign(t, hs, secret, sess("csrf", nil)), now, "csrf is missing"},
		"unknown role":     {sign(t, hs, secret, sess("roles", []string{"root"})), now, `role "root" is unknown`},
		"bad sub":          {sign(t, hs, secret, sess("sub", "a.b")), now, "not a valid user id"},
		"too long":         {sign(t, hs, secret, sess("exp", now.Add(auth.DefaultMaxTTL+time.Second).Unix())), now, "exceeds the maximum"},
	}
	if _, err := iss.VerifySession(sign(t, hs, secret, sess("", nil)), now); err != nil {
		t.Fatalf("the cases' base session does not verify: %v", err)
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			s, err := iss.VerifySession(tc.token, tc.at)
			if err == nil {
				t.Fatalf("accepted: %+v", s)
			}
			if !errors.Is(err, auth.ErrInvalidToken) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want ErrInvalidToken mentioning %q", err, tc.want)
			}
		})
	}
}

func TestSessionRevoked(t *testing.T) {
	keys, _ := auth.NewKeys(secret)
	var revoked string
	iss, err := auth.New(auth.Config{Keys: keys, Revoked: func(c auth.Claims) error {
		if c.ID == revoked {
			return auth.ErrRevoked
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	tok, s, err := iss.IssueSession(admin(), time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := iss.VerifySession(tok, now); err != nil {
		t.Fatalf("before sign-out: %v", err)
	}
	revoked = s.ID
	if _, err := iss.VerifySession(tok, now); !errors.Is(err, auth.ErrRevoked) {
		t.Fatalf("after its jti was revoked: got %v", err)
	}
}

func TestIssueSessionRefusesWhatIssueRefuses(t *testing.T) {
	iss := newIssuer(t)
	c := admin()
	c.Roles = []string{"root"}
	if _, _, err := iss.IssueSession(c, time.Hour, now); !errors.Is(err, auth.ErrInvalidClaims) {
		t.Errorf("unknown role: got %v", err)
	}
	if _, _, err := iss.IssueSession(admin(), auth.DefaultMaxTTL+time.Hour, now); !errors.Is(err, auth.ErrInvalidClaims) {
		t.Errorf("ttl above the maximum: got %v", err)
	}
}

func TestLoginState(t *testing.T) {
	iss := newIssuer(t)
	want := auth.LoginState{State: "state-1", Nonce: "nonce-1", Verifier: "verifier-1"}
	tok, err := iss.IssueLogin(want, 10*time.Minute, now)
	if err != nil {
		t.Fatal(err)
	}
	got, err := iss.VerifyLogin(tok, now.Add(9*time.Minute))
	if err != nil || got != want {
		t.Fatalf("VerifyLogin: got %+v, %v; want %+v", got, err, want)
	}
	if _, err := iss.VerifyLogin(tok, now.Add(10*time.Minute)); !errors.Is(err, auth.ErrInvalidToken) {
		t.Errorf("an expired login state: got %v", err)
	}
	if _, err := iss.IssueLogin(auth.LoginState{State: "s"}, time.Minute, now); !errors.Is(err, auth.ErrInvalidClaims) {
		t.Errorf("an incomplete login state was signed: %v", err)
	}
	parts := strings.Split(tok, ".")
	if _, err := iss.VerifyLogin(parts[0]+"."+parts[1]+"x."+parts[2], now); !errors.Is(err, auth.ErrInvalidToken) {
		t.Errorf("a tampered login state: got %v", err)
	}
}
