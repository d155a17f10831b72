package projections

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
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

// histEntry is HistoryEntry in memory, 48 bytes: what is the event's
// own (position, times, command id, the request, policy or group it
// refers to) and the number of its shape, which holds what many entries
// share. Strings that repeat are numbers in the read model's tables,
// times are Unix nanoseconds, and what the detail needs is kept as
// fields, so no per-event JSON or sentence is stored. Only the command id
// is the event's own string.
type histEntry struct {
	pos   uint64
	at    int64
	since int64 // assigned_at of the license an opSet entry sets
	cmd   string
	ref   uint32 // in strs
	shape uint32 // in LicenseHistory.shapes
}

// histShape is the part of an entry that many entries share: all the
// claims of a product under one version of a policy, say. Its strings
// are numbers in LicenseHistory.strs, its service list in lists.
type histShape struct {
	version  uint64 // policy version
	actor    uint32
	group    uint32 // group name
	disabled uint32 // service list
	typ      uint32
	kind     uint32
	product  uint32
	op       uint8
	place    uint8 // policy place + 1; 0 unknown
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
	// one and many: user -> the entries of all their licenses, oldest
	// first, not by product: in one a user with one entry (most of them,
	// kept in the map itself), in many a user with more. User ids are not
	// interned: each is one key.
	one      map[string]histEntry
	many     map[string][]histEntry
	requests map[string]*historyRequest
	policies map[string]*historyPolicy
	groups   map[string]string
}

// LicenseHistory is the read model of every event that touched each user's
// license of each product: why they hold it, or held it. It also answers
// a user's licenses at any past stream position (LicensesAt), since its
// entries say exactly what each event did to the license. It grows with
// the events that touch licenses, so it is kept compact (see histEntry).
type LicenseHistory struct {
	mu       sync.RWMutex
	tenants  map[string]*historyTenant
	strs     strTable  // types, actors, kinds, refs, products, names
	lists    listTable // disabled services
	shapes   []histShape
	shapeIdx map[histShape]uint32 // shape -> index in shapes
}

// NewLicenseHistory returns an empty LicenseHistory.
func NewLicenseHistory() *LicenseHistory {
	h := &LicenseHistory{}
	h.reset()
	return h
}

func (h *LicenseHistory) reset() {
	h.tenants = map[string]*historyTenant{}
	h.strs, h.lists = newStrTable(), newListTable()
	h.shapes, h.shapeIdx = nil, map[histShape]uint32{}
}

// Name implements Projection.
func (*LicenseHistory) Name() string { return NameLicenseHistory }

func (h *LicenseHistory) tenant(t string) *historyTenant {
	ht := h.tenants[t]
	if ht == nil {
		ht = &historyTenant{one: map[string]histEntry{}, many: map[string][]histEntry{}, requests: map[string]*historyRequest{},
			policies: map[string]*historyPolicy{}, groups: map[string]string{}}
		h.tenants[t] = ht
	}
	return ht
}

// name interns s and returns its number.
func (h *LicenseHistory) name(s string) uint32 { return h.strs.id(s) }

// str interns s and returns the interned copy.
func (h *LicenseHistory) str(s string) string { return h.strs.intern(s) }

// draft is an entry being built, with its strings not yet interned.
type draft struct {
	pos                   uint64
	at, since             int64
	version               uint64
	typ, kind, ref, group string
	actor, cmd            string
	disabled              []string
	op                    uint8
	place                 int
}

func (h *LicenseHistory) add(t *historyTenant, user, product string, d draft) {
	h.push(t, user, histEntry{pos: d.pos, at: d.at, since: d.since, cmd: d.cmd, ref: h.name(d.ref), shape: h.shape(product, d)})
}

// shape numbers the shape of an entry of product drafted as d.
func (h *LicenseHistory) shape(product string, d draft) uint32 {
	sh := histShape{version: d.version, actor: h.name(d.actor), group: h.name(d.group), disabled: h.lists.id(d.disabled, &h.strs),
		typ: h.name(d.typ), kind: h.name(d.kind), product: h.name(product), op: d.op, place: uint8(min(d.place, 255))}
	si, ok := h.shapeIdx[sh]
	if !ok {
		si = uint32(len(h.shapes))
		h.shapes = append(h.shapes, sh)
		h.shapeIdx[sh] = si
	}
	return si
}

// push appends e to user's entries.
func (h *LicenseHistory) push(t *historyTenant, user string, e histEntry) {
	if len(t.many) > 0 {
		if es, ok := t.many[user]; ok {
			t.many[user] = append(es, e)
			return
		}
	}
	if first, ok := t.one[user]; ok {
		delete(t.one, user)
		t.many[user] = []histEntry{first, e}
		return
	}
	t.one[user] = e
}

// entriesOf is user's entries, oldest first.
func (t *historyTenant) entriesOf(user string) []histEntry {
	if e, ok := t.one[user]; ok {
		return []histEntry{e}
	}
	return t.many[user]
}

// entries lists user's entries of product, oldest first.
func (h *LicenseHistory) entries(t *historyTenant, user, product string) []histEntry {
	p, ok := h.strs.lookup(product)
	if !ok {
		return nil
	}
	var out []histEntry
	for _, e := range t.entriesOf(user) {
		if h.shapes[e.shape].product == p {
			out = append(out, e)
		}
	}
	return out
}

// held is the last entry that set the license, if it is still held.
func (h *LicenseHistory) held(es []histEntry) (histEntry, bool) {
	for i := len(es) - 1; i >= 0; i-- {
		switch h.shapes[es[i].shape].op {
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
	base := draft{pos: env.Position, at: env.OccurredAt.UnixNano(), typ: env.Type, actor: env.Actor, cmd: env.CommandID}
	switch e := env.Data.(type) {
	case events.RequestSubmitted:
		t.requests[e.RequestID] = &historyRequest{Requester: h.str(e.Requester)}
	case events.RequestApproved:
		r := t.requests[e.RequestID]
		if r == nil {
			r = &historyRequest{}
			t.requests[e.RequestID] = r
		}
		r.DecidedBy, r.DecidedPos = h.str(env.Actor), env.Position
		for _, u := range e.Approved {
			x := base
			x.kind, x.ref = events.SourceRequest, e.RequestID
			h.add(t, u, e.ProductID, x)
		}
	case events.PolicyCreated:
		t.policies[e.PolicyID] = &historyPolicy{Version: env.Position, Products: h.policyProducts(e.Products)}
	case events.PolicyProductsChanged:
		p := t.policies[e.PolicyID]
		if p == nil {
			p = &historyPolicy{}
			t.policies[e.PolicyID] = p
		}
		p.Version, p.Products = env.Position, h.policyProducts(e.Products)
	case events.GroupChanged:
		t.groups[e.GroupID] = h.str(e.Name)
	case events.LicenseAssigned:
		h.assigned(t, base, e, env.OccurredAt)
	case events.LicensesAssigned:
		for i, a := range e.Each() {
			x := base
			if e.Assignments[i].Actor != "" {
				x.actor = e.Assignments[i].Actor
			}
			if e.Assignments[i].CommandID != "" {
				x.cmd = e.Assignments[i].CommandID
			}
			h.assigned(t, x, a, env.OccurredAt)
		}
	case events.LicenseClaimed, events.LicensesClaimed:
		// The claims of a batch share their shape (unless their disabled
		// services differ) and their policy: each costs its entry.
		b, _ := claimBatch(e)
		x := base
		x.kind, x.ref, x.op = events.SourcePolicy, b.PolicyID, opSet
		x.version, x.place = t.policyPlace(b.PolicyID, b.ProductID)
		ref := h.name(b.PolicyID)
		var shape uint32
		for i := range b.Claims {
			c := &b.Claims[i]
			if i == 0 || !slices.Equal(c.DisabledServices, x.disabled) {
				x.disabled = c.DisabledServices
				shape = h.shape(b.ProductID, x)
			}
			en := histEntry{pos: x.pos, at: x.at, since: c.ClaimedAt.UnixNano(), cmd: x.cmd, ref: ref, shape: shape}
			if c.SigninID != "" {
				en.cmd = c.SigninID
			}
			h.push(t, c.UserID, en)
		}
	case events.QueuedUserGranted:
		x := base
		x.kind, x.ref = events.SourcePolicy, e.PolicyID
		x.version, x.place = t.policyPlace(e.PolicyID, e.ProductID)
		h.add(t, e.UserID, e.ProductID, x)
	case events.LicenseUnassigned, events.LicenseReclaimed:
		// A reclaim takes the license back like an unassignment; the entry's
		// type says which.
		user, product := unassignedOf(e)
		x := base
		x.op, x.kind = opDel, events.SourceManual
		if was, ok := h.held(h.entries(t, user, product)); ok {
			sh := h.shapes[was.shape]
			x.kind, x.ref, x.version, x.place, x.group = h.strs.str(sh.kind), h.strs.str(was.ref), sh.version, int(sh.place), h.strs.str(sh.group)
		}
		h.add(t, user, product, x)
	}
}

// unassignedOf is the user and product a license was taken back from.
func unassignedOf(d events.Data) (user, product string) {
	switch e := d.(type) {
	case events.LicenseUnassigned:
		return e.UserID, e.ProductID
	case events.LicenseReclaimed:
		return e.UserID, e.ProductID
	}
	return "", ""
}

func (h *LicenseHistory) assigned(t *historyTenant, x draft, a events.LicenseAssigned, at time.Time) {
	x.kind, x.ref, x.op, x.since, x.disabled = a.Source.Kind, a.Source.Ref, opSet, at.UnixNano(), a.DisabledServices
	if a.Source.Kind == events.SourceGroup {
		x.group = t.groups[a.Source.Ref]
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
	p := t.policies[policy]
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
	es := h.entries(t, user, product)
	if len(es) == 0 {
		return nil, false
	}
	out := make([]HistoryEntry, len(es))
	for i, e := range es {
		out[i] = h.view(t, e)
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

func (h *LicenseHistory) view(t *historyTenant, e histEntry) HistoryEntry {
	sh := h.shapes[e.shape]
	kind, ref, actor, typ := h.strs.str(sh.kind), h.strs.str(e.ref), h.strs.str(sh.actor), h.strs.str(sh.typ)
	o := Origin{Kind: kind, Ref: ref}
	var what string
	switch sh.op {
	case opSet:
		what = "assigned"
	case opDel:
		what = "unassigned"
	}
	by := ""
	if actor != "" {
		by = " by " + actor
	}
	switch kind {
	case events.SourceRequest:
		if r := t.requests[ref]; r != nil {
			o.Requester, o.DecidedBy, o.DecisionPosition = r.Requester, r.DecidedBy, r.DecidedPos
		}
		o.Detail = "request " + ref
		if o.Requester != "" {
			o.Detail += " by " + o.Requester
		}
		if o.DecidedBy != "" {
			o.Detail += fmt.Sprintf(", approved by %s (position %d)", o.DecidedBy, o.DecisionPosition)
		}
		if sh.op == opDel {
			o.Detail = "license from " + o.Detail + ", unassigned" + by
		}
	case events.SourcePolicy:
		o.PolicyVersion, o.Place = sh.version, Place(int(sh.place))
		o.Detail = fmt.Sprintf("policy %s (version %d)", ref, sh.version)
		if o.Place != "" {
			o.Detail += ", " + o.Place + " product"
		}
		switch {
		case sh.op == opDel:
			o.Detail = "license claimed under " + o.Detail + ", unassigned" + by
		case typ == events.TypeQueuedUserGranted:
			o.Detail = "granted from the queue of " + o.Detail
		default:
			o.Detail = "claimed under " + o.Detail
		}
	case events.SourceGroup:
		o.GroupName = h.strs.str(sh.group)
		o.Detail = "member of group " + ref
		if o.GroupName != "" {
			o.Detail += " (" + o.GroupName + ")"
		}
		if what != "" {
			o.Detail += ", " + what + by
		}
	default:
		o.Detail = "manually " + what + by
	}
	return HistoryEntry{Position: e.pos, At: time.Unix(0, e.at).UTC(), Type: typ, Actor: actor, CommandID: e.cmd, Origin: o}
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
	// The last entry of each product at or before position says whether it
	// is held.
	last := map[uint32]histEntry{}
	for _, e := range t.entriesOf(user) {
		if e.pos > position {
			break
		}
		if sh := h.shapes[e.shape]; sh.op != opNone {
			last[sh.product] = e
		}
	}
	for _, e := range last {
		sh := h.shapes[e.shape]
		if sh.op != opSet {
			continue
		}
		d := append([]string{}, h.lists.list(sh.disabled)...)
		out = append(out, UserLicense{ProductID: h.strs.str(sh.product), DisabledServices: d,
			Source: events.Source{Kind: h.strs.str(sh.kind), Ref: h.strs.str(e.ref)}, AssignedAt: time.Unix(0, e.since).UTC()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ProductID < out[j].ProductID })
	return out
}

// Version implements Snapshotter.
func (*LicenseHistory) Version() int { return 1 }

// histEntryJSON is histEntry in a snapshot, with its strings spelled out.
type histEntryJSON struct {
	Pos      uint64   `json:"p"`
	At       int64    `json:"t"`
	Since    int64    `json:"s,omitempty"`
	Version  uint64   `json:"v,omitempty"`
	Cmd      string   `json:"c,omitempty"`
	Actor    string   `json:"a,omitempty"`
	Ref      string   `json:"r,omitempty"`
	Group    string   `json:"g,omitempty"`
	Disabled []string `json:"d,omitempty"`
	Type     string   `json:"y"`
	Kind     string   `json:"k"`
	Op       uint8    `json:"o,omitempty"`
	Place    int      `json:"n,omitempty"`
}

type historyTenantJSON struct {
	// Users: user -> product -> entries.
	Users    map[string]map[string][]histEntryJSON `json:"users"`
	Requests map[string]*historyRequest            `json:"requests"`
	Policies map[string]*historyPolicy             `json:"policies"`
	Groups   map[string]string                     `json:"groups"`
}

// Snapshot implements Snapshotter.
func (h *LicenseHistory) Snapshot() ([]byte, error) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	out := make(map[string]historyTenantJSON, len(h.tenants))
	for name, t := range h.tenants {
		tj := historyTenantJSON{Users: make(map[string]map[string][]histEntryJSON, len(t.one)+len(t.many)), Requests: t.requests,
			Policies: t.policies, Groups: t.groups}
		each := func(u string, es []histEntry) {
			ps := map[string][]histEntryJSON{}
			for _, e := range es {
				sh := h.shapes[e.shape]
				product := h.strs.str(sh.product)
				ps[product] = append(ps[product], histEntryJSON{Pos: e.pos, At: e.at, Since: e.since, Version: sh.version, Cmd: e.cmd,
					Actor: h.strs.str(sh.actor), Ref: h.strs.str(e.ref), Group: h.strs.str(sh.group), Disabled: h.lists.list(sh.disabled),
					Type: h.strs.str(sh.typ), Kind: h.strs.str(sh.kind), Op: sh.op, Place: int(sh.place)})
			}
			tj.Users[u] = ps
		}
		for u, e := range t.one {
			each(u, []histEntry{e})
		}
		for u, es := range t.many {
			each(u, es)
		}
		out[name] = tj
	}
	b, err := marshalSnapshot(out)
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", NameLicenseHistory, err)
	}
	return b, nil
}

// Restore implements Snapshotter; repeated strings are interned again.
func (h *LicenseHistory) Restore(b []byte) error {
	var in map[string]historyTenantJSON
	if err := unmarshalSnapshot(b, &in); err != nil {
		return fmt.Errorf("restore %s: %w", NameLicenseHistory, err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.reset()
	for name, tj := range in {
		t := h.tenant(name)
		for id, r := range tj.Requests {
			t.requests[id] = &historyRequest{Requester: h.str(r.Requester), DecidedBy: h.str(r.DecidedBy), DecidedPos: r.DecidedPos}
		}
		for id, p := range tj.Policies {
			ps := make([]string, len(p.Products))
			for i, x := range p.Products {
				ps[i] = h.str(x)
			}
			t.policies[id] = &historyPolicy{Version: p.Version, Products: ps}
		}
		for id, g := range tj.Groups {
			t.groups[id] = h.str(g)
		}
		for u, ps := range tj.Users {
			// A user's entries are kept in stream order across products.
			type restored struct {
				product string
				e       histEntryJSON
			}
			var all []restored
			for p, es := range ps {
				for _, e := range es {
					all = append(all, restored{p, e})
				}
			}
			sort.SliceStable(all, func(i, j int) bool {
				if all[i].e.Pos != all[j].e.Pos {
					return all[i].e.Pos < all[j].e.Pos
				}
				return all[i].product < all[j].product
			})
			for _, r := range all {
				e := r.e
				h.add(t, u, r.product, draft{pos: e.Pos, at: e.At, since: e.Since, version: e.Version, cmd: e.Cmd, actor: e.Actor,
					ref: e.Ref, group: e.Group, disabled: e.Disabled, typ: e.Type, kind: e.Kind, op: e.Op, place: e.Place})
			}
		}
	}
	return nil
}
