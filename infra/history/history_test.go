package history_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/events/eventstest"
	"github.com/seatflow/seatflow/infra/history"
	"github.com/seatflow/seatflow/infra/natsjs"
	"github.com/seatflow/seatflow/infra/natstest"
	"github.com/seatflow/seatflow/infra/projector"
	"github.com/seatflow/seatflow/projections"
)

var tenants = eventstest.Tenants

const users = eventstest.Users

// genHistory is the shared generated history (eventstest.History).
func genHistory(seed uint64, n int) []events.Envelope { return eventstest.History(seed, n) }

// world is an embedded JetStream holding a generated history, the read
// models fed from it by the projection runner, and a Reader.
type world struct {
	js     jetstream.JetStream
	reader *history.Reader
	reg    *events.Registry
}

func newWorld(t *testing.T, evs []events.Envelope, every int) *world {
	t.Helper()
	srv := natstest.RunJetStream(t)
	_, js := natstest.Connect(t, srv.ClientURL())
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := natsjs.EnsureStreams(ctx, js, 1); err != nil {
		t.Fatal(err)
	}
	publish(t, ctx, js, evs)
	reg := events.Default()
	idx, lh := projections.NewAsOfIndex(every), projections.NewLicenseHistory()
	runner, err := projector.New(projector.Config{JS: js, Registry: reg, Projections: []projections.Projection{idx, lh}})
	if err != nil {
		t.Fatal(err)
	}
	rctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runner.Run(rctx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	if len(evs) > 0 {
		if err := runner.WaitFor(ctx, uint64(len(evs))); err != nil {
			t.Fatal(err)
		}
	}
	rd, err := history.New(history.Config{JS: js, Registry: reg, Index: idx, Licenses: lh, Progress: runner})
	if err != nil {
		t.Fatal(err)
	}
	return &world{js: js, reader: rd, reg: reg}
}

// publish appends evs in order, many in flight at a time.
func publish(t *testing.T, ctx context.Context, js jetstream.JetStream, evs []events.Envelope) {
	t.Helper()
	for start := 0; start < len(evs); start += 1000 {
		for _, e := range evs[start:min(start+1000, len(evs))] {
			b, err := events.Encode(e)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := js.PublishAsync(e.Subject(), b); err != nil {
				t.Fatal(err)
			}
		}
		select {
		case <-js.PublishAsyncComplete():
		case <-ctx.Done():
			t.Fatal("publish: ", ctx.Err())
		}
	}
}

// stored is one event with the time the stream stored it.
type stored struct {
	env events.Envelope
	at  time.Time
}

// readAll reads the whole stream with its stored times, independently of
// the Reader.
func readAll(t *testing.T, js jetstream.JetStream, reg *events.Registry) []stored {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := js.Stream(ctx, natsjs.StreamEvents)
	if err != nil {
		t.Fatal(err)
	}
	n := s.CachedInfo().State.Msgs
	c, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	it, err := c.Messages()
	if err != nil {
		t.Fatal(err)
	}
	defer it.Stop()
	out := make([]stored, 0, n)
	for uint64(len(out)) < n {
		m, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		meta, _ := m.Metadata()
		env, err := reg.Decode(m.Data())
		if err != nil {
			t.Fatal(err)
		}
		env.Position = meta.Sequence.Stream
		out = append(out, stored{env: env, at: meta.Timestamp})
	}
	return out
}

// TestAsOfEqualsFoldOfTruncatedStream is the property of issue 13: for
// random instants across a generated history of 50,000 events, every
// as_of answer (products, the policy, each user's licenses) equals a fold
// of the stream truncated at that instant.
func TestAsOfEqualsFoldOfTruncatedStream(t *testing.T) {
	n, instants := 50_000, 30
	if testing.Short() {
		n, instants = 5_000, 10
	}
	w := newWorld(t, genHistory(13, n), 0)
	all := readAll(t, w.js, w.reg)
	if len(all) != n {
		t.Fatalf("stream holds %d events, want %d", len(all), n)
	}

	// Instants: before the first event, after the last, on stored times
	// exactly, and random ones between.
	r := rand.New(rand.NewPCG(42, 42))
	first, last := all[0].at, all[len(all)-1].at
	ts := []time.Time{first.Add(-time.Second), last.Add(time.Second), all[len(all)/2].at, all[1].at}
	for range instants {
		ts = append(ts, first.Add(time.Duration(r.Int64N(int64(last.Sub(first))+1))))
	}
	slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })

	ctx := context.Background()
	counts, pols, ul := projections.NewLicenseCounts(), projections.NewPolicyList(), projections.NewUserLicenses()
	next := 0
	for _, at := range ts {
		for ; next < len(all) && !all[next].at.After(at); next++ {
			counts.Apply(all[next].env)
			pols.Apply(all[next].env)
			ul.Apply(all[next].env)
		}
		pos, err := w.reader.PositionAt(ctx, at)
		if err != nil {
			t.Fatal(err)
		}
		if pos != uint64(next) {
			t.Fatalf("position at %s: got %d, want %d", at.Format(time.RFC3339Nano), pos, next)
		}
		for _, tn := range tenants {
			got, err := w.reader.ProductsAt(ctx, tn, at)
			if err != nil {
				t.Fatal(err)
			}
			if want := counts.Products(tn); !reflect.DeepEqual(got, want) {
				t.Fatalf("%s products at %d: got %+v, want %+v", tn, pos, got, want)
			}
			gotP, gotOK, err := w.reader.PolicyAt(ctx, tn, "pol", at)
			if err != nil {
				t.Fatal(err)
			}
			if wantP, wantOK := pols.Policy(tn, "pol"); gotOK != wantOK || !reflect.DeepEqual(gotP, wantP) {
				t.Fatalf("%s policy at %d: got %+v %v, want %+v %v", tn, pos, gotP, gotOK, wantP, wantOK)
			}
			for u := range users {
				user := fmt.Sprintf("u%d", u)
				got, err := w.reader.LicensesAt(ctx, tn, user, at)
				if err != nil {
					t.Fatal(err)
				}
				if want := ul.Licenses(tn, user); !reflect.DeepEqual(got, want) {
					t.Fatalf("%s %s licenses at %d: got %+v, want %+v", tn, user, pos, got, want)
				}
			}
		}
	}
}

// noProgress is a Progress for readers whose read models are not fed.
type noProgress struct{}

func (noProgress) WaitFor(context.Context, uint64) error { return nil }

// exportWorld is an embedded JetStream holding evs and a Reader without
// read models behind it (an export reads only the stream).
func exportWorld(t *testing.T, evs []events.Envelope) (*history.Reader, jetstream.JetStream) {
	t.Helper()
	srv := natstest.RunJetStream(t)
	_, js := natstest.Connect(t, srv.ClientURL())
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := natsjs.EnsureStreams(ctx, js, 1); err != nil {
		t.Fatal(err)
	}
	publish(t, ctx, js, evs)
	rd, err := history.New(history.Config{JS: js, Registry: events.Default(), Index: projections.NewAsOfIndex(0),
		Licenses: projections.NewLicenseHistory(), Progress: noProgress{}})
	if err != nil {
		t.Fatal(err)
	}
	return rd, js
}

func export(t *testing.T, rd *history.Reader, tenant string, from, to time.Time, after uint64) []uint64 {
	t.Helper()
	var out []uint64
	err := rd.Export(context.Background(), tenant, from, to, after, func(e events.Envelope) error {
		if e.Tenant != tenant {
			t.Fatalf("exported %s's event %d", e.Tenant, e.Position)
		}
		out = append(out, e.Position)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestExportEqualsStream: an export is the tenant's events of the stream
// in order; resuming after a position gives the rest; from and to bound
// it by the stream's stored times.
func TestExportEqualsStream(t *testing.T) {
	rd, js := exportWorld(t, genHistory(5, 3_000))
	all := readAll(t, js, events.Default())
	var want []uint64
	for _, s := range all {
		if s.env.Tenant == "contoso" {
			want = append(want, s.env.Position)
		}
	}
	got := export(t, rd, "contoso", time.Time{}, time.Time{}, 0)
	if !slices.Equal(got, want) {
		t.Fatalf("export: got %d events, want %d", len(got), len(want))
	}
	cut := want[len(want)/3]
	if got := export(t, rd, "contoso", time.Time{}, time.Time{}, cut); !slices.Equal(got, want[len(want)/3+1:]) {
		t.Fatalf("resumed after %d: got %d events from %v, want %d", cut, len(got), got[:1], len(want)-len(want)/3-1)
	}
	from, to := all[1000].at, all[2000].at
	var inWindow []uint64
	for _, s := range all {
		if s.env.Tenant == "contoso" && !s.at.Before(from) && !s.at.After(to) {
			inWindow = append(inWindow, s.env.Position)
		}
	}
	if got := export(t, rd, "contoso", from, to, 0); !slices.Equal(got, inWindow) {
		t.Fatalf("from %s to %s: got %d events, want %d", from, to, len(got), len(inWindow))
	}
	if got := export(t, rd, "nobody", time.Time{}, time.Time{}, 0); len(got) != 0 {
		t.Fatalf("a tenant without events exported %d", len(got))
	}
}

// TestExportMemoryIsFlat: exporting 100,000 events holds no more memory
// after the last than after the first ten thousand (the reader keeps one
// pull batch, the caller's function sees one event at a time).
func TestExportMemoryIsFlat(t *testing.T) {
	n := 100_000
	if testing.Short() {
		n = 20_000
	}
	evs := genHistory(9, n)
	for i := range evs {
		evs[i].Tenant = "contoso"
	}
	rd, _ := exportWorld(t, evs)
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	var (
		count       int
		early, late uint64
	)
	err := rd.Export(context.Background(), "contoso", time.Time{}, time.Time{}, 0, func(e events.Envelope) error {
		count++
		switch count {
		case n / 10:
			early = heap()
		case n - 1:
			late = heap()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if count != n {
		t.Fatalf("exported %d events, want %d", count, n)
	}
	t.Logf("heap after %d events: %d KiB; after %d: %d KiB", n/10, early>>10, n-1, late>>10)
	// Keeping the events would take well over 100 bytes each.
	if late > early && late-early > uint64(n)*100*9/10/4 {
		t.Fatalf("heap grew from %d to %d bytes over %d events", early, late, n*9/10)
	}
}
