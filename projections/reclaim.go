package projections

import (
	"sort"
	"sync"
	"time"

	"github.com/seatflow/seatflow/events"
)

// NameReclaimCandidates is the reclaim candidates read model's name.
const NameReclaimCandidates = "reclaim_candidates"

var _ Snapshotter = (*ReclaimCandidates)(nil)

// ReclaimCandidates is the read model the reclaim reactor works from: the
// licenses claimed under auto-claim policies, when each was claimed, any
// reclaim warning pending on it, and each policy's reclaim settings.
type ReclaimCandidates struct {
	mu      sync.RWMutex
	tenants map[string]*reclaimTenant
}

type reclaimTenant struct {
	AutoClaim bool                       `json:"auto_claim,omitempty"`
	Policies  map[string]*reclaimPolicy  `json:"policies"`
	Licenses  map[string]*reclaimLicense `json:"licenses"` // by product + "\x00" + user
}

type reclaimPolicy struct {
	App              string `json:"app"`
	Enabled          bool   `json:"enabled,omitempty"`
	ReclaimAfterDays *int   `json:"reclaim_after_days,omitempty"`
	ReclaimWarnDays  *int   `json:"reclaim_warn_days,omitempty"`
}

type reclaimLicense struct {
	ProductID string    `json:"product_id"`
	UserID    string    `json:"user_id"`
	PolicyID  string    `json:"policy_id"`
	App       string    `json:"app"`
	ClaimedAt time.Time `json:"claimed_at"`
	// WarnedLastSeen and ReclaimAt are the pending warning's (zero: none).
	WarnedLastSeen time.Time `json:"warned_last_seen,omitzero"`
	ReclaimAt      time.Time `json:"reclaim_at,omitzero"`
}

// ReclaimCandidate is a license that may be due for a reclaim warning or a
// reclaim, with its policy's settings.
type ReclaimCandidate struct {
	Tenant, ProductID, UserID, PolicyID, App string
	ClaimedAt                                time.Time
	// AfterDays and WarnDays are the policy's reclaim_after_days and the
	// warning's lead (reclaim_warn_days or its default).
	AfterDays, WarnDays int
	// Warned says a warning is pending; WarnedLastSeen is the sign-in it
	// was based on and ReclaimAt when it falls due.
	Warned                    bool
	WarnedLastSeen, ReclaimAt time.Time
}

// NewReclaimCandidates returns an empty read model.
func NewReclaimCandidates() *ReclaimCandidates {
	return &ReclaimCandidates{tenants: map[string]*reclaimTenant{}}
}

// Name implements Projection.
func (*ReclaimCandidates) Name() string { return NameReclaimCandidates }

// Apply implements Projection.
func (rc *ReclaimCandidates) Apply(env events.Envelope) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	t := rc.tenants[env.Tenant]
	if t == nil {
		t = &reclaimTenant{Policies: map[string]*reclaimPolicy{}, Licenses: map[string]*reclaimLicense{}}
		rc.tenants[env.Tenant] = t
	}
	drop := func(product, user string) { delete(t.Licenses, product+"\x00"+user) }
	switch e := env.Data.(type) {
	case events.AutoClaimSettingChanged:
		t.AutoClaim = e.Enabled
	case events.PolicyCreated:
		t.Policies[e.PolicyID] = &reclaimPolicy{App: e.App, Enabled: e.Enabled}
	case events.PolicyStatusChanged:
		if p := t.Policies[e.PolicyID]; p != nil {
			p.Enabled = e.Enabled
		}
	case events.PolicyLimitsChanged:
		if p := t.Policies[e.PolicyID]; p != nil {
			p.ReclaimAfterDays, p.ReclaimWarnDays = e.ReclaimAfterDays, e.ReclaimWarnDays
		}
	case events.LicenseClaimed, events.LicensesClaimed:
		for _, c := range events.Claims(e) {
			t.Licenses[c.ProductID+"\x00"+c.UserID] = &reclaimLicense{ProductID: c.ProductID, UserID: c.UserID, PolicyID: c.PolicyID,
				App: c.App, ClaimedAt: c.ClaimedAt}
		}
	case events.LicenseReclaimWarned:
		if l := t.Licenses[e.ProductID+"\x00"+e.UserID]; l != nil {
			l.WarnedLastSeen, l.ReclaimAt = e.LastSeen, e.ReclaimAt
		}
	case events.LicenseUnassigned:
		drop(e.ProductID, e.UserID)
	case events.LicenseReclaimed:
		drop(e.ProductID, e.UserID)
	}
}

// DefaultReclaimWarnDays is the warning's lead when a policy does not set
// reclaim_warn_days (at most reclaim_after_days-1), as the domain has it.
const DefaultReclaimWarnDays = 7

// Due lists the licenses that may be due at now, sorted by tenant, product
// and user: under an enabled policy with reclaiming on (and the tenant's
// switch on), idle since their claim, or their pending warning's sign-in,
// for at least reclaim_after_days minus the warning's lead. Whether the
// user signed in since is for the caller to look up.
func (rc *ReclaimCandidates) Due(now time.Time) []ReclaimCandidate {
	rc.mu.RLock()
	defer rc.mu.RUnlock()
	var out []ReclaimCandidate
	for tenant, t := range rc.tenants {
		if !t.AutoClaim {
			continue
		}
		for _, l := range t.Licenses {
			p := t.Policies[l.PolicyID]
			if p == nil || !p.Enabled || p.ReclaimAfterDays == nil {
				continue
			}
			after := *p.ReclaimAfterDays
			warn := min(DefaultReclaimWarnDays, after-1)
			if p.ReclaimWarnDays != nil {
				warn = *p.ReclaimWarnDays
			}
			since := l.ClaimedAt
			if l.WarnedLastSeen.After(since) {
				since = l.WarnedLastSeen
			}
			if now.Before(since.AddDate(0, 0, after-warn)) && (l.ReclaimAt.IsZero() || now.Before(l.ReclaimAt)) {
				continue
			}
			out = append(out, ReclaimCandidate{Tenant: tenant, ProductID: l.ProductID, UserID: l.UserID, PolicyID: l.PolicyID,
				App: p.App, ClaimedAt: l.ClaimedAt, AfterDays: after, WarnDays: warn, Warned: !l.ReclaimAt.IsZero(),
				WarnedLastSeen: l.WarnedLastSeen, ReclaimAt: l.ReclaimAt})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Tenant != b.Tenant {
			return a.Tenant < b.Tenant
		}
		if a.ProductID != b.ProductID {
			return a.ProductID < b.ProductID
		}
		return a.UserID < b.UserID
	})
	return out
}

// Version implements Snapshotter.
func (*ReclaimCandidates) Version() int { return 1 }

// Snapshot implements Snapshotter.
func (rc *ReclaimCandidates) Snapshot() ([]byte, error) { return snapshotJSON(&rc.mu, rc.tenants) }

// Restore implements Snapshotter.
func (rc *ReclaimCandidates) Restore(b []byte) error {
	return restoreJSON(NameReclaimCandidates, &rc.mu, b, &rc.tenants)
}
