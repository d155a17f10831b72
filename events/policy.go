package events

import (
	"encoding/json"
	"fmt"
	"time"
)

// Wire names of the policy aggregate's event types (sf.evt.<tenant>.policy.<id>).
// They never change.
const (
	TypePolicyCreated         = "PolicyCreated"
	TypePolicyRenamed         = "PolicyRenamed"
	TypePolicyStatusChanged   = "PolicyStatusChanged"
	TypePolicyProductsChanged = "PolicyProductsChanged"
	TypeUserQueued            = "UserQueued"
	TypeQueuedUserGranted     = "QueuedUserGranted"
	TypeQueuedUserDropped     = "QueuedUserDropped"
	TypePolicyLimitsChanged   = "PolicyLimitsChanged"
	TypePolicyClaimsCounted   = "PolicyClaimsCounted"
)

// PolicyProduct is one entry of a policy's ordered product list.
type PolicyProduct struct {
	ProductID        string   `json:"product_id"`
	DisabledServices []string `json:"disabled_services"`
}

// PolicyCreated records a new auto-claim policy; Products[0] is the primary.
type PolicyCreated struct {
	PolicyID string          `json:"policy_id"`
	Name     string          `json:"name"`
	App      string          `json:"app"`
	Products []PolicyProduct `json:"products"`
	Enabled  bool            `json:"enabled"`
}

// PolicyRenamed records a policy's new name.
type PolicyRenamed struct {
	PolicyID string `json:"policy_id"`
	Name     string `json:"name"`
}

// PolicyStatusChanged records a policy turned on or off.
type PolicyStatusChanged struct {
	PolicyID string `json:"policy_id"`
	Enabled  bool   `json:"enabled"`
}

// PolicyProductsChanged records a policy's whole new product list.
type PolicyProductsChanged struct {
	PolicyID string          `json:"policy_id"`
	Products []PolicyProduct `json:"products"`
}

// Reasons a user waits in a policy's queue (UserQueued v2).
const (
	// QueueNoSeats: every product of the policy was full (or others were
	// already waiting for a seat).
	QueueNoSeats = "no_seats"
	// QueueDailyCap: the policy's daily cap of claims was reached for the
	// UTC day.
	QueueDailyCap = "daily_cap"
	// QueueTotalCap: the policy's total cap of claims was reached.
	QueueTotalCap = "total_cap"
)

// UserQueued (v2) records, on the policy aggregate, a user who signed in to
// the policy's app and could not claim: Reason is QueueNoSeats (every
// product of the policy was full, or others waited), QueueDailyCap or
// QueueTotalCap. Queued users are granted in the order of these events as
// seats appear and the caps allow. Version 1 had no reason; its upcaster
// gives QueueNoSeats, the only reason there was.
type UserQueued struct {
	PolicyID   string    `json:"policy_id"`
	UserID     string    `json:"user_id"`
	SigninID   string    `json:"signin_id"`
	SignedInAt time.Time `json:"signed_in_at"`
	Reason     string    `json:"reason"`
}

// QueuedUserGranted records, on the policy aggregate, that the head of the
// queue got a license of ProductID. The LicenseClaimed on the product is
// appended in the same transaction.
type QueuedUserGranted struct {
	PolicyID  string `json:"policy_id"`
	UserID    string `json:"user_id"`
	ProductID string `json:"product_id"`
}

// Reasons a queued user leaves the queue without a claim.
const (
	DropAlreadyLicensed = "already_licensed"
	// DropUserInactive: the identity provider deactivated or deleted the
	// user while they waited.
	DropUserInactive = "user_inactive"
)

// QueuedUserDropped records, on the policy aggregate, that the head of the
// queue left it without claiming, e.g. because an admin gave them one of the
// policy's products meanwhile.
type QueuedUserDropped struct {
	PolicyID string `json:"policy_id"`
	UserID   string `json:"user_id"`
	Reason   string `json:"reason"`
}

// PolicyLimitsChanged records, on the policy aggregate, the policy's claim
// caps and reclaim settings; each is nil when off. DailyCap bounds the
// claims under the policy per UTC day and TotalCap the claims under it
// ever; a license claimed under the policy whose user has not signed in to
// the app for ReclaimAfterDays days is reclaimed, after a warning
// ReclaimWarnDays days before.
type PolicyLimitsChanged struct {
	PolicyID         string `json:"policy_id"`
	DailyCap         *int   `json:"daily_cap"`
	TotalCap         *int   `json:"total_cap"`
	ReclaimAfterDays *int   `json:"reclaim_after_days"`
	ReclaimWarnDays  *int   `json:"reclaim_warn_days"`
}

// PolicyClaimsCounted records, on the policy aggregate, how many licenses
// were claimed under a capped policy: Today on the UTC day Day, and Total
// ever. It carries the counts after the claims it records (absolute, not
// increments). Claims under a capped policy append it with the policy's
// concurrency check, so two instances claiming under one policy at once
// conflict on it and the caps hold: on a cluster in the same
// all-or-nothing write as the claims; on a single server just before
// them, reserving their places. Claims that then meet another writer of
// their product are not stored, and a second PolicyClaimsCounted with
// lower counts gives their places back (so a count may go down); if the
// service stops between the two, the count stays higher than the claims,
// which holds claims back but never lets one past a cap. The first one
// after a cap is turned on carries the claims the policy's products
// recorded until then.
type PolicyClaimsCounted struct {
	PolicyID string `json:"policy_id"`
	Day      string `json:"day"`
	Today    int    `json:"today"`
	Total    int    `json:"total"`
}

func (PolicyCreated) EventType() string         { return TypePolicyCreated }
func (PolicyRenamed) EventType() string         { return TypePolicyRenamed }
func (PolicyStatusChanged) EventType() string   { return TypePolicyStatusChanged }
func (PolicyProductsChanged) EventType() string { return TypePolicyProductsChanged }
func (UserQueued) EventType() string            { return TypeUserQueued }
func (QueuedUserGranted) EventType() string     { return TypeQueuedUserGranted }
func (QueuedUserDropped) EventType() string     { return TypeQueuedUserDropped }
func (PolicyLimitsChanged) EventType() string   { return TypePolicyLimitsChanged }
func (PolicyClaimsCounted) EventType() string   { return TypePolicyClaimsCounted }

func (PolicyCreated) EventVersion() int         { return 1 }
func (PolicyRenamed) EventVersion() int         { return 1 }
func (PolicyStatusChanged) EventVersion() int   { return 1 }
func (PolicyProductsChanged) EventVersion() int { return 1 }
func (UserQueued) EventVersion() int            { return 2 }
func (QueuedUserGranted) EventVersion() int     { return 1 }
func (QueuedUserDropped) EventVersion() int     { return 1 }
func (PolicyLimitsChanged) EventVersion() int   { return 1 }
func (PolicyClaimsCounted) EventVersion() int   { return 1 }

// registerPolicy adds the policy aggregate's event types to r, with the upcasters from their older versions.
func registerPolicy(r *Registry) {
	Register[PolicyCreated](r)
	Register[PolicyRenamed](r)
	Register[PolicyStatusChanged](r)
	Register[PolicyProductsChanged](r)
	Register[UserQueued](r)
	Register[QueuedUserGranted](r)
	Register[QueuedUserDropped](r)
	Register[PolicyLimitsChanged](r)
	Register[PolicyClaimsCounted](r)
	r.AddUpcaster(TypeUserQueued, 1, upcastUserQueuedV1)
}

// userQueuedV1 is the first published shape of UserQueued: the only reason
// to queue was that every product was full.
type userQueuedV1 struct {
	PolicyID   string    `json:"policy_id"`
	UserID     string    `json:"user_id"`
	SigninID   string    `json:"signin_id"`
	SignedInAt time.Time `json:"signed_in_at"`
}

func upcastUserQueuedV1(old json.RawMessage) (json.RawMessage, error) {
	var v1 userQueuedV1
	if err := json.Unmarshal(old, &v1); err != nil {
		return nil, fmt.Errorf("read v1: %w", err)
	}
	return json.Marshal(UserQueued{PolicyID: v1.PolicyID, UserID: v1.UserID, SigninID: v1.SigninID,
		SignedInAt: v1.SignedInAt, Reason: QueueNoSeats})
}
