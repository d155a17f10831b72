package domain

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/seatflow/seatflow/events"
)

// ErrSelfServiceAllowed means a request was submitted for a product users
// may buy themselves: requests are collected only while it is blocked.
var ErrSelfServiceAllowed = errors.New("self-service purchase of this product is allowed; no request is needed")

// ErrAlreadyDecided means the request is no longer pending: it was approved,
// denied or expired.
var ErrAlreadyDecided = errors.New("the request is already decided")

// ErrGroupNotLicensed means a decision would fulfil a request through a
// group that is licensed with no product.
var ErrGroupNotLicensed = errors.New("the group is licensed with no product")

// ErrShareAnswered means a shared recipient's link was used already.
var ErrShareAnswered = errors.New("this share has been answered already")

// Request statuses (events.RequestStatusPending, ...).
const (
	StatusPending           = events.RequestStatusPending
	StatusApproved          = events.RequestStatusApproved
	StatusPartiallyApproved = events.RequestStatusPartiallyApproved
	StatusDenied            = events.RequestStatusDenied
	StatusExpired           = events.RequestStatusExpired
)

// Recommendations a shared recipient can give.
const (
	RecommendApprove = "approve"
	RecommendDeny    = "deny"
)

// Bounds of requests.
const (
	MaxRequestUsers    = 50
	MaxJustification   = 2000
	MaxDecisionMessage = 2000
	MaxShareRecipients = 20
	MaxShareSubject    = 200
	MaxShareMessage    = 5000
	MaxShareComment    = 2000
	DefaultPendingFor  = 30 * 24 * time.Hour
	DefaultShareTTL    = 7 * 24 * time.Hour
)

// Request is the state of one license request: what its deciders read.
// How a request reads (its outcomes, decision and shares as GET
// /v1/requests/{id} shows them) is the request read model's
// (projections.RequestDetails), not this.
type Request struct {
	ID        RequestID
	ProductID ProductID
	Users     []UserID
	ExpiresAt time.Time
	Status    events.RequestStatus
	Warned    bool
	Shares    []Share
}

// Share is one recipient a request was shared with, and whether they
// answered.
type Share struct {
	events.ShareRecipient
	Answered bool
}

// Exists reports whether the request has been submitted.
func (r *Request) Exists() bool { return r.Status != "" }

// Pending reports whether the request awaits a decision.
func (r *Request) Pending() bool { return r.Status == StatusPending }

func (r *Request) share(id string) *Share {
	for i := range r.Shares {
		if r.Shares[i].ShareID == id {
			return &r.Shares[i]
		}
	}
	return nil
}

// EvolveRequest folds one event into r.
func EvolveRequest(r *Request, env events.Envelope) {
	switch e := env.Data.(type) {
	case events.RequestSubmitted:
		r.ProductID = ProductID(e.ProductID)
		r.Users = make([]UserID, len(e.Users))
		for i, u := range e.Users {
			r.Users[i] = UserID(u)
		}
		r.ExpiresAt, r.Status = e.ExpiresAt, StatusPending
	case events.RequestApproved:
		r.Status = StatusApproved
		if len(e.Rejected) > 0 {
			r.Status = StatusPartiallyApproved
		}
	case events.RequestDenied:
		r.Status = StatusDenied
	case events.RequestExpired:
		r.Status = StatusExpired
	case events.RequestExpiryWarned:
		r.Warned = true
	case events.RequestShared:
		for _, rc := range e.Recipients {
			r.Shares = append(r.Shares, Share{ShareRecipient: rc})
		}
	case events.ShareAnswered:
		if s := r.share(e.ShareID); s != nil {
			s.Answered = true
		}
	}
}

// clone returns a copy of r that shares nothing with it.
func (r *Request) clone() Request {
	c := *r
	c.Users, c.Shares = slices.Clone(r.Users), slices.Clone(r.Shares)
	return c
}

// SubmitRequest asks for a product for the requester and other users.
type SubmitRequest struct {
	ProductID     ProductID
	Requester     UserID
	Users         []UserID
	Justification string
	// PendingFor is how long the request may stay pending before it
	// expires. Default DefaultPendingFor.
	PendingFor time.Duration
}

// users is the requester followed by the other users, each once.
func (c SubmitRequest) users() []UserID {
	out := []UserID{c.Requester}
	for _, u := range c.Users {
		if !slices.Contains(out, u) {
			out = append(out, u)
		}
	}
	return out
}

func (c SubmitRequest) validate() error {
	if err := checkID("product_id", string(c.ProductID)); err != nil {
		return err
	}
	if err := checkID("requester", string(c.Requester)); err != nil {
		return err
	}
	for _, u := range c.Users {
		if err := checkID("users", string(u)); err != nil {
			return err
		}
	}
	if n := len(c.users()); n > MaxRequestUsers {
		return invalid("users", "a request names at most %d users, the requester included (got %d)", MaxRequestUsers, n)
	}
	if len(c.Justification) > MaxJustification {
		return invalid("justification", "must be at most %d bytes", MaxJustification)
	}
	if c.PendingFor < 0 {
		return invalid("pending_for", "must not be negative")
	}
	return nil
}

// SubmitRequest records request id. It reads the org (a request is not
// collected while the org uses its own process: *OwnProcessError), the
// product (it must exist and have self-service purchase blocked:
// ErrSelfServiceAllowed) and every named user (each must be registered).
func (s *Service) SubmitRequest(ctx context.Context, tenant TenantID, id RequestID, meta events.Meta, c SubmitRequest) (Result, error) {
	if err := checkID("request_id", string(id)); err != nil {
		return Result{}, err
	}
	if err := c.validate(); err != nil {
		return Result{}, err
	}
	if c.PendingFor == 0 {
		c.PendingFor = DefaultPendingFor
	}
	users := c.users()
	ragg, pagg := requestAgg(id), productAgg(c.ProductID)
	aggs := []events.Aggregate{orgAgg, ragg, pagg}
	for _, u := range users {
		aggs = append(aggs, userAgg(u))
	}
	return s.Transact(ctx, tenant, meta, aggs, func(tx *Tx) error {
		evs, err := DecideSubmit(tx.State, id, c, tx.Now)
		tx.Emit(ragg, evs...)
		return err
	}, nil)
}

// DecideSubmit decides submitting request id (c already validated, with its
// PendingFor set) over the states it reads: the request (it must be new),
// the org (its own request process refuses new requests: *OwnProcessError),
// the product (it must exist with self-service purchase blocked:
// ErrSelfServiceAllowed) and every named user (each must be registered).
func DecideSubmit(state StateOf, id RequestID, c SubmitRequest, now time.Time) ([]events.Data, error) {
	if state(requestAgg(id)).(*Request).Exists() {
		return nil, fmt.Errorf("request %q: %w", id, ErrAlreadyExists)
	}
	if p := state(orgAgg).(*Org).Process; p.Own() {
		return nil, &OwnProcessError{Message: p.Message, Link: p.Link}
	}
	p := state(productAgg(c.ProductID)).(*Product)
	if !p.Exists() {
		return nil, &NotFoundError{Kind: "product", ID: string(c.ProductID)}
	}
	if p.SelfService != events.SelfServiceBlocked {
		return nil, fmt.Errorf("product %q: %w", c.ProductID, ErrSelfServiceAllowed)
	}
	users := c.users()
	for _, u := range users {
		if !state(userAgg(u)).(*User).Registered() {
			return nil, &NotFoundError{Kind: "user", ID: string(u)}
		}
	}
	return one(events.RequestSubmitted{RequestID: string(id), ProductID: string(c.ProductID), Requester: string(c.Requester),
		Users: ids(users), Justification: c.Justification, ExpiresAt: now.Add(c.PendingFor).UTC()}), nil
}

// Decide is an admin's decision on a request: every user of the request is
// either approved or rejected. Approved users get a license of ProductID
// (default: the requested product) with DisabledServices off, or, when
// GroupID is set, join that licensed group instead.
type Decide struct {
	Approve          []UserID
	Reject           []UserID
	ProductID        ProductID
	DisabledServices []string
	GroupID          GroupID
	Message          string
}

func (c Decide) validate(r *Request) error {
	all := append(slices.Clone(c.Approve), c.Reject...)
	if hasDuplicate(ids(all)) {
		return invalid("approve", "a user is listed twice, or both approved and rejected")
	}
	for _, u := range all {
		if !slices.Contains(r.Users, u) {
			return invalid("approve", "user %q is not part of this request", u)
		}
	}
	for _, u := range r.Users {
		if !slices.Contains(all, u) {
			return invalid("approve", "user %q of the request is neither approved nor rejected", u)
		}
	}
	if len(c.Message) > MaxDecisionMessage {
		return invalid("message", "must be at most %d bytes", MaxDecisionMessage)
	}
	if c.GroupID != "" {
		if c.ProductID != "" || len(c.DisabledServices) > 0 {
			return invalid("group_id", "give either group_id or product_id and disabled_services, not both")
		}
		return checkID("group_id", string(c.GroupID))
	}
	if c.ProductID != "" {
		return checkID("product_id", string(c.ProductID))
	}
	return nil
}

// decisionAggs lists the aggregates decision c on request id needs besides
// the request, from the states of the request and, with c.GroupID, of the
// group (both are read first).
func decisionAggs(state StateOf, id RequestID, c Decide) []events.Aggregate {
	r := state(requestAgg(id)).(*Request)
	if !r.Exists() || len(c.Approve) == 0 {
		return nil
	}
	if c.GroupID != "" {
		if !events.ValidID(string(c.GroupID)) {
			return nil
		}
		gagg := groupAgg(c.GroupID)
		g := state(gagg).(*Group)
		out := []events.Aggregate{gagg}
		out = append(out, groupProducts(g, nil)...)
		// Every member's state: a deactivated one gets no license.
		out = append(out, memberAggs(g.Members)...)
		for _, u := range c.Approve {
			if a := userAgg(u); events.ValidID(string(u)) && !slices.Contains(out, a) {
				out = append(out, a)
			}
		}
		return out
	}
	pid := c.ProductID
	if pid == "" {
		pid = r.ProductID
	}
	if !events.ValidID(string(pid)) {
		return nil
	}
	return []events.Aggregate{productAgg(pid)}
}

// DecideRequest records an admin's decision on request id and, in the same
// append, the licenses it assigns or the group membership it adds. Errors:
// ErrAlreadyDecided, ErrNoLicensesAvailable (nothing is assigned unless
// every approved user gets a seat), ErrGroupNotLicensed, *NotFoundError,
// *ValidationError.
func (s *Service) DecideRequest(ctx context.Context, tenant TenantID, id RequestID, meta events.Meta, c Decide) (Result, error) {
	if err := checkID("request_id", string(id)); err != nil {
		return Result{}, err
	}
	ragg := requestAgg(id)
	plan := func(state StateOf) []events.Aggregate { return decisionAggs(state, id, c) }
	seed := []events.Aggregate{ragg}
	if c.GroupID != "" && events.ValidID(string(c.GroupID)) {
		seed = append(seed, groupAgg(c.GroupID))
	}
	return s.transactPlanned(ctx, tenant, meta, seed, plan, func(tx *Tx) error {
		emits, err := DecideRequestDecision(tx.State, id, c)
		if err != nil {
			return err
		}
		tx.EmitAll(emits...)
		return nil
	}, nil)
}

// DecideRequestDecision decides admin decision c on request id over the
// states it reads: the request, and the product the approved users get a
// license of (c.ProductID, or the requested product) or the licensed group
// they join (c.GroupID) with that group's products. It returns the
// request's RequestApproved or RequestDenied and, in the same decision, the
// licenses or the group membership that go with it: all of them or, on any
// error, none. Errors: ErrAlreadyDecided, ErrNoLicensesAvailable (unless
// every approved user gets a seat), ErrGroupNotLicensed, *NotFoundError,
// *ValidationError.
func DecideRequestDecision(state StateOf, id RequestID, c Decide) ([]Emit, error) {
	ragg := requestAgg(id)
	r := state(ragg).(*Request)
	if !r.Exists() {
		return nil, &NotFoundError{Kind: "request", ID: string(id)}
	}
	if !r.Pending() {
		return nil, fmt.Errorf("request %q is %s: %w", id, r.Status, ErrAlreadyDecided)
	}
	if err := c.validate(r); err != nil {
		return nil, err
	}
	rejected := ids(c.Reject)
	if len(c.Approve) == 0 {
		return []Emit{{ragg, []events.Data{events.RequestDenied{RequestID: string(id), Rejected: rejected, Message: c.Message}}}}, nil
	}
	approved := ids(c.Approve)
	if c.GroupID != "" {
		g := state(groupAgg(c.GroupID)).(*Group)
		if !g.Exists() {
			return nil, &NotFoundError{Kind: "group", ID: string(c.GroupID)}
		}
		if len(g.Products) == 0 {
			return nil, fmt.Errorf("group %q: %w", c.GroupID, ErrGroupNotLicensed)
		}
		members := slices.Clone(g.Members)
		already := []string{}
		for _, u := range c.Approve {
			if g.HasMember(u) {
				already = append(already, string(u))
			} else {
				members = append(members, u)
			}
		}
		var inactive []UserID
		for _, m := range members {
			if u := state(userAgg(m)).(*User); u.Inactive || u.Deleted {
				inactive = append(inactive, m)
			}
		}
		out, err := DecideGroup(state, c.GroupID, SetGroup{Name: g.Name, Members: members, Products: g.Products, Inactive: inactive})
		if err != nil {
			return nil, err
		}
		return append(out, Emit{ragg, []events.Data{events.RequestApproved{RequestID: string(id), ProductID: string(r.ProductID),
			Approved: approved, Rejected: rejected, AlreadyLicensed: already, DisabledServices: []string{}, GroupID: string(c.GroupID),
			Message: c.Message}}}), nil
	}
	pid := c.ProductID
	if pid == "" {
		pid = r.ProductID
	}
	p := state(productAgg(pid)).(*Product)
	if !p.Exists() {
		return nil, &NotFoundError{Kind: "product", ID: string(pid)}
	}
	if err := p.checkDisabled(c.DisabledServices); err != nil {
		return nil, err
	}
	grants, held, err := grantAll(p, c.Approve, c.DisabledServices, events.Source{Kind: events.SourceRequest, Ref: string(id)}, 0)
	if err != nil {
		return nil, err
	}
	return []Emit{
		{productAgg(pid), grants},
		{ragg, []events.Data{events.RequestApproved{RequestID: string(id), ProductID: string(pid), Approved: approved,
			Rejected: rejected, AlreadyLicensed: ids(held), DisabledServices: nonNil(c.DisabledServices), Message: c.Message}}},
	}, nil
}

// ShareRequest shares a pending request by email with decision makers.
// Recipients were resolved from their emails to directory users by the
// caller; each is checked against the user's aggregate here.
type ShareRequest struct {
	Recipients []events.ShareRecipient
	Subject    string
	Message    string
	// TTL is how long the recipients' links are valid, at most until the
	// request expires. Default DefaultShareTTL.
	TTL time.Duration
}

// ShareRequest records request id shared with c.Recipients.
func (s *Service) ShareRequest(ctx context.Context, tenant TenantID, id RequestID, meta events.Meta, c ShareRequest) (Result, error) {
	if err := checkID("request_id", string(id)); err != nil {
		return Result{}, err
	}
	if len(c.Recipients) == 0 || len(c.Recipients) > MaxShareRecipients {
		return Result{}, invalid("recipients", "must name 1 to %d recipients", MaxShareRecipients)
	}
	if len(c.Subject) > MaxShareSubject {
		return Result{}, invalid("subject", "must be at most %d bytes", MaxShareSubject)
	}
	if len(c.Message) > MaxShareMessage {
		return Result{}, invalid("message", "must be at most %d bytes", MaxShareMessage)
	}
	if c.TTL <= 0 {
		c.TTL = DefaultShareTTL
	}
	ragg := requestAgg(id)
	aggs := []events.Aggregate{ragg}
	var emails []string
	for i, rc := range c.Recipients {
		email, err := normalEmail("recipients", rc.Email)
		if err != nil {
			return Result{}, err
		}
		if slices.Contains(emails, email) {
			return Result{}, invalid("recipients", "%q is listed twice", email)
		}
		emails = append(emails, email)
		c.Recipients[i].Email = email
		if err := checkID("recipients.user_id", rc.UserID); err != nil {
			return Result{}, err
		}
		if err := checkID("recipients.share_id", rc.ShareID); err != nil {
			return Result{}, err
		}
		aggs = append(aggs, userAgg(UserID(rc.UserID)))
	}
	return s.Transact(ctx, tenant, meta, aggs, func(tx *Tx) error {
		evs, err := DecideShare(tx.State, id, c, tx.Now)
		tx.Emit(ragg, evs...)
		return err
	}, nil)
}

// DecideShare decides sharing request id (c already checked, emails in
// their stored form) over the request and each recipient's user: the
// request must be pending and each recipient's email that of the directory
// user named. The links expire after c.TTL, or with the request if sooner.
func DecideShare(state StateOf, id RequestID, c ShareRequest, now time.Time) ([]events.Data, error) {
	r := state(requestAgg(id)).(*Request)
	if !r.Exists() {
		return nil, &NotFoundError{Kind: "request", ID: string(id)}
	}
	if !r.Pending() {
		return nil, fmt.Errorf("request %q is %s: %w", id, r.Status, ErrAlreadyDecided)
	}
	for _, rc := range c.Recipients {
		if u := state(userAgg(UserID(rc.UserID))).(*User); u.Email != rc.Email {
			return nil, invalid("recipients", "%q is not the email of a directory user", rc.Email)
		}
	}
	exp := now.Add(c.TTL)
	if exp.After(r.ExpiresAt) {
		exp = r.ExpiresAt
	}
	return one(events.RequestShared{RequestID: string(id), Recipients: slices.Clone(c.Recipients),
		Subject: c.Subject, Message: c.Message, ExpiresAt: exp.UTC()}), nil
}

// AnswerShare is a shared recipient's recommendation.
type AnswerShare struct {
	ShareID        string
	Recommendation string
	Comment        string
}

// AnswerShare records a shared recipient's answer on request id. Each share
// is answered once (ErrShareAnswered); a share that is not the request's is
// not found; a decided request takes no answers (ErrAlreadyDecided).
func (s *Service) AnswerShare(ctx context.Context, tenant TenantID, id RequestID, meta events.Meta, c AnswerShare) (Result, error) {
	if err := checkID("request_id", string(id)); err != nil {
		return Result{}, err
	}
	if c.Recommendation != RecommendApprove && c.Recommendation != RecommendDeny {
		return Result{}, invalid("recommendation", "must be %q or %q", RecommendApprove, RecommendDeny)
	}
	if len(c.Comment) > MaxShareComment {
		return Result{}, invalid("comment", "must be at most %d bytes", MaxShareComment)
	}
	ragg := requestAgg(id)
	return s.Transact(ctx, tenant, meta, []events.Aggregate{ragg}, func(tx *Tx) error {
		evs, err := DecideAnswer(tx.State(ragg).(*Request), c)
		tx.Emit(ragg, evs...)
		return err
	}, nil)
}

// DecideAnswer decides a shared recipient's answer c on r: the share must
// be r's (else not found), unanswered (ErrShareAnswered), and r pending
// (ErrAlreadyDecided).
func DecideAnswer(r *Request, c AnswerShare) ([]events.Data, error) {
	sh := r.share(c.ShareID)
	if !r.Exists() || sh == nil {
		return nil, &NotFoundError{Kind: "share", ID: c.ShareID}
	}
	if sh.Answered {
		return nil, fmt.Errorf("share %q: %w", c.ShareID, ErrShareAnswered)
	}
	if !r.Pending() {
		return nil, fmt.Errorf("request %q is %s: %w", r.ID, r.Status, ErrAlreadyDecided)
	}
	return one(events.ShareAnswered{RequestID: string(r.ID), ShareID: c.ShareID, Email: sh.Email,
		Recommendation: c.Recommendation, Comment: c.Comment}), nil
}

// ExpireRequest expires request id if it is still pending at its deadline,
// and, when warnBefore is positive and the deadline is that close, records
// the expiry warning once. It changes nothing otherwise, so a scheduler can
// call it freely; use a deterministic command ID so that several
// schedulers agree.
func (s *Service) ExpireRequest(ctx context.Context, tenant TenantID, id RequestID, meta events.Meta, warnBefore time.Duration) (Result, error) {
	if err := checkID("request_id", string(id)); err != nil {
		return Result{}, err
	}
	ragg := requestAgg(id)
	return s.Transact(ctx, tenant, meta, []events.Aggregate{ragg}, func(tx *Tx) error {
		tx.Emit(ragg, DecideExpiry(tx.State(ragg).(*Request), tx.Now, warnBefore)...)
		return nil
	}, nil)
}

// DecideExpiry returns what time does to r at now: RequestExpired once it
// is pending past its deadline, else RequestExpiryWarned once within
// warnBefore of it.
func DecideExpiry(r *Request, now time.Time, warnBefore time.Duration) []events.Data {
	switch {
	case !r.Pending():
		return nil
	case !now.Before(r.ExpiresAt):
		return one(events.RequestExpired{RequestID: string(r.ID)})
	case warnBefore > 0 && !r.Warned && !now.Before(r.ExpiresAt.Add(-warnBefore)):
		return one(events.RequestExpiryWarned{RequestID: string(r.ID), ExpiresAt: r.ExpiresAt})
	}
	return nil
}

// RequestState reads the state of request id as it stands (a copy), and
// whether it was submitted. It is the aggregate's state, for tests and
// tools; clients read requests from the request read model.
func (s *Service) RequestState(ctx context.Context, tenant TenantID, id RequestID) (Request, bool, error) {
	if err := checkID("request_id", string(id)); err != nil {
		return Request{}, false, err
	}
	ragg := requestAgg(id)
	var out Request
	_, err := s.read(ctx, tenant, []events.Aggregate{ragg}, func(tx *Tx) {
		out = tx.State(ragg).(*Request).clone()
	})
	return out, out.Exists(), err
}
