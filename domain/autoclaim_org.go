package domain

import (
	"context"
	"slices"

	"github.com/seatflow/seatflow/events"
)

// OrgID is the id of a tenant's one org aggregate (sf.evt.<tenant>.org.org).
const OrgID = "org"

// orgAgg is the tenant's org aggregate.
var orgAgg = events.Aggregate{Kind: events.KindOrg, ID: OrgID}

// Org is the state of a tenant's organisation-wide settings. This file holds
// its auto-claim part (the switch and which policy serves each app); the
// request-process setting joins it (issue 3).
type Org struct {
	// AutoClaim is the organisation-wide auto-claim switch, off by default.
	AutoClaim bool
	// AppPolicies maps each app to its one enabled policy.
	AppPolicies map[string]PolicyID
	// Process is how the org collects license requests (see org.go).
	Process RequestProcess
	// IdentityApps maps identity-provider applications to Seatflow apps
	// (see identityapps.go), sorted by provider and application id.
	IdentityApps []events.IdentityApp
}

// EvolveOrg folds one event into o. Events of other types are ignored.
func EvolveOrg(o *Org, env events.Envelope) {
	switch e := env.Data.(type) {
	case events.AutoClaimSettingChanged:
		o.AutoClaim = e.Enabled
	case events.RequestProcessChanged:
		o.Process = RequestProcess{Mode: e.Mode, Message: e.Message, Link: e.Link}
	case events.IdentityAppsMapped:
		o.IdentityApps = slices.Clone(e.Mappings)
		sortIdentityApps(o.IdentityApps) // lookups search it
	case events.AppPolicyBound:
		if o.AppPolicies == nil {
			o.AppPolicies = map[string]PolicyID{}
		}
		o.AppPolicies[e.App] = PolicyID(e.PolicyID)
	case events.AppPolicyUnbound:
		if o.AppPolicies[e.App] == PolicyID(e.PolicyID) {
			delete(o.AppPolicies, e.App)
		}
	}
}

// AutoClaimSetting is the org's auto-claim switch.
type AutoClaimSetting struct {
	Enabled bool `json:"enabled"`
}

// SetAutoClaim turns the organisation-wide auto-claim switch on or off.
// Turning it off stops new claims and grants from the waiting queues; the
// licenses already claimed stay.
func (s *Service) SetAutoClaim(ctx context.Context, tenant TenantID, meta events.Meta, enabled bool) (AutoClaimSetting, Result, error) {
	var out AutoClaimSetting
	// A switch already in the wanted position causes no write, so no
	// concurrency check: make sure another instance did not just flip it.
	if err := s.refresh(ctx, tenant, orgAgg); err != nil {
		return out, Result{}, err
	}
	res, err := s.Transact(ctx, tenant, meta, []events.Aggregate{orgAgg}, func(tx *Tx) error {
		if tx.State(orgAgg).(*Org).AutoClaim != enabled {
			tx.Emit(orgAgg, events.AutoClaimSettingChanged{Enabled: enabled})
		}
		return nil
	}, func(tx *Tx) { out.Enabled = tx.State(orgAgg).(*Org).AutoClaim })
	return out, res, err
}

// AutoClaim reads the org's auto-claim switch.
func (s *Service) AutoClaim(ctx context.Context, tenant TenantID) (AutoClaimSetting, Result, error) {
	var out AutoClaimSetting
	if err := s.refresh(ctx, tenant, orgAgg); err != nil {
		return out, Result{}, err
	}
	res, err := s.read(ctx, tenant, []events.Aggregate{orgAgg}, func(tx *Tx) { out.Enabled = tx.State(orgAgg).(*Org).AutoClaim })
	return out, res, err
}

// read runs view over the current states of aggs without deciding anything.
func (s *Service) read(ctx context.Context, tenant TenantID, aggs []events.Aggregate, view func(tx *Tx)) (Result, error) {
	return s.Transact(ctx, tenant, events.Meta{CommandID: "read"}, aggs, func(*Tx) error { return nil }, view)
}
