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
	Requester  string
	DecidedBy  string
	DecidedPos uint64
}

type historyPolicy struct {
	Version  uint64
	Products []string
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
	hint     Sizes                // users by tenant, from Presize
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
		ht = &historyTenant{one: make(map[string]histEntry, h.hint.take(t)), many: map[string][]histEntry{}, requests: map[string]*historyRequest{},
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

// Version implements Snapshotter: 2 since snapshots are binary.
func (*LicenseHistory) Version() int { return 2 }

// Snapshot implements Snapshotter, in the binary form (see binsnap.go):
//
//	'H' format | strs | lists | shapes | tenants: name, requests, policies, groups,
//	    one: user entry | many: user, entries    (entry: pos at since cmd ref shape)
//
// the shapes in their order, their strings as numbers in the tables;
// tenants, their maps and their users in key order, the users with one
// entry apart from those with more (as they are kept), each user's entries
// oldest first.
func (h *LicenseHistory) Snapshot() ([]byte, error) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	size := 64 + 16*len(h.shapes)
	for _, t := range h.tenants {
		size += 64 * (len(t.one) + 2*len(t.many))
	}
	w := newSnapWriter(tagLicenseHistory, size)
	w.strTable(&h.strs)
	w.listTable(&h.lists, &h.strs)
	w.len(len(h.shapes))
	for _, sh := range h.shapes {
		w.uvarint(sh.version)
		w.u32(sh.actor)
		w.u32(sh.group)
		w.u32(sh.disabled)
		w.u32(sh.typ)
		w.u32(sh.kind)
		w.u32(sh.product)
		w.byte(sh.op)
		w.byte(sh.place)
	}
	w.len(len(h.tenants))
	for _, te := range ordered(h.tenants) {
		t := te.v
		w.str(te.k)
		w.len(len(t.requests))
		for _, e := range ordered(t.requests) {
			w.str(e.k)
			w.str(e.v.Requester)
			w.str(e.v.DecidedBy)
			w.uvarint(e.v.DecidedPos)
		}
		w.len(len(t.policies))
		for _, e := range ordered(t.policies) {
			w.str(e.k)
			w.uvarint(e.v.Version)
			w.len(len(e.v.Products))
			for _, x := range e.v.Products {
				w.str(x)
			}
		}
		w.strMap(t.groups)
		one := ordered(t.one)
		w.len(len(one))
		for _, e := range one {
			w.str(e.k)
			w.histEntry(e.v)
		}
		many := ordered(t.many)
		w.len(len(many))
		for _, e := range many {
			w.str(e.k)
			w.len(len(e.v))
			for _, en := range e.v {
				w.histEntry(en)
			}
		}
	}
	return w.b, nil
}

func (w *snapWriter) histEntry(e histEntry) {
	w.uvarint(e.pos)
	w.varint(e.at)
	w.varint(e.since)
	w.str(e.cmd)
	w.u32(e.ref)
	w.u32(e.shape)
}

// Restore implements Snapshotter: the tables and shapes are taken as they
// were, so no entry is interned again, and the state is swapped in only
// once it has all decoded.
func (h *LicenseHistory) Restore(b []byte) error {
	r := newSnapReader(tagLicenseHistory, b)
	strs := r.strTable()
	lists := r.listTable(&strs)
	nstr := len(strs.strs)
	nshape := r.count(9)
	shapes, shapeIdx := make([]histShape, 0, nshape), make(map[histShape]uint32, nshape)
	for i := range nshape {
		sh := histShape{version: r.uvarint(), actor: r.index(nstr), group: r.index(nstr), disabled: r.index(len(lists.lists)),
			typ: r.index(nstr), kind: r.index(nstr), product: r.index(nstr), op: r.byte(), place: r.byte()}
		if sh.op > opDel {
			r.fail(fmt.Sprintf("entry op %d", sh.op))
		}
		if _, dup := shapeIdx[sh]; dup {
			r.fail("shape twice in the table")
		}
		if r.err != nil {
			break
		}
		shapes = append(shapes, sh)
		shapeIdx[sh] = uint32(i)
	}
	entry := func() histEntry {
		return histEntry{pos: r.uvarint(), at: r.varint(), since: r.varint(), cmd: r.str(), ref: r.index(nstr), shape: r.index(len(shapes))}
	}
	// Strings of requests, policies and groups are in strs (they were
	// interned when applied): intern returns the table's copy.
	n := r.count(6)
	tenants := make(map[string]*historyTenant, n)
	var tc keyCursor
	for range n {
		name := r.key(&tc)
		t := &historyTenant{}
		nreq := r.count(4)
		t.requests = make(map[string]*historyRequest, nreq)
		var c keyCursor
		for range nreq {
			id := r.key(&c)
			t.requests[id] = &historyRequest{Requester: strs.intern(r.str()), DecidedBy: strs.intern(r.str()), DecidedPos: r.uvarint()}
		}
		npol := r.count(3)
		t.policies = make(map[string]*historyPolicy, npol)
		c = keyCursor{}
		for range npol {
			id := r.key(&c)
			p := &historyPolicy{Version: r.uvarint(), Products: make([]string, r.count(1))}
			for k := range p.Products {
				p.Products[k] = strs.intern(r.str())
			}
			t.policies[id] = p
		}
		t.groups = r.strMap()
		for g, gn := range t.groups {
			t.groups[g] = strs.intern(gn)
		}
		one := r.count(7)
		t.one = make(map[string]histEntry, one)
		c = keyCursor{}
		for range one {
			u := r.key(&c)
			t.one[u] = entry()
		}
		many := r.count(14)
		t.many = make(map[string][]histEntry, many)
		c = keyCursor{}
		for range many {
			u := r.key(&c)
			es := make([]histEntry, r.count(6))
			for i := range es {
				es[i] = entry()
			}
			if _, ok := t.one[u]; ok || len(es) < 2 {
				r.fail(fmt.Sprintf("user %q with %d entries among those with several", u, len(es)))
			}
			if r.err != nil {
				break
			}
			t.many[u] = es
		}
		tenants[name] = t
	}
	if err := r.end(); err != nil {
		return fmt.Errorf("restore %s: %w", NameLicenseHistory, err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.tenants, h.strs, h.lists, h.shapes, h.shapeIdx, h.hint = tenants, strs, lists, shapes, shapeIdx, nil
	return nil
}
