package events

import (
	"encoding/json"
	"fmt"
	"time"
)

// Wire names of the product aggregate's event types (sf.evt.<tenant>.product.<id>).
// They never change.
const (
	TypeProductAdded               = "ProductAdded"
	TypeLicensesPurchased          = "LicensesPurchased"
	TypeLicensesRemoved            = "LicensesRemoved"
	TypeSelfServicePurchaseChanged = "SelfServicePurchaseChanged"
	TypeLicenseAssigned            = "LicenseAssigned"
	TypeLicenseClaimed             = "LicenseClaimed"
	TypeLicenseUnassigned          = "LicenseUnassigned"
	TypeLicensesAssigned           = "LicensesAssigned"
	TypeLicensesClaimed            = "LicensesClaimed"
	TypePoolLow                    = "PoolLow"
	TypePolicyExhausted            = "PolicyExhausted"
	TypeLicenseReclaimWarned       = "LicenseReclaimWarned"
	TypeLicenseReclaimed           = "LicenseReclaimed"
	TypePoolForecastWarned         = "PoolForecastWarned"
	TypePoolForecastCleared        = "PoolForecastCleared"
)

// Self-service purchase settings of a product.
const (
	SelfServiceAllowed = "allowed"
	SelfServiceBlocked = "blocked"
)

// Source kinds: where a user's license came from.
const (
	SourceManual  = "manual"
	SourceRequest = "request"
	SourcePolicy  = "policy"
	SourceGroup   = "group"
)

// Source says how a license came to a user: Kind is one of the Source*
// constants and Ref the request, policy or group id (empty for manual).
type Source struct {
	Kind string `json:"kind"`
	Ref  string `json:"ref,omitempty"`
}

// ProductAdded (v2) records a new product in the tenant's catalogue with its
// first purchase of licenses. Version 1 had no services and no self-service
// setting; its upcaster fills in none and "allowed".
type ProductAdded struct {
	ProductID   string   `json:"product_id"`
	Name        string   `json:"name"`
	Services    []string `json:"services"`
	Licenses    int      `json:"licenses"`
	SelfService string   `json:"self_service"`
}

// LicensesPurchased records Count more licenses bought for a product.
type LicensesPurchased struct {
	ProductID string `json:"product_id"`
	Count     int    `json:"count"`
}

// LicensesRemoved records Count licenses taken out of a product's pool.
type LicensesRemoved struct {
	ProductID string `json:"product_id"`
	Count     int    `json:"count"`
}

// SelfServicePurchaseChanged records whether users may buy the product
// themselves; requests are collected only while it is blocked.
type SelfServicePurchaseChanged struct {
	ProductID   string `json:"product_id"`
	SelfService string `json:"self_service"`
}

// LicenseAssigned records one license of a product given to a user by an
// admin, a request decision or a group.
type LicenseAssigned struct {
	ProductID        string   `json:"product_id"`
	UserID           string   `json:"user_id"`
	DisabledServices []string `json:"disabled_services"`
	Source           Source   `json:"source"`
}

// LicenseClaimed records a user claiming a license of a product under an
// auto-claim policy when first signing in to its app. ClaimedAt is the
// sign-in time, which may precede the event's occurred_at.
type LicenseClaimed struct {
	ProductID        string    `json:"product_id"`
	UserID           string    `json:"user_id"`
	PolicyID         string    `json:"policy_id"`
	App              string    `json:"app"`
	DisabledServices []string  `json:"disabled_services"`
	SigninID         string    `json:"signin_id,omitempty"`
	ClaimedAt        time.Time `json:"claimed_at"`
}

// Reasons a license was unassigned (LicenseUnassigned.Reason).
const (
	// UnassignedByAdmin: an admin took it back, or the group that gave it
	// dropped the user or the product (the reason of every v1 event).
	UnassignedByAdmin = ""
	// UnassignedUserDeactivated: the identity provider deprovisioned the
	// user (SCIM active: false).
	UnassignedUserDeactivated = "user_deactivated"
	// UnassignedUserDeleted: the identity provider deleted the user (SCIM
	// DELETE).
	UnassignedUserDeleted = "user_deleted"
)

// LicenseUnassigned (v2) records a user's license of a product taken back,
// and why: reason is "user_deactivated" or "user_deleted" when the identity
// provider deprovisioned the user, absent when an admin or a group change
// took it back. Version 1 had no reason; its upcaster leaves it absent.
type LicenseUnassigned struct {
	ProductID string `json:"product_id"`
	UserID    string `json:"user_id"`
	Reason    string `json:"reason,omitempty"`
}

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
	for i := range e.Claims {
		out[i] = e.Claim(i)
	}
	return out
}

// Claim returns the i-th claim as a LicenseClaimed event.
func (e LicensesClaimed) Claim(i int) LicenseClaimed {
	c := &e.Claims[i]
	return LicenseClaimed{ProductID: e.ProductID, UserID: c.UserID, PolicyID: e.PolicyID, App: e.App,
		DisabledServices: c.DisabledServices, SigninID: c.SigninID, ClaimedAt: c.ClaimedAt}
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

// PoolLow records, on the product aggregate, that the product's free
// seats are down to Threshold or fewer (Available) for claims under
// PolicyID. It is recorded once each time the seats go from above the
// threshold to it or below: right after the claims that took them, in an
// append of its own, or, when that append failed or assignments or
// removals took the seats, by the next claim decision on the product.
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

// PoolForecastWarned records, on the product aggregate, that the product's
// forecast run-out date came within the warning horizon: at its claim
// velocity (the higher of ClaimsPerDay7 and ClaimsPerDay30) the Available
// free seats, less the Queued users waiting for one, run out at RunOutAt,
// DaysLeft days away; BuyToCover30Days licenses serve the queue and 30
// more days of claims. The warning goes to the tenant's global admins
// (pool.forecast) once: no other is recorded until PoolForecastCleared.
type PoolForecastWarned struct {
	ProductID        string    `json:"product_id"`
	RunOutAt         time.Time `json:"run_out_at"`
	DaysLeft         float64   `json:"days_left"`
	Available        int       `json:"available"`
	Queued           int       `json:"queued"`
	ClaimsPerDay7    float64   `json:"claims_per_day_7"`
	ClaimsPerDay30   float64   `json:"claims_per_day_30"`
	BuyToCover30Days int       `json:"buy_to_cover_30_days"`
	HorizonDays      float64   `json:"horizon_days"`
}

// PoolForecastCleared records, on the product aggregate, that the run-out
// date of a product warned of (PoolForecastWarned) moved well back out of
// the warning horizon, e.g. after a purchase, or that nobody claims it any
// more (RunOutAt and DaysLeft null): the next approach warns again.
type PoolForecastCleared struct {
	ProductID string     `json:"product_id"`
	RunOutAt  *time.Time `json:"run_out_at"`
	DaysLeft  *float64   `json:"days_left"`
	Available int        `json:"available"`
}

func (ProductAdded) EventType() string               { return TypeProductAdded }
func (LicensesPurchased) EventType() string          { return TypeLicensesPurchased }
func (LicensesRemoved) EventType() string            { return TypeLicensesRemoved }
func (SelfServicePurchaseChanged) EventType() string { return TypeSelfServicePurchaseChanged }
func (LicenseAssigned) EventType() string            { return TypeLicenseAssigned }
func (LicenseClaimed) EventType() string             { return TypeLicenseClaimed }
func (LicenseUnassigned) EventType() string          { return TypeLicenseUnassigned }
func (LicensesAssigned) EventType() string           { return TypeLicensesAssigned }
func (LicensesClaimed) EventType() string            { return TypeLicensesClaimed }
func (PoolLow) EventType() string                    { return TypePoolLow }
func (PolicyExhausted) EventType() string            { return TypePolicyExhausted }
func (LicenseReclaimWarned) EventType() string       { return TypeLicenseReclaimWarned }
func (LicenseReclaimed) EventType() string           { return TypeLicenseReclaimed }
func (PoolForecastWarned) EventType() string         { return TypePoolForecastWarned }
func (PoolForecastCleared) EventType() string        { return TypePoolForecastCleared }

func (ProductAdded) EventVersion() int               { return 2 }
func (LicensesPurchased) EventVersion() int          { return 1 }
func (LicensesRemoved) EventVersion() int            { return 1 }
func (SelfServicePurchaseChanged) EventVersion() int { return 1 }
func (LicenseAssigned) EventVersion() int            { return 1 }
func (LicenseClaimed) EventVersion() int             { return 1 }
func (LicenseUnassigned) EventVersion() int          { return 2 }
func (LicensesAssigned) EventVersion() int           { return 1 }
func (LicensesClaimed) EventVersion() int            { return 1 }
func (PoolLow) EventVersion() int                    { return 1 }
func (PolicyExhausted) EventVersion() int            { return 1 }
func (LicenseReclaimWarned) EventVersion() int       { return 1 }
func (LicenseReclaimed) EventVersion() int           { return 1 }
func (PoolForecastWarned) EventVersion() int         { return 1 }
func (PoolForecastCleared) EventVersion() int        { return 1 }

// registerProduct adds the product aggregate's event types to r, with the upcasters from their older versions.
func registerProduct(r *Registry) {
	Register[ProductAdded](r)
	Register[LicensesPurchased](r)
	Register[LicensesRemoved](r)
	Register[SelfServicePurchaseChanged](r)
	Register[LicenseAssigned](r)
	Register[LicenseClaimed](r)
	Register[LicenseUnassigned](r)
	Register[LicensesAssigned](r)
	Register[LicensesClaimed](r)
	Register[PoolLow](r)
	Register[PolicyExhausted](r)
	Register[LicenseReclaimWarned](r)
	Register[LicenseReclaimed](r)
	Register[PoolForecastWarned](r)
	Register[PoolForecastCleared](r)
	r.AddUpcaster(TypeProductAdded, 1, upcastProductAddedV1)
	r.AddUpcaster(TypeLicenseUnassigned, 1, upcastLicenseUnassignedV1)
}

// productAddedV1 is the first published shape of ProductAdded: products had
// no service list and self-service purchase could not be blocked.
type productAddedV1 struct {
	ProductID string `json:"product_id"`
	Name      string `json:"name"`
	Licenses  int    `json:"licenses"`
}

func upcastProductAddedV1(old json.RawMessage) (json.RawMessage, error) {
	var v1 productAddedV1
	if err := json.Unmarshal(old, &v1); err != nil {
		return nil, fmt.Errorf("read v1: %w", err)
	}
	return json.Marshal(ProductAdded{
		ProductID:   v1.ProductID,
		Name:        v1.Name,
		Services:    []string{},
		Licenses:    v1.Licenses,
		SelfService: SelfServiceAllowed,
	})
}

// upcastLicenseUnassignedV1 lifts LicenseUnassigned v1 (no reason) to v2: the
// fields are the same and the reason stays empty, as v1 events were all an
// admin's or a group's doing.
func upcastLicenseUnassignedV1(old json.RawMessage) (json.RawMessage, error) {
	var v1 struct {
		ProductID string `json:"product_id"`
		UserID    string `json:"user_id"`
	}
	if err := json.Unmarshal(old, &v1); err != nil {
		return nil, fmt.Errorf("read v1: %w", err)
	}
	return json.Marshal(LicenseUnassigned{ProductID: v1.ProductID, UserID: v1.UserID})
}
