package sharelink_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/seatflow/seatflow/infra/auth"
	"github.com/seatflow/seatflow/infra/sharelink"
)

var (
	secret   = []byte("0123456789abcdef0123456789abcdef-test")
	newer    = []byte("fedcba9876543210fedcba9876543210-next")
	now      = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	theShare = sharelink.Claims{Tenant: "contoso", RequestID: "r1", ShareID: "sh1", ExpiresAt: now.Add(time.Hour)}
)

func signer(t *testing.T, secrets ...[]byte) *sharelink.Signer {
	t.Helper()
	keys, err := auth.NewKeys(secrets...)
	if err != nil {
		t.Fatal(err)
	}
	s, err := sharelink.New(keys)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSignVerify(t *testing.T) {
	s := signer(t, secret)
	c := theShare
	tok, err := s.Sign(c)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := s.Sign(c)
	if again != tok {
		t.Fatal("signing is not deterministic")
	}
	got, err := s.Verify(tok, now)
	if err != nil || got != c {
		t.Fatalf("verify: got %+v, %v", got, err)
	}
	if _, err := s.Verify(tok, now.Add(2*time.Hour)); !errors.Is(err, sharelink.ErrExpired) {
		t.Fatalf("expired: got %v", err)
	}
	other := signer(t, []byte("another secret of at least 32 bytes!!"))
	if _, err := other.Verify(tok, now); !errors.Is(err, sharelink.ErrInvalid) {
		t.Fatalf("forged: got %v", err)
	}
	if _, err := s.Verify(tok[:len(tok)-2]+"xx", now); !errors.Is(err, sharelink.ErrInvalid) {
		t.Fatalf("tampered: got %v", err)
	}
	// A bearer token is not a share link, and a share link no bearer token.
	iss, _ := auth.NewIssuer(secret)
	bearer, _ := iss.Issue(auth.Claims{Tenant: "contoso", Subject: "ada", Roles: []string{"global-admin"}}, time.Hour, now)
	if _, err := s.Verify(bearer, now); !errors.Is(err, sharelink.ErrInvalid) {
		t.Fatalf("bearer as link: got %v", err)
	}
	if _, err := iss.Verify(tok, now); err == nil {
		t.Fatal("link accepted as bearer token")
	}
}

// TestRotation: a link e-mailed before the key was rotated keeps working
// while the old key is kept, and stops once it is removed.
func TestRotation(t *testing.T) {
	old, err := signer(t, secret).Sign(theShare)
	if err != nil {
		t.Fatal(err)
	}
	during := signer(t, newer, secret)
	if _, err := during.Verify(old, now); err != nil {
		t.Fatalf("old link with the old key kept: %v", err)
	}
	fresh, err := during.Sign(theShare)
	if err != nil {
		t.Fatal(err)
	}
	if fresh == old {
		t.Fatal("the new key signed like the old one")
	}
	if !strings.Contains(header(t, fresh), auth.KeyID(newer)) {
		t.Fatalf("new link's header %s does not name the new key", header(t, fresh))
	}
	after := signer(t, newer)
	if _, err := after.Verify(old, now); !errors.Is(err, sharelink.ErrInvalid) {
		t.Fatalf("old link after the old key was removed: got %v", err)
	}
	if _, err := after.Verify(fresh, now); err != nil {
		t.Fatalf("new link after the old key was removed: %v", err)
	}
}

func header(t *testing.T, tok string) string {
	t.Helper()
	p, _, err := jwt.NewParser().ParseUnverified(tok, jwt.MapClaims{})
	if err != nil {
		t.Fatal(err)
	}
	return p.Header["kid"].(string)
}
