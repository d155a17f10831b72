package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/events"
)

// Run runs the conformance suite. newStore must return an empty store (or
// one no other test writes to) that decodes with events.Default(), or any
// registry that knows the event types of events.Default() but not the
// suite's own unregistered type.
func Run(t *testing.T, newStore func(t *testing.T) domain.Store) {
	t.Helper()
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, s domain.Store)
	}{
		{"EmptyLoad", testEmptyLoad},
		{"AppendAndLoad", testAppendAndLoad},
		{"SeveralEventsInOneWrite", testSeveralEventsInOneWrite},
		{"PositionsIncreaseAcrossAggregates", testPositionsIncrease},
		{"LoadAfter", testLoadAfter},
		{"WrongExpected", testWrongExpected},
		{"MultiWrite", testMultiWrite},
		{"MultiWriteAtomicity", testMultiWriteAtomicity},
		{"Isolation", testIsolation},
		{"ConcurrentAppendsOneWins", testConcurrentAppends},
		{"InvalidInputStoresNothing", testInvalidInput},
		{"LoadSince", testLoadSince},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, newStore(t)) })
	}
}

const tenant = "storetest"

var at = time.Date(2026, 11, 1, 9, 30, 0, 0, time.UTC)

func context30s(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// newAgg returns an aggregate no other test uses.
func newAgg(kind events.Kind, name string) events.Aggregate {
	return events.Aggregate{Kind: kind, ID: name + "-" + strings.ToLower(ulid.Make().String()[16:])}
}

func product(name string) events.Aggregate { return newAgg(events.KindProduct, name) }

// event returns a valid event of agg in tenant ten; count makes it unique
// within a test.
func event(ten string, agg events.Aggregate, count int) events.Envelope {
	return events.New(ulid.Make().String(), ten, agg, at,
		events.Meta{Actor: "storetest", CommandID: ulid.Make().String()},
		events.LicensesPurchased{ProductID: agg.ID, Count: count})
}

func write(expected uint64, evs ...events.Envelope) domain.Write {
	return domain.Write{Expected: expected, Events: evs}
}

func mustAppend(t *testing.T, s domain.Store, writes ...domain.Write) []uint64 {
	t.Helper()
	pos, err := s.Append(context30s(t), writes...)
	if err != nil {
		t.Fatalf("append: %v", err)
	}
	n := 0
	for _, w := range writes {
		n += len(w.Events)
	}
	if len(pos) != n {
		t.Fatalf("append returned %d positions, want %d", len(pos), n)
	}
	return pos
}

func load(t *testing.T, s domain.Store, ten string, agg events.Aggregate, after uint64) []events.Envelope {
	t.Helper()
	evs, err := s.Load(context30s(t), ten, agg, after)
	if err != nil {
		t.Fatalf("load %s after %d: %v", events.Subject(ten, agg), after, err)
	}
	return evs
}

// withPositions returns evs with positions set, as Load returns them.
func withPositions(evs []events.Envelope, pos []uint64) []events.Envelope {
	out := make([]events.Envelope, len(evs))
	for i, e := range evs {
		e.Position = pos[i]
		out[i] = e
	}
	return out
}

func equalEvents(t *testing.T, what string, got, want []events.Envelope) {
	t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\ngot  %s\nwant %s", what, describe(got), describe(want))
	}
}

func describe(evs []events.Envelope) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d events", len(evs))
	for _, e := range evs {
		fmt.Fprintf(&b, "\n\t%+v", e)
	}
	return b.String()
}

func strictlyIncreasing(t *testing.T, pos []uint64) {
	t.Helper()
	for i := 1; i < len(pos); i++ {
		if pos[i] <= pos[i-1] {
			t.Fatalf("positions %v: got %d after %d, want strictly increasing", pos, pos[i], pos[i-1])
		}
	}
}

func lastPos(t *testing.T, s domain.Store, ten string, agg events.Aggregate) uint64 {
	t.Helper()
	evs := load(t, s, ten, agg, 0)
	if len(evs) == 0 {
		return 0
	}
	return evs[len(evs)-1].Position
}

func testEmptyLoad(t *testing.T, s domain.Store) {
	for _, after := range []uint64{0, 1, 1 << 40} {
		if evs := load(t, s, tenant, product("never"), after); len(evs) != 0 {
			t.Errorf("load after %d of an aggregate never written: got %d events, want none", after, len(evs))
		}
	}
}

func testAppendAndLoad(t *testing.T, s domain.Store) {
	agg := product("one")
	e := event(tenant, agg, 5)
	pos := mustAppend(t, s, write(0, e))
	if pos[0] == 0 {
		t.Fatalf("position: got 0, want > 0")
	}
	equalEvents(t, "load", load(t, s, tenant, agg, 0), withPositions([]events.Envelope{e}, pos))

	e2 := event(tenant, agg, 6)
	pos2 := mustAppend(t, s, write(pos[0], e2))
	strictlyIncreasing(t, []uint64{pos[0], pos2[0]})
	equalEvents(t, "load after two appends", load(t, s, tenant, agg, 0),
		withPositions([]events.Envelope{e, e2}, []uint64{pos[0], pos2[0]}))
}

func testSeveralEventsInOneWrite(t *testing.T, s domain.Store) {
	agg := product("several")
	evs := []events.Envelope{event(tenant, agg, 1), event(tenant, agg, 2), event(tenant, agg, 3)}
	pos := mustAppend(t, s, write(0, evs...))
	strictlyIncreasing(t, pos)
	equalEvents(t, "load", load(t, s, tenant, agg, 0), withPositions(evs, pos))

	// The aggregate's last position is the write's last event: anything
	// earlier is stale.
	for _, stale := range []uint64{0, pos[0], pos[1]} {
		_, err := s.Append(context30s(t), write(stale, event(tenant, agg, 9)))
		if !errors.Is(err, domain.ErrConcurrency) {
			t.Fatalf("append expecting %d after events at %v: got %v, want ErrConcurrency", stale, pos, err)
		}
	}
	more := []events.Envelope{event(tenant, agg, 4), event(tenant, agg, 5)}
	pos2 := mustAppend(t, s, write(pos[2], more...))
	strictlyIncreasing(t, append(append([]uint64(nil), pos...), pos2...))
	equalEvents(t, "load after second write", load(t, s, tenant, agg, 0),
		withPositions(append(evs, more...), append(pos, pos2...)))
}

func testPositionsIncrease(t *testing.T, s domain.Store) {
	a, b, c := product("a"), product("b"), product("c")
	last := map[events.Aggregate]uint64{}
	var all []uint64
	for i, agg := range []events.Aggregate{a, b, a, c, b, a} {
		pos := mustAppend(t, s, write(last[agg], event(tenant, agg, i+1)))
		last[agg] = pos[0]
		all = append(all, pos[0])
	}
	strictlyIncreasing(t, all)
	for agg, want := range last {
		if got := lastPos(t, s, tenant, agg); got != want {
			t.Errorf("last position of %s: got %d, want %d", agg.ID, got, want)
		}
	}
}

func testLoadAfter(t *testing.T, s domain.Store) {
	agg := product("after")
	var evs []events.Envelope
	var pos []uint64
	for i := range 5 {
		e := event(tenant, agg, i+1)
		p := mustAppend(t, s, write(lastOf(pos), e))
		evs, pos = append(evs, e), append(pos, p[0])
	}
	// Interleave another aggregate so positions are not contiguous.
	mustAppend(t, s, write(0, event(tenant, product("other"), 1)))
	all := withPositions(evs, pos)
	for _, tc := range []struct {
		name  string
		after uint64
		want  []events.Envelope
	}{
		{"zero", 0, all},
		{"first", pos[0], all[1:]},
		{"between", pos[2] - 1, all[2:]},
		{"third", pos[2], all[3:]},
		{"last", pos[4], nil},
		{"beyond", pos[4] + 100, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			equalEvents(t, fmt.Sprintf("load after %d", tc.after), load(t, s, tenant, agg, tc.after), tc.want)
		})
	}
}

func lastOf(pos []uint64) uint64 {
	if len(pos) == 0 {
		return 0
	}
	return pos[len(pos)-1]
}

func testWrongExpected(t *testing.T, s domain.Store) {
	existing := product("existing")
	first := mustAppend(t, s, write(0, event(tenant, existing, 1)))
	second := mustAppend(t, s, write(first[0], event(tenant, existing, 2)))
	last := second[0]
	for _, tc := range []struct {
		name     string
		agg      events.Aggregate
		expected uint64
	}{
		{"too low", existing, first[0]},
		{"too high", existing, last + 1},
		{"far too high", existing, last + 1000},
		{"zero on an existing aggregate", existing, 0},
		{"non-zero on a new aggregate", product("new"), last},
		{"one on a new aggregate", product("new"), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := load(t, s, tenant, tc.agg, 0)
			_, err := s.Append(context30s(t), write(tc.expected, event(tenant, tc.agg, 99)))
			if !errors.Is(err, domain.ErrConcurrency) {
				t.Fatalf("append expecting %d: got %v, want an error wrapping ErrConcurrency", tc.expected, err)
			}
			equalEvents(t, "events after the refused append", load(t, s, tenant, tc.agg, 0), before)
		})
	}
}

func testMultiWrite(t *testing.T, s domain.Store) {
	a, b := product("multi-a"), product("multi-b")
	pa := mustAppend(t, s, write(0, event(tenant, a, 1)))
	ea := []events.Envelope{event(tenant, a, 2), event(tenant, a, 3)}
	eb := []events.Envelope{event(tenant, b, 1)}
	pos := mustAppend(t, s, write(pa[0], ea...), write(0, eb...))
	strictlyIncreasing(t, append(pa, pos...))
	equalEvents(t, "load a", load(t, s, tenant, a, pa[0]), withPositions(ea, pos[:2]))
	equalEvents(t, "load b", load(t, s, tenant, b, 0), withPositions(eb, pos[2:]))
}

func testMultiWriteAtomicity(t *testing.T, s domain.Store) {
	for _, bad := range []int{0, 1, 2} {
		t.Run(fmt.Sprintf("bad write %d of 3", bad), func(t *testing.T) {
			aggs := []events.Aggregate{product("atom-a"), product("atom-b"), product("atom-c")}
			// The first aggregate exists already; the others are new.
			p := mustAppend(t, s, write(0, event(tenant, aggs[0], 1)))
			expected := []uint64{p[0], 0, 0}
			before := make([][]events.Envelope, len(aggs))
			for i, agg := range aggs {
				before[i] = load(t, s, tenant, agg, 0)
			}
			writes := make([]domain.Write, len(aggs))
			for i, agg := range aggs {
				exp := expected[i]
				if i == bad {
					exp += 7
				}
				writes[i] = write(exp, event(tenant, agg, 10), event(tenant, agg, 11))
			}
			_, err := s.Append(context30s(t), writes...)
			if !errors.Is(err, domain.ErrConcurrency) {
				t.Fatalf("append with write %d expecting %d: got %v, want ErrConcurrency", bad, writes[bad].Expected, err)
			}
			for i, agg := range aggs {
				equalEvents(t, fmt.Sprintf("aggregate %d after the refused append", i), load(t, s, tenant, agg, 0), before[i])
			}
			// With every check right, the same writes go through.
			writes[bad].Expected = expected[bad]
			pos := mustAppend(t, s, writes...)
			strictlyIncreasing(t, pos)
		})
	}
}

func testIsolation(t *testing.T, s domain.Store) {
	id := "shared-" + strings.ToLower(ulid.Make().String()[16:])
	aggs := []struct {
		tenant string
		agg    events.Aggregate
	}{
		{tenant, events.Aggregate{Kind: events.KindProduct, ID: id}},
		{tenant + "-other", events.Aggregate{Kind: events.KindProduct, ID: id}},
		{tenant, events.Aggregate{Kind: events.KindPolicy, ID: id}},
		{tenant, events.Aggregate{Kind: events.KindProduct, ID: id + "-x"}},
	}
	want := make([][]events.Envelope, len(aggs))
	// Each is new, so each first append expects 0, whatever the others hold.
	for round := range 2 {
		for i, a := range aggs {
			e := event(a.tenant, a.agg, round+1)
			p := mustAppend(t, s, write(lastOf(positions(want[i])), e))
			e.Position = p[0]
			want[i] = append(want[i], e)
		}
	}
	for i, a := range aggs {
		equalEvents(t, fmt.Sprintf("load %s", events.Subject(a.tenant, a.agg)), load(t, s, a.tenant, a.agg, 0), want[i])
	}
}

func positions(evs []events.Envelope) []uint64 {
	out := make([]uint64, len(evs))
	for i, e := range evs {
		out[i] = e.Position
	}
	return out
}

func testConcurrentAppends(t *testing.T, s domain.Store) {
	const writers = 20
	agg := product("race")
	base := mustAppend(t, s, write(0, event(tenant, agg, 1)))[0]
	ctx := context30s(t)
	var (
		wg      sync.WaitGroup
		start   = make(chan struct{})
		results = make([]error, writers)
	)
	for i := range writers {
		wg.Go(func() {
			e := event(tenant, agg, 100+i)
			<-start
			_, results[i] = s.Append(ctx, write(base, e))
		})
	}
	close(start)
	wg.Wait()
	wins := 0
	for i, err := range results {
		switch {
		case err == nil:
			wins++
		case errors.Is(err, domain.ErrConcurrency):
		default:
			t.Errorf("writer %d: got %v, want nil or ErrConcurrency", i, err)
		}
	}
	if wins != 1 {
		t.Fatalf("winners: got %d, want 1", wins)
	}
	if got := load(t, s, tenant, agg, base); len(got) != 1 {
		t.Fatalf("events after the race: got %d, want 1", len(got))
	}
}

// unregistered is an event type no registry of Seatflow knows.
type unregistered struct {
	X int `json:"x"`
}

func (unregistered) EventType() string { return "StoretestUnregistered" }
func (unregistered) EventVersion() int { return 1 }

func testInvalidInput(t *testing.T, s domain.Store) {
	a, b := product("valid-a"), product("valid-b")
	pa := mustAppend(t, s, write(0, event(tenant, a, 1)))[0]
	noCommand := event(tenant, a, 2)
	noCommand.CommandID = ""
	mismatch := event(tenant, a, 2)
	mismatch.Type = events.TypeLicensesRemoved // data says LicensesPurchased
	unknown := events.New(ulid.Make().String(), tenant, a, at, events.Meta{Actor: "storetest", CommandID: "c"}, unregistered{X: 1})
	badTenant := event("Not A Tenant", a, 2)
	for _, tc := range []struct {
		name   string
		writes []domain.Write
	}{
		{"no writes", nil},
		{"write without events", []domain.Write{write(pa)}},
		{"events of two aggregates in one write", []domain.Write{write(pa, event(tenant, a, 2), event(tenant, b, 1))}},
		{"events of two tenants in one write", []domain.Write{write(pa, event(tenant, a, 2), event(tenant+"-x", a, 1))}},
		{"one aggregate in two writes", []domain.Write{write(pa, event(tenant, a, 2)), write(pa, event(tenant, a, 3))}},
		{"event without command id", []domain.Write{write(pa, noCommand)}},
		{"type not matching data", []domain.Write{write(pa, mismatch)}},
		{"type unknown to the registry", []domain.Write{write(pa, unknown)}},
		{"invalid tenant", []domain.Write{write(pa, badTenant)}},
		{"invalid event after valid ones", []domain.Write{write(pa, event(tenant, a, 2), noCommand)}},
		{"invalid write after a valid one", []domain.Write{write(0, event(tenant, b, 1)), write(pa, unknown)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Append(context30s(t), tc.writes...)
			if err == nil {
				t.Fatal("append: got no error, want one")
			}
			if errors.Is(err, domain.ErrConcurrency) {
				t.Fatalf("append: got %v, want an error that is not ErrConcurrency", err)
			}
			if got := load(t, s, tenant, a, pa); len(got) != 0 {
				t.Errorf("events of %s after the refused append: got %d, want none", a.ID, len(got))
			}
			if got := load(t, s, tenant, b, 0); len(got) != 0 {
				t.Errorf("events of %s after the refused append: got %d, want none", b.ID, len(got))
			}
		})
	}
}

// testLoadSince: a TimeStore reads an aggregate's events stored from an
// instant on (by the store's clock, which on one machine is the test's).
// Stores without a time index are skipped: the domain reads them whole.
func testLoadSince(t *testing.T, s domain.Store) {
	ts, ok := s.(domain.TimeStore)
	if !ok {
		t.Skipf("%T has no time index (not a domain.TimeStore)", s)
	}
	agg, other := product("since"), product("since-other")
	before := time.Now().Add(-time.Minute)
	p1 := mustAppend(t, s, write(0, event(tenant, agg, 1)))
	mid := time.Now()
	p2 := mustAppend(t, s, write(p1[0], event(tenant, agg, 2), event(tenant, agg, 3)))
	mustAppend(t, s, write(0, event(tenant, other, 4)))
	for _, tc := range []struct {
		name  string
		since time.Time
		want  []uint64
	}{
		{"from before the first", before, append(p1, p2...)},
		{"from between the writes", mid, p2},
		{"from after the last", time.Now().Add(time.Hour), nil},
	} {
		evs, err := ts.LoadSince(context30s(t), tenant, agg, tc.since)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := positions(evs); !slices.Equal(got, tc.want) {
			t.Errorf("%s: positions %v, want %v", tc.name, got, tc.want)
		}
	}
	if evs, err := ts.LoadSince(context30s(t), tenant, product("since-none"), before); err != nil || len(evs) != 0 {
		t.Errorf("an aggregate without events: %d events, %v", len(evs), err)
	}
}
