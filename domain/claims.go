package domain

import (
	"errors"
	"slices"
	"time"

	"github.com/seatflow/seatflow/events"
)

// SignIn is one user signing in to an app, as upstream systems report it.
// Its ID is the command ID of the claim it may cause, so a sign-in
// delivered twice claims once.
type SignIn struct {
	ID     string
	UserID UserID
	App    string
	At     time.Time
}

// ClaimStatus says what a sign-in did.
type ClaimStatus string

// Claim outcomes.
const (
	// ClaimOff: the org switch is off or the app's policy is turned off.
	ClaimOff ClaimStatus = "off"
	// ClaimNoPolicy: no enabled policy serves the app.
	ClaimNoPolicy ClaimStatus = "no_policy"
	// ClaimUserInactive: the identity provider deactivated or deleted the
	// user: a sign-in of theirs claims nothing and joins no queue.
	ClaimUserInactive ClaimStatus = "user_inactive"
	// ClaimClaimed: the user holds a license of a product of the policy
	// (claimed now, or by an earlier delivery of the same sign-in).
	ClaimClaimed ClaimStatus = "claimed"
	// ClaimAlreadyLicensed: the user already held a product of the policy.
	ClaimAlreadyLicensed ClaimStatus = "already_licensed"
	// ClaimQueued: the user waits in the policy's queue: every product
	// was full, others already waited, or a cap was reached
	// (ClaimOutcome.Reason says which).
	ClaimQueued ClaimStatus = "queued"
	// ClaimAlreadyClaimed: the user claimed under the policy before and
	// no longer holds that license (an admin took it back): a user claims
	// at most once under a policy.
	ClaimAlreadyClaimed ClaimStatus = "already_claimed"
)

// ClaimOutcome says what a sign-in did.
type ClaimOutcome struct {
	Status    ClaimStatus `json:"status"`
	PolicyID  PolicyID    `json:"policy_id,omitempty"`
	ProductID ProductID   `json:"product_id,omitempty"`
	// Reason is why a queued user waits: events.QueueNoSeats,
	// QueueDailyCap or QueueTotalCap (only with ClaimQueued).
	Reason string `json:"reason,omitempty"`
}

// ClaimOptions tune claims.
type ClaimOptions struct {
	// LowSeats is the low-seat threshold: a claim that takes a product's
	// free seats from above it to it records PoolLow. 0 turns the alert
	// off; PolicyExhausted is recorded regardless.
	LowSeats int
}

// ClaimView is the state a batch of sign-ins of one tenant is decided on:
// the org (switch and app policies), the policies serving the batch's apps
// and every product those policies ever listed.
type ClaimView struct {
	Org      *Org
	Policies map[PolicyID]*Policy
	Products map[ProductID]*Product
	// Done reports whether events carrying a command ID already stand: a
	// redelivered sign-in whose claim (or queueing) was stored before.
	// Nil: none did.
	Done func(commandID string) bool
	// Inactive reports whether the identity provider deactivated or
	// deleted a user. Nil: nobody is.
	Inactive func(UserID) bool
}

// BatchChange is one event a batch decision causes, with the sign-in (its
// index in the batch) that caused it.
type BatchChange struct {
	SignIn int
	Change
}

// ClaimDecision is what one sign-in of a batch did: its outcome, or why it
// can never succeed (a *ValidationError; it caused no event).
type ClaimDecision struct {
	Outcome ClaimOutcome
	Err     error
	// HeldSince, for a user who already holds a product of the policy
	// (ClaimAlreadyLicensed), is when they got that license: its
	// assignment or claim, the batch's now for a claim earlier in the same
	// batch. Zero when the license carries a pending reclaim warning, whose
	// answer is the sign-in itself.
	HeldSince time.Time
}

// MaxSignInSkew bounds how far in the future a sign-in's time may be;
// SignInsSince is the earliest time accepted. A time outside the window is
// refused at once: it is a bad message, not a transient failure.
const MaxSignInSkew = 24 * time.Hour

// SignInsSince is the earliest sign-in time accepted.
var SignInsSince = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// CheckSignIn validates one sign-in: ids, app, and a time within the sane
// window around now.
func CheckSignIn(in SignIn, now time.Time) error {
	if err := errors.Join(checkID("id", in.ID), checkID("user_id", string(in.UserID)), checkApp(in.App)); err != nil {
		return err
	}
	switch {
	case in.At.IsZero():
		return invalid("at", "is required")
	case in.At.Before(SignInsSince):
		return invalid("at", "%s is before %s", in.At.Format(time.RFC3339), SignInsSince.Format(time.RFC3339))
	case in.At.After(now.Add(MaxSignInSkew)):
		return invalid("at", "%s is more than %s after now", in.At.Format(time.RFC3339), MaxSignInSkew)
	}
	return nil
}

// claimOverlay is what the batch decided so far, on top of the view.
type claimOverlay struct {
	v        ClaimView
	taken    map[ProductID]int
	holds    map[ProductID]map[UserID]bool
	claimed  map[PolicyID]map[UserID]bool
	queued   map[PolicyID]map[UserID]bool
	counted  map[PolicyID]int    // claims under a capped policy decided in this batch
	reasons  map[queueKey]string // why the users queued in this batch wait
	outcomes map[string]int      // by sign-in id, its decision's index: a sign-in twice in one batch
	lowDone  map[ProductID]bool  // PoolLow recorded in this batch
	// size is how many sign-ins the batch has: the users a per-policy or
	// per-product set of the overlay holds at most, so each is made that
	// large once rather than grown claim by claim.
	size int
}

func newClaimOverlay(v ClaimView, size int) *claimOverlay {
	return &claimOverlay{v: v, taken: map[ProductID]int{}, holds: map[ProductID]map[UserID]bool{},
		claimed: map[PolicyID]map[UserID]bool{}, queued: map[PolicyID]map[UserID]bool{}, counted: map[PolicyID]int{}, reasons: map[queueKey]string{},
		outcomes: make(map[string]int, size), lowDone: map[ProductID]bool{}, size: size}
}

// poolLow returns the PoolLow product id owes with available free seats,
// if it owes one (Product.LowAlertDue) and this batch has not recorded it.
func (o *claimOverlay) poolLow(p *Policy, id ProductID, available int, opts ClaimOptions) []Change {
	if o.lowDone[id] || !o.product(id).LowAlertDue(available, opts.LowSeats) {
		return nil
	}
	o.lowDone[id] = true
	return []Change{{productAgg(id), events.PoolLow{PolicyID: string(p.ID), ProductID: string(id), Available: available, Threshold: opts.LowSeats}}}
}

type queueKey struct {
	policy PolicyID
	user   UserID
}

func (o *claimOverlay) product(id ProductID) *Product {
	if p := o.v.Products[id]; p != nil {
		return p
	}
	return &Product{ID: id}
}

func (o *claimOverlay) available(id ProductID) int {
	p := o.product(id)
	if !p.Exists() {
		return 0
	}
	return p.Available() - o.taken[id]
}

func (o *claimOverlay) held(id ProductID, u UserID) bool {
	return o.product(id).Holds(u) || o.holds[id][u]
}

// mark adds u to m's set k, made for size users when it is new.
func mark[K comparable](m map[K]map[UserID]bool, k K, u UserID, size int) {
	if m[k] == nil {
		m[k] = make(map[UserID]bool, size)
	}
	m[k][u] = true
}

// DecideClaims decides a batch of sign-ins of one tenant in order, as Claim
// decides one: each sign-in sees the seats the ones before it took. A user
// who holds a product the app's policy ever listed, waits in its queue or
// claimed under it before causes no event; otherwise they claim the first
// product in order with a free seat (PoolLow recorded for a product that
// owes it, see Product.LowAlertDue, and PolicyExhausted on the claim of
// the policy's last free seat), or join the queue when every product is
// full or others already wait. It returns the events in order, each with its sign-in, and
// one decision per sign-in. It does no I/O and does not modify the view.
func DecideClaims(v ClaimView, in []SignIn, opts ClaimOptions, now time.Time) ([]BatchChange, []ClaimDecision) {
	o := newClaimOverlay(v, len(in))
	done := v.Done
	if done == nil {
		done = func(string) bool { return false }
	}
	changes := make([]BatchChange, 0, len(in))
	decisions := make([]ClaimDecision, len(in))
	for i, s := range in {
		if j, twice := o.outcomes[s.ID]; twice {
			decisions[i] = decisions[j]
			continue
		}
		d, cs := o.decide(s, done(s.ID), opts, now)
		for _, c := range cs {
			changes = append(changes, BatchChange{SignIn: i, Change: c})
		}
		decisions[i] = d
		o.outcomes[s.ID] = i
	}
	return changes, decisions
}

func (o *claimOverlay) decide(s SignIn, done bool, opts ClaimOptions, now time.Time) (ClaimDecision, []Change) {
	if err := CheckSignIn(s, now); err != nil {
		return ClaimDecision{Err: err}, nil
	}
	org := o.v.Org
	if org == nil || !org.AutoClaim {
		return ClaimDecision{Outcome: ClaimOutcome{Status: ClaimOff}}, nil
	}
	pid := org.AppPolicies[s.App]
	if pid == "" {
		return ClaimDecision{Outcome: ClaimOutcome{Status: ClaimNoPolicy}}, nil
	}
	p := o.v.Policies[pid]
	if p == nil || !p.Exists() || !p.Enabled {
		return ClaimDecision{Outcome: ClaimOutcome{Status: ClaimOff, PolicyID: pid}}, nil
	}
	u := s.UserID
	if o.v.Inactive != nil && o.v.Inactive(u) {
		return ClaimDecision{Outcome: ClaimOutcome{Status: ClaimUserInactive, PolicyID: pid}}, nil
	}
	out := func(status ClaimStatus, prod ProductID) ClaimDecision {
		return ClaimDecision{Outcome: ClaimOutcome{Status: status, PolicyID: pid, ProductID: prod}}
	}
	for _, id := range p.Listed {
		if o.held(id, u) {
			if done {
				return out(ClaimClaimed, id), nil // this sign-in's own claim, delivered again
			}
			d := out(ClaimAlreadyLicensed, id)
			if h, ok := o.product(id).Holding(u); !ok {
				d.HeldSince = now // claimed earlier in this batch
			} else if h.Warned == nil {
				d.HeldSince = h.AssignedAt
			}
			return d, nil
		}
	}
	if p.Queued(u) || o.queued[pid][u] {
		d := out(ClaimQueued, "")
		d.Outcome.Reason = p.QueueReason(u)
		if d.Outcome.Reason == "" {
			d.Outcome.Reason = o.reasons[queueKey{pid, u}]
		}
		return d, nil
	}
	for _, id := range p.Listed {
		if o.product(id).ClaimedUnder(pid, u) || o.claimed[pid][u] {
			if done {
				return out(ClaimClaimed, ""), nil
			}
			return out(ClaimAlreadyClaimed, ""), nil
		}
	}
	pagg := policyAgg(pid)
	day := Day(now)
	capped := p.CapReason(day, o.counted[pid])
	queue := func(reason string) (ClaimDecision, []Change) {
		mark(o.queued, pid, u, o.size)
		o.reasons[queueKey{pid, u}] = reason
		d := out(ClaimQueued, "")
		d.Outcome.Reason = reason
		return d, []Change{{pagg, events.UserQueued{PolicyID: string(pid), UserID: string(u), SigninID: s.ID, SignedInAt: s.At.UTC(), Reason: reason}}}
	}
	if capped != "" {
		return queue(capped)
	}
	if len(p.Queue) > 0 || len(o.queued[pid]) > 0 {
		return queue(events.QueueNoSeats) // first come, first served: behind those waiting
	}
	id, cs, err := o.claimFirstFree(p, u, s.ID, s.At, opts)
	switch {
	case err != nil:
		return ClaimDecision{Err: err}, nil
	case id == "":
		d, qs := queue(events.QueueNoSeats)
		return d, append(cs, qs...) // with the PoolLow a full product owed
	}
	mark(o.claimed, pid, u, o.size)
	if p.Limits.Capped() {
		o.counted[pid]++
		cs = append(cs, Change{pagg, p.counted(day, o.counted[pid])})
	}
	return out(ClaimClaimed, id), cs
}

// claimFirstFree claims a license for u from the first product of p, in
// order, with a free seat: the LicenseClaimed (signinID's, claimed at at),
// with PoolLow when the product owes one after it (Product.LowAlertDue:
// the claim crossed the threshold) and PolicyExhausted when it took the
// policy's last free seat. A full product passed over that still owes its
// PoolLow records it too. It returns the product, or none when every
// product is full; an error (a *ValidationError) when the first free
// product cannot take the claim.
func (o *claimOverlay) claimFirstFree(p *Policy, u UserID, signinID string, at time.Time, opts ClaimOptions) (ProductID, []Change, error) {
	var owed []Change
	for i, pp := range p.Products {
		id := ProductID(pp.ProductID)
		prod := o.product(id)
		before := o.available(id)
		if before < 1 {
			// A full product still owing its PoolLow records it now.
			owed = append(owed, o.poolLow(p, id, 0, opts)...)
			continue
		}
		// A product's services may have changed since the policy named
		// them: keep only the disabled services it still has.
		disabled := slices.DeleteFunc(nonNil(pp.DisabledServices), func(svc string) bool { return !slices.Contains(prod.Services, svc) })
		if err := prod.checkGrant(u, disabled); err != nil {
			return "", nil, err
		}
		agg := productAgg(id)
		cs := []Change{{agg, events.LicenseClaimed{ProductID: string(id), UserID: string(u), PolicyID: string(p.ID), App: p.App,
			DisabledServices: disabled, SigninID: signinID, ClaimedAt: at.UTC()}}}
		after := before - 1
		o.taken[id]++
		mark(o.holds, id, u, o.size)
		cs = append(cs, o.poolLow(p, id, after, opts)...)
		if after == 0 && !o.othersFree(p, i) {
			cs = append(cs, Change{agg, events.PolicyExhausted{PolicyID: string(p.ID), ProductID: string(id)}})
		}
		return id, append(owed, cs...), nil
	}
	return "", owed, nil
}

func (o *claimOverlay) othersFree(p *Policy, except int) bool {
	for i, pp := range p.Products {
		if i != except && o.available(ProductID(pp.ProductID)) > 0 {
			return true
		}
	}
	return false
}

// GrantView is the state granting the head of a policy's waiting queue is
// decided on: the org switch, the policy, every product it ever listed, and
// the directory user at the head of the queue.
type GrantView struct {
	Org      *Org
	Policy   *Policy
	Products map[ProductID]*Product
	// Head is the directory user at the head of the queue (nil: not in
	// the directory, which does not stop a grant).
	Head *User
}

// GrantStatus says what granting the head of a queue did.
type GrantStatus string

// Grant statuses.
const (
	// GrantEmpty: nobody waits.
	GrantEmpty GrantStatus = "empty"
	// GrantOff: the org switch or the policy is off: nobody is granted.
	GrantOff GrantStatus = "off"
	// GrantWaiting: the head keeps waiting, and the queue behind them;
	// GrantOutcome.Reason says why (events.QueueDailyCap, QueueTotalCap or
	// QueueNoSeats).
	GrantWaiting GrantStatus = "waiting"
	// GrantGranted: the head claimed a license of GrantOutcome.ProductID
	// and left the queue.
	GrantGranted GrantStatus = "granted"
	// GrantDropped: the head left the queue without a license;
	// GrantOutcome.Reason says why (events.DropAlreadyLicensed or
	// DropUserInactive).
	GrantDropped GrantStatus = "dropped"
)

// GrantOutcome is what granting the head of a queue did.
type GrantOutcome struct {
	Status    GrantStatus
	UserID    UserID
	ProductID ProductID
	Reason    string
}

// DecideGrant decides granting the head of v.Policy's waiting queue, as a
// sign-in's claim is decided (see DecideClaims): nothing while the org
// switch or the policy is off; a head who meanwhile holds a product the
// policy ever listed, or whom the identity provider deactivated or
// deleted, leaves the queue (QueuedUserDropped) and the seat goes to the
// next; a cap reached keeps the whole queue waiting (first come, first
// served); otherwise the head claims the first product in order with a
// free seat (PoolLow and PolicyExhausted as for DecideClaims) and
// leaves the queue (QueuedUserGranted), the claim counted on a capped
// policy. Every full product keeps the queue waiting. The claim is stamped
// now, the grant's time. It does no I/O and does not modify the view.
func DecideGrant(v GrantView, opts ClaimOptions, now time.Time) ([]Change, GrantOutcome, error) {
	p := v.Policy
	if len(p.Queue) == 0 {
		return nil, GrantOutcome{Status: GrantEmpty}, nil
	}
	head := p.Queue[0]
	out := func(status GrantStatus, prod ProductID, reason string) GrantOutcome {
		return GrantOutcome{Status: status, UserID: head.UserID, ProductID: prod, Reason: reason}
	}
	if v.Org == nil || !v.Org.AutoClaim || !p.Enabled {
		return nil, out(GrantOff, "", ""), nil
	}
	pagg := policyAgg(p.ID)
	drop := func(reason string) ([]Change, GrantOutcome, error) {
		return []Change{{pagg, events.QueuedUserDropped{PolicyID: string(p.ID), UserID: string(head.UserID), Reason: reason}}},
			out(GrantDropped, "", reason), nil
	}
	o := newClaimOverlay(ClaimView{Org: v.Org, Policies: map[PolicyID]*Policy{p.ID: p}, Products: v.Products}, 1)
	for _, id := range p.Listed {
		if o.held(id, head.UserID) {
			return drop(events.DropAlreadyLicensed)
		}
	}
	if u := v.Head; u != nil && (u.Inactive || u.Deleted) {
		return drop(events.DropUserInactive) // deprovisioned while waiting: the seat goes to the next one
	}
	// The granter looks again when the UTC day rolls over or the caps
	// change. The grant's count is written to the policy with its check,
	// as a sign-in's claim is.
	day := Day(now)
	if reason := p.CapReason(day, 0); reason != "" {
		return nil, out(GrantWaiting, "", reason), nil
	}
	id, cs, err := o.claimFirstFree(p, head.UserID, head.SigninID, now, opts)
	switch {
	case err != nil:
		return nil, GrantOutcome{}, err
	case id == "":
		return nil, out(GrantWaiting, "", events.QueueNoSeats), nil
	}
	cs = append(cs, Change{pagg, events.QueuedUserGranted{PolicyID: string(p.ID), UserID: string(head.UserID), ProductID: string(id)}})
	if p.Limits.Capped() {
		cs = append(cs, Change{pagg, p.counted(day, 1)})
	}
	return cs, out(GrantGranted, id, ""), nil
}
