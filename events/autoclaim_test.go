package events_test

import (
	"os"
	"testing"

	"github.com/seatflow/seatflow/events"
)

// The auto-claim types' samples join the golden and round-trip tests.
func init() {
	samples = append(samples,
		events.AppPolicyBound{App: "teams", PolicyID: "p1"},
		events.AppPolicyUnbound{App: "teams", PolicyID: "p1"},
		events.UserQueued{PolicyID: "p1", UserID: "u9", SigninID: "s-9", SignedInAt: at, Reason: events.QueueDailyCap},
		events.QueuedUserGranted{PolicyID: "p1", UserID: "u9", ProductID: "e5"},
		events.QueuedUserDropped{PolicyID: "p1", UserID: "u9", Reason: events.DropAlreadyLicensed},
		events.PoolLow{PolicyID: "p1", ProductID: "e5", Available: 2, Threshold: 2},
		events.PolicyExhausted{PolicyID: "p1", ProductID: "e5"},
		events.LicensesClaimed{ProductID: "e5", PolicyID: "p1", App: "teams", Claims: []events.Claim{
			{UserID: "u2", DisabledServices: []string{}, SigninID: "s-1", ClaimedAt: at},
			{UserID: "u3", DisabledServices: []string{"chat"}, SigninID: "s-2", ClaimedAt: at}}},
		events.LicensesAssigned{ProductID: "e5", Assignments: []events.Assignment{
			{UserID: "u2", DisabledServices: []string{}, Source: events.Source{Kind: events.SourceManual}, Actor: "admin", CommandID: "cmd-1"},
			{UserID: "u3", DisabledServices: []string{"chat"}, Source: events.Source{Kind: events.SourceManual}, Actor: "lena", CommandID: "cmd-2"}}},
		events.PolicyLimitsChanged{PolicyID: "p1", DailyCap: ptr(10), TotalCap: ptr(200), ReclaimAfterDays: ptr(30), ReclaimWarnDays: nil},
		events.PolicyClaimsCounted{PolicyID: "p1", Day: "2026-11-01", Today: 3, Total: 41},
		events.LicenseReclaimWarned{ProductID: "e5", UserID: "u2", PolicyID: "p1", App: "teams", LastSeen: at, ReclaimAt: at.AddDate(0, 0, 30)},
		events.LicenseReclaimed{ProductID: "e5", UserID: "u2", PolicyID: "p1", App: "teams", LastSeen: at},
	)
}

func ptr(n int) *int { return &n }

func TestUpcastUserQueuedV1(t *testing.T) {
	b, err := os.ReadFile(goldenPath(events.TypeUserQueued, 1))
	if err != nil {
		t.Fatal(err)
	}
	env, err := events.Default().Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := env.Data.(events.UserQueued)
	if !ok {
		t.Fatalf("data is %T, want events.UserQueued", env.Data)
	}
	if got.Reason != events.QueueNoSeats || got.UserID != "u9" || env.Version != 2 {
		t.Fatalf("got %+v (v%d), want reason %q at v2", got, env.Version, events.QueueNoSeats)
	}
}
