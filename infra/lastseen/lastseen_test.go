package lastseen_test

import (
	"context"
	"testing"
	"time"

	"github.com/seatflow/seatflow/infra/lastseen"
	"github.com/seatflow/seatflow/infra/natstest"
)

// TestRecordAndRead: the latest sign-in per user and app is stored, across
// processes; a sign-in within Granularity of what this process wrote is
// not written again; ids and app names of any spelling make valid keys.
func TestRecordAndRead(t *testing.T) {
	ctx := context.Background()
	s := natstest.RunJetStream(t)
	_, js := natstest.Connect(t, s.ClientURL())
	a, err := lastseen.Open(ctx, js, 1)
	if err != nil {
		t.Fatal(err)
	}
	b, err := lastseen.Open(ctx, js, 1)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	app := "Microsoft Teams (web)"
	if err := a.Record(ctx, "contoso", []lastseen.Seen{{UserID: "ann@x", App: app, At: t0.Add(time.Minute)}, {UserID: "ann@x", App: app, At: t0},
		{UserID: "bo_b", App: "word", At: t0}}); err != nil {
		t.Fatal(err)
	}
	read := func(s *lastseen.Store, user, app string) time.Time {
		t.Helper()
		at, ok, err := s.LastSeen(ctx, "contoso", app, user)
		if err != nil || !ok {
			t.Fatalf("last seen %s/%s: %v, found %v", user, app, err, ok)
		}
		return at
	}
	if got := read(b, "ann@x", app); !got.Equal(t0.Add(time.Minute)) {
		t.Fatalf("ann: got %s, want the later sign-in", got)
	}
	if _, ok, err := b.LastSeen(ctx, "contoso", "word", "ann@x"); ok || err != nil {
		t.Fatalf("ann in word: found %v, err %v; want none", ok, err)
	}
	// Within the granularity: not written again; beyond it: written.
	if err := a.Record(ctx, "contoso", []lastseen.Seen{{UserID: "bo_b", App: "word", At: t0.Add(30 * time.Minute)}}); err != nil {
		t.Fatal(err)
	}
	if got := read(b, "bo_b", "word"); !got.Equal(t0) {
		t.Fatalf("bob after 30 minutes: got %s, want %s (not rewritten)", got, t0)
	}
	if err := a.Record(ctx, "contoso", []lastseen.Seen{{UserID: "bo_b", App: "word", At: t0.Add(2 * time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	if got := read(b, "bo_b", "word"); !got.Equal(t0.Add(2 * time.Hour)) {
		t.Fatalf("bob after 2 hours: got %s", got)
	}
}
