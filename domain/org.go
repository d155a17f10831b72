package domain

import (
	"context"
	"fmt"
	"net/url"
	"slices"

	"github.com/seatflow/seatflow/events"
)

// Org is the state of a tenant's organisation-wide settings: the auto-claim
// switch and which policy serves each app, and how license requests are
// collected. They live on the tenant's one org aggregate
// (sf.evt.<tenant>.org.org), so a command that reads a setting is checked
// against it.
type Org struct {
	// AutoClaim is the organisation-wide auto-claim switch, off by default.
	AutoClaim bool
	// AppPolicies maps each app to its one enabled policy.
	AppPolicies map[string]PolicyID
	// Process is how the org collects license requests.
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
		tx.Emit(orgAgg, DecideAutoClaim(tx.State(orgAgg).(*Org), enabled)...)
		return nil
	}, func(tx *Tx) { out.Enabled = tx.State(orgAgg).(*Org).AutoClaim })
	return out, res, err
}

// DecideAutoClaim returns the events that turn o's auto-claim switch on or
// off: none when it is already so.
func DecideAutoClaim(o *Org, enabled bool) []events.Data {
	if o.AutoClaim == enabled {
		return nil
	}
	return one(events.AutoClaimSettingChanged{Enabled: enabled})
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

// RequestProcess is how an org collects license requests: in Seatflow
// ("builtin", the default) or through its own process ("own"), in which
// case users are shown Message and Link instead and no request is
// collected.
type RequestProcess struct {
	Mode    string `json:"mode"`
	Message string `json:"message"`
	Link    string `json:"link"`
}

// Own reports whether the org sends users to its own request process.
func (p RequestProcess) Own() bool { return p.Mode == events.ProcessOwn }

// view fills in the default mode for an org that never chose one.
func (p RequestProcess) view() RequestProcess {
	if p.Mode == "" {
		p.Mode = events.ProcessBuiltin
	}
	return p
}

// OwnProcessError is returned when a request is submitted while the org
// uses its own request process; Message and Link are what the admin wants
// users to see instead.
type OwnProcessError struct {
	Message string
	Link    string
}

func (e *OwnProcessError) Error() string {
	return "the organisation uses its own request process: " + e.Message
}

// Bounds of the request-process setting.
const (
	MaxProcessMessage = 2000
	MaxLinkLen        = 2000
)

// DecideRequestProcess returns the events that set the org's request
// process to p: none when it is already so.
func DecideRequestProcess(o *Org, p RequestProcess) ([]events.Data, error) {
	switch p.Mode {
	case events.ProcessBuiltin:
	case events.ProcessOwn:
		if p.Message == "" {
			return nil, invalid("message", "is required when mode is %q: it is what users see instead of the request form", events.ProcessOwn)
		}
	default:
		return nil, invalid("mode", "must be %q or %q", events.ProcessBuiltin, events.ProcessOwn)
	}
	if len(p.Message) > MaxProcessMessage {
		return nil, invalid("message", "must be at most %d bytes", MaxProcessMessage)
	}
	if err := checkLink(p.Link); err != nil {
		return nil, err
	}
	if o.Process.view() == p {
		return nil, nil
	}
	return one(events.RequestProcessChanged{Mode: p.Mode, Message: p.Message, Link: p.Link}), nil
}

func checkLink(link string) error {
	if link == "" {
		return nil
	}
	if len(link) > MaxLinkLen {
		return invalid("link", "must be at most %d bytes", MaxLinkLen)
	}
	u, err := url.Parse(link)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return invalid("link", "%q is not an absolute http or https URL", link)
	}
	return nil
}

// SetRequestProcess sets how the org collects license requests. Requests
// already submitted stay as they are, whatever the mode.
func (s *Service) SetRequestProcess(ctx context.Context, tenant TenantID, meta events.Meta, p RequestProcess) (RequestProcess, Result, error) {
	var out RequestProcess
	res, err := s.Transact(ctx, tenant, meta, []events.Aggregate{orgAgg}, func(tx *Tx) error {
		evs, err := DecideRequestProcess(tx.State(orgAgg).(*Org), p)
		if err != nil {
			return err
		}
		tx.Emit(orgAgg, evs...)
		return nil
	}, func(tx *Tx) { out = tx.State(orgAgg).(*Org).Process.view() })
	return out, res, err
}

// RequestProcessSetting reads how the org collects license requests.
func (s *Service) RequestProcessSetting(ctx context.Context, tenant TenantID) (RequestProcess, Result, error) {
	var out RequestProcess
	res, err := s.read(ctx, tenant, []events.Aggregate{orgAgg}, func(tx *Tx) { out = tx.State(orgAgg).(*Org).Process.view() })
	if err != nil {
		return RequestProcess{}, Result{}, fmt.Errorf("read request process: %w", err)
	}
	return out, res, nil
}
