package projector_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/infra/natsjs"
	"github.com/seatflow/seatflow/infra/natstest"
	"github.com/seatflow/seatflow/infra/projector"
	"github.com/seatflow/seatflow/projections"
)

// publish appends n events straight to the stream (bypassing the command
// service, to make a long history quickly): one product per 1,000 users,
// every user assigned one license.
func publish(t *testing.T, js jetstream.JetStream, from, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := from; i < from+n; i++ {
		prod := fmt.Sprintf("p%d", i/1000)
		var d events.Data = events.LicenseAssigned{ProductID: prod, UserID: fmt.Sprintf("u%d", i), DisabledServices: []string{},
			Source: events.Source{Kind: events.SourceManual}}
		if i%1000 == 0 {
			d = events.ProductAdded{ProductID: prod, Name: prod, Services: []string{}, Licenses: 1000, SelfService: "blocked"}
		}
		b, err := events.Encode(events.New(fmt.Sprintf("ev%d", i), "contoso", events.Aggregate{Kind: events.KindProduct, ID: prod}, at,
			events.Meta{CommandID: fmt.Sprintf("c%d", i)}, d))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := js.PublishAsync("sf.evt.contoso.product."+prod, b); err != nil {
			t.Fatal(err)
		}
		if i%5000 == 4999 {
			select {
			case <-js.PublishAsyncComplete():
			case <-ctx.Done():
				t.Fatal("publishing timed out")
			}
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-ctx.Done():
		t.Fatal("publishing timed out")
	}
}

func models() []projections.Projection {
	return []projections.Projection{projections.NewLicenseCounts(), projections.NewUserLicenses()}
}

// runUntilCaughtUp runs a runner over ms until it has applied position, then
// stops it (saving its final checkpoint) and returns it.
func runUntilCaughtUp(t *testing.T, js jetstream.JetStream, cps projector.Checkpoints, position uint64, ms ...projections.Projection) *projector.Runner {
	t.Helper()
	cfg := projector.Config{Projections: ms, CheckpointEvery: 80_000}
	if cps != nil {
		cfg.Checkpoints = cps
	}
	return runWith(t, js, cfg, position)
}

// runWith runs a runner with cfg (and js, the default registry and a test
// logger) until it has applied position, then stops it and returns it.
func runWith(t *testing.T, js jetstream.JetStream, cfg projector.Config, position uint64) *projector.Runner {
	t.Helper()
	cfg.JS, cfg.Registry = js, events.Default()
	cfg.Logger = slog.New(slog.NewTextHandler(tWriter{t}, nil))
	r, err := projector.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	wctx, wcancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer wcancel()
	if err := r.WaitFor(wctx, position); err != nil {
		t.Fatalf("waiting for position %d: %v (at %d)", position, err, r.Position())
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	return r
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

func snapshots(t *testing.T, ms []projections.Projection) []byte {
	t.Helper()
	var all []byte
	for _, m := range ms {
		b, err := m.(projections.Snapshotter).Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		all = append(append(all, b...), '\n')
	}
	return all
}

// TestResumeFromCheckpointAfter200kEvents: a restart after 200,000 events
// applies only the events after the checkpoint, and the resumed read models
// equal a full rebuild at the same position.
func TestResumeFromCheckpointAfter200kEvents(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 200,000 events")
	}
	srv := natstest.RunJetStream(t)
	_, js := natstest.Connect(t, srv.ClientURL())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := natsjs.EnsureStreams(ctx, js, 1); err != nil {
		t.Fatal(err)
	}
	cps, err := projector.OpenObjectStore(ctx, js, 1)
	if err != nil {
		t.Fatal(err)
	}
	const n = 200_000
	publish(t, js, 0, n)

	// The first runner builds from zero and saves a checkpoint once caught
	// up; it keeps running while 500 more events arrive, so its read models
	// are a full rebuild at n+500.
	rebuilt := models()
	first, err := projector.New(projector.Config{JS: js, Registry: events.Default(), Projections: rebuilt,
		Checkpoints: cps, CheckpointEvery: 1_000_000})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- first.Run(runCtx) }()
	defer func() { stop(); <-done }()
	natstest.CheckFor(t, 5*time.Minute, 50*time.Millisecond, func() error {
		cp, found, err := cps.Load(ctx)
		if err != nil || !found || cp.Position != n {
			return fmt.Errorf("no checkpoint at %d yet (found %v, err %v)", n, found, err)
		}
		return nil
	})
	if applied, _ := first.Stats(); applied != n {
		t.Fatalf("first run applied %d, want %d", applied, n)
	}
	publish(t, js, n, 500)
	wctx, wcancel := context.WithTimeout(context.Background(), time.Minute)
	defer wcancel()
	if err := first.WaitFor(wctx, n+500); err != nil {
		t.Fatal(err)
	}

	// A restart resumes from the checkpoint and replays only the 500.
	resumed := models()
	second := runUntilCaughtUp(t, js, cps, n+500, resumed...)
	applied, _ := second.Stats()
	t.Logf("restart resumed at %d and replayed %d events", second.Resumed(), applied)
	if second.Resumed() != n || applied != 500 {
		t.Fatalf("restart: resumed at %d and applied %d, want %d and 500", second.Resumed(), applied, n)
	}
	if !bytes.Equal(snapshots(t, resumed), snapshots(t, rebuilt)) {
		t.Fatal("read models resumed from the checkpoint differ from a full rebuild")
	}
	p, _ := resumed[0].(*projections.LicenseCounts).Product("contoso", fmt.Sprintf("p%d", n/1000))
	if p.Assigned != 499 {
		t.Fatalf("p%d after resume: got %d assigned, want 499", n/1000, p.Assigned)
	}
}

// bumped is a read model whose logic changed: its version differs from the
// checkpoint's.
type bumped struct{ *projections.LicenseCounts }

func (bumped) Version() int { return 2 }

func TestVersionChangeRebuilds(t *testing.T) {
	js, cps := checkpointEnv(t)
	publish(t, js, 0, 3000)
	runUntilCaughtUp(t, js, cps, 3000, models()...)
	// Same models: resume with nothing to replay.
	r := runUntilCaughtUp(t, js, cps, 3000, models()...)
	if applied, _ := r.Stats(); applied != 0 || r.Resumed() != 3000 {
		t.Fatalf("unchanged models: resumed %d applied %d, want 3000 and 0", r.Resumed(), applied)
	}
	// A changed version: everything is replayed.
	r = runUntilCaughtUp(t, js, cps, 3000, bumped{projections.NewLicenseCounts()}, projections.NewUserLicenses())
	if applied, _ := r.Stats(); applied != 3000 || r.Resumed() != 0 {
		t.Fatalf("changed model: resumed %d applied %d, want 0 and 3000", r.Resumed(), applied)
	}
}

func TestCheckpointsNeedSnapshotters(t *testing.T) {
	type plain struct{ projections.Projection }
	_, err := projector.New(projector.Config{JS: nil, Registry: events.Default(),
		Projections: []projections.Projection{plain{projections.NewLicenseCounts()}}, Checkpoints: &projector.ObjectStore{}})
	if err == nil {
		t.Fatal("a read model that cannot be snapshot was accepted with checkpoints on")
	}
}

// TestRecreatedStreamRebuilds: after the event stream is deleted and created
// again (it restarts at sequence 1), a checkpoint of the old stream is not
// resumed, even one whose position the new stream has passed.
func TestRecreatedStreamRebuilds(t *testing.T) {
	js, cps := checkpointEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	publish(t, js, 0, 2000)
	runUntilCaughtUp(t, js, cps, 2000, models()...)
	if err := js.DeleteStream(ctx, natsjs.StreamEvents); err != nil {
		t.Fatal(err)
	}
	if err := natsjs.EnsureStreams(ctx, js, 1); err != nil {
		t.Fatal(err)
	}
	publish(t, js, 5000, 3000) // past the old checkpoint's position
	ms := models()
	r := runUntilCaughtUp(t, js, cps, 3000, ms...)
	if applied, _ := r.Stats(); applied != 3000 || r.Resumed() != 0 {
		t.Fatalf("recreated stream: resumed %d applied %d, want 0 and 3000", r.Resumed(), applied)
	}
	counts := ms[0].(*projections.LicenseCounts)
	if _, ok := counts.Product("contoso", "p0"); ok {
		t.Error("product p0 of the deleted stream survived the rebuild")
	}
	if _, ok := counts.Product("contoso", "p5"); !ok {
		t.Error("product p5 of the new stream is missing")
	}
}

// flakyCheckpoints fails its first fails loads, as a busy server's timeout.
type flakyCheckpoints struct {
	projector.Checkpoints
	fails int
}

func (f *flakyCheckpoints) Load(ctx context.Context) (projector.Checkpoint, bool, error) {
	if f.fails > 0 {
		f.fails--
		return projector.Checkpoint{}, false, fmt.Errorf("load checkpoint: %w", nats.ErrTimeout)
	}
	return f.Checkpoints.Load(ctx)
}

// TestCheckpointReadAgainAfterATimeout: a checkpoint that times out once is
// asked for again and resumed, not thrown away for a rebuild.
func TestCheckpointReadAgainAfterATimeout(t *testing.T) {
	js, cps := checkpointEnv(t)
	publish(t, js, 0, 2000)
	runUntilCaughtUp(t, js, cps, 2000, models()...)
	r := runUntilCaughtUp(t, js, &flakyCheckpoints{Checkpoints: cps, fails: 1}, 2000, models()...)
	if applied, _ := r.Stats(); applied != 0 || r.Resumed() != 2000 {
		t.Fatalf("after a timed-out read: resumed %d applied %d, want 2000 and 0", r.Resumed(), applied)
	}
}

// checkpointEnv is a JetStream server with Seatflow's streams and the
// checkpoint store.
func checkpointEnv(t *testing.T) (jetstream.JetStream, *projector.ObjectStore) {
	t.Helper()
	srv := natstest.RunJetStream(t)
	_, js := natstest.Connect(t, srv.ClientURL())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := natsjs.EnsureStreams(ctx, js, 1); err != nil {
		t.Fatal(err)
	}
	cps, err := projector.OpenObjectStore(ctx, js, 1)
	if err != nil {
		t.Fatal(err)
	}
	return js, cps
}

// TestLegacyJSONCheckpointRebuilds: a checkpoint saved as JSON by an older
// seatflow, whose user_licenses was version 2 (JSON snapshots), is read
// and found out of date: the read models are rebuilt from the stream, and
// the checkpoint saved then is resumed from on the next start.
func TestLegacyJSONCheckpointRebuilds(t *testing.T) {
	js, cps := checkpointEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	publish(t, js, 0, 2000)
	runUntilCaughtUp(t, js, cps, 2000, models()...)
	cp, _, err := cps.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	counts := cp.Models[projections.NameLicenseCounts]
	legacy := fmt.Sprintf(`{"position":%d,"stream_created":%q,"models":{"%s":{"version":%d,"state":%s},"%s":{"version":2,"state":{}}}}`,
		cp.Position, cp.StreamCreated.Format(time.RFC3339Nano), projections.NameLicenseCounts, counts.Version, counts.State,
		projections.NameUserLicenses)
	obs, err := js.ObjectStore(ctx, projector.CheckpointBucket)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := obs.PutBytes(ctx, "read-models", []byte(legacy)); err != nil {
		t.Fatal(err)
	}
	old, found, err := cps.Load(ctx)
	if err != nil || !found || old.Position != 2000 || old.Models[projections.NameUserLicenses].Version != 2 {
		t.Fatalf("legacy checkpoint: got %+v (found %v, err %v), want position 2000 with user_licenses version 2", old, found, err)
	}
	r := runUntilCaughtUp(t, js, cps, 2000, models()...)
	if applied, _ := r.Stats(); applied != 2000 || r.Resumed() != 0 {
		t.Fatalf("legacy checkpoint: resumed %d applied %d, want 0 and 2000", r.Resumed(), applied)
	}
	r = runUntilCaughtUp(t, js, cps, 2000, models()...)
	if applied, _ := r.Stats(); applied != 0 || r.Resumed() != 2000 {
		t.Fatalf("after the rebuild: resumed %d applied %d, want 2000 and 0", r.Resumed(), applied)
	}
}

// sizeSpy is UserLicenses telling which sizes it was given.
type sizeSpy struct {
	*projections.UserLicenses
	got projections.Sizes
}

func (s *sizeSpy) Presize(sz projections.Sizes) {
	s.got = sz
	s.UserLicenses.Presize(sz)
}

// TestRebuildPresizesFromTheCheckpoint: a checkpoint keeps each read
// model's sizes; a rebuild (Rebuild, or a read model's version changed)
// gives them to the fresh read models before the first event, and the
// read models it builds equal ones built without them. A restore from
// the checkpoint needs none.
func TestRebuildPresizesFromTheCheckpoint(t *testing.T) {
	js, cps := checkpointEnv(t)
	publish(t, js, 0, 3000)
	first := models()
	runUntilCaughtUp(t, js, cps, 3000, first...)
	want := snapshots(t, first)
	// 3000 events: 3 products, each added then assigned to 999 users.
	wantSizes := projections.Sizes{"contoso": 2997}

	runTo := func(position uint64, cfg projector.Config) *projector.Runner {
		t.Helper()
		cfg.Checkpoints = cps
		return runWith(t, js, cfg, position)
	}
	run := func(rebuild bool, ms ...projections.Projection) *projector.Runner {
		t.Helper()
		return runTo(3000, projector.Config{Projections: ms, Rebuild: rebuild})
	}

	spy := &sizeSpy{UserLicenses: projections.NewUserLicenses()}
	r := run(true, projections.NewLicenseCounts(), spy)
	if applied, _ := r.Stats(); applied != 3000 {
		t.Fatalf("rebuild applied %d events, want 3000", applied)
	}
	if !reflect.DeepEqual(spy.got, wantSizes) {
		t.Fatalf("rebuild: presized with %v, want %v", spy.got, wantSizes)
	}
	if got := snapshots(t, []projections.Projection{first[0], spy.UserLicenses}); !bytes.Equal(got, want) {
		t.Fatal("the presized rebuild's read models differ from the first build's")
	}

	spy = &sizeSpy{UserLicenses: projections.NewUserLicenses()}
	r = run(false, bumped{projections.NewLicenseCounts()}, spy)
	if applied, _ := r.Stats(); applied != 3000 || !reflect.DeepEqual(spy.got, wantSizes) {
		t.Fatalf("version change: applied %d, presized with %v; want 3000 and %v", applied, spy.got, wantSizes)
	}

	// The last run saved its checkpoint with the bumped version.
	spy = &sizeSpy{UserLicenses: projections.NewUserLicenses()}
	r = run(false, bumped{projections.NewLicenseCounts()}, spy)
	if r.Resumed() != 3000 || spy.got != nil {
		t.Fatalf("restore: resumed %d, presized with %v; want 3000 and none", r.Resumed(), spy.got)
	}

	// A read-only rebuild takes the sizes and saves nothing, though the
	// stream has grown past the checkpoint.
	publish(t, js, 3000, 500)
	spy = &sizeSpy{UserLicenses: projections.NewUserLicenses()}
	runTo(3500, projector.Config{Projections: []projections.Projection{bumped{projections.NewLicenseCounts()}, spy},
		Rebuild: true, ReadOnly: true, CheckpointEvery: 100})
	if !reflect.DeepEqual(spy.got, wantSizes) {
		t.Fatalf("read-only rebuild: presized with %v, want %v", spy.got, wantSizes)
	}
	cp, found, err := cps.Load(context.Background())
	if err != nil || !found || cp.Position != 3000 {
		t.Fatalf("after a read-only rebuild to 3500 the checkpoint is at %d (found %v, %v), want 3000 untouched", cp.Position, found, err)
	}
}

// countingCheckpoints counts the loads of the checkpoints it wraps.
type countingCheckpoints struct {
	projector.Checkpoints
	loads int
}

func (c *countingCheckpoints) Load(ctx context.Context) (projector.Checkpoint, bool, error) {
	c.loads++
	return c.Checkpoints.Load(ctx)
}

// TestUndecodableCheckpointRebuildsAtOnce: a checkpoint that was read but
// cannot be decoded (corrupt, or a format from a later build) is not
// asked for again, as a timed-out read is: the read models are rebuilt
// from the stream straight away, and a good checkpoint is saved.
func TestUndecodableCheckpointRebuildsAtOnce(t *testing.T) {
	js, cps := checkpointEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	publish(t, js, 0, 2000)
	obs, err := js.ObjectStore(ctx, projector.CheckpointBucket)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := obs.PutBytes(ctx, "read-models", []byte("SFCP\x09a format from the future")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := cps.Load(ctx); !errors.Is(err, projector.ErrBadCheckpoint) {
		t.Fatalf("loading the future format: %v, want %v", err, projector.ErrBadCheckpoint)
	}
	counting := &countingCheckpoints{Checkpoints: cps}
	r := runUntilCaughtUp(t, js, counting, 2000, models()...)
	if applied, _ := r.Stats(); applied != 2000 || r.Resumed() != 0 || counting.loads != 1 {
		t.Fatalf("resumed %d, applied %d, after %d loads; want 0, 2000 and 1", r.Resumed(), applied, counting.loads)
	}
	if cp, found, err := cps.Load(ctx); err != nil || !found || cp.Position != 2000 {
		t.Fatalf("after the rebuild the checkpoint is at %d (found %v, %v), want 2000", cp.Position, found, err)
	}
}
