package events

import "time"

// Wire names of every event type. They never change.
const (
	TypeProductAdded               = "ProductAdded"
	TypeLicensesPurchased          = "LicensesPurchased"
	TypeLicensesRemoved            = "LicensesRemoved"
	TypeSelfServicePurchaseChanged = "SelfServicePurchaseChanged"
	TypeLicenseAssigned            = "LicenseAssigned"
	TypeLicenseClaimed             = "LicenseClaimed"
	TypeLicenseUnassigned          = "LicenseUnassigned"
	TypeRequestSubmitted           = "RequestSubmitted"
	TypeRequestShared              = "RequestShared"
	TypeShareAnswered              = "ShareAnswered"
	TypeRequestApproved            = "RequestApproved"
	TypeRequestDenied              = "RequestDenied"
	TypeRequestExpired             = "RequestExpired"
	TypeRequestProcessChanged      = "RequestProcessChanged"
	TypeAutoClaimSettingChanged    = "AutoClaimSettingChanged"
	TypePolicyCreated              = "PolicyCreated"
	TypePolicyRenamed              = "PolicyRenamed"
	TypePolicyStatusChanged        = "PolicyStatusChanged"
	TypePolicyProductsChanged      = "PolicyProductsChanged"
	TypeUserRegistered             = "UserRegistered"
	TypeGroupChanged               = "GroupChanged"
)

// Self-service purchase settings of a product.
const (
	SelfServiceAllowed = "allowed"
	SelfServiceBlocked = "blocked"
)

// RequestStatus is where a license request stands, as the request's events
// make it and every read of a request shows it: one list for the domain and
// the read models.
type RequestStatus string

// Request statuses.
const (
	RequestStatusPending           RequestStatus = "pending"
	RequestStatusApproved          RequestStatus = "approved"
	RequestStatusPartiallyApproved RequestStatus = "partially_approved"
	RequestStatusDenied            RequestStatus = "denied"
	RequestStatusExpired           RequestStatus = "expired"
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

// RequestSubmitted records a user asking for a product for themselves and
// others.
type RequestSubmitted struct {
	RequestID     string    `json:"request_id"`
	ProductID     string    `json:"product_id"`
	Requester     string    `json:"requester"`
	Users         []string  `json:"users"`
	Justification string    `json:"justification"`
	ExpiresAt     time.Time `json:"expires_at"`
}

// ShareRecipient is one person a request was shared with.
type ShareRecipient struct {
	Email   string `json:"email"`
	UserID  string `json:"user_id"`
	ShareID string `json:"share_id"`
}

// RequestShared records an admin sharing a request by email with decision
// makers; each recipient's ShareID is bound into their signed link.
type RequestShared struct {
	RequestID  string           `json:"request_id"`
	Recipients []ShareRecipient `json:"recipients"`
	Subject    string           `json:"subject"`
	Message    string           `json:"message"`
	ExpiresAt  time.Time        `json:"expires_at"`
}

// ShareAnswered records a shared recipient's recommendation.
type ShareAnswered struct {
	RequestID      string `json:"request_id"`
	ShareID        string `json:"share_id"`
	Email          string `json:"email"`
	Recommendation string `json:"recommendation"`
	Comment        string `json:"comment"`
}

// RequestApproved records an admin's decision that approves at least one
// user. Approved users got a license of ProductID (or joined GroupID);
// AlreadyLicensed ones held it before and were not assigned again.
type RequestApproved struct {
	RequestID        string   `json:"request_id"`
	ProductID        string   `json:"product_id"`
	Approved         []string `json:"approved"`
	Rejected         []string `json:"rejected"`
	AlreadyLicensed  []string `json:"already_licensed"`
	DisabledServices []string `json:"disabled_services"`
	GroupID          string   `json:"group_id,omitempty"`
	Message          string   `json:"message"`
}

// RequestDenied records a decision that rejects every user of a request.
type RequestDenied struct {
	RequestID string   `json:"request_id"`
	Rejected  []string `json:"rejected"`
	Message   string   `json:"message"`
}

// RequestExpired records a request that stayed pending past its deadline.
type RequestExpired struct {
	RequestID string `json:"request_id"`
}

// Request process modes.
const (
	ProcessBuiltin = "builtin"
	ProcessOwn     = "own"
)

// RequestProcessChanged records whether the org collects requests in Seatflow
// ("builtin") or sends users to its own process ("own") with a message and
// documentation link.
type RequestProcessChanged struct {
	Mode    string `json:"mode"`
	Message string `json:"message"`
	Link    string `json:"link"`
}

// AutoClaimSettingChanged records the organisation-wide auto-claim switch.
type AutoClaimSettingChanged struct {
	Enabled bool `json:"enabled"`
}

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

// UserRegistered records a directory user created or updated. Roles are the
// admin roles the user holds in the organisation (global-admin, user-admin,
// license-admin); notifications for admins go to them.
type UserRegistered struct {
	UserID      string   `json:"user_id"`
	Email       string   `json:"email"`
	DisplayName string   `json:"display_name"`
	Roles       []string `json:"roles"`
}

// GroupChanged records a security group's whole new state.
type GroupChanged struct {
	GroupID  string          `json:"group_id"`
	Name     string          `json:"name"`
	Members  []string        `json:"members"`
	Products []PolicyProduct `json:"products"`
}

func (ProductAdded) EventType() string               { return TypeProductAdded }
func (LicensesPurchased) EventType() string          { return TypeLicensesPurchased }
func (LicensesRemoved) EventType() string            { return TypeLicensesRemoved }
func (SelfServicePurchaseChanged) EventType() string { return TypeSelfServicePurchaseChanged }
func (LicenseAssigned) EventType() string            { return TypeLicenseAssigned }
func (LicenseClaimed) EventType() string             { return TypeLicenseClaimed }
func (LicenseUnassigned) EventType() string          { return TypeLicenseUnassigned }
func (RequestSubmitted) EventType() string           { return TypeRequestSubmitted }
func (RequestShared) EventType() string              { return TypeRequestShared }
func (ShareAnswered) EventType() string              { return TypeShareAnswered }
func (RequestApproved) EventType() string            { return TypeRequestApproved }
func (RequestDenied) EventType() string              { return TypeRequestDenied }
func (RequestExpired) EventType() string             { return TypeRequestExpired }
func (RequestProcessChanged) EventType() string      { return TypeRequestProcessChanged }
func (AutoClaimSettingChanged) EventType() string    { return TypeAutoClaimSettingChanged }
func (PolicyCreated) EventType() string              { return TypePolicyCreated }
func (PolicyRenamed) EventType() string              { return TypePolicyRenamed }
func (PolicyStatusChanged) EventType() string        { return TypePolicyStatusChanged }
func (PolicyProductsChanged) EventType() string      { return TypePolicyProductsChanged }
func (UserRegistered) EventType() string             { return TypeUserRegistered }
func (GroupChanged) EventType() string               { return TypeGroupChanged }

func (ProductAdded) EventVersion() int               { return 2 }
func (LicensesPurchased) EventVersion() int          { return 1 }
func (LicensesRemoved) EventVersion() int            { return 1 }
func (SelfServicePurchaseChanged) EventVersion() int { return 1 }
func (LicenseAssigned) EventVersion() int            { return 1 }
func (LicenseClaimed) EventVersion() int             { return 1 }
func (LicenseUnassigned) EventVersion() int          { return 2 }
func (RequestSubmitted) EventVersion() int           { return 1 }
func (RequestShared) EventVersion() int              { return 1 }
func (ShareAnswered) EventVersion() int              { return 1 }
func (RequestApproved) EventVersion() int            { return 1 }
func (RequestDenied) EventVersion() int              { return 1 }
func (RequestExpired) EventVersion() int             { return 1 }
func (RequestProcessChanged) EventVersion() int      { return 1 }
func (AutoClaimSettingChanged) EventVersion() int    { return 1 }
func (PolicyCreated) EventVersion() int              { return 1 }
func (PolicyRenamed) EventVersion() int              { return 1 }
func (PolicyStatusChanged) EventVersion() int        { return 1 }
func (PolicyProductsChanged) EventVersion() int      { return 1 }
func (UserRegistered) EventVersion() int             { return 1 }
func (GroupChanged) EventVersion() int               { return 1 }
