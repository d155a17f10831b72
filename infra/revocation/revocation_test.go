package revocation_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/seatflow/seatflow/infra/auth"
	"github.com/seatflow/seatflow/infra/natstest"
	"github.com/seatflow/seatflow/infra/revocation"
)

func TestRevokeAndWatch(t *testing.T) {
	srv := natstest.RunJetStream(t)
	_, js := natstest.Connect(t, srv.ClientURL())
	ctx := context.Background()
	kv, err := revocation.Open(ctx, js, 1)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	before := revocation.Entry{JTI: ulid.Make().String(), Until: now.Add(time.Hour)}
	if ok, err := revocation.Revoke(ctx, kv, before, now); !ok || err != nil {
		t.Fatalf("revoke: %v, %v", ok, err)
	}
	if ok, err := revocation.Revoke(ctx, kv, before, now); ok || err != nil {
		t.Fatalf("revoke again: got %v, %v; want false, nil", ok, err)
	}
	// An instance starting after the revocation has it once Watch returns.
	// The context bounds the loading only: the set keeps watching after
	// it ends.
	loadCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	set, err := revocation.Watch(loadCtx, kv, nil)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	defer set.Stop()
	iat := now.Truncate(time.Second)
	claims := func(jti, sub string, iat time.Time) auth.Claims {
		return auth.Claims{Tenant: "acme", Subject: sub, ID: jti, IssuedAt: iat}
	}
	if err := set.Check(claims(before.JTI, "ann", iat)); !errors.Is(err, auth.ErrRevoked) {
		t.Fatalf("revoked before Watch: got %v", err)
	}
	// A revocation made while watching arrives.
	later := ulid.Make().String()
	if err := set.Check(claims(later, "ann", iat)); err != nil {
		t.Fatalf("not yet revoked: %v", err)
	}
	if _, err := revocation.Revoke(ctx, kv, revocation.Entry{JTI: later, Until: now.Add(time.Hour)}, now); err != nil {
		t.Fatal(err)
	}
	natstest.CheckFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		if err := set.Check(claims(later, "ann", iat)); !errors.Is(err, auth.ErrRevoked) {
			return errors.New("the revocation has not arrived")
		}
		return nil
	})
	// By user: tokens issued at or before the revocation, not after.
	at := now.Add(-time.Minute)
	if _, err := revocation.Revoke(ctx, kv, revocation.Entry{Tenant: "acme", Subject: "bob@x", RevokedAt: at, Until: now.Add(time.Hour)}, now); err != nil {
		t.Fatal(err)
	}
	natstest.CheckFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		if err := set.Check(claims(ulid.Make().String(), "bob@x", at.Add(-time.Hour))); !errors.Is(err, auth.ErrRevoked) {
			return errors.New("the user's revocation has not arrived")
		}
		return nil
	})
	if err := set.Check(claims(ulid.Make().String(), "bob@x", at.Add(time.Second))); err != nil {
		t.Fatalf("token issued after the user's revocation: %v", err)
	}
	if err := set.Check(auth.Claims{Tenant: "other", Subject: "bob@x", ID: ulid.Make().String(), IssuedAt: at}); err != nil {
		t.Fatalf("same user id in another tenant: %v", err)
	}
	// An entry goes once its TTL has run out, with the token it revoked.
	short := ulid.Make().String()
	if _, err := revocation.Revoke(ctx, kv, revocation.Entry{JTI: short, Until: time.Now().Add(500 * time.Millisecond)}, time.Now()); err != nil {
		t.Fatal(err)
	}
	natstest.CheckFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		if set.Check(claims(short, "ann", iat)) == nil {
			return errors.New("the short revocation has not arrived")
		}
		return nil
	})
	natstest.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		if set.Check(claims(short, "ann", iat)) != nil {
			return errors.New("the expired revocation is still held")
		}
		return nil
	})
	if err := set.Check(claims(before.JTI, "ann", iat)); !errors.Is(err, auth.ErrRevoked) {
		t.Fatalf("a live revocation was dropped with the expired one: %v", err)
	}
}

func TestRevokeRefusesBadEntries(t *testing.T) {
	srv := natstest.RunJetStream(t)
	_, js := natstest.Connect(t, srv.ClientURL())
	ctx := context.Background()
	kv, err := revocation.Open(ctx, js, 1)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for name, e := range map[string]revocation.Entry{
		"not a ULID":   {JTI: "token-1", Until: now.Add(time.Hour)},
		"both":         {JTI: ulid.Make().String(), Tenant: "acme", Subject: "ann", Until: now.Add(time.Hour)},
		"bad tenant":   {Tenant: "ACME", Subject: "ann", Until: now.Add(time.Hour)},
		"until passed": {JTI: ulid.Make().String(), Until: now.Add(-time.Second)},
		"nothing":      {Until: now.Add(time.Hour)},
		"bad user":     {Tenant: "acme", Subject: "a.b", Until: now.Add(time.Hour)},
	} {
		if _, err := revocation.Revoke(ctx, kv, e, now); !errors.Is(err, revocation.ErrInvalid) {
			t.Errorf("%s: got %v, want ErrInvalid", name, err)
		}
	}
}

// WaitRevoked returns once the revocation has reached the set, and not
// before; without one it waits until its context ends.
func TestWaitRevoked(t *testing.T) {
	srv := natstest.RunJetStream(t)
	_, js := natstest.Connect(t, srv.ClientURL())
	ctx := context.Background()
	kv, err := revocation.Open(ctx, js, 1)
	if err != nil {
		t.Fatal(err)
	}
	set, err := revocation.Watch(ctx, kv, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer set.Stop()
	now := time.Now()
	c := auth.Claims{Tenant: "acme", Subject: "ann", ID: ulid.Make().String(), IssuedAt: now.Truncate(time.Second)}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := set.WaitRevoked(short, c); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("nothing revoked: got %v, want the context's deadline", err)
	}
	if _, err := revocation.Revoke(ctx, kv, revocation.Entry{JTI: c.ID, Until: now.Add(time.Hour)}, now); err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := set.WaitRevoked(wctx, c); err != nil {
		t.Fatalf("after Revoke: %v", err)
	}
	if err := set.Check(c); !errors.Is(err, auth.ErrRevoked) {
		t.Fatalf("WaitRevoked returned before Check refuses: %v", err)
	}
}
