package projections

import (
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/seatflow/seatflow/events"
)

// NameRequests is the request read model's name.
const NameRequests = "requests"

// Request statuses as the list shows them (events.RequestStatusPending, ...).
const (
	RequestPending           = events.RequestStatusPending
	RequestApproved          = events.RequestStatusApproved
	RequestPartiallyApproved = events.RequestStatusPartiallyApproved
	RequestDenied            = events.RequestStatusDenied
	RequestExpired           = events.RequestStatusExpired
)

// Per-user outcomes of a request.
const (
	OutcomePending         = events.RequestOutcomePending
	OutcomeApproved        = events.RequestOutcomeApproved
	OutcomeAlreadyLicensed = events.RequestOutcomeAlreadyLicensed
	OutcomeRejected        = events.RequestOutcomeRejected
	OutcomeExpired         = events.RequestOutcomeExpired
)

// DefaultRetention is how long requests stay listed by default.
const DefaultRetention = 365 * 24 * time.Hour

// RequestItem is one row of the Requests list.
type RequestItem struct {
	RequestID   string               `json:"request_id"`
	ProductID   string               `json:"product_id"`
	ProductName string               `json:"product_name"`
	Requester   string               `json:"requester"`
	RequestedAt time.Time            `json:"requested_at"`
	Status      events.RequestStatus `json:"status"`
	Users       []string             `json:"users"`
}

// RequestUser is one user of a request and what became of them.
type RequestUser struct {
	UserID  string                `json:"user_id"`
	Outcome events.RequestOutcome `json:"outcome"`
}

// RequestDecision is how a request was decided.
type RequestDecision struct {
	DecidedBy        string    `json:"decided_by"`
	DecidedAt        time.Time `json:"decided_at"`
	ProductID        string    `json:"product_id,omitempty"`
	GroupID          string    `json:"group_id,omitempty"`
	DisabledServices []string  `json:"disabled_services"`
	Message          string    `json:"message"`
}

// RequestShare is one recipient a request was shared with and their answer.
type RequestShare struct {
	ShareID        string     `json:"share_id"`
	Email          string     `json:"email"`
	UserID         string     `json:"user_id"`
	SharedAt       time.Time  `json:"shared_at"`
	SharedBy       string     `json:"shared_by"`
	Subject        string     `json:"subject,omitempty"`
	Message        string     `json:"message,omitempty"`
	ExpiresAt      time.Time  `json:"expires_at"`
	Answered       bool       `json:"answered"`
	Recommendation string     `json:"recommendation,omitempty"`
	Comment        string     `json:"comment,omitempty"`
	AnsweredAt     *time.Time `json:"answered_at,omitempty"`
}

// RequestDetails is one request with each user's outcome and the shared
// recipients' answers.
type RequestDetails struct {
	RequestItem
	Justification string           `json:"justification"`
	ExpiresAt     time.Time        `json:"expires_at"`
	ExpiryWarned  bool             `json:"expiry_warned"`
	Outcomes      []RequestUser    `json:"outcomes"`
	Decision      *RequestDecision `json:"decision,omitempty"`
	Shares        []RequestShare   `json:"shares"`
	// Position is the stream position of the request's last event.
	Position uint64 `json:"position"`
}

type requestsTenant struct {
	Requests map[string]*RequestDetails `json:"requests"`
	Products map[string]string          `json:"products"` // id -> name
	// Swept is the event time of the last sweep of requests past the
	// retention (see sweep).
	Swept time.Time `json:"swept,omitzero"`
}

// Requests is the read model of license requests: the Requests list, each
// request's details, and the pending ones for the expiry scheduler.
type Requests struct {
	mu        sync.RWMutex
	tenants   map[string]*requestsTenant
	retention time.Duration
}

// NewRequests returns an empty Requests that keeps every request.
func NewRequests() *Requests { return &Requests{tenants: map[string]*requestsTenant{}} }

// NewRequestsRetaining returns an empty Requests that drops a decided or
// expired request once it was submitted more than retention ago, in event
// time, so the model's memory follows the retention, not the history. The
// request's events stay in the stream (GET /v1/history exports them);
// pending requests are never dropped. A sweep runs when the event time has
// moved on by a sixteenth of the retention (at least a second) since the
// last, so the model is the same function of the stream on every instance
// and after every rebuild.
func NewRequestsRetaining(retention time.Duration) *Requests {
	rq := NewRequests()
	rq.retention = retention
	return rq
}

// sweep drops tenant rt's settled requests submitted before at less the
// retention, when a sweep is due.
func (rq *Requests) sweep(rt *requestsTenant, at time.Time) {
	if rq.retention <= 0 || at.Sub(rt.Swept) < max(rq.retention/16, time.Second) {
		return
	}
	rt.Swept = at
	horizon := at.Add(-rq.retention)
	for id, r := range rt.Requests {
		if r.Status != RequestPending && r.RequestedAt.Before(horizon) {
			delete(rt.Requests, id)
		}
	}
}

// Name implements Projection.
func (*Requests) Name() string { return NameRequests }

// Version implements Snapshotter. 2: shares keep their subject and message.
func (*Requests) Version() int { return 2 }

// Snapshot implements Snapshotter.
func (rq *Requests) Snapshot() ([]byte, error) {
	return snapshotJSON(&rq.mu, rq.tenants)
}

// Restore implements Snapshotter.
func (rq *Requests) Restore(b []byte) error {
	return restoreJSON(NameRequests, &rq.mu, b, &rq.tenants)
}

func (rq *Requests) tenant(t string) *requestsTenant {
	rt := rq.tenants[t]
	if rt == nil {
		rt = &requestsTenant{Requests: map[string]*RequestDetails{}, Products: map[string]string{}}
		rq.tenants[t] = rt
	}
	return rt
}

// Apply implements Projection.
func (rq *Requests) Apply(env events.Envelope) {
	switch env.Data.(type) {
	case events.ProductAdded, events.RequestSubmitted, events.RequestApproved, events.RequestDenied,
		events.RequestExpired, events.RequestExpiryWarned, events.RequestShared, events.ShareAnswered:
	default:
		return
	}
	rq.mu.Lock()
	defer rq.mu.Unlock()
	rt := rq.tenant(env.Tenant)
	rq.sweep(rt, env.OccurredAt)
	if e, ok := env.Data.(events.ProductAdded); ok {
		rt.Products[e.ProductID] = e.Name
		for _, r := range rt.Requests {
			if r.ProductID == e.ProductID {
				r.ProductName = e.Name
			}
		}
		return
	}
	if e, ok := env.Data.(events.RequestSubmitted); ok {
		r := &RequestDetails{
			RequestItem: RequestItem{RequestID: e.RequestID, ProductID: e.ProductID, ProductName: rt.Products[e.ProductID],
				Requester: e.Requester, RequestedAt: env.OccurredAt, Status: RequestPending, Users: slices.Clone(e.Users)},
			Justification: e.Justification, ExpiresAt: e.ExpiresAt, Shares: []RequestShare{}, Position: env.Position,
		}
		for _, u := range e.Users {
			r.Outcomes = append(r.Outcomes, RequestUser{UserID: u, Outcome: OutcomePending})
		}
		rt.Requests[e.RequestID] = r
		return
	}
	r := rt.Requests[env.Aggregate.ID]
	if r == nil || env.Aggregate.Kind != events.KindRequest {
		return
	}
	r.Position = env.Position
	switch e := env.Data.(type) {
	case events.RequestApproved:
		r.Status = RequestApproved
		if len(e.Rejected) > 0 {
			r.Status = RequestPartiallyApproved
		}
		r.Decision = &RequestDecision{DecidedBy: env.Actor, DecidedAt: env.OccurredAt, ProductID: e.ProductID, GroupID: e.GroupID,
			DisabledServices: nonNilStrings(e.DisabledServices), Message: e.Message}
		r.setOutcomes(e.Approved, OutcomeApproved)
		r.setOutcomes(e.AlreadyLicensed, OutcomeAlreadyLicensed)
		r.setOutcomes(e.Rejected, OutcomeRejected)
	case events.RequestDenied:
		r.Status = RequestDenied
		r.Decision = &RequestDecision{DecidedBy: env.Actor, DecidedAt: env.OccurredAt, DisabledServices: []string{}, Message: e.Message}
		r.setOutcomes(e.Rejected, OutcomeRejected)
	case events.RequestExpired:
		r.Status = RequestExpired
		r.setOutcomes(r.Users, OutcomeExpired)
	case events.RequestExpiryWarned:
		r.ExpiryWarned = true
	case events.RequestShared:
		for _, rc := range e.Recipients {
			r.Shares = append(r.Shares, RequestShare{ShareID: rc.ShareID, Email: rc.Email, UserID: rc.UserID,
				SharedAt: env.OccurredAt, SharedBy: env.Actor, Subject: e.Subject, Message: e.Message, ExpiresAt: e.ExpiresAt})
		}
	case events.ShareAnswered:
		for i := range r.Shares {
			if s := &r.Shares[i]; s.ShareID == e.ShareID {
				at := env.OccurredAt
				s.Answered, s.Recommendation, s.Comment, s.AnsweredAt = true, e.Recommendation, e.Comment, &at
			}
		}
	}
}

func (r *RequestDetails) setOutcomes(users []string, outcome events.RequestOutcome) {
	for i := range r.Outcomes {
		if slices.Contains(users, r.Outcomes[i].UserID) {
			r.Outcomes[i].Outcome = outcome
		}
	}
}

func nonNilStrings(xs []string) []string {
	if xs == nil {
		return []string{}
	}
	return slices.Clone(xs)
}

// RequestFilter selects requests for List.
type RequestFilter struct {
	// Status is "pending", "completed" (anything decided or expired) or ""
	// for all.
	Status string
	// Requester, when set, keeps only that user's requests.
	Requester string
	// Now and Retention drop requests submitted more than Retention before
	// Now. Zero Retention: DefaultRetention; zero Now keeps everything.
	Now       time.Time
	Retention time.Duration
}

// List returns a tenant's requests, newest first.
func (rq *Requests) List(tenant string, f RequestFilter) []RequestItem {
	if f.Retention == 0 {
		f.Retention = DefaultRetention
	}
	rq.mu.RLock()
	defer rq.mu.RUnlock()
	out := []RequestItem{}
	rt := rq.tenants[tenant]
	if rt == nil {
		return out
	}
	for _, r := range rt.Requests {
		switch {
		case f.Status == string(RequestPending) && r.Status != RequestPending,
			f.Status == "completed" && r.Status == RequestPending,
			f.Requester != "" && r.Requester != f.Requester,
			!f.Now.IsZero() && r.RequestedAt.Before(f.Now.Add(-f.Retention)):
			continue
		}
		it := r.RequestItem
		it.Users = slices.Clone(r.Users)
		out = append(out, it)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].RequestedAt.Equal(out[j].RequestedAt) {
			return out[i].RequestedAt.After(out[j].RequestedAt)
		}
		return out[i].RequestID > out[j].RequestID
	})
	return out
}

// Details returns one request with its outcomes and shares.
func (rq *Requests) Details(tenant, id string) (RequestDetails, bool) {
	rq.mu.RLock()
	defer rq.mu.RUnlock()
	rt := rq.tenants[tenant]
	if rt == nil || rt.Requests[id] == nil {
		return RequestDetails{}, false
	}
	r := *rt.Requests[id]
	r.Users, r.Outcomes, r.Shares = slices.Clone(r.Users), slices.Clone(r.Outcomes), slices.Clone(r.Shares)
	if r.Decision != nil {
		d := *r.Decision
		r.Decision = &d
	}
	return r, true
}

// PendingRequest is a pending request the expiry scheduler watches.
type PendingRequest struct {
	Tenant    string
	RequestID string
	ExpiresAt time.Time
	Warned    bool
}

// Pending lists every tenant's pending requests that are due at now: those
// whose deadline has passed, and those within warnBefore of it not yet
// warned.
func (rq *Requests) Pending(now time.Time, warnBefore time.Duration) []PendingRequest {
	rq.mu.RLock()
	defer rq.mu.RUnlock()
	var out []PendingRequest
	for t, rt := range rq.tenants {
		for _, r := range rt.Requests {
			if r.Status != RequestPending {
				continue
			}
			due := !now.Before(r.ExpiresAt) || (warnBefore > 0 && !r.ExpiryWarned && !now.Before(r.ExpiresAt.Add(-warnBefore)))
			if due {
				out = append(out, PendingRequest{Tenant: t, RequestID: r.RequestID, ExpiresAt: r.ExpiresAt, Warned: r.ExpiryWarned})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ExpiresAt.Before(out[j].ExpiresAt) })
	return out
}

// PendingCounts is how many requests each tenant has pending, for metrics.
func (rq *Requests) PendingCounts() map[string]int {
	rq.mu.RLock()
	defer rq.mu.RUnlock()
	out := make(map[string]int, len(rq.tenants))
	for t, rt := range rq.tenants {
		n := 0
		for _, r := range rt.Requests {
			if r.Status == RequestPending {
				n++
			}
		}
		out[t] = n
	}
	return out
}
