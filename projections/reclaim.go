package projections

import (
	"fmt"
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
// reclaim warning pending on it, and each policy's reclaim settings. It
// grows with every claimed user, so it is kept compact: per license a map
// entry of 16 bytes by product and user, policies numbered, the claim time
// as Unix nanoseconds, and the few pending warnings in a map of their own.
type ReclaimCandidates struct {
	mu      sync.RWMutex
	tenants map[string]*reclaimTenant
	strs    strTable // product and policy ids
}

type reclaimTenant struct {
	autoClaim bool
	policies  map[string]*reclaimPolicy
	// licenses: product -> user -> the license they claimed.
	licenses map[string]map[string]reclaimLicense
	// warned: the licenses with a reclaim warning pending.
	warned map[reclaimKey]reclaimWarning
}

type reclaimPolicy struct {
	App              string `json:"app"`
	Enabled          bool   `json:"enabled,omitempty"`
	ReclaimAfterDays *int   `json:"reclaim_after_days,omitempty"`
	ReclaimWarnDays  *int   `json:"reclaim_warn_days,omitempty"`
}

type reclaimLicense struct {
	claimedAt nanos
	policy    uint32 // in ReclaimCandidates.strs
}

type reclaimKey struct{ product, user string }

// reclaimWarning is a pending warning's last sign-in and due time.
type reclaimWarning struct{ lastSeen, reclaimAt time.Time }

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
	return &ReclaimCandidates{tenants: map[string]*reclaimTenant{}, strs: newStrTable()}
}

// Name implements Projection.
func (*ReclaimCandidates) Name() string { return NameReclaimCandidates }

func (rc *ReclaimCandidates) tenant(name string) *reclaimTenant {
	t := rc.tenants[name]
	if t == nil {
		t = &reclaimTenant{policies: map[string]*reclaimPolicy{}, licenses: map[string]map[string]reclaimLicense{},
			warned: map[reclaimKey]reclaimWarning{}}
		rc.tenants[name] = t
	}
	return t
}

// claimed records user's license of product claimed under policy at at,
// with no warning pending.
func (rc *ReclaimCandidates) claimed(t *reclaimTenant, product, user, policy string, at time.Time) {
	rc.users(t, product)[user] = reclaimLicense{claimedAt: nanosOf(at), policy: rc.strs.id(policy)}
	delete(t.warned, reclaimKey{product, user})
}

// users is the licenses claimed of product, by user, made on first use.
func (rc *ReclaimCandidates) users(t *reclaimTenant, product string) map[string]reclaimLicense {
	users := t.licenses[product]
	if users == nil {
		users = map[string]reclaimLicense{}
		t.licenses[rc.strs.intern(product)] = users
	}
	return users
}

// Apply implements Projection.
func (rc *ReclaimCandidates) Apply(env events.Envelope) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	t := rc.tenant(env.Tenant)
	drop := func(product, user string) {
		delete(t.licenses[product], user)
		delete(t.warned, reclaimKey{product, user})
	}
	switch e := env.Data.(type) {
	case events.AutoClaimSettingChanged:
		t.autoClaim = e.Enabled
	case events.PolicyCreated:
		t.policies[e.PolicyID] = &reclaimPolicy{App: e.App, Enabled: e.Enabled}
	case events.PolicyStatusChanged:
		if p := t.policies[e.PolicyID]; p != nil {
			p.Enabled = e.Enabled
		}
	case events.PolicyLimitsChanged:
		if p := t.policies[e.PolicyID]; p != nil {
			p.ReclaimAfterDays, p.ReclaimWarnDays = e.ReclaimAfterDays, e.ReclaimWarnDays
		}
	case events.LicenseClaimed, events.LicensesClaimed:
		b, _ := claimBatch(e)
		users := rc.users(t, b.ProductID)
		policy := rc.strs.id(b.PolicyID)
		for i := range b.Claims {
			c := &b.Claims[i]
			users[c.UserID] = reclaimLicense{claimedAt: nanosOf(c.ClaimedAt), policy: policy}
			if len(t.warned) > 0 {
				delete(t.warned, reclaimKey{b.ProductID, c.UserID})
			}
		}
	case events.LicenseReclaimWarned:
		if _, ok := t.licenses[e.ProductID][e.UserID]; ok {
			t.warned[reclaimKey{e.ProductID, e.UserID}] = reclaimWarning{lastSeen: e.LastSeen, reclaimAt: e.ReclaimAt}
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
		if !t.autoClaim {
			continue
		}
		for product, users := range t.licenses {
			for user, l := range users {
				policy := rc.strs.str(l.policy)
				p := t.policies[policy]
				if p == nil || !p.Enabled || p.ReclaimAfterDays == nil {
					continue
				}
				after := *p.ReclaimAfterDays
				warn := min(DefaultReclaimWarnDays, after-1)
				if p.ReclaimWarnDays != nil {
					warn = *p.ReclaimWarnDays
				}
				var w reclaimWarning
				if len(t.warned) > 0 {
					w = t.warned[reclaimKey{product, user}]
				}
				claimedAt := l.claimedAt.time()
				since := claimedAt
				if w.lastSeen.After(since) {
					since = w.lastSeen
				}
				if now.Before(since.AddDate(0, 0, after-warn)) && (w.reclaimAt.IsZero() || now.Before(w.reclaimAt)) {
					continue
				}
				out = append(out, ReclaimCandidate{Tenant: tenant, ProductID: product, UserID: user, PolicyID: policy,
					App: p.App, ClaimedAt: claimedAt, AfterDays: after, WarnDays: warn, Warned: !w.reclaimAt.IsZero(),
					WarnedLastSeen: w.lastSeen, ReclaimAt: w.reclaimAt})
			}
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

// Version implements Snapshotter: 2 since licenses are kept by product
// and user, without their app.
func (*ReclaimCandidates) Version() int { return 2 }

type reclaimTenantJSON struct {
	AutoClaim bool                      `json:"auto_claim,omitempty"`
	Policies  map[string]*reclaimPolicy `json:"policies"`
	// Licenses: product -> user -> license.
	Licenses map[string]map[string]reclaimLicenseJSON `json:"licenses"`
}

type reclaimLicenseJSON struct {
	PolicyID  string    `json:"policy_id"`
	ClaimedAt time.Time `json:"claimed_at"`
	// WarnedLastSeen and ReclaimAt are the pending warning's (zero: none).
	WarnedLastSeen time.Time `json:"warned_last_seen,omitzero"`
	ReclaimAt      time.Time `json:"reclaim_at,omitzero"`
}

// Snapshot implements Snapshotter.
func (rc *ReclaimCandidates) Snapshot() ([]byte, error) {
	rc.mu.RLock()
	defer rc.mu.RUnlock()
	out := make(map[string]reclaimTenantJSON, len(rc.tenants))
	for name, t := range rc.tenants {
		tj := reclaimTenantJSON{AutoClaim: t.autoClaim, Policies: t.policies, Licenses: make(map[string]map[string]reclaimLicenseJSON, len(t.licenses))}
		for product, users := range t.licenses {
			us := make(map[string]reclaimLicenseJSON, len(users))
			for user, l := range users {
				w := t.warned[reclaimKey{product, user}]
				us[user] = reclaimLicenseJSON{PolicyID: rc.strs.str(l.policy), ClaimedAt: l.claimedAt.time(), WarnedLastSeen: w.lastSeen, ReclaimAt: w.reclaimAt}
			}
			tj.Licenses[product] = us
		}
		out[name] = tj
	}
	b, err := marshalSnapshot(out)
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", NameReclaimCandidates, err)
	}
	return b, nil
}

// Restore implements Snapshotter.
func (rc *ReclaimCandidates) Restore(b []byte) error {
	var in map[string]reclaimTenantJSON
	if err := unmarshalSnapshot(b, &in); err != nil {
		return fmt.Errorf("restore %s: %w", NameReclaimCandidates, err)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.tenants, rc.strs = map[string]*reclaimTenant{}, newStrTable()
	for name, tj := range in {
		t := rc.tenant(name)
		t.autoClaim = tj.AutoClaim
		for id, p := range tj.Policies {
			if p != nil {
				t.policies[id] = p
			}
		}
		for product, users := range tj.Licenses {
			for user, l := range users {
				rc.claimed(t, product, user, l.PolicyID, l.ClaimedAt)
				if !l.WarnedLastSeen.IsZero() || !l.ReclaimAt.IsZero() {
					t.warned[reclaimKey{rc.strs.intern(product), user}] = reclaimWarning{lastSeen: l.WarnedLastSeen, reclaimAt: l.ReclaimAt}
				}
			}
		}
	}
	return nil
}
