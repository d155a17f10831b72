package events

import "time"

// Wire names of the request aggregate's event types (sf.evt.<tenant>.request.<id>).
// They never change.
const (
	TypeRequestSubmitted    = "RequestSubmitted"
	TypeRequestShared       = "RequestShared"
	TypeShareAnswered       = "ShareAnswered"
	TypeRequestApproved     = "RequestApproved"
	TypeRequestDenied       = "RequestDenied"
	TypeRequestExpired      = "RequestExpired"
	TypeRequestExpiryWarned = "RequestExpiryWarned"
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

// RequestOutcome is what became of one user of a license request, as the
// request's events make it: one list for the domain and the read models.
type RequestOutcome string

// Per-user outcomes of a request.
const (
	RequestOutcomePending         RequestOutcome = "pending"
	RequestOutcomeApproved        RequestOutcome = "approved"
	RequestOutcomeAlreadyLicensed RequestOutcome = "already_licensed"
	RequestOutcomeRejected        RequestOutcome = "rejected"
	RequestOutcomeExpired         RequestOutcome = "expired"
)

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

// RequestExpiryWarned records, on the request aggregate, that the users of a
// still pending request were told it expires at ExpiresAt. It is appended
// once per request, so the warning is sent exactly once however many
// schedulers run.
type RequestExpiryWarned struct {
	RequestID string    `json:"request_id"`
	ExpiresAt time.Time `json:"expires_at"`
}

func (RequestSubmitted) EventType() string    { return TypeRequestSubmitted }
func (RequestShared) EventType() string       { return TypeRequestShared }
func (ShareAnswered) EventType() string       { return TypeShareAnswered }
func (RequestApproved) EventType() string     { return TypeRequestApproved }
func (RequestDenied) EventType() string       { return TypeRequestDenied }
func (RequestExpired) EventType() string      { return TypeRequestExpired }
func (RequestExpiryWarned) EventType() string { return TypeRequestExpiryWarned }

func (RequestSubmitted) EventVersion() int    { return 1 }
func (RequestShared) EventVersion() int       { return 1 }
func (ShareAnswered) EventVersion() int       { return 1 }
func (RequestApproved) EventVersion() int     { return 1 }
func (RequestDenied) EventVersion() int       { return 1 }
func (RequestExpired) EventVersion() int      { return 1 }
func (RequestExpiryWarned) EventVersion() int { return 1 }

// registerRequest adds the request aggregate's event types to r.
func registerRequest(r *Registry) {
	Register[RequestSubmitted](r)
	Register[RequestShared](r)
	Register[ShareAnswered](r)
	Register[RequestApproved](r)
	Register[RequestDenied](r)
	Register[RequestExpired](r)
	Register[RequestExpiryWarned](r)
}
