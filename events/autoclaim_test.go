package events_test

import "github.com/seatflow/seatflow/events"

// The auto-claim types' samples join the golden and round-trip tests.
func init() {
	samples = append(samples,
		events.AppPolicyBound{App: "teams", PolicyID: "p1"},
		events.AppPolicyUnbound{App: "teams", PolicyID: "p1"},
		events.UserQueued{PolicyID: "p1", UserID: "u9", SigninID: "s-9", SignedInAt: at},
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
	)
}
