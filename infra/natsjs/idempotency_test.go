package natsjs_test

import (
	"testing"
	"time"

	"github.com/seatflow/seatflow/infra/natsjs"
)

// TestIdempotencyKeysRememberWhenFirstSeen: a key is bound to the first
// request's fingerprint, per tenant, and every use reports when the key was
// first seen (the domain looks up repeats older than its memory from then).
func TestIdempotencyKeysRememberWhenFirstSeen(t *testing.T) {
	env := newStoreEnv(t)
	keys, err := natsjs.OpenIdempotencyKeys(testCtx(t), env.js, 1)
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	same, first, err := keys.Remember(testCtx(t), "contoso", "k-1", "fp-a")
	if err != nil || !same || first.Before(before.Add(-time.Second)) || first.After(time.Now()) {
		t.Fatalf("first use: same %v, first %v, err %v", same, first, err)
	}
	again, firstAgain, err := keys.Remember(testCtx(t), "contoso", "k-1", "fp-a")
	if err != nil || !again || firstAgain.Sub(first).Abs() > time.Second {
		t.Fatalf("repeat: same %v, first %v (was %v), err %v", again, firstAgain, first, err)
	}
	if other, _, err := keys.Remember(testCtx(t), "contoso", "k-1", "fp-b"); err != nil || other {
		t.Fatalf("another request under the key: same %v, err %v; want false", other, err)
	}
	if own, _, err := keys.Remember(testCtx(t), "fabrikam", "k-1", "fp-b"); err != nil || !own {
		t.Fatalf("the same key in another tenant: same %v, err %v; want its own", own, err)
	}
}
