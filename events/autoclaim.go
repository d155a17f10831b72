package events

import (
	"encoding/json"
	"fmt"
	"time"
)

// Wire names of the auto-claim event types that are not in CONTRACT.md's
// minimum list. They never change.
const (
	TypeAppPolicyBound    = "AppPolicyBound"
	TypeAppPolicyUnbound  = "AppPolicyUnbound"
	TypeUserQueued        = "UserQueued"
	TypeQueuedUserGranted = "QueuedUserGranted"
	TypeQueuedUserDropped = "QueuedUserDropped"
	TypePoolLow           = "PoolLow"
	TypePolicyExhausted   = "PolicyExhausted"
	TypeLicensesClaimed   = "LicensesClaimed"
	TypeLicensesAssigned  = "LicensesAssigned"
)

// LicensesAssigned records, on the product aggregate, several licenses
// assigned directly by concurrent commands decided together (group
// commit): one stored message, one concurrency check. Each assignment
// means exactly what a LicenseAssigned with the same fields means, and
// carries the actor and command id of the command that asked for it.
type LicensesAssigned struct {
	ProductID   string       `json:"product_id"`
	Assignments []Assignment `json:"assignments"`
}

// Assignment is one license within LicensesAssigned.
type Assignment struct {
	UserID           string   `json:"user_id"`
	DisabledServices []string `json:"disabled_services"`
	Source           Source   `json:"source"`
	Actor            string   `json:"actor"`
	CommandID        string   `json:"command_id"`
}

// Each returns the assignments as LicenseAssigned events, in order.
func (e LicensesAssigned) Each() []LicenseAssigned {
	out := make([]LicenseAssigned, len(e.Assignments))
	for i, a := range e.Assignments {
		out[i] = LicenseAssigned{ProductID: e.ProductID, UserID: a.UserID, DisabledServices: a.DisabledServices, Source: a.Source}
	}
	return out
}

// CommandIDs are the command ids of the assignments.
func (e LicensesAssigned) CommandIDs() []string {
	out := make([]string, len(e.Assignments))
	for i, a := range e.Assignments {
		out[i] = a.CommandID
	}
	return out
}

// Assignments returns the direct assignments an event records: one for
// LicenseAssigned, each of LicensesAssigned, none for any other event.
func Assignments(d Data) []LicenseAssigned {
	switch e := d.(type) {
	case LicenseAssigned:
		return []LicenseAssigned{e}
	case LicensesAssigned:
		return e.Each()
	}
	return nil
}

// LicensesClaimed records, on the product aggregate, several users each
// claiming a license of the product under one policy, decided together
// from one batch of sign-ins (group commit): one stored message, one
// concurrency check, instead of one per claim. Each claim means exactly
// what a LicenseClaimed with the same fields means; readers may expand it
// with Each.
type LicensesClaimed struct {
	ProductID string  `json:"product_id"`
	PolicyID  string  `json:"policy_id"`
	App       string  `json:"app"`
	Claims    []Claim `json:"claims"`
}

// Claim is one user's claim within LicensesClaimed.
type Claim struct {
	UserID           string    `json:"user_id"`
	DisabledServices []string  `json:"disabled_services"`
	SigninID         string    `json:"signin_id"`
	ClaimedAt        time.Time `json:"claimed_at"`
}

// Each returns the claims as LicenseClaimed events, in order.
func (e LicensesClaimed) Each() []LicenseClaimed {
	out := make([]LicenseClaimed, len(e.Claims))
	for i, c := range e.Claims {
		out[i] = LicenseClaimed{ProductID: e.ProductID, UserID: c.UserID, PolicyID: e.PolicyID, App: e.App,
			DisabledServices: c.DisabledServices, SigninID: c.SigninID, ClaimedAt: c.ClaimedAt}
	}
	return out
}

// CommandIDs are the sign-in ids (each its claim's command id) the event
// carries besides the envelope's own command id.
func (e LicensesClaimed) CommandIDs() []string {
	out := make([]string, len(e.Claims))
	for i, c := range e.Claims {
		out[i] = c.SigninID
	}
	return out
}

// Claims returns the claims an event records: one for LicenseClaimed,
// each of LicensesClaimed, none for any other event.
func Claims(d Data) []LicenseClaimed {
	switch e := d.(type) {
	case LicenseClaimed:
		return []LicenseClaimed{e}
	case LicensesClaimed:
		return e.Each()
	}
	return nil
}

// AppPolicyBound records, on the org aggregate, that PolicyID is the one
// enabled auto-claim policy of App. It is appended in the same transaction
// as the PolicyCreated or PolicyStatusChanged that enables the policy, so
// the org's concurrency check keeps a second policy from taking the app.
type AppPolicyBound struct {
	App      string `json:"app"`
	PolicyID string `json:"policy_id"`
}

// AppPolicyUnbound records, on the org aggregate, that PolicyID no longer
// serves App (it was turned off).
type AppPolicyUnbound struct {
	App      string `json:"app"`
	PolicyID string `json:"policy_id"`
}

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

// PoolLow records, on the product aggregate, that a claim under PolicyID
// took the product's free seats down to Threshold. It is appended with the
// claim that crosses the threshold, so it happens exactly once per
// crossing.
type PoolLow struct {
	PolicyID  string `json:"policy_id"`
	ProductID string `json:"product_id"`
	Available int    `json:"available"`
	Threshold int    `json:"threshold"`
}

// PolicyExhausted records, on the product aggregate whose last seat was
// claimed, that no product of PolicyID has a free seat left.
type PolicyExhausted struct {
	PolicyID  string `json:"policy_id"`
	ProductID string `json:"product_id"`
}

func (AppPolicyBound) EventType() string    { return TypeAppPolicyBound }
func (AppPolicyUnbound) EventType() string  { return TypeAppPolicyUnbound }
func (UserQueued) EventType() string        { return TypeUserQueued }
func (QueuedUserGranted) EventType() string { return TypeQueuedUserGranted }
func (QueuedUserDropped) EventType() string { return TypeQueuedUserDropped }
func (PoolLow) EventType() string           { return TypePoolLow }
func (PolicyExhausted) EventType() string   { return TypePolicyExhausted }
func (LicensesClaimed) EventType() string   { return TypeLicensesClaimed }
func (LicensesAssigned) EventType() string  { return TypeLicensesAssigned }

func (AppPolicyBound) EventVersion() int    { return 1 }
func (AppPolicyUnbound) EventVersion() int  { return 1 }
func (UserQueued) EventVersion() int        { return 2 }
func (QueuedUserGranted) EventVersion() int { return 1 }
func (QueuedUserDropped) EventVersion() int { return 1 }
func (PoolLow) EventVersion() int           { return 1 }
func (PolicyExhausted) EventVersion() int   { return 1 }
func (LicensesClaimed) EventVersion() int   { return 1 }
func (LicensesAssigned) EventVersion() int  { return 1 }

// registerAutoClaim adds the auto-claim event types to r.
func registerAutoClaim(r *Registry) {
	Register[AppPolicyBound](r)
	Register[AppPolicyUnbound](r)
	Register[UserQueued](r)
	Register[QueuedUserGranted](r)
	Register[QueuedUserDropped](r)
	Register[PoolLow](r)
	Register[PolicyExhausted](r)
	Register[LicensesClaimed](r)
	Register[LicensesAssigned](r)
	Register[PolicyLimitsChanged](r)
	Register[PolicyClaimsCounted](r)
	Register[LicenseReclaimWarned](r)
	Register[LicenseReclaimed](r)
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

// Wire names of the cap and reclaim event types (issue 13).
const (
	TypePolicyLimitsChanged  = "PolicyLimitsChanged"
	TypePolicyClaimsCounted  = "PolicyClaimsCounted"
	TypeLicenseReclaimWarned = "LicenseReclaimWarned"
	TypeLicenseReclaimed     = "LicenseReclaimed"
)

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
// increments). Claims under a capped policy append it in the same
// all-or-nothing write as the claims, with the policy's concurrency check,
// so two instances claiming under one policy at once conflict on it and
// the caps hold. The first one after a cap is turned on carries the claims
// the policy's products recorded until then.
type PolicyClaimsCounted struct {
	PolicyID string `json:"policy_id"`
	Day      string `json:"day"`
	Today    int    `json:"today"`
	Total    int    `json:"total"`
}

// LicenseReclaimWarned records, on the product aggregate, that UserID's
// license claimed under PolicyID will be reclaimed at ReclaimAt unless
// they sign in to App before; LastSeen is their last sign-in known then
// (their claim, when none since).
type LicenseReclaimWarned struct {
	ProductID string    `json:"product_id"`
	UserID    string    `json:"user_id"`
	PolicyID  string    `json:"policy_id"`
	App       string    `json:"app"`
	LastSeen  time.Time `json:"last_seen"`
	ReclaimAt time.Time `json:"reclaim_at"`
}

// LicenseReclaimed records, on the product aggregate, that UserID's license
// claimed under PolicyID was taken back because they had not signed in to
// App since LastSeen; the seat is free again for the policy's queue. The
// user still counts as having claimed under the policy (a user claims at
// most once under a policy).
type LicenseReclaimed struct {
	ProductID string    `json:"product_id"`
	UserID    string    `json:"user_id"`
	PolicyID  string    `json:"policy_id"`
	App       string    `json:"app"`
	LastSeen  time.Time `json:"last_seen"`
}

func (PolicyLimitsChanged) EventType() string  { return TypePolicyLimitsChanged }
func (PolicyClaimsCounted) EventType() string  { return TypePolicyClaimsCounted }
func (LicenseReclaimWarned) EventType() string { return TypeLicenseReclaimWarned }
func (LicenseReclaimed) EventType() string     { return TypeLicenseReclaimed }

func (PolicyLimitsChanged) EventVersion() int  { return 1 }
func (PolicyClaimsCounted) EventVersion() int  { return 1 }
func (LicenseReclaimWarned) EventVersion() int { return 1 }
func (LicenseReclaimed) EventVersion() int     { return 1 }
