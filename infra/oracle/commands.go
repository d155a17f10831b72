package oracle

import (
	"fmt"
	"slices"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/events"
)

// Command is one command as its client saw it end: acknowledged (answered
// with success) or refused. A command without a definite answer is the
// caller's to judge.
type Command struct {
	Tenant string
	// ID is the command id its events carry: the Idempotency-Key sent, or
	// the one the answer named.
	ID    string
	Acked bool
	// Want are the event types of which an acknowledged command leaves
	// exactly one.
	Want []string
	// Only: an acknowledged command leaves that one event and nothing
	// else (a command on one product; a decision also assigns, a policy
	// also binds its app).
	Only bool
}

// Check is command accounting: an acknowledged command left exactly one
// event of the types it wants (and, with Only, nothing else), a refused
// one left nothing at all, even when an earlier attempt's outcome was
// unknown.
func (f *Fold) Check(c Command) error {
	evs := f.Tenant(c.Tenant).ByCommand[c.ID]
	if !c.Acked {
		if len(evs) > 0 {
			return fmt.Errorf("command %s was refused, yet %d of its events stand: %v", c.ID, len(evs), Types(evs))
		}
		return nil
	}
	n := 0
	for _, e := range evs {
		if slices.Contains(c.Want, e.Type) {
			n++
		}
	}
	if n != 1 || (c.Only && len(evs) != 1) {
		return fmt.Errorf("command %s was acknowledged, but its events are %v, want one of %v", c.ID, Types(evs), c.Want)
	}
	return nil
}

// CheckSignIn is command accounting for a sign-in of user, answered with
// out: what its id left must be what the answer says.
//
//   - claimed: its own claim and no queuing, or (a delivery after its
//     grant) its queuing and the grant's claim;
//   - queued: no claim of its own, and its queuing, or none when the user
//     was already queued under the policy by another sign-in;
//   - already_licensed: nothing, or its queuing when the user left the
//     queue for holding a license already (a delivery after that drop);
//   - any other answer: nothing.
func (f *Fold) CheckSignIn(tenant, id, user string, out domain.ClaimOutcome) error {
	t := f.Tenant(tenant)
	s := t.SignIn(id)
	ok := false
	switch out.Status {
	case domain.ClaimClaimed:
		ok = s == SignIn{Claims: 1} || s == SignIn{Queued: 1, Grants: 1}
	case domain.ClaimQueued:
		ok = s.Claims == 0 && (s.Queued == 1 || s == SignIn{} && t.queuedBefore(string(out.PolicyID), user))
	case domain.ClaimAlreadyLicensed:
		ok = s == SignIn{} || s == SignIn{Queued: 1, Dropped: 1}
	default:
		ok = s == SignIn{}
	}
	if !ok {
		return fmt.Errorf("sign-in %s of %s answered %s, but the stream holds %d claims of its own, %d by its grant, %d queuings and %d drops of it",
			id, user, out.Status, s.Claims, s.Grants, s.Queued, s.Dropped)
	}
	return nil
}

// queuedBefore reports whether user was queued under policy (under any
// policy when policy is empty).
func (t *Tenant) queuedBefore(policy, user string) bool {
	for k, n := range t.QueuedAt {
		if k.User == user && (policy == "" || k.Policy == policy) && n > 0 {
			return true
		}
	}
	return false
}

// Types lists events as type@position, for messages.
func Types(evs []events.Envelope) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = fmt.Sprintf("%s@%d", e.Type, e.Position)
	}
	return out
}
