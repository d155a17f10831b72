package oracle

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/events"
)

// maxViolations bounds the violations a Fold keeps; it counts them all.
const maxViolations = 100

// Fold is the event stream folded the way the invariants are stated, per
// tenant, with every violation found on the way. Apply messages in stream
// order. The zero Fold is not ready: use New.
type Fold struct {
	// Whole says the messages are the whole stream from sequence 1, as
	// Read without tenants returns it: a gap in the sequences is then a
	// violation, since the event stream never removes a message.
	Whole bool

	// Pos is the sequence of the last message folded; Events counts them.
	Pos    uint64
	Events int

	tenants    map[string]*Tenant
	ids        map[string]uint64 // event id -> sequence
	violations []Violation
	count      int
}

// Violation is one broken invariant or rule, where it was found.
type Violation struct {
	Seq    uint64
	Tenant string
	// Invariant is the number of the invariant broken (1 to 4, see the
	// package documentation), 0 for a queue or request rule.
	Invariant int
	// User is the user concerned, if any.
	User string
	Text string
}

func (v Violation) String() string {
	if v.Invariant > 0 {
		return fmt.Sprintf("position %d, tenant %s: invariant %d: %s", v.Seq, v.Tenant, v.Invariant, v.Text)
	}
	return fmt.Sprintf("position %d, tenant %s: %s", v.Seq, v.Tenant, v.Text)
}

// Tenant is one tenant's state after the messages folded.
type Tenant struct {
	// Purchased is each product's licenses purchased.
	Purchased map[string]int
	// Holders is each product's license holders: product -> user -> holding.
	Holders map[string]map[string]Holding
	// Policies is each policy's products, in order.
	Policies map[string][]string
	// Claims counts each user's claims under each policy (one at most, by
	// invariant 3); Claimed is the product of the last.
	Claims  map[PolicyUser]int
	Claimed map[PolicyUser]string
	// Queues are the users waiting in each policy's queue, in order.
	Queues map[string][]string
	// QueuedAt counts how often each user was queued under each policy.
	QueuedAt map[PolicyUser]int
	// Requests is each request's status and decisions.
	Requests map[string]*Request
	// ByCommand is the events of each command id. An assignment decided
	// together with others (LicensesAssigned) is also listed under its
	// own command as the LicenseAssigned it stands for.
	ByCommand map[string][]events.Envelope
	// Types counts the events of each type.
	Types map[string]int

	signins map[string]*SignIn
	waiting map[string][]queued // policy -> who waits, with the sign-in that queued them
}

// PolicyUser is a user under a policy.
type PolicyUser struct{ Policy, User string }

// Holding is one license held.
type Holding struct {
	Source   events.Source
	Disabled []string
	At       time.Time // when it was given
	Seq      uint64    // where it was given
	Command  string    // by which command
}

// Request is a request's state.
type Request struct {
	// Status is pending, approved, partially_approved, denied or expired.
	Status string
	// Decisions are its RequestApproved, RequestDenied and RequestExpired
	// events (one at most, by the rules).
	Decisions []events.Envelope
}

// SignIn is what the stream holds of one sign-in id.
type SignIn struct {
	Claims  int // claims the sign-in made itself, alone or decided with others
	Grants  int // claims the grant made for the user the sign-in queued
	Queued  int // UserQueued events it caused
	Dropped int // the user it queued left the queue without a grant (QueuedUserDropped)
}

type queued struct{ user, signin string }

// New returns an empty Fold.
func New() *Fold {
	return &Fold{tenants: map[string]*Tenant{}, ids: map[string]uint64{}}
}

// FoldAll folds msgs into a new Fold; whole is Fold.Whole.
func FoldAll(msgs []Message, whole bool) *Fold {
	f := New()
	f.Whole = whole
	for _, m := range msgs {
		f.Apply(m)
	}
	return f
}

func newTenant() *Tenant {
	return &Tenant{Purchased: map[string]int{}, Holders: map[string]map[string]Holding{}, Policies: map[string][]string{},
		Claims: map[PolicyUser]int{}, Claimed: map[PolicyUser]string{}, Queues: map[string][]string{}, QueuedAt: map[PolicyUser]int{},
		Requests: map[string]*Request{}, ByCommand: map[string][]events.Envelope{}, Types: map[string]int{},
		signins: map[string]*SignIn{}, waiting: map[string][]queued{}}
}

// Tenant returns tenant's state; a tenant without events has an empty one.
func (f *Fold) Tenant(name string) *Tenant {
	t := f.tenants[name]
	if t == nil {
		t = newTenant()
		f.tenants[name] = t
	}
	return t
}

// Tenants lists the tenants that have events, sorted.
func (f *Fold) Tenants() []string {
	var out []string
	for name, t := range f.tenants {
		if len(t.Types) > 0 {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// Violations returns the violations found, in stream order (at most the
// first 100; Count says how many there were).
func (f *Fold) Violations() []Violation { return f.violations }

// Count is how many violations were found.
func (f *Fold) Count() int { return f.count }

// Err joins the violations found, nil if there is none.
func (f *Fold) Err() error {
	errs := make([]error, 0, len(f.violations)+1)
	for _, v := range f.violations {
		errs = append(errs, errors.New(v.String()))
	}
	if f.count > len(f.violations) {
		errs = append(errs, fmt.Errorf("and %d more violations", f.count-len(f.violations)))
	}
	return errors.Join(errs...)
}

func (f *Fold) violate(m Message, invariant int, user, format string, args ...any) {
	f.count++
	if len(f.violations) < maxViolations {
		f.violations = append(f.violations, Violation{Seq: m.Seq, Tenant: m.Env.Tenant, Invariant: invariant, User: user,
			Text: fmt.Sprintf(format, args...)})
	}
}

// Apply folds one message, checking every invariant and rule it touches.
func (f *Fold) Apply(m Message) {
	e := m.Env
	switch {
	case f.Whole && m.Seq != f.Pos+1:
		f.violate(m, 4, "", "sequence %d follows %d in the whole stream: a gap", m.Seq, f.Pos)
	case f.Events > 0 && m.Seq <= f.Pos:
		f.violate(m, 4, "", "sequence %d follows %d: not in stream order", m.Seq, f.Pos)
	}
	f.Pos, f.Events = m.Seq, f.Events+1
	if m.Subject != e.Subject() {
		f.violate(m, 4, "", "%s %s stored on %s, not on its aggregate's subject %s", e.Type, e.ID, m.Subject, e.Subject())
	}
	if m.MsgID != e.ID {
		f.violate(m, 4, "", "Nats-Msg-Id %q is not the event id %q", m.MsgID, e.ID)
	}
	if prev, dup := f.ids[e.ID]; dup {
		f.violate(m, 4, "", "event %s (%s) stored twice, at %d and %d", e.ID, e.Type, prev, m.Seq)
	}
	f.ids[e.ID] = m.Seq

	t := f.Tenant(e.Tenant)
	t.Types[e.Type]++
	t.ByCommand[e.CommandID] = append(t.ByCommand[e.CommandID], e)

	var touched []string // products whose assigned count may have grown or purchased shrunk
	hold := func(product, user string, h Holding) {
		touched = append(touched, product)
		hs := t.Holders[product]
		if hs == nil {
			hs = map[string]Holding{}
			t.Holders[product] = hs
		}
		if old, ok := hs[user]; ok {
			f.violate(m, 2, user, "user %s holds a second license of %s (%s %s, command %s, over %s %s given at %d by command %s)",
				user, product, h.Source.Kind, h.Source.Ref, h.Command, old.Source.Kind, old.Source.Ref, old.Seq, old.Command)
		}
		hs[user] = h
	}
	switch d := e.Data.(type) {
	case events.ProductAdded:
		t.Purchased[d.ProductID] = d.Licenses
	case events.LicensesPurchased:
		t.Purchased[d.ProductID] += d.Count
	case events.LicensesRemoved:
		t.Purchased[d.ProductID] -= d.Count
		touched = append(touched, d.ProductID)
	case events.LicenseAssigned:
		hold(d.ProductID, d.UserID, Holding{Source: d.Source, Disabled: d.DisabledServices, At: e.OccurredAt, Seq: m.Seq, Command: e.CommandID})
	case events.LicensesAssigned:
		// Assignments decided together: each is also listed under its own
		// command, as the LicenseAssigned it stands for.
		for i, one := range d.Each() {
			a := d.Assignments[i]
			hold(d.ProductID, a.UserID, Holding{Source: a.Source, Disabled: a.DisabledServices, At: e.OccurredAt, Seq: m.Seq, Command: a.CommandID})
			own := e
			own.Type, own.Version, own.CommandID, own.Actor, own.Data = one.EventType(), one.EventVersion(), a.CommandID, a.Actor, one
			t.ByCommand[a.CommandID] = append(t.ByCommand[a.CommandID], own)
		}
	case events.LicenseClaimed, events.LicensesClaimed:
		for _, c := range events.Claims(d) {
			t.claim(f, m, c)
			hold(c.ProductID, c.UserID, Holding{Source: events.Source{Kind: events.SourcePolicy, Ref: c.PolicyID}, Disabled: c.DisabledServices,
				At: c.ClaimedAt, Seq: m.Seq, Command: e.CommandID})
		}
	case events.LicenseUnassigned:
		delete(t.Holders[d.ProductID], d.UserID)
	case events.LicenseReclaimed:
		delete(t.Holders[d.ProductID], d.UserID)
	case events.PolicyCreated:
		t.Policies[d.PolicyID] = productIDs(d.Products)
	case events.PolicyProductsChanged:
		t.Policies[d.PolicyID] = productIDs(d.Products)
	case events.UserQueued:
		t.queue(f, m, d)
	case events.QueuedUserGranted:
		t.dequeue(f, m, d.PolicyID, d.UserID, false)
	case events.QueuedUserDropped:
		t.dequeue(f, m, d.PolicyID, d.UserID, true)
	case events.RequestSubmitted:
		if _, ok := t.Requests[d.RequestID]; ok {
			f.violate(m, 0, "", "request %s submitted again (command %s)", d.RequestID, e.CommandID)
		}
		t.Requests[d.RequestID] = &Request{Status: "pending"}
	case events.RequestApproved:
		status := "approved"
		if len(d.Rejected) > 0 {
			status = "partially_approved"
		}
		t.decide(f, m, d.RequestID, status)
	case events.RequestDenied:
		t.decide(f, m, d.RequestID, "denied")
	case events.RequestExpired:
		t.decide(f, m, d.RequestID, "expired")
	}
	if e.Aggregate.Kind == events.KindProduct {
		touched = append(touched, e.Aggregate.ID)
	}
	slices.Sort(touched)
	for _, p := range slices.Compact(touched) {
		if n := len(t.Holders[p]); n > t.Purchased[p] {
			f.violate(m, 1, "", "product %s has %d assigned of %d purchased (%s, command %s)", p, n, t.Purchased[p], e.Type, e.CommandID)
		}
	}
}

func (t *Tenant) signin(id string) *SignIn {
	s := t.signins[id]
	if s == nil {
		s = &SignIn{}
		t.signins[id] = s
	}
	return s
}

// claim records one claim: invariant 3, and a waiting user claims only
// by the grant that takes them out of the queue.
func (t *Tenant) claim(f *Fold, m Message, c events.LicenseClaimed) {
	e := m.Env
	k := PolicyUser{c.PolicyID, c.UserID}
	grant := e.CommandID == domain.GrantCommandID(domain.PolicyID(c.PolicyID), c.SigninID)
	if slices.Contains(t.Queues[c.PolicyID], c.UserID) && !grant {
		f.violate(m, 0, c.UserID, "user %s claims %s under %s (command %s) while waiting in its queue", c.UserID, c.ProductID, c.PolicyID, e.CommandID)
	}
	t.Claims[k]++
	t.Claimed[k] = c.ProductID
	if t.Claims[k] > 1 {
		f.violate(m, 3, c.UserID, "user %s claims under policy %s a %d. time (%s, command %s)", c.UserID, c.PolicyID, t.Claims[k], c.ProductID, e.CommandID)
	}
	if grant {
		t.signin(c.SigninID).Grants++
	} else {
		t.signin(c.SigninID).Claims++
	}
}

// queue records a user joining a policy's queue: "a user who holds a
// product of the policy, or already waits, causes no event".
func (t *Tenant) queue(f *Fold, m Message, d events.UserQueued) {
	e := m.Env
	t.QueuedAt[PolicyUser{d.PolicyID, d.UserID}]++
	t.signin(d.SigninID).Queued++
	if slices.Contains(t.Queues[d.PolicyID], d.UserID) {
		f.violate(m, 0, d.UserID, "user %s queued under %s (command %s) while already waiting", d.UserID, d.PolicyID, e.CommandID)
	}
	for _, p := range t.Policies[d.PolicyID] {
		if h, ok := t.Holders[p][d.UserID]; ok {
			f.violate(m, 0, d.UserID, "user %s queued under %s (command %s) while holding %s since %d (%s, command %s)",
				d.UserID, d.PolicyID, e.CommandID, p, h.Seq, h.Source.Kind, h.Command)
		}
	}
	t.Queues[d.PolicyID] = append(t.Queues[d.PolicyID], d.UserID)
	t.waiting[d.PolicyID] = append(t.waiting[d.PolicyID], queued{d.UserID, d.SigninID})
}

// dequeue records a user leaving a policy's queue, which only its head does.
func (t *Tenant) dequeue(f *Fold, m Message, policy, user string, dropped bool) {
	q := t.Queues[policy]
	if len(q) == 0 || q[0] != user {
		f.violate(m, 0, user, "user %s leaves the queue of %s but is not its head (%v)", user, policy, q)
	}
	t.Queues[policy] = slices.DeleteFunc(q, func(u string) bool { return u == user })
	t.waiting[policy] = slices.DeleteFunc(t.waiting[policy], func(w queued) bool {
		if w.user == user && dropped {
			t.signin(w.signin).Dropped++
		}
		return w.user == user
	})
}

// decide records a request's decision; a request is decided once.
func (t *Tenant) decide(f *Fold, m Message, request, status string) {
	e := m.Env
	r := t.Requests[request]
	if r == nil {
		f.violate(m, 0, "", "%s of unknown request %s", e.Type, request)
		r = &Request{}
		t.Requests[request] = r
	}
	r.Decisions = append(r.Decisions, e)
	if len(r.Decisions) > 1 {
		f.violate(m, 0, "", "request %s decided a %d. time (%s, command %s)", request, len(r.Decisions), e.Type, e.CommandID)
	}
	r.Status = status
}

func productIDs(ps []events.PolicyProduct) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.ProductID
	}
	return out
}

// Assigned is how many licenses of product are held.
func (t *Tenant) Assigned(product string) int { return len(t.Holders[product]) }

// Available is how many licenses of product are free.
func (t *Tenant) Available(product string) int { return t.Purchased[product] - len(t.Holders[product]) }

// HoldsPolicyProduct reports whether user holds a product policy lists now.
func (t *Tenant) HoldsPolicyProduct(policy, user string) bool {
	for _, p := range t.Policies[policy] {
		if _, ok := t.Holders[p][user]; ok {
			return true
		}
	}
	return false
}

// ClaimCount is how many claims were made, under every policy.
func (t *Tenant) ClaimCount() int {
	n := 0
	for _, c := range t.Claims {
		n += c
	}
	return n
}

// SignIn returns what the stream holds of sign-in id.
func (t *Tenant) SignIn(id string) SignIn {
	if s := t.signins[id]; s != nil {
		return *s
	}
	return SignIn{}
}

// Summary is the counts of a fold, per tenant, for reports and for
// comparing read models' counts with.
type Summary struct {
	// Events is how many events were folded.
	Events int
	// Claims counts the claims per tenant.
	Claims map[string]int
	// Assigned and Purchased are each product's counts at the end, keyed
	// by tenant and product.
	Assigned, Purchased map[[2]string]int
	// Queued is how many users wait in each tenant's policies' queues.
	Queued map[string]int
}

// Summary returns the fold's counts. It keeps nothing of the fold alive.
func (f *Fold) Summary() Summary {
	s := Summary{Events: f.Events, Claims: map[string]int{}, Assigned: map[[2]string]int{}, Purchased: map[[2]string]int{}, Queued: map[string]int{}}
	for _, name := range slices.Sorted(maps.Keys(f.tenants)) {
		t := f.tenants[name]
		if n := t.ClaimCount(); n > 0 {
			s.Claims[name] = n
		}
		for p := range t.Purchased {
			s.Purchased[[2]string{name, p}], s.Assigned[[2]string{name, p}] = t.Purchased[p], len(t.Holders[p])
		}
		for p := range t.Holders {
			s.Purchased[[2]string{name, p}], s.Assigned[[2]string{name, p}] = t.Purchased[p], len(t.Holders[p])
		}
		for _, q := range t.Queues {
			s.Queued[name] += len(q)
		}
	}
	return s
}
