package auth

import (
	"testing"
	"time"
)

// TestVerifiedTokensStayBounded: a client minting a new token per request
// (the soak does) does not grow the memory of verified tokens beyond its
// bound.
func TestVerifiedTokensStayBounded(t *testing.T) {
	iss, err := NewIssuer([]byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	for i := range 3 * verifiedTokensMax {
		tok, err := iss.Issue(Claims{Tenant: "contoso", Subject: "u1", Roles: []string{"user"}}, time.Hour, now.Add(time.Duration(i)*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := iss.Verify(tok, now.Add(time.Duration(i)*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		if n := len(iss.seen.claims); n > verifiedTokensMax {
			t.Fatalf("after %d tokens, %d remembered, want at most %d", i+1, n, verifiedTokensMax)
		}
	}
}
