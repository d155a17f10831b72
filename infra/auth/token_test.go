package auth_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/seatflow/seatflow/infra/auth"
)

var (
	secret = []byte("0123456789abcdef0123456789abcdef")
	now    = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
)

func newIssuer(t *testing.T) *auth.Issuer {
	t.Helper()
	iss, err := auth.NewIssuer(secret)
	if err != nil {
		t.Fatalf("NewIssuer: %v", err)
	}
	return iss
}

func admin() auth.Claims {
	return auth.Claims{Tenant: "acme", Subject: "alice", Roles: []string{auth.RoleLicenseAdmin, auth.RoleUser}}
}

func TestNewIssuerNeedsLongSecret(t *testing.T) {
	if _, err := auth.NewIssuer(secret[:31]); err == nil {
		t.Fatal("NewIssuer accepted a 31-byte secret")
	}
	if _, err := auth.NewIssuer(nil); err == nil {
		t.Fatal("NewIssuer accepted no secret")
	}
}

func TestIssueVerifyRoundTrip(t *testing.T) {
	iss := newIssuer(t)
	tok, err := iss.Issue(admin(), time.Hour, now)
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	got, err := iss.Verify(tok, now.Add(30*time.Minute))
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	want := admin()
	if got.Tenant != want.Tenant || got.Subject != want.Subject || strings.Join(got.Roles, ",") != strings.Join(want.Roles, ",") {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if !got.ExpiresAt.Equal(now.Add(time.Hour)) {
		t.Fatalf("ExpiresAt = %v, want %v", got.ExpiresAt, now.Add(time.Hour))
	}
	if !got.HasRole(auth.RoleUser) || !got.IsAdmin() || got.HasRole(auth.RoleIngest) {
		t.Fatalf("role checks wrong for %v", got.Roles)
	}
}

func TestTokenWireClaims(t *testing.T) {
	tok, err := newIssuer(t).Issue(admin(), time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	var m jwt.MapClaims
	if _, _, err := jwt.NewParser().ParseUnverified(tok, &m); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{"tenant": "acme", "sub": "alice", "iss": "seatflow",
		"exp": float64(now.Add(time.Hour).Unix()), "iat": float64(now.Unix())} {
		if m[k] != want {
			t.Errorf("claim %s = %v, want %v", k, m[k], want)
		}
	}
	if aud, _ := m["aud"].([]any); len(aud) != 1 || aud[0] != auth.TokenAudience {
		t.Errorf("claim aud = %v, want [%s]", m["aud"], auth.TokenAudience)
	}
	if id, _ := m["jti"].(string); len(id) != 26 {
		t.Errorf("claim jti = %v, want a ULID", m["jti"])
	}
	if roles, _ := m["roles"].([]any); len(roles) != 2 || roles[0] != "license-admin" {
		t.Errorf("claim roles = %v", m["roles"])
	}
	parts := strings.Split(tok, ".")
	hdr, _ := base64.RawURLEncoding.DecodeString(parts[0])
	if !strings.Contains(string(hdr), `"alg":"HS256"`) {
		t.Errorf("header %s is not HS256", hdr)
	}
	if want := `"kid":"` + auth.KeyID(secret) + `"`; !strings.Contains(string(hdr), want) {
		t.Errorf("header %s lacks %s", hdr, want)
	}
	other, _ := newIssuer(t).Issue(admin(), time.Hour, now)
	var m2 jwt.MapClaims
	if _, _, err := jwt.NewParser().ParseUnverified(other, &m2); err != nil || m2["jti"] == m["jti"] {
		t.Errorf("two tokens share jti %v", m["jti"])
	}
}

func TestIssueRefusesTTLAboveMax(t *testing.T) {
	iss := newIssuer(t)
	tok, err := iss.Issue(admin(), 876000*time.Hour, now)
	if err == nil || !errors.Is(err, auth.ErrInvalidClaims) || !strings.Contains(err.Error(), "exceeds the maximum 720h0m0s") {
		t.Fatalf("ttl 876000h: got %q, %v; want ErrInvalidClaims naming the maximum", tok, err)
	}
	if _, err := iss.Issue(admin(), auth.DefaultMaxTTL, now); err != nil {
		t.Fatalf("ttl at the maximum: %v", err)
	}
	keys, _ := auth.NewKeys(secret)
	short, err := auth.New(auth.Config{Keys: keys, MaxTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := short.Issue(admin(), 2*time.Hour, now); !errors.Is(err, auth.ErrInvalidClaims) {
		t.Fatalf("ttl 2h with max 1h: got %v", err)
	}
	// A verifier with a lower maximum refuses a longer-lived token
	// signed by one with a higher maximum.
	long, _ := iss.Issue(admin(), 2*time.Hour, now)
	if _, err := short.Verify(long, now); err == nil || !strings.Contains(err.Error(), "exceeds the maximum 1h0m0s") {
		t.Fatalf("2h token against max 1h: got %v", err)
	}
}

func TestRotation(t *testing.T) {
	oldKey := secret
	newKey := []byte("fedcba9876543210fedcba9876543210")
	issuer := func(secrets ...[]byte) *auth.Issuer {
		t.Helper()
		keys, err := auth.NewKeys(secrets...)
		if err != nil {
			t.Fatal(err)
		}
		iss, err := auth.New(auth.Config{Keys: keys})
		if err != nil {
			t.Fatal(err)
		}
		return iss
	}
	before := issuer(oldKey)
	oldTok, err := before.Issue(admin(), time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	// The new key is added in front: it signs, the old one still verifies.
	during := issuer(newKey, oldKey)
	if _, err := during.Verify(oldTok, now); err != nil {
		t.Fatalf("old key's token after the new key was added: %v", err)
	}
	newTok, err := during.Issue(admin(), time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := during.Verify(newTok, now); err != nil {
		t.Fatalf("new key's token: %v", err)
	}
	if _, err := before.Verify(newTok, now); err == nil {
		t.Fatal("an instance without the new key accepted its token")
	}
	// The old key is removed: its tokens stop, the new key's go on.
	after := issuer(newKey)
	if _, err := after.Verify(oldTok, now); err == nil || !strings.Contains(err.Error(), "unknown or removed key") {
		t.Fatalf("old key's token after the old key was removed: got %v", err)
	}
	if _, err := after.Verify(newTok, now); err != nil {
		t.Fatalf("new key's token after the old key was removed: %v", err)
	}
	// A token naming the new key's kid but signed with the old key fails.
	forged := signKid(t, jwt.SigningMethodHS256, oldKey, auth.KeyID(newKey), good())
	if _, err := after.Verify(forged, now); err == nil || !strings.Contains(err.Error(), "signature is invalid") {
		t.Fatalf("kid of one key, signature of another: got %v", err)
	}
}

func TestRevokedCallback(t *testing.T) {
	keys, _ := auth.NewKeys(secret)
	var asked auth.Claims
	iss, err := auth.New(auth.Config{Keys: keys, Revoked: func(c auth.Claims) error {
		asked = c
		if c.Subject == "alice" {
			return auth.ErrRevoked
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := iss.Issue(admin(), time.Hour, now)
	if _, err := iss.Verify(tok, now); !errors.Is(err, auth.ErrInvalidToken) || !errors.Is(err, auth.ErrRevoked) {
		t.Fatalf("revoked: got %v", err)
	}
	if asked.ID == "" || !asked.IssuedAt.Equal(now) {
		t.Fatalf("the revocation check got %+v, want the jti and iat", asked)
	}
	c := admin()
	c.Subject = "bob"
	tok, _ = iss.Issue(c, time.Hour, now)
	if _, err := iss.Verify(tok, now); err != nil {
		t.Fatalf("not revoked: %v", err)
	}
}

func TestParseSecret(t *testing.T) {
	const good = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
	if b, err := auth.ParseSecret(" " + good + "\n"); err != nil || len(b) != 32 {
		t.Fatalf("64 hex digits: got %x, %v", b, err)
	}
	for _, bad := range []string{"", "0123456789abcdef0123456789abcdef-test", good[:62], "correct horse battery staple correct horse battery staple horse"} {
		if _, err := auth.ParseSecret(bad); !errors.Is(err, auth.ErrBadSecret) {
			t.Errorf("ParseSecret(%q): got %v, want ErrBadSecret", bad, err)
		}
	}
}

func TestIssueRejectsBadInput(t *testing.T) {
	iss := newIssuer(t)
	cases := map[string]struct {
		mod  func(*auth.Claims)
		ttl  time.Duration
		want string
	}{
		"unknown role":    {func(c *auth.Claims) { c.Roles = []string{"root"} }, time.Hour, `role "root" is unknown`},
		"no roles":        {func(c *auth.Claims) { c.Roles = nil }, time.Hour, "roles are missing"},
		"bad tenant":      {func(c *auth.Claims) { c.Tenant = "Acme Corp" }, time.Hour, `tenant "Acme Corp" is not valid`},
		"no tenant":       {func(c *auth.Claims) { c.Tenant = "" }, time.Hour, "tenant is missing"},
		"no subject":      {func(c *auth.Claims) { c.Subject = "" }, time.Hour, "sub is missing"},
		"bad subject":     {func(c *auth.Claims) { c.Subject = "a.b" }, time.Hour, `sub "a.b" is not a valid user id`},
		"zero ttl":        {func(*auth.Claims) {}, 0, "ttl 0s is not positive"},
		"negative ttl":    {func(*auth.Claims) {}, -time.Second, "ttl -1s is not positive"},
		"wildcard tenant": {func(c *auth.Claims) { c.Tenant = "*" }, time.Hour, "is not valid"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c := admin()
			tc.mod(&c)
			tok, err := iss.Issue(c, tc.ttl, now)
			if err == nil {
				t.Fatalf("Issue signed %q", tok)
			}
			if !errors.Is(err, auth.ErrInvalidClaims) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want ErrInvalidClaims mentioning %q", err, tc.want)
			}
		})
	}
}

// sign builds a token with arbitrary claims and method, bypassing Issue,
// with the kid of secret in its header.
func sign(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	return signKid(t, method, key, auth.KeyID(secret), claims)
}

// signKid is sign with the given kid ("": none).
func signKid(t *testing.T, method jwt.SigningMethod, key any, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tk := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tk.Header["kid"] = kid
	}
	tok, err := tk.SignedString(key)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return tok
}

const jti = "01JDQ3ZK5Y9M6T4W8X2C7N1B0A"

func good() jwt.MapClaims {
	return jwt.MapClaims{"tenant": "acme", "sub": "alice", "roles": []string{"user"}, "iss": "seatflow",
		"aud": "seatflow-api", "jti": jti, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
}

func with(k string, v any) jwt.MapClaims {
	m := good()
	if v == nil {
		delete(m, k)
	} else {
		m[k] = v
	}
	return m
}

func TestVerifyRejects(t *testing.T) {
	iss := newIssuer(t)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	valid, err := iss.Issue(admin(), time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(valid, ".")
	hs := jwt.SigningMethodHS256
	cases := map[string]struct {
		token string
		at    time.Time
		want  string
	}{
		"expired":            {valid, now.Add(time.Hour), "token is expired"},
		"long expired":       {valid, now.Add(48 * time.Hour), "token is expired"},
		"issued in future":   {valid, now.Add(-2 * time.Minute), "issued in the future"},
		"nbf in future":      {sign(t, hs, secret, with("nbf", now.Add(time.Minute).Unix())), now, "not valid yet"},
		"alg none":           {sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, good()), now, "signing method none is invalid"},
		"alg none unsigned":  {base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + ".", now, "signing method none is invalid"},
		"RS256":              {sign(t, jwt.SigningMethodRS256, rsaKey, good()), now, "signing method RS256 is invalid"},
		"HS512":              {sign(t, jwt.SigningMethodHS512, secret, good()), now, "signing method HS512 is invalid"},
		"other secret":       {sign(t, hs, []byte("another-secret-another-secret-xx"), good()), now, "signature is invalid"},
		"tampered payload":   {parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"tenant":"other","sub":"alice","roles":["global-admin"],"iss":"seatflow","iat":1740830400,"exp":1740834000}`)) + "." + parts[2], now, "signature is invalid"},
		"no signature":       {parts[0] + "." + parts[1] + ".", now, "signature is invalid"},
		"garbage":            {"not-a-token", now, "malformed"},
		"empty":              {"", now, "malformed"},
		"huge":               {strings.Repeat("a", 10000), now, "longer than"},
		"no tenant":          {sign(t, hs, secret, with("tenant", nil)), now, "tenant is missing"},
		"bad tenant":         {sign(t, hs, secret, with("tenant", "ACME")), now, `tenant "ACME" is not valid`},
		"tenant not string":  {sign(t, hs, secret, with("tenant", 7)), now, "malformed"},
		"no sub":             {sign(t, hs, secret, with("sub", nil)), now, "sub is missing"},
		"empty sub":          {sign(t, hs, secret, with("sub", "")), now, "sub is missing"},
		"no roles":           {sign(t, hs, secret, with("roles", nil)), now, "roles are missing"},
		"empty roles":        {sign(t, hs, secret, with("roles", []string{})), now, "roles are missing"},
		"unknown role":       {sign(t, hs, secret, with("roles", []string{"user", "root"})), now, `role "root" is unknown`},
		"roles not array":    {sign(t, hs, secret, with("roles", "user")), now, "malformed"},
		"no exp":             {sign(t, hs, secret, with("exp", nil)), now, "exp claim is required"},
		"no iat":             {sign(t, hs, secret, with("iat", nil)), now, "iat is missing"},
		"wrong issuer":       {sign(t, hs, secret, with("iss", "someone-else")), now, "invalid issuer"},
		"no issuer":          {sign(t, hs, secret, with("iss", nil)), now, "iss claim is required"},
		"wrong audience":     {sign(t, hs, secret, with("aud", "another-api")), now, "token has invalid audience"},
		"no audience":        {sign(t, hs, secret, with("aud", nil)), now, "aud claim is required"},
		"no kid":             {signKid(t, hs, secret, "", good()), now, "kid is missing"},
		"unknown kid":        {signKid(t, hs, secret, "0011223344556677", good()), now, "unknown or removed key"},
		"no jti":             {sign(t, hs, secret, with("jti", nil)), now, "jti \"\" is not a ULID"},
		"jti not a ULID":     {sign(t, hs, secret, with("jti", "token-1")), now, "is not a ULID"},
		"lifetime above max": {sign(t, hs, secret, with("exp", now.Add(auth.DefaultMaxTTL+time.Second).Unix())), now, "lifetime 720h0m1s exceeds the maximum 720h0m0s"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c, err := iss.Verify(tc.token, tc.at)
			if err == nil {
				t.Fatalf("Verify accepted it: %+v", c)
			}
			if !errors.Is(err, auth.ErrInvalidToken) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error wrapping ErrInvalidToken mentioning %q", err, tc.want)
			}
		})
	}
}

func TestVerifyEdges(t *testing.T) {
	iss := newIssuer(t)
	tok, err := iss.Issue(admin(), time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := iss.Verify(tok, now.Add(time.Hour-time.Second)); err != nil {
		t.Errorf("one second before exp: %v", err)
	}
	if _, err := iss.Verify(tok, now.Add(-30*time.Second)); err != nil {
		t.Errorf("iat 30s ahead of the verifier's clock (within skew): %v", err)
	}
	if _, err := iss.Verify(sign(t, jwt.SigningMethodHS256, secret, with("nbf", now.Unix())), now); err != nil {
		t.Errorf("nbf now: %v", err)
	}
	if _, err := iss.Verify(sign(t, jwt.SigningMethodHS256, secret, with("roles", auth.Roles)), now); err != nil {
		t.Errorf("every known role: %v", err)
	}
	// A token verified before is remembered, but what depends on the time
	// is checked on every use.
	if _, err := iss.Verify(tok, now.Add(time.Hour)); !errors.Is(err, auth.ErrInvalidToken) {
		t.Errorf("at exp, after verifying it before: %v, want ErrInvalidToken", err)
	}
	if _, err := iss.Verify(tok, now.Add(-2*auth.MaxClockSkew)); !errors.Is(err, auth.ErrInvalidToken) {
		t.Errorf("iat beyond the skew ahead, after verifying it before: %v, want ErrInvalidToken", err)
	}
	early := sign(t, jwt.SigningMethodHS256, secret, with("nbf", now.Unix()))
	if _, err := iss.Verify(early, now); err != nil {
		t.Fatal(err)
	}
	if _, err := iss.Verify(early, now.Add(-time.Second)); !errors.Is(err, auth.ErrInvalidToken) {
		t.Errorf("before nbf, after verifying it at nbf: %v, want ErrInvalidToken", err)
	}
	c, err := iss.Verify(tok, now)
	if err != nil {
		t.Fatal(err)
	}
	c.Roles[0] = "someone-else"
	if again, _ := iss.Verify(tok, now); again.Roles[0] == "someone-else" {
		t.Error("a caller's change to the claims' roles reached the next verification")
	}
}

// BenchmarkVerify verifies the same token again and again, as a client's
// requests do.
func BenchmarkVerify(b *testing.B) {
	iss, err := auth.NewIssuer(secret)
	if err != nil {
		b.Fatal(err)
	}
	tok, err := iss.Issue(admin(), time.Hour, now)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := iss.Verify(tok, now); err != nil {
			b.Fatal(err)
		}
	}
}
