package domain

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/seatflow/seatflow/events"
)

// This file holds the org aggregate's identity-app mapping: which
// application of an identity provider (Okta, Entra ID) counts as which
// Seatflow app when the provider reports a sign-in to it. It lives on the
// tenant's one org aggregate beside the other organisation settings.

// MaxIdentityApps bounds the mapping's length.
const MaxIdentityApps = 1000

// DecideIdentityApps returns the events that make ms the org's whole
// identity-app mapping: none when it is that already (in any order). Each
// entry names a known provider, the provider's id of the application
// (Okta: an app instance id; Entra ID: an application id, a GUID, compared
// in lower case) and a Seatflow app; one provider application is mapped at
// most once.
func DecideIdentityApps(o *Org, ms []events.IdentityApp) ([]events.Data, error) {
	if len(ms) > MaxIdentityApps {
		return nil, invalid("mappings", "at most %d mappings, not %d", MaxIdentityApps, len(ms))
	}
	out := make([]events.IdentityApp, len(ms))
	seen := make(map[events.IdentityApp]int, len(ms))
	for i, m := range ms {
		at := fmt.Sprintf("mappings[%d]", i)
		c, err := canonicalIdentityApp(at, m)
		if err != nil {
			return nil, err
		}
		k := events.IdentityApp{Provider: c.Provider, ProviderAppID: c.ProviderAppID}
		if j, dup := seen[k]; dup {
			return nil, invalid(at+".provider_app_id", "%s application %q is already mapped by mappings[%d]; map each application once", c.Provider, c.ProviderAppID, j)
		}
		seen[k] = i
		out[i] = c
	}
	sortIdentityApps(out)
	if slices.Equal(out, o.IdentityApps) {
		return nil, nil
	}
	return one(events.IdentityAppsMapped{Mappings: out}), nil
}

// canonicalIdentityApp checks one mapping and writes it the one way it is
// stored (an Entra ID application id in lower case).
func canonicalIdentityApp(at string, m events.IdentityApp) (events.IdentityApp, error) {
	switch m.Provider {
	case events.ProviderOkta:
		if !events.ValidID(m.ProviderAppID) {
			return m, invalid(at+".provider_app_id", "%q is not an Okta application id (the app instance id, like 0oa1a35nndfI7w1yp1d8)", m.ProviderAppID)
		}
	case events.ProviderEntra:
		if !isGUID(m.ProviderAppID) {
			return m, invalid(at+".provider_app_id", "%q is not an Entra ID application id (the application (client) id, a GUID like de8bc8b5-d9f9-48b1-a8ad-b748da725064)", m.ProviderAppID)
		}
		m.ProviderAppID = strings.ToLower(m.ProviderAppID)
	default:
		return m, invalid(at+".provider", "must be %q or %q, not %q", events.ProviderOkta, events.ProviderEntra, m.Provider)
	}
	if err := checkApp(m.App); err != nil {
		return m, invalid(at+".app", "must be 1 to 100 characters")
	}
	return m, nil
}

// isGUID reports whether s is a GUID in its 8-4-4-4-12 hexadecimal form.
func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, r := range s {
		switch i {
		case 8, 13, 18, 23:
			if r != '-' {
				return false
			}
		default:
			if !('0' <= r && r <= '9' || 'a' <= r && r <= 'f' || 'A' <= r && r <= 'F') {
				return false
			}
		}
	}
	return true
}

func sortIdentityApps(ms []events.IdentityApp) {
	slices.SortFunc(ms, func(a, b events.IdentityApp) int {
		return cmp.Or(cmp.Compare(a.Provider, b.Provider), cmp.Compare(a.ProviderAppID, b.ProviderAppID))
	})
}

// IdentityAppFor returns the Seatflow app that provider's application
// appID is mapped to in ms, or false when none is. ms is sorted as the org
// holds it (Org.IdentityApps, Service.IdentityApps).
func IdentityAppFor(ms []events.IdentityApp, provider, appID string) (string, bool) {
	if provider == events.ProviderEntra {
		appID = strings.ToLower(appID)
	}
	i, ok := slices.BinarySearchFunc(ms, events.IdentityApp{Provider: provider, ProviderAppID: appID}, func(a, b events.IdentityApp) int {
		return cmp.Or(cmp.Compare(a.Provider, b.Provider), cmp.Compare(a.ProviderAppID, b.ProviderAppID))
	})
	if !ok {
		return "", false
	}
	return ms[i].App, true
}

// identityApps is the org's mapping as answered: never nil.
func (o *Org) identityApps() []events.IdentityApp {
	if o.IdentityApps == nil {
		return []events.IdentityApp{}
	}
	return slices.Clone(o.IdentityApps)
}

// SetIdentityApps replaces the org's identity-app mapping with ms and
// answers with the mapping as stored (sorted, Entra ids in lower case).
func (s *Service) SetIdentityApps(ctx context.Context, tenant TenantID, meta events.Meta, ms []events.IdentityApp) ([]events.IdentityApp, Result, error) {
	var out []events.IdentityApp
	// A mapping already as wanted causes no write, so no concurrency
	// check: make sure another instance did not just change it.
	if err := s.refresh(ctx, tenant, orgAgg); err != nil {
		return nil, Result{}, err
	}
	res, err := s.Transact(ctx, tenant, meta, []events.Aggregate{orgAgg}, func(tx *Tx) error {
		evs, err := DecideIdentityApps(tx.State(orgAgg).(*Org), ms)
		if err != nil {
			return err
		}
		tx.Emit(orgAgg, evs...)
		return nil
	}, func(tx *Tx) { out = tx.State(orgAgg).(*Org).identityApps() })
	return out, res, err
}

// IdentityApps reads the org's identity-app mapping, caught up with the
// store: a sign-in event is never ignored for a mapping another instance
// has just stored.
func (s *Service) IdentityApps(ctx context.Context, tenant TenantID) ([]events.IdentityApp, Result, error) {
	var out []events.IdentityApp
	if err := s.refresh(ctx, tenant, orgAgg); err != nil {
		return nil, Result{}, err
	}
	res, err := s.read(ctx, tenant, []events.Aggregate{orgAgg}, func(tx *Tx) { out = tx.State(orgAgg).(*Org).identityApps() })
	if err != nil {
		return nil, Result{}, fmt.Errorf("read identity apps: %w", err)
	}
	return out, res, nil
}
