package eventstest

import (
	"fmt"
	"strings"
	"time"

	"github.com/seatflow/seatflow/events"
)

// ClaimTenant is the tenant of ClaimSetup and ManyClaims.
const ClaimTenant = "contoso"

// ClaimProducts and ClaimPolicies are what ClaimSetup creates and
// ManyClaims claims from: two policies over three products.
var (
	ClaimProducts = []string{"prod-e3", "prod-e5", "prod-visio"}
	ClaimPolicies = []struct {
		ID, App  string
		Products []string
	}{
		{"pol-01JD5M3Q9VZ0P8K2W7X4C6B1NA", "chat", []string{"prod-e5", "prod-e3"}},
		{"pol-01JD5M3QA4N6R2T8Y0U3E5G7HB", "mail", []string{"prod-visio", "prod-e3"}},
	}
)

// ClaimSetup is ClaimTenant before any claim, from Start at positions
// 1..: the auto-claim switch on, ClaimProducts with a million seats each,
// ClaimPolicies enabled.
func ClaimSetup() []events.Envelope {
	var out []events.Envelope
	emit := func(kind events.Kind, id string, d events.Data) {
		e := events.New(fmt.Sprintf("setup-%d", len(out)), ClaimTenant, events.Aggregate{Kind: kind, ID: id}, Start,
			events.Meta{Actor: "admin", CommandID: fmt.Sprintf("setup-%d", len(out))}, d)
		e.Position = uint64(len(out) + 1)
		out = append(out, e)
	}
	emit(events.KindOrg, "org", events.AutoClaimSettingChanged{Enabled: true})
	for _, p := range ClaimProducts {
		emit(events.KindProduct, p, events.ProductAdded{ProductID: p, Name: p, Services: []string{"mail", "chat"},
			Licenses: 1_000_000, SelfService: events.SelfServiceBlocked})
	}
	for _, p := range ClaimPolicies {
		var pps []events.PolicyProduct
		for _, id := range p.Products {
			pps = append(pps, events.PolicyProduct{ProductID: id, DisabledServices: []string{}})
		}
		emit(events.KindPolicy, p.ID, events.PolicyCreated{PolicyID: p.ID, Name: p.App, App: p.App, Products: pps, Enabled: true})
	}
	return out
}

// ClaimBatch is how many claims one LicensesClaimed of ManyClaims holds.
const ClaimBatch = 50

// ManyClaims is users users ("user0000000".. ) each claiming a license once,
// after ClaimSetup (positions from 100), as the sign-in path decides them:
// LicensesClaimed batches of ClaimBatch, each of one policy and product,
// taking turns over ClaimPolicies and their products, spread over the 30
// days from Start. Every string of an event is its own allocation, as the
// decoder makes it, so a reader that keeps one keeps its own copy.
func ManyClaims(users int) []events.Envelope {
	var out []events.Envelope
	for first := 0; first < users; first += ClaimBatch {
		n := len(out)
		pol := ClaimPolicies[n%len(ClaimPolicies)]
		product := pol.Products[n/len(ClaimPolicies)%len(pol.Products)]
		at := Start.Add(time.Duration(first) * 30 * 24 * time.Hour / time.Duration(users))
		e := events.LicensesClaimed{ProductID: strings.Clone(product), PolicyID: strings.Clone(pol.ID), App: strings.Clone(pol.App)}
		for u := first; u < min(first+ClaimBatch, users); u++ {
			e.Claims = append(e.Claims, events.Claim{UserID: fmt.Sprintf("user%07d", u), DisabledServices: []string{},
				SigninID: fmt.Sprintf("signin-%020d", u), ClaimedAt: at.Add(time.Duration(u-first) * time.Millisecond)})
		}
		env := events.New(fmt.Sprintf("claims-%d", n), ClaimTenant, events.Aggregate{Kind: events.KindProduct, ID: strings.Clone(product)}, at,
			events.Meta{Actor: "seatflow-signin", CommandID: fmt.Sprintf("batch-%d", n)}, e)
		env.Position = uint64(100 + n)
		out = append(out, env)
	}
	return out
}
