package projections

import "github.com/seatflow/seatflow/events"

// claimBatch returns the claims d records as one LicensesClaimed: d itself
// for LicensesClaimed, a batch of one for LicenseClaimed; false for any
// other event. Read models fold a batch's claims without expanding them
// (events.Claims copies every claim into a LicenseClaimed of its own),
// looking up what the claims share (tenant, product, policy) once a batch:
// a LicensesClaimed holds up to 250 claims, and a rebuild folds every one.
func claimBatch(d events.Data) (events.LicensesClaimed, bool) {
	switch e := d.(type) {
	case events.LicensesClaimed:
		return e, true
	case events.LicenseClaimed:
		return events.LicensesClaimed{ProductID: e.ProductID, PolicyID: e.PolicyID, App: e.App, Claims: []events.Claim{{
			UserID: e.UserID, DisabledServices: e.DisabledServices, SigninID: e.SigninID, ClaimedAt: e.ClaimedAt}}}, true
	}
	return events.LicensesClaimed{}, false
}
