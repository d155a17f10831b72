package projections

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/seatflow/seatflow/events"
)

// NameLicenseHistory is the license history read model's name.
const NameLicenseHistory = "license_history"

var _ Snapshotter = (*LicenseHistory)(nil)

// HistoryEntry is one event that touched a user's license of a product.
type HistoryEntry struct {
	Position  uint64    `json:"position"`
	At        time.Time `json:"at"`
	Type      string    `json:"type"`
	Actor     string    `json:"actor"`
	CommandID string    `json:"command_id"`
	Origin    Origin    `json:"origin"`
}

// Origin says why an entry happened: Kind is one of the events.Source*
// kinds, Ref the request, policy or group id (empty for manual), Detail a
// sentence for people; the other fields state the same for programs, each
// only where it applies.
type Origin struct {
	Kind   string `json:"kind"`
	Ref    string `json:"ref"`
	Detail string `json:"detail"`
	// Requester, DecidedBy and DecisionPosition: who asked and who
	// approved a request, and the position of the approval.
	Requester        string `json:"requester,omitempty"`
	DecidedBy        string `json:"decided_by,omitempty"`
	DecisionPosition uint64 `json:"decision_position,omitempty"`
	// PolicyVersion is the position of the policy's product list in force
	// at the claim (its PolicyCreated or last PolicyProductsChanged), and
	// Place the product's place in that list: "primary" or "backup n".
	PolicyVersion uint64 `json:"policy_version,omitempty"`
	Place         string `json:"place,omitempty"`
	// GroupName is the group's name when the entry happened.
	GroupName string `json:"group_name,omitempty"`
}

// What an entry does to the license held: set it (assigned or claimed),
// take it back, or neither (a decision or a queue record).
const (
	opNone = iota
	opSet
	opDel
)

// histEntry is HistoryEntry in memory: strings that repeat are interned,
// times are Unix nanoseconds, and what the detail needs is kept as fields
// so no per-event JSON or sentence is stored. Exported fields with short
// names make the snapshot plain JSON of it.
type histEntry struct {
	Pos      uint64   `json:"p"`
	At       int64    `json:"t"`
	Type     string   `json:"y"`
	Actor    string   `json:"a,omitempty"`
	Cmd      string   `json:"c,omitempty"`
	Kind     string   `json:"k"`
	Ref      string   `json:"r,omitempty"`
	Op       int8     `json:"o,omitempty"`
	Since    int64    `json:"s,omitempty"` // assigned_at of the license set
	Disabled []string `json:"d,omitempty"`
	Version  uint64   `json:"v,omitempty"` // policy version
	Place    int      `json:"n,omitempty"` // policy place + 1; 0 unknown
	Group    string   `json:"g,omitempty"` // group name
}

type historyRequest struct {
	Requester  string `json:"requester,omitempty"`
	DecidedBy  string `json:"decided_by,omitempty"`
	DecidedPos uint64 `json:"decided_pos,omitempty"`
}

type historyPolicy struct {
	Version  uint64   `json:"version"`
	Products []string `json:"products"`
}

type historyTenant struct {
	// Users: user -> product -> entries, oldest first.
	Users    map[string]map[string][]histEntry `json:"users"`
	Requests map[string]*historyRequest        `json:"requests"`
	Policies map[string]*historyPolicy         `json:"policies"`
	Groups   map[string]string                 `json:"groups"`
}

// LicenseHistory is the read model of every event that touched each user's
// license of each product: why they hold it, or held it. It also answers
// a user's licenses at any past stream position (LicensesAt), since its
// entries say exactly what each event did to the license.
type LicenseHistory struct {
	mu      sync.RWMutex
	tenants map[string]*historyTenant
	strs    map[string]string
	lists   map[string][]string
}

// NewLicenseHistory returns an empty LicenseHistory.
func NewLicenseHistory() *LicenseHistory {
	return &LicenseHistory{tenants: map[string]*historyTenant{}, strs: map[string]string{}, lists: map[string][]string{}}
}

// Name implements Projection.
func (*LicenseHistory) Name() string { return NameLicenseHistory }

func (h *LicenseHistory) tenant(t string) *historyTenant {
	ht := h.tenants[t]
	if ht == nil {
		ht = &historyTenant{Users: map[string]map[string][]histEntry{}, Requests: map[string]*historyRequest{},
			Policies: map[string]*historyPolicy{}, Groups: map[string]string{}}
		h.tenants[t] = ht
	}
	return ht
}

func (h *LicenseHistory) str(s string) string {
	if v, ok := h.strs[s]; ok {
		return v
	}
	s = strings.Clone(s)
	h.strs[s] = s
	return s
}

func (h *LicenseHistory) list(xs []string) []string {
	if len(xs) == 0 {
		return nil
	}
	k := strings.Join(xs, "\x00")
	if v, ok := h.lists[k]; ok {
		return v
	}
	v := make([]string, len(xs))
	for i, x := range xs {
		v[i] = h.str(x)
	}
	h.lists[k] = v
	return v
}

func (h *LicenseHistory) add(t *historyTenant, user, product string, e histEntry) {
	e.Type, e.Actor, e.Kind, e.Ref, e.Group = h.str(e.Type), h.str(e.Actor), h.str(e.Kind), h.str(e.Ref), h.str(e.Group)
	e.Disabled = h.list(e.Disabled)
	ps := t.Users[user]
	if ps == nil {
		ps = map[string][]histEntry{}
		t.Users[h.str(user)] = ps
	}
	product = h.str(product)
	ps[product] = append(ps[product], e)
}

// held is the last entry that set the license, if it is still held.
func held(es []histEntry) (histEntry, bool) {
	for i := len(es) - 1; i >= 0; i-- {
		switch es[i].Op {
		case opSet:
			return es[i], true
		case opDel:
			return histEntry{}, false
		}
	}
	return histEntry{}, false
}

// Apply implements Projection.
func (h *LicenseHistory) Apply(env events.Envelope) {
	h.mu.Lock()
	defer h.mu.Unlock()
	t := h.tenant(env.Tenant)
	base := histEntry{Pos: env.Position, At: env.OccurredAt.UnixNano(), Type: env.Type, Actor: env.Actor, Cmd: env.CommandID}
	switch e := env.Data.(type) {
	case events.RequestSubmitted:
		t.Requests[e.RequestID] = &historyRequest{Requester: h.str(e.Requester)}
	case events.RequestApproved:
		r := t.Requests[e.RequestID]
		if r == nil {
			r = &historyRequest{}
			t.Requests[e.RequestID] = r
		}
		r.DecidedBy, r.DecidedPos = h.str(env.Actor), env.Position
		for _, u := range e.Approved {
			x := base
			x.Kind, x.Ref = events.SourceRequest, e.RequestID
			h.add(t, u, e.ProductID, x)
		}
	case events.PolicyCreated:
		t.Policies[e.PolicyID] = &historyPolicy{Version: env.Position, Products: h.policyProducts(e.Products)}
	case events.PolicyProductsChanged:
		p := t.Policies[e.PolicyID]
		if p == nil {
			p = &historyPolicy{}
			t.Policies[e.PolicyID] = p
		}
		p.Version, p.Products = env.Position, h.policyProducts(e.Products)
	case events.GroupChanged:
		t.Groups[e.GroupID] = h.str(e.Name)
	case events.LicenseAssigned:
		h.assigned(t, base, e, env.OccurredAt)
	case events.LicensesAssigned:
		for i, a := range e.Each() {
			x := base
			if e.Assignments[i].Actor != "" {
				x.Actor = e.Assignments[i].Actor
			}
			if e.Assignments[i].CommandID != "" {
				x.Cmd = e.Assignments[i].CommandID
			}
			h.assigned(t, x, a, env.OccurredAt)
		}
	case events.LicenseClaimed, events.LicensesClaimed:
		for _, c := range events.Claims(e) {
			x := base
			if c.SigninID != "" {
				x.Cmd = c.SigninID
			}
			x.Kind, x.Ref, x.Op, x.Since, x.Disabled = events.SourcePolicy, c.PolicyID, opSet, c.ClaimedAt.UnixNano(), c.DisabledServices
			x.Version, x.Place = t.policyPlace(c.PolicyID, c.ProductID)
			h.add(t, c.UserID, c.ProductID, x)
		}
	case events.QueuedUserGranted:
		x := base
		x.Kind, x.Ref = events.SourcePolicy, e.PolicyID
		x.Version, x.Place = t.policyPlace(e.PolicyID, e.ProductID)
		h.add(t, e.UserID, e.ProductID, x)
	case events.LicenseUnassigned:
		x := base
		x.Op = opDel
		if was, ok := held(t.Users[e.UserID][e.ProductID]); ok {
			x.Kind, x.Ref, x.Version, x.Place, x.Group = was.Kind, was.Ref, was.Version, was.Place, was.Group
		} else {
			x.Kind = events.SourceManual
		}
		h.add(t, e.UserID, e.ProductID, x)
	}
}

func (h *LicenseHistory) assigned(t *historyTenant, x histEntry, a events.LicenseAssigned, at time.Time) {
	x.Kind, x.Ref, x.Op, x.Since, x.Disabled = a.Source.Kind, a.Source.Ref, opSet, at.UnixNano(), a.DisabledServices
	if a.Source.Kind == events.SourceGroup {
		x.Group = t.Groups[a.Source.Ref]
	}
	h.add(t, a.UserID, a.ProductID, x)
}

func (h *LicenseHistory) policyProducts(ps []events.PolicyProduct) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = h.str(p.ProductID)
	}
	return out
}

// policyPlace is the policy's version and product's place in it (+1).
func (t *historyTenant) policyPlace(policy, product string) (uint64, int) {
	p := t.Policies[policy]
	if p == nil {
		return 0, 0
	}
	for i, id := range p.Products {
		if id == product {
			return p.Version, i + 1
		}
	}
	return p.Version, 0
}

// History lists every event that touched user's license of product, oldest
// first; false when there is none.
func (h *LicenseHistory) History(tenant, user, product string) ([]HistoryEntry, bool) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	t := h.tenants[tenant]
	if t == nil {
		return nil, false
	}
	es := t.Users[user][product]
	if len(es) == 0 {
		return nil, false
	}
	out := make([]HistoryEntry, len(es))
	for i, e := range es {
		out[i] = t.view(e)
	}
	return out, true
}

// Place names a 1-based place in a policy's product list: "primary" or
// "backup n"; "" for 0 (not in the list).
func Place(n int) string {
	switch {
	case n <= 0:
		return ""
	case n == 1:
		return "primary"
	}
	return "backup " + strconv.Itoa(n-1)
}

func (t *historyTenant) view(e histEntry) HistoryEntry {
	o := Origin{Kind: e.Kind, Ref: e.Ref}
	var what string
	switch e.Op {
	case opSet:
		what = "assigned"
	case opDel:
		what = "unassigned"
	}
	by := ""
	if e.Actor != "" {
		by = " by " + e.Actor
	}
	switch e.Kind {
	case events.SourceRequest:
		if r := t.Requests[e.Ref]; r != nil {
			o.Requester, o.DecidedBy, o.DecisionPosition = r.Requester, r.DecidedBy, r.DecidedPos
		}
		o.Detail = fmt.Sprintf("request %s", e.Ref)
		if o.Requester != "" {
			o.Detail += " by " + o.Requester
		}
		if o.DecidedBy != "" {
			o.Detail += fmt.Sprintf(", approved by %s (position %d)", o.DecidedBy, o.DecisionPosition)
		}
		if e.Op == opDel {
			o.Detail = "license from " + o.Detail + ", unassigned" + by
		}
	case events.SourcePolicy:
		o.PolicyVersion, o.Place = e.Version, Place(e.Place)
		o.Detail = fmt.Sprintf("policy %s (version %d)", e.Ref, e.Version)
		if o.Place != "" {
			o.Detail += ", " + o.Place + " product"
		}
		switch {
		case e.Op == opDel:
			o.Detail = "license claimed under " + o.Detail + ", unassigned" + by
		case e.Type == events.TypeQueuedUserGranted:
			o.Detail = "granted from the queue of " + o.Detail
		default:
			o.Detail = "claimed under " + o.Detail
		}
	case events.SourceGroup:
		o.GroupName = e.Group
		o.Detail = "member of group " + e.Ref
		if e.Group != "" {
			o.Detail += " (" + e.Group + ")"
		}
		if what != "" {
			o.Detail += ", " + what + by
		}
	default:
		o.Detail = "manually " + what + by
	}
	return HistoryEntry{Position: e.Pos, At: time.Unix(0, e.At).UTC(), Type: e.Type, Actor: e.Actor, CommandID: e.Cmd, Origin: o}
}

// LicensesAt lists the licenses user held once the events up to position
// were applied, as UserLicenses answered then.
func (h *LicenseHistory) LicensesAt(tenant, user string, position uint64) []UserLicense {
	h.mu.RLock()
	defer h.mu.RUnlock()
	out := []UserLicense{}
	t := h.tenants[tenant]
	if t == nil {
		return out
	}
	for product, es := range t.Users[user] {
		n := sort.Search(len(es), func(i int) bool { return es[i].Pos > position })
		e, ok := held(es[:n])
		if !ok {
			continue
		}
		d := append([]string{}, e.Disabled...)
		out = append(out, UserLicense{ProductID: product, DisabledServices: d, Source: events.Source{Kind: e.Kind, Ref: e.Ref},
			AssignedAt: time.Unix(0, e.Since).UTC()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ProductID < out[j].ProductID })
	return out
}

// Version implements Snapshotter.
func (*LicenseHistory) Version() int { return 1 }

// Snapshot implements Snapshotter.
func (h *LicenseHistory) Snapshot() ([]byte, error) {
	return snapshotJSON(&h.mu, h.tenants)
}

// Restore implements Snapshotter; repeated strings are interned again.
func (h *LicenseHistory) Restore(b []byte) error {
	fresh := map[string]*historyTenant{}
	if err := json.Unmarshal(b, &fresh); err != nil {
		return fmt.Errorf("restore %s: %w", NameLicenseHistory, err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.tenants, h.strs, h.lists = map[string]*historyTenant{}, map[string]string{}, map[string][]string{}
	for name, ft := range fresh {
		t := h.tenant(name)
		if ft.Requests != nil {
			t.Requests = ft.Requests
		}
		if ft.Groups != nil {
			t.Groups = ft.Groups
		}
		for id, p := range ft.Policies {
			t.Policies[id] = &historyPolicy{Version: p.Version, Products: h.list(p.Products)}
		}
		for u, ps := range ft.Users {
			for p, es := range ps {
				for _, e := range es {
					h.add(t, u, p, e)
				}
			}
		}
	}
	return nil
}
