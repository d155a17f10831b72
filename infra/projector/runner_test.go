package projector_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/oklog/ulid/v2"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/infra/natsjs"
	"github.com/seatflow/seatflow/infra/natstest"
	"github.com/seatflow/seatflow/infra/projector"
	"github.com/seatflow/seatflow/projections"
)

type env struct {
	js  jetstream.JetStream
	svc *domain.Service
}

func setup(t *testing.T) env {
	t.Helper()
	srv := natstest.RunJetStream(t)
	_, js := natstest.Connect(t, srv.ClientURL())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := natsjs.EnsureStreams(ctx, js, 1); err != nil {
		t.Fatal(err)
	}
	var n int
	svc, err := domain.NewService(natsjs.NewStore(js, events.Default()), domain.Config{Now: time.Now,
		NewID: func() string { n++; return fmt.Sprintf("ev-%06d", n) }})
	if err != nil {
		t.Fatal(err)
	}
	return env{js: js, svc: svc}
}

func (e env) assign(t *testing.T, user string) domain.Result {
	t.Helper()
	_, res, err := e.svc.Product(context.Background(), "contoso", "e5", events.Meta{Actor: "t"},
		domain.AssignLicense{UserID: domain.UserID(user), Source: events.Source{Kind: events.SourceManual}})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func start(t *testing.T, js jetstream.JetStream, models ...projections.Projection) *projector.Runner {
	t.Helper()
	r, err := projector.New(projector.Config{JS: js, Registry: events.Default(), Projections: models})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return r
}

func waitCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestRunnerAppliesEveryEventOnce: live and replayed events each reach the
// read models exactly once, WaitFor gives read-your-writes, and a fresh
// runner (a rebuild) ends equal to the live one at the same position.
func TestRunnerAppliesEveryEventOnce(t *testing.T) {
	e := setup(t)
	if _, _, err := e.svc.Product(context.Background(), "contoso", "e5", events.Meta{}, domain.AddProduct{Name: "E5", Licenses: 100, SelfService: "blocked"}); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		e.assign(t, fmt.Sprintf("before-%d", i))
	}
	live := projections.NewLicenseCounts()
	r := start(t, e.js, live, projections.NewUserLicenses())
	if err := r.WaitReady(waitCtx(t)); err != nil {
		t.Fatal(err)
	}
	var last domain.Result
	for i := range 20 {
		last = e.assign(t, fmt.Sprintf("after-%d", i))
	}
	if err := r.WaitFor(waitCtx(t), last.Position); err != nil {
		t.Fatal(err)
	}
	p, _ := live.Product("contoso", "e5")
	if p.Assigned != 30 || p.Available != 70 {
		t.Fatalf("live: got %d assigned %d available, want 30 and 70", p.Assigned, p.Available)
	}
	if applied, skipped := r.Stats(); applied != 31 || skipped != 0 {
		t.Fatalf("stats: got %d applied %d skipped, want 31 and 0", applied, skipped)
	}
	rebuilt := projections.NewLicenseCounts()
	r2 := start(t, e.js, rebuilt)
	if err := r2.WaitFor(waitCtx(t), last.Position); err != nil {
		t.Fatal(err)
	}
	if a, b := live.Products("contoso"), rebuilt.Products("contoso"); fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatalf("rebuild differs from live:\nlive    %+v\nrebuilt %+v", a, b)
	}
}

// TestRunnerSkipsWhatItCannotDecode: a foreign or future event on sf.evt.>
// is skipped (and counted) without stopping the read models.
func TestRunnerSkipsWhatItCannotDecode(t *testing.T) {
	e := setup(t)
	ctx := waitCtx(t)
	if _, err := e.js.Publish(ctx, "sf.evt.contoso.product.e5", []byte(`{"type":"FromTheFuture","version":9}`)); err != nil {
		t.Fatal(err)
	}
	_, res, err := e.svc.Product(ctx, "contoso", "e3", events.Meta{}, domain.AddProduct{Name: "E3", Licenses: 1, SelfService: "allowed"})
	if err != nil {
		t.Fatal(err)
	}
	lc := projections.NewLicenseCounts()
	r := start(t, e.js, lc)
	if err := r.WaitFor(ctx, res.Position); err != nil {
		t.Fatal(err)
	}
	if applied, skipped := r.Stats(); applied != 1 || skipped != 1 {
		t.Fatalf("stats: got %d applied %d skipped, want 1 and 1", applied, skipped)
	}
	if _, ok := lc.Product("contoso", "e3"); !ok {
		t.Fatal("the event after the undecodable one was not applied")
	}
}

func TestWaitForTimesOut(t *testing.T) {
	e := setup(t)
	r := start(t, e.js, projections.NewLicenseCounts())
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := r.WaitFor(ctx, 1_000_000); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want DeadlineExceeded", err)
	}
	if !r.Ready() {
		// An empty stream is caught up as soon as Run has read its head.
		if err := r.WaitReady(waitCtx(t)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	if _, err := projector.New(projector.Config{}); err == nil {
		t.Fatal("a runner without a stream, registry or read models was created")
	}
}

// TestRunnerNeverAppliesAMisfiledEvent: an event stored under a subject that
// disagrees with its envelope's tenant or aggregate (here acme's product
// published on evil's subject) is skipped and counted, never applied.
func TestRunnerNeverAppliesAMisfiledEvent(t *testing.T) {
	t.Run("single server", func(t *testing.T) { testMisfiled(t, setup(t)) })
	t.Run("3-node cluster", func(t *testing.T) {
		c := natstest.RunCluster(t, 3)
		_, js := natstest.Connect(t, c.URLs())
		if err := natsjs.EnsureStreams(waitCtx(t), js, 3); err != nil {
			t.Fatal(err)
		}
		c.WaitOnStreamLeader(natstest.Account, natsjs.StreamEvents)
		svc, err := domain.NewService(natsjs.NewStore(js, events.Default()), domain.Config{Now: time.Now, NewID: func() string { return ulid.Make().String() }})
		if err != nil {
			t.Fatal(err)
		}
		testMisfiled(t, env{js: js, svc: svc})
	})
}

func testMisfiled(t *testing.T, e env) {
	ctx := waitCtx(t)
	forged := events.New("forged-1", "acme", events.Aggregate{Kind: events.KindProduct, ID: "zzz"}, time.Now(), events.Meta{CommandID: "c-forged"},
		events.ProductAdded{ProductID: "zzz", Name: "Forged", Services: []string{}, Licenses: 5, SelfService: "blocked"})
	b, err := events.Encode(forged)
	if err != nil {
		t.Fatal(err)
	}
	for _, subj := range []string{"sf.evt.evil.product.zzz", "sf.evt.acme.product.other", "sf.evt.acme.policy.zzz",
		"sf.evt.acme.product.zzz2", "sf.evt.acme2.product.zzz"} {
		if _, err := e.js.Publish(ctx, subj, b); err != nil {
			t.Fatal(err)
		}
	}
	_, res, err := e.svc.Product(ctx, "acme", "e3", events.Meta{}, domain.AddProduct{Name: "E3", Licenses: 1, SelfService: "allowed"})
	if err != nil {
		t.Fatal(err)
	}
	lc := projections.NewLicenseCounts()
	r := start(t, e.js, lc)
	if err := r.WaitFor(ctx, res.Position); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"zzz", "other"} {
		if _, ok := lc.Product("acme", p); ok {
			t.Errorf("product %s of acme: applied from a misfiled event", p)
		}
	}
	if _, ok := lc.Product("evil", "zzz"); ok {
		t.Error("product zzz of evil: applied from acme's envelope")
	}
	if _, ok := lc.Product("acme", "e3"); !ok {
		t.Error("the event after the misfiled ones was not applied")
	}
	if got := r.Rejected(); got != 5 {
		t.Errorf("rejected: got %d, want 5", got)
	}
}

// TestRunnerWaitsForTheStream: a runner started before it can read the
// stream (here: the stream does not exist yet) does not fail, which would
// stop the service; it tries again until it can, then applies everything.
func TestRunnerWaitsForTheStream(t *testing.T) {
	srv := natstest.RunJetStream(t)
	_, js := natstest.Connect(t, srv.ClientURL())
	counts := projections.NewLicenseCounts()
	r := start(t, js, counts)
	time.Sleep(300 * time.Millisecond) // several failed attempts
	if r.Ready() {
		t.Fatal("ready without a stream")
	}

	ctx := waitCtx(t)
	if err := natsjs.EnsureStreams(ctx, js, 1); err != nil {
		t.Fatal(err)
	}
	svc, err := domain.NewService(natsjs.NewStore(js, events.Default()), domain.Config{Now: time.Now, NewID: func() string { return ulid.Make().String() }})
	if err != nil {
		t.Fatal(err)
	}
	_, res, err := svc.Product(ctx, "contoso", "e5", events.Meta{}, domain.AddProduct{Name: "E5", Licenses: 1, SelfService: "blocked"})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.WaitFor(ctx, res.Position); err != nil {
		t.Fatalf("the runner did not catch up once the stream existed: %v", err)
	}
}

// seqModel is a read model that records the last position it applied,
// taking a pause every slow events (0: never) so that read models run at
// different speeds.
type seqModel struct {
	name string
	slow int
	last atomic.Uint64
	n    int
}

func (m *seqModel) Name() string { return m.name }
func (m *seqModel) Apply(env events.Envelope) {
	if m.n++; m.slow > 0 && m.n%m.slow == 0 {
		time.Sleep(time.Millisecond)
	}
	m.last.Store(env.Position)
}
func (m *seqModel) Version() int { return 1 }
func (m *seqModel) Snapshot() ([]byte, error) {
	return []byte(strconv.FormatUint(m.last.Load(), 10)), nil
}
func (m *seqModel) Restore(b []byte) error {
	n, err := strconv.ParseUint(string(b), 10, 64)
	m.last.Store(n)
	return err
}

// checkedCheckpoints keeps checkpoints in memory and reports any whose
// read-model states disagree with its position.
type checkedCheckpoints struct {
	mu    sync.Mutex
	saved []uint64
	errs  []error
}

func (c *checkedCheckpoints) Load(context.Context) (projector.Checkpoint, bool, error) {
	return projector.Checkpoint{}, false, nil
}

func (c *checkedCheckpoints) Save(_ context.Context, cp projector.Checkpoint) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.saved = append(c.saved, cp.Position)
	for name, ms := range cp.Models {
		if got := string(ms.State); got != strconv.FormatUint(cp.Position, 10) {
			c.errs = append(c.errs, fmt.Errorf("checkpoint at %d: %s has applied up to %s", cp.Position, name, got))
		}
	}
	return nil
}

// TestReadModelsAgreeWithThePosition: read models applied at different
// speeds (each on its own goroutine) never trail the runner's position:
// WaitFor and Observe see every read model at or past the position, and
// every checkpoint holds read models that have applied exactly up to its
// position.
func TestReadModelsAgreeWithThePosition(t *testing.T) {
	srv := natstest.RunJetStream(t)
	_, js := natstest.Connect(t, srv.ClientURL())
	if err := natsjs.EnsureStreams(waitCtx(t), js, 1); err != nil {
		t.Fatal(err)
	}
	// Long enough for two interval checkpoints before the one at stop,
	// however the batches fall: a checkpoint due after 500 events waits
	// for the batches in flight (up to 4 of 256 events) and the interval
	// then grows to half the position, so the first comes by 1,524 and
	// the second by 3,310 (3,000 events once gave only 1,464 and the stop).
	const n = 4000
	publish(t, js, 0, n)
	fast, slow := &seqModel{name: "fast"}, &seqModel{name: "slow", slow: 40}
	ms := []*seqModel{fast, slow, {name: "also-slow", slow: 60}}
	var observeErrs atomic.Int64
	cps := &checkedCheckpoints{}
	r, err := projector.New(projector.Config{JS: js, Registry: events.Default(), CheckpointEvery: 500, Checkpoints: cps,
		Projections: []projections.Projection{ms[0], ms[1], ms[2]},
		Observe: func(env events.Envelope) {
			for _, m := range ms {
				if m.last.Load() < env.Position {
					observeErrs.Add(1)
				}
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var behind []string
	for r.Position() < n {
		p := r.Position()
		for _, m := range ms {
			if got := m.last.Load(); got < p {
				behind = append(behind, fmt.Sprintf("%s at %d, position %d", m.name, got, p))
			}
		}
		time.Sleep(100 * time.Microsecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(behind) > 0 {
		t.Errorf("read models behind the position: %v", behind[:min(len(behind), 5)])
	}
	if k := observeErrs.Load(); k > 0 {
		t.Errorf("Observe saw a read model behind its event %d times", k)
	}
	cps.mu.Lock()
	defer cps.mu.Unlock()
	if len(cps.errs) > 0 {
		t.Errorf("checkpoints of read models that disagree with their position: %v", cps.errs[:min(len(cps.errs), 5)])
	}
	if len(cps.saved) < 3 || cps.saved[len(cps.saved)-1] != n {
		t.Errorf("checkpoints at %v, want several, the last at %d", cps.saved, n)
	}
}
