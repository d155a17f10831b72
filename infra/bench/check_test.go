package bench_test

import (
	"strings"
	"testing"
	"time"

	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/infra/bench"
)

func env(pos uint64, d events.Data) events.Envelope {
	return events.Envelope{Tenant: "t", Position: pos, Type: d.EventType(), Data: d, OccurredAt: time.Unix(0, 0)}
}

func TestCheckerFindsEachViolation(t *testing.T) {
	added := env(1, events.ProductAdded{ProductID: "p", Name: "P", Licenses: 1})
	claim := func(pos uint64, user string) events.Envelope {
		return env(pos, events.LicenseClaimed{ProductID: "p", UserID: user, PolicyID: "pol"})
	}
	for _, tc := range []struct {
		name string
		evs  []events.Envelope
		want string
	}{
		{"clean", []events.Envelope{added, claim(2, "u1")}, ""},
		{"over-assigned", []events.Envelope{added, claim(2, "u1"), claim(3, "u2")}, "invariant 1"},
		{"held twice", []events.Envelope{added, env(2, events.LicensesPurchased{ProductID: "p", Count: 1}),
			env(3, events.LicenseAssigned{ProductID: "p", UserID: "u1"}), claim(4, "u1")}, "invariant 2"},
		{"claimed twice", []events.Envelope{added, claim(2, "u1"), env(3, events.LicenseUnassigned{ProductID: "p", UserID: "u1"}),
			claim(4, "u1")}, "invariant 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := bench.NewChecker()
			for _, e := range tc.evs {
				c.Apply(e)
			}
			fold, err := c.Result()
			if tc.want == "" {
				if err != nil || fold.Claims["t"] != 1 || fold.Assigned[[2]string{"t", "p"}] != 1 {
					t.Fatalf("got %v, claims %d, want no violation and one claim", err, fold.Claims["t"])
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want a violation of %s", err, tc.want)
			}
		})
	}
}

func TestPercentile(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	if got := bench.Percentile(ds, 50); got != 50*time.Millisecond {
		t.Errorf("p50 = %s, want 50ms", got)
	}
	if got := bench.Percentile(ds, 99); got != 99*time.Millisecond {
		t.Errorf("p99 = %s, want 99ms", got)
	}
}
