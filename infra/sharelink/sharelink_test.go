package sharelink_test

import (
	"errors"
	"testing"
	"time"

	"github.com/seatflow/seatflow/infra/auth"
	"github.com/seatflow/seatflow/infra/sharelink"
)

var secret = []byte("0123456789abcdef0123456789abcdef-test")

func TestSignVerify(t *testing.T) {
	s, err := sharelink.New(secret)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	c := sharelink.Claims{Tenant: "contoso", RequestID: "r1", ShareID: "sh1", ExpiresAt: now.Add(time.Hour)}
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
	other, _ := sharelink.New([]byte("another secret of at least 32 bytes!!"))
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
