package projections_test

import (
	"bytes"
	"fmt"
	"reflect"
	"runtime"
	"testing"
	"time"

	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/projections"
)

// snapWorld is what the queries of a snapshotHistory ask about: its
// tenants, users, products and policies, and some that it never names.
type snapWorld struct {
	tenants, products, policies []string
	users                       map[string][]string
	last                        uint64 // the history's last position
	start                       time.Time
}

func newSnapWorld(tenants []string, users int, evs []events.Envelope) snapWorld {
	w := snapWorld{tenants: append(tenants, "nobody"), products: []string{"prod-e3", "prod-e5", "prod-visio", "prod-none"},
		policies: []string{"pol-chat", "pol-mail", "pol-none"}, users: map[string][]string{},
		last: evs[len(evs)-1].Position, start: evs[0].OccurredAt}
	for _, tn := range w.tenants {
		for i := range users + 1 {
			w.users[tn] = append(w.users[tn], fmt.Sprintf("%s-user%07d", tn, i))
		}
	}
	return w
}

// snapModels are the read models with binary snapshots, each with every
// query it answers, asked about w.
var snapModels = []struct {
	name    string
	make    func() projections.Snapshotter
	answers func(m projections.Snapshotter, w snapWorld) map[string]any
}{
	{projections.NameUserLicenses, func() projections.Snapshotter { return projections.NewUserLicenses() },
		func(m projections.Snapshotter, w snapWorld) map[string]any {
			ul, out := m.(*projections.UserLicenses), map[string]any{}
			for _, tn := range w.tenants {
				for _, u := range w.users[tn] {
					out["licenses "+tn+" "+u] = ul.Licenses(tn, u)
				}
				for _, p := range w.products {
					out["holders "+tn+" "+p] = ul.Holders(tn, p)
				}
			}
			return out
		}},
	{projections.NameLicenseHistory, func() projections.Snapshotter { return projections.NewLicenseHistory() },
		func(m projections.Snapshotter, w snapWorld) map[string]any {
			h, out := m.(*projections.LicenseHistory), map[string]any{}
			for _, tn := range w.tenants {
				for _, u := range w.users[tn] {
					for _, p := range w.products {
						es, ok := h.History(tn, u, p)
						out["history "+tn+" "+u+" "+p] = fmt.Sprint(ok, es)
					}
					for _, pos := range []uint64{0, w.last / 3, w.last / 2, w.last} {
						out[fmt.Sprintf("at %s %s %d", tn, u, pos)] = h.LicensesAt(tn, u, pos)
					}
				}
			}
			return out
		}},
	{projections.NameReclaimCandidates, func() projections.Snapshotter { return projections.NewReclaimCandidates() },
		func(m projections.Snapshotter, w snapWorld) map[string]any {
			rc, out := m.(*projections.ReclaimCandidates), map[string]any{}
			for _, d := range []int{0, 10, 26, 28, 35, 41, 100} {
				out[fmt.Sprint("due ", d)] = rc.Due(w.start.AddDate(0, 0, d))
			}
			return out
		}},
	{projections.NameClaims, func() projections.Snapshotter { return projections.NewClaims() },
		func(m projections.Snapshotter, w snapWorld) map[string]any {
			c := m.(*projections.Claims)
			out := map[string]any{"counts": c.ClaimCounts()}
			for _, tn := range w.tenants {
				for _, pol := range w.policies {
					for _, from := range []time.Time{{}, w.start.AddDate(0, 0, 10)} {
						cs, ok := c.PolicyClaims(tn, pol, from)
						out[fmt.Sprint("claims ", tn, pol, from)] = fmt.Sprint(ok, cs)
					}
				}
				for _, days := range projections.ReportDays {
					for _, now := range []int{1, 15, 31, 60} {
						out[fmt.Sprint("report ", tn, days, now)] = c.Report(tn, days, w.start.AddDate(0, 0, now).Add(5*time.Hour))
					}
				}
				for _, p := range w.products {
					out["product "+tn+" "+p] = []int{c.ProductClaims(tn, p, w.start, w.start.AddDate(0, 0, 40)),
						c.ProductClaims(tn, p, w.start.AddDate(0, 0, 5), w.start.AddDate(0, 0, 6))}
				}
			}
			return out
		}},
}

func snapshotOf(t *testing.T, m projections.Snapshotter) []byte {
	t.Helper()
	b, err := m.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sameAnswers fails unless got answers every query as want does.
func sameAnswers(t *testing.T, got, want map[string]any) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d answers, want %d", len(got), len(want))
	}
	bad := 0
	for q, w := range want {
		if g := got[q]; !reflect.DeepEqual(g, w) {
			if bad++; bad <= 3 {
				t.Errorf("%s:\ngot  %+v\nwant %+v", q, g, w)
			}
		}
	}
	if bad > 0 {
		t.Fatalf("%d of %d answers differ", bad, len(want))
	}
}

// TestSnapshotsRoundTrip: each read model restored from its snapshot
// answers every query as the original, snapshots again to the same bytes,
// and, restored part way through the history and fed the rest, equals the
// read model fed it all (as a restart resuming from a checkpoint must).
func TestSnapshotsRoundTrip(t *testing.T) {
	tenants, users := []string{"contoso", "fabrikam", "northwind"}, 120
	evs := snapshotHistory(tenants, users)
	w := newSnapWorld(tenants, users, evs)
	for _, tt := range snapModels {
		t.Run(tt.name, func(t *testing.T) {
			orig := tt.make()
			for _, e := range evs {
				orig.Apply(e)
			}
			b := snapshotOf(t, orig)
			if again := snapshotOf(t, orig); !bytes.Equal(again, b) {
				t.Fatal("two snapshots of the same state differ")
			}
			restored := tt.make()
			if err := restored.Restore(b); err != nil {
				t.Fatal(err)
			}
			want := tt.answers(orig, w)
			sameAnswers(t, tt.answers(restored, w), want)
			if again := snapshotOf(t, restored); !bytes.Equal(again, b) {
				t.Fatal("the restored read model's snapshot differs from the original's")
			}
			empty := tt.answers(tt.make(), w)
			if reflect.DeepEqual(empty, want) {
				t.Fatal("the history changed no answer: the comparison proves nothing")
			}

			// Restored half way, then fed the rest.
			half := tt.make()
			for _, e := range evs[:len(evs)/2] {
				half.Apply(e)
			}
			resumed := tt.make()
			if err := resumed.Restore(snapshotOf(t, half)); err != nil {
				t.Fatal(err)
			}
			for _, e := range evs[len(evs)/2:] {
				resumed.Apply(e)
			}
			sameAnswers(t, tt.answers(resumed, w), want)
			if !bytes.Equal(snapshotOf(t, resumed), b) {
				t.Fatal("restored half way and fed the rest, the snapshot differs from the read model fed it all")
			}

			// An empty read model round-trips too.
			e := tt.make()
			if err := e.Restore(snapshotOf(t, tt.make())); err != nil {
				t.Fatal(err)
			}
			sameAnswers(t, tt.answers(e, w), empty)
		})
	}
}

// TestSnapshotsCorrupt: a snapshot cut short at any length, with any byte
// changed, of another read model, in the JSON of older versions, or
// claiming more items than it holds, is refused with an error or restores
// a state the read model can answer from; it never panics or allocates
// out of proportion, and a refused snapshot leaves the read model as it
// was.
func TestSnapshotsCorrupt(t *testing.T) {
	tenants, users := []string{"contoso", "fabrikam"}, 30
	evs := snapshotHistory(tenants, users)
	w := newSnapWorld(tenants, users, evs)
	other := snapshotHistory([]string{"tailspin"}, 20)
	for i, tt := range snapModels {
		t.Run(tt.name, func(t *testing.T) {
			orig := tt.make()
			for _, e := range evs {
				orig.Apply(e)
			}
			b := snapshotOf(t, orig)
			// The read model restores into already holds another state,
			// which a refused snapshot must leave as it was.
			target := tt.make()
			for _, e := range other {
				target.Apply(e)
			}
			before := snapshotOf(t, target)
			refused := func(what string, snap []byte) {
				t.Helper()
				if err := target.Restore(snap); err == nil {
					t.Fatalf("%s: restored", what)
				}
				if !bytes.Equal(snapshotOf(t, target), before) {
					t.Fatalf("%s: a refused snapshot changed the read model", what)
				}
			}
			for n := range len(b) {
				refused(fmt.Sprintf("cut at %d of %d bytes", n, len(b)), b[:n])
			}
			refused("a byte left over", append(bytes.Clone(b), 0))
			refused("JSON", []byte(`{}`))
			refused("the snapshot of another read model", snapshotOf(t, snapModels[(i+1)%len(snapModels)].make()))
			refused("another format", append([]byte{b[0], 99}, b[2:]...))
			huge := append([]byte{b[0], b[1]}, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f)
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			allocated := ms.TotalAlloc
			refused("a count of 2^56 strings", huge)
			refused("a count of 2^56 strings after the tables", append(bytes.Clone(b[:len(b)/2]), huge[2:]...))
			runtime.ReadMemStats(&ms)
			if n := ms.TotalAlloc - allocated; n > 1<<20+uint64(16*len(b)) {
				t.Fatalf("refusing huge counts allocated %d bytes", n)
			}

			// Any byte changed: refused, or a state that answers.
			step := max(1, len(b)/300)
			for at := 2; at < len(b); at += step {
				for _, x := range []byte{0x01, 0x7f, 0x80} {
					c := bytes.Clone(b)
					c[at] ^= x
					m := tt.make()
					if err := m.Restore(c); err != nil {
						continue
					}
					tt.answers(m, w) // must not panic
					snapshotOf(t, m)
					for _, e := range evs[:40] {
						m.Apply(e)
					}
				}
			}
		})
	}
}

// FuzzSnapshotRestore: whatever the bytes, Restore of a read model with a
// binary snapshot returns an error or a state it can answer from and
// snapshot again, and never panics.
//
//	go test ./projections -run '^$' -fuzz FuzzSnapshotRestore
func FuzzSnapshotRestore(f *testing.F) {
	tenants, users := []string{"contoso", "fabrikam"}, 12
	evs := snapshotHistory(tenants, users)
	w := newSnapWorld(tenants, users, evs)
	for i, tt := range snapModels {
		m := tt.make()
		for _, e := range evs {
			m.Apply(e)
		}
		b, err := m.Snapshot()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(i), b)
		f.Add(uint8(i), b[:len(b)/2])
	}
	f.Fuzz(func(t *testing.T, model uint8, b []byte) {
		tt := snapModels[int(model)%len(snapModels)]
		m := tt.make()
		if err := m.Restore(b); err != nil {
			return
		}
		tt.answers(m, w)
		b2 := snapshotOf(t, m)
		again := tt.make()
		if err := again.Restore(b2); err != nil {
			t.Fatalf("the snapshot of a restored read model does not restore: %v", err)
		}
	})
}
