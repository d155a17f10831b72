package events

import "time"

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

// UserQueued records, on the policy aggregate, a user who signed in to the
// policy's app while every product of the policy was full. Queued users are
// granted in the order of these events as seats appear.
type UserQueued struct {
	PolicyID   string    `json:"policy_id"`
	UserID     string    `json:"user_id"`
	SigninID   string    `json:"signin_id"`
	SignedInAt time.Time `json:"signed_in_at"`
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
func (UserQueued) EventVersion() int        { return 1 }
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
}
