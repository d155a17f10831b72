package projections

import (
	"fmt"
	"slices"
	"sort"
	"strings"
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
	hint    Sizes    // users by tenant and product, from Presize
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
	App              string
	Enabled          bool
	ReclaimAfterDays *int
	ReclaimWarnDays  *int
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

// users is the licenses claimed of product, by user, made on first use.
func (rc *ReclaimCandidates) users(tenant string, t *reclaimTenant, product string) map[string]reclaimLicense {
	users := t.licenses[product]
	if users == nil {
		users = make(map[string]reclaimLicense, rc.hint.take(tenantProduct(tenant, product)))
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
		users := rc.users(env.Tenant, t, b.ProductID)
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
// and user, without their app; 3 since snapshots are binary.
func (*ReclaimCandidates) Version() int { return 3 }

// Snapshot implements Snapshotter, in the binary form (see binsnap.go):
//
//	'R' format | strs | tenants: name, auto-claim, policies,
//	    licenses: product, users: user claimed_at policy | warned: product user last_seen reclaim_at
//
// tenants and their maps in key order, the warnings (few) by product and
// user; times as Unix nanoseconds (nanos).
func (rc *ReclaimCandidates) Snapshot() ([]byte, error) {
	rc.mu.RLock()
	defer rc.mu.RUnlock()
	size := 64
	for _, t := range rc.tenants {
		for _, users := range t.licenses {
			size += 32 * len(users)
		}
	}
	w := newSnapWriter(tagReclaimCandidates, size)
	w.strTable(&rc.strs)
	w.len(len(rc.tenants))
	optional := func(p *int) {
		w.bool(p != nil)
		if p != nil {
			w.int(*p)
		}
	}
	for _, te := range ordered(rc.tenants) {
		t := te.v
		w.str(te.k)
		w.bool(t.autoClaim)
		w.len(len(t.policies))
		for _, e := range ordered(t.policies) {
			w.str(e.k)
			w.str(e.v.App)
			w.bool(e.v.Enabled)
			optional(e.v.ReclaimAfterDays)
			optional(e.v.ReclaimWarnDays)
		}
		w.len(len(t.licenses))
		for _, pe := range ordered(t.licenses) {
			w.str(pe.k)
			users := ordered(pe.v)
			w.len(len(users))
			for _, e := range users {
				w.str(e.k)
				w.varint(int64(e.v.claimedAt))
				w.u32(e.v.policy)
			}
		}
		warned := make([]reclaimKey, 0, len(t.warned))
		for k := range t.warned {
			warned = append(warned, k)
		}
		slices.SortFunc(warned, func(a, b reclaimKey) int {
			if c := strings.Compare(a.product, b.product); c != 0 {
				return c
			}
			return strings.Compare(a.user, b.user)
		})
		w.len(len(warned))
		for _, k := range warned {
			wn := t.warned[k]
			w.str(k.product)
			w.str(k.user)
			w.varint(int64(nanosOf(wn.lastSeen)))
			w.varint(int64(nanosOf(wn.reclaimAt)))
		}
	}
	return w.b, nil
}

// Restore implements Snapshotter: the table is taken as it was, so no
// license is interned again, and the state is swapped in only once it has
// all decoded.
func (rc *ReclaimCandidates) Restore(b []byte) error {
	r := newSnapReader(tagReclaimCandidates, b)
	strs := r.strTable()
	optional := func() *int {
		if !r.bool() {
			return nil
		}
		v := r.int()
		return &v
	}
	n := r.count(5)
	tenants := make(map[string]*reclaimTenant, n)
	var tc keyCursor
	for range n {
		name := r.key(&tc)
		t := &reclaimTenant{autoClaim: r.bool()}
		npol := r.count(5)
		t.policies = make(map[string]*reclaimPolicy, npol)
		var c keyCursor
		for range npol {
			id := r.key(&c)
			t.policies[id] = &reclaimPolicy{App: r.str(), Enabled: r.bool(), ReclaimAfterDays: optional(), ReclaimWarnDays: optional()}
		}
		nprod := r.count(2)
		t.licenses = make(map[string]map[string]reclaimLicense, nprod)
		c = keyCursor{}
		for range nprod {
			product := strs.intern(r.key(&c)) // interned when applied
			nusers := r.count(3)
			users := make(map[string]reclaimLicense, nusers)
			var uc keyCursor
			for range nusers {
				u := r.key(&uc)
				users[u] = reclaimLicense{claimedAt: nanos(r.varint()), policy: r.index(len(strs.strs))}
			}
			t.licenses[product] = users
		}
		nwarned := r.count(4)
		t.warned = make(map[reclaimKey]reclaimWarning, nwarned)
		var prev reclaimKey
		for j := range nwarned {
			k := reclaimKey{r.str(), r.str()}
			if j > 0 && (k.product < prev.product || k.product == prev.product && k.user <= prev.user) {
				r.fail("warnings out of order")
			}
			t.warned[k] = reclaimWarning{lastSeen: nanos(r.varint()).time(), reclaimAt: nanos(r.varint()).time()}
			prev = k
		}
		tenants[name] = t
	}
	if err := r.end(); err != nil {
		return fmt.Errorf("restore %s: %w", NameReclaimCandidates, err)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.tenants, rc.strs, rc.hint = tenants, strs, nil
	return nil
}
