package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/oklog/ulid/v2"

	"github.com/seatflow/seatflow/infra/auth"
	"github.com/seatflow/seatflow/infra/natstest"
)

// run runs one seatflow command with no environment and returns its
// output and exit code.
func run(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = Main(context.Background(), args, &out, &errOut, func(string) string { return "" })
	return out.String(), errOut.String(), code
}

// issueCLI runs `seatflow token` and returns the token and its jti.
func issueCLI(t *testing.T, args ...string) (tok, jti string) {
	t.Helper()
	out, errOut, code := run(t, append([]string{"token"}, args...)...)
	if code != 0 {
		t.Fatalf("seatflow token exited %d: %s", code, errOut)
	}
	// stderr: "token jti <jti> for <tenant>/<user>, expires ..."
	f := strings.Fields(errOut)
	if len(f) < 3 || f[0] != "token" || f[1] != "jti" {
		t.Fatalf("token's stderr %q does not start with its jti", errOut)
	}
	return strings.TrimSpace(out), f[2]
}

func TestTokenTTLAboveMaxIsRefused(t *testing.T) {
	t.Parallel()
	_, errOut, code := run(t, "token", "--token-secret", testSecret, "--tenant", "acme", "--user", "ann", "--role", "user", "--ttl", "876000h")
	if code != 2 || strings.Count(strings.TrimSpace(errOut), "\n") != 0 || !strings.Contains(errOut, "exceeds the maximum 720h0m0s") {
		t.Fatalf("ttl 876000h: exit %d, stderr %q; want 2 and one line naming the maximum", code, errOut)
	}
	_, errOut, code = run(t, "token", "--token-secret", testSecret, "--tenant", "acme", "--user", "ann", "--role", "user",
		"--ttl", "2h", "--token-max-ttl", "1h")
	if code != 2 || !strings.Contains(errOut, "exceeds the maximum 1h0m0s") {
		t.Fatalf("ttl 2h, max 1h: exit %d, stderr %q", code, errOut)
	}
	tok, jti := issueCLI(t, "--token-secret", testSecret, "--tenant", "acme", "--user", "ann", "--role", "user", "--ttl", "720h")
	c, err := mustIssuer(t).Verify(tok, time.Now())
	if err != nil || c.ID != jti || c.ExpiresAt.Sub(c.IssuedAt) != 720*time.Hour {
		t.Fatalf("ttl at the maximum: %+v, %v (jti printed %s)", c, err, jti)
	}
}

func mustIssuer(t *testing.T) *auth.Issuer {
	t.Helper()
	iss, err := auth.New(auth.Config{Keys: testKeys(t)})
	if err != nil {
		t.Fatal(err)
	}
	return iss
}

func TestTokenSecretHasOneForm(t *testing.T) {
	t.Parallel()
	for name, args := range map[string][]string{
		"raw, not hex":       {"--token-secret", "0123456789abcdef0123456789abcdef-test"},
		"hex, too short":     {"--token-secret", testSecret[:62]},
		"bad previous key":   {"--token-secret", testSecret, "--token-previous-secrets", "nope"},
		"previous = current": {"--token-secret", testSecret, "--token-previous-secrets", testSecret},
	} {
		t.Run(name, func(t *testing.T) {
			_, errOut, code := run(t, append([]string{"token", "--tenant", "acme", "--user", "ann", "--role", "user"}, args...)...)
			if code != 2 || strings.Count(strings.TrimSpace(errOut), "\n") != 0 || !strings.Contains(errOut, "token") {
				t.Fatalf("exit %d, stderr %q; want 2 and one line", code, errOut)
			}
		})
	}
	_, errOut, code := run(t, "serve", "--token-secret", "0123456789abcdef0123456789abcdef-test")
	if code != 2 || !strings.Contains(errOut, "--token-secret: bad token secret: not hex") {
		t.Fatalf("serve with a raw secret: exit %d, stderr %q", code, errOut)
	}
}

// TestTokenAudienceAndKeyChecked: a token signed with the service's own
// key but for another audience, or without kid, is refused.
func TestTokenAudienceAndKeyChecked(t *testing.T) {
	t.Parallel()
	svc, _ := startServe(t, t.TempDir())
	key := testKeys(t).Current()
	sign := func(aud any, kid string) string {
		now := time.Now()
		c := jwt.MapClaims{"tenant": "acme", "sub": "ann", "roles": []string{"global-admin"}, "iss": "seatflow",
			"jti": ulid.Make().String(), "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
		if aud != nil {
			c["aud"] = aud
		}
		tk := jwt.NewWithClaims(jwt.SigningMethodHS256, c)
		if kid != "" {
			tk.Header["kid"] = kid
		}
		s, err := tk.SignedString(key.Secret)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	svc.do(t, "GET", "/v1/products", sign(auth.TokenAudience, key.ID), nil).want(t, 200, "")
	r := svc.do(t, "GET", "/v1/products", sign("another-service", key.ID), nil).want(t, 401, "unauthorized")
	if !strings.Contains(r.raw, "audience") {
		t.Fatalf("wrong audience: body %s does not say why", r.raw)
	}
	svc.do(t, "GET", "/v1/products", sign(nil, key.ID), nil).want(t, 401, "unauthorized")
	svc.do(t, "GET", "/v1/products", sign(auth.TokenAudience, ""), nil).want(t, 401, "unauthorized")
}

// TestTokenRevokedOnEveryInstance: two instances on one NATS server; a
// token revoked with `seatflow token revoke` answers 401 on both within
// seconds, without a restart; other tokens keep working. Revoking a user
// refuses every token of theirs issued until then, not later ones. An
// instance started afterwards refuses the revoked tokens from its start.
func TestTokenRevokedOnEveryInstance(t *testing.T) {
	t.Parallel()
	srv := natstest.RunJetStream(t)
	creds := natstest.ServiceCreds(t)
	args := []string{"--nats-url", srv.ClientURL(), "--nats-creds", creds}
	a, _ := startServe(t, t.TempDir(), args...)
	b, _ := startServe(t, t.TempDir(), args...)
	issue := func(user string) (string, string) {
		return issueCLI(t, "--token-secret", testSecret, "--tenant", "acme", "--user", user, "--role", "global-admin")
	}
	victim, victimJTI := issue("ann")
	other, _ := issue("ann")
	bobs1, _ := issue("bob")
	bobs2, _ := issue("bob")
	for _, s := range []*service{a, b} {
		for _, tok := range []string{victim, other, bobs1, bobs2} {
			s.do(t, "GET", "/v1/products", tok, nil).want(t, 200, "")
		}
	}

	out, errOut, code := run(t, "token", "revoke", "--jti", victimJTI, "--nats-url", srv.ClientURL(), "--nats-creds", creds)
	if code != 0 || !strings.Contains(out, "revoked token "+victimJTI) {
		t.Fatalf("token revoke: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	revokedAt := time.Now()
	for _, s := range []*service{a, b} {
		waitFor(t, 5*time.Second, "the revoked token refused on "+s.base, func() bool {
			return s.do(t, "GET", "/v1/products", victim, nil).status == 401
		})
	}
	t.Logf("refused on both instances %s after the revocation", time.Since(revokedAt).Round(time.Millisecond))
	r := a.do(t, "GET", "/v1/products", victim, nil).want(t, 401, "unauthorized")
	if !strings.Contains(r.raw, "revoked") {
		t.Fatalf("revoked token: body %s does not say why", r.raw)
	}
	for _, s := range []*service{a, b} {
		for _, tok := range []string{other, bobs1, bobs2} {
			s.do(t, "GET", "/v1/products", tok, nil).want(t, 200, "")
		}
	}
	out, _, code = run(t, "token", "revoke", "--jti", victimJTI, "--nats-url", srv.ClientURL(), "--nats-creds", creds)
	if code != 0 || !strings.Contains(out, "already revoked") {
		t.Fatalf("revoking twice: exit %d, stdout %q", code, out)
	}

	// Every token of bob so far; one issued a second later still works.
	if out, errOut, code := run(t, "token", "revoke", "--tenant", "acme", "--user", "bob", "--nats-url", srv.ClientURL(), "--nats-creds", creds); code != 0 {
		t.Fatalf("token revoke --user: exit %d, %q %q", code, out, errOut)
	}
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second))) // iat is in whole seconds
	bobs3, _ := issue("bob")
	for _, s := range []*service{a, b} {
		for _, tok := range []string{bobs1, bobs2} {
			waitFor(t, 5*time.Second, "bob's tokens refused on "+s.base, func() bool {
				return s.do(t, "GET", "/v1/products", tok, nil).status == 401
			})
		}
		s.do(t, "GET", "/v1/products", bobs3, nil).want(t, 200, "")
		s.do(t, "GET", "/v1/products", other, nil).want(t, 200, "")
	}

	// A third instance, started after the revocations, has them at once.
	c, _ := startServe(t, t.TempDir(), args...)
	for _, tok := range []string{victim, bobs1} {
		c.do(t, "GET", "/v1/products", tok, nil).want(t, 401, "unauthorized")
	}
	c.do(t, "GET", "/v1/products", other, nil).want(t, 200, "")

	// Bad input is one line, exit 2.
	for _, bad := range [][]string{
		{"--jti", "not-a-ulid"},
		{},
		{"--jti", victimJTI, "--user", "bob"},
		{"--jti", ulid.Make().String(), "--until", "2001-01-01T00:00:00Z"},
		{"--jti", ulid.Make().String(), "--until", time.Now().Add(800 * time.Hour).UTC().Format(time.RFC3339)},
	} {
		_, errOut, code := run(t, append([]string{"token", "revoke", "--nats-url", srv.ClientURL(), "--nats-creds", creds}, bad...)...)
		if code != 2 || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
			t.Errorf("token revoke %v: exit %d, stderr %q; want 2 and one line", bad, code, errOut)
		}
	}
}

// TestTokenRevokeOnEmbeddedServer: `token revoke` finds the embedded
// server at --nats-listen and connects with the data dir's identity.
func TestTokenRevokeOnEmbeddedServer(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	svc, _ := startServe(t, dir)
	tok, jti := issueCLI(t, "--token-secret", testSecret, "--tenant", "acme", "--user", "ann", "--role", "global-admin")
	svc.do(t, "GET", "/v1/products", tok, nil).want(t, 200, "")
	listen := strings.TrimPrefix(svc.natsURL, "nats://")
	out, errOut, code := run(t, "token", "revoke", "--data-dir", dir, "--nats-listen", listen, "--jti", jti)
	if code != 0 {
		t.Fatalf("token revoke: exit %d, %q %q", code, out, errOut)
	}
	waitFor(t, 5*time.Second, "the revoked token refused", func() bool {
		return svc.do(t, "GET", "/v1/products", tok, nil).status == 401
	})
}

// TestTokenKeyRotation is the operator's rotation through the data dir's
// token-secret file: a new key is put in front, the old one kept below it;
// tokens of the old key keep working, new tokens are signed with the new
// key; once the old key is removed its tokens are refused.
func TestTokenKeyRotation(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	issue := func() string {
		tok, _ := issueCLI(t, "--data-dir", dir, "--tenant", "acme", "--user", "ann", "--role", "global-admin")
		return tok
	}
	serve := func() (*service, func()) {
		// No --token-secret: the keys come from the data dir's file.
		svc, stop := startServeArgs(t, []string{"serve", "--data-dir", dir, "--http", "127.0.0.1:0", "--nats-listen", "127.0.0.1:0"})
		return svc, stop
	}
	oldTok := issue()
	path := filepath.Join(dir, auth.SecretFile)
	oldKey, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	newKey := hex.EncodeToString(bytes.Repeat([]byte{0x5a}, 32))
	if err := os.WriteFile(path, []byte("# rotated\n"+newKey+"\n"+string(oldKey)), 0o600); err != nil {
		t.Fatal(err)
	}
	svc, stop := serve()
	newTok := issue()
	if kid := kidOf(t, newTok); kid != auth.KeyID(bytes.Repeat([]byte{0x5a}, 32)) {
		t.Fatalf("new token signed with kid %s, want the new key's", kid)
	}
	svc.do(t, "GET", "/v1/products", oldTok, nil).want(t, 200, "")
	svc.do(t, "GET", "/v1/products", newTok, nil).want(t, 200, "")
	stop()
	if err := os.WriteFile(path, []byte(newKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	svc, _ = serve()
	r := svc.do(t, "GET", "/v1/products", oldTok, nil).want(t, 401, "unauthorized")
	if !strings.Contains(r.raw, "unknown or removed key") {
		t.Fatalf("old token after the old key was removed: %s", r.raw)
	}
	svc.do(t, "GET", "/v1/products", newTok, nil).want(t, 200, "")
}

func kidOf(t *testing.T, tok string) string {
	t.Helper()
	p, _, err := jwt.NewParser().ParseUnverified(tok, jwt.MapClaims{})
	if err != nil {
		t.Fatal(err)
	}
	kid, _ := p.Header["kid"].(string)
	return kid
}
