package httpapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/infra/auth"
	"github.com/seatflow/seatflow/infra/sharelink"
	"github.com/seatflow/seatflow/projections"
)

// Problem codes of the license-request routes.
const (
	CodeSelfServiceAllowed = "self_service_allowed"
	CodeOwnRequestProcess  = "own_request_process"
	CodeAlreadyDecided     = "already_decided"
	CodeGroupNotLicensed   = "group_not_licensed"
	CodeShareAnswered      = "share_already_answered"
	CodeInvalidShareLink   = "invalid_share_link"
	CodeShareLinkExpired   = "share_link_expired"
)

// requestProblem classifies the license-request errors; problemFor asks it
// before its own cases. ok is false for errors it does not know.
func requestProblem(err error) (code, detail string, ok bool) {
	var own *domain.OwnProcessError
	switch {
	case errors.As(err, &own):
		return CodeOwnRequestProcess, own.Message, true
	case errors.Is(err, domain.ErrSelfServiceAllowed):
		return CodeSelfServiceAllowed, err.Error(), true
	case errors.Is(err, domain.ErrAlreadyDecided):
		return CodeAlreadyDecided, err.Error(), true
	case errors.Is(err, domain.ErrGroupNotLicensed):
		return CodeGroupNotLicensed, err.Error(), true
	case errors.Is(err, domain.ErrShareAnswered):
		return CodeShareAnswered, err.Error(), true
	case errors.Is(err, sharelink.ErrExpired):
		return CodeShareLinkExpired, err.Error(), true
	case errors.Is(err, sharelink.ErrInvalid):
		return CodeInvalidShareLink, "the link is not a valid share link", true
	}
	return "", "", false
}

// problemLink is the "link" member of an own_request_process problem.
func problemLink(err error) string {
	var own *domain.OwnProcessError
	if errors.As(err, &own) {
		return own.Link
	}
	return ""
}

// RequestCommands runs the directory, request-process and license-request
// commands. Errors: *domain.ValidationError, *domain.NotFoundError,
// *domain.OwnProcessError, domain.ErrSelfServiceAllowed,
// ErrAlreadyExists, ErrAlreadyDecided, ErrNoLicensesAvailable,
// ErrGroupNotLicensed, ErrShareAnswered, ErrConcurrency, or a store error.
type RequestCommands interface {
	RegisterUser(ctx context.Context, tenant domain.TenantID, id domain.UserID, meta events.Meta, c domain.RegisterUser) (domain.UserView, domain.Result, error)
	SetGroup(ctx context.Context, tenant domain.TenantID, id domain.GroupID, meta events.Meta, c domain.SetGroup) (domain.GroupView, domain.Result, error)
	SetRequestProcess(ctx context.Context, tenant domain.TenantID, meta events.Meta, p domain.RequestProcess) (domain.RequestProcess, domain.Result, error)
	RequestProcessSetting(ctx context.Context, tenant domain.TenantID) (domain.RequestProcess, domain.Result, error)
	SubmitRequest(ctx context.Context, tenant domain.TenantID, id domain.RequestID, meta events.Meta, c domain.SubmitRequest) (domain.Result, error)
	DecideRequest(ctx context.Context, tenant domain.TenantID, id domain.RequestID, meta events.Meta, c domain.Decide) (domain.Result, error)
	ShareRequest(ctx context.Context, tenant domain.TenantID, id domain.RequestID, meta events.Meta, c domain.ShareRequest) (domain.Result, error)
	AnswerShare(ctx context.Context, tenant domain.TenantID, id domain.RequestID, meta events.Meta, c domain.AnswerShare) (domain.Result, error)
}

var _ RequestCommands = (*domain.Service)(nil)

// RequestQueries answers from the request read model.
type RequestQueries interface {
	List(tenant string, f projections.RequestFilter) []projections.RequestItem
	Details(tenant, id string) (projections.RequestDetails, bool)
}

var _ RequestQueries = (*projections.Requests)(nil)

// DirectoryQueries answers from the directory read model.
type DirectoryQueries interface {
	User(tenant, id string) (projections.DirectoryUser, bool)
	UserByEmail(tenant, email string) (projections.DirectoryUser, bool)
	// Search lists up to limit users whose id, email or name contains q.
	Search(tenant, q string, limit int) []projections.DirectoryUser
	Groups(tenant string) []projections.DirectoryGroup
}

var _ DirectoryQueries = (*projections.Directory)(nil)

// RequestsConfig configures the directory and license-request routes.
type RequestsConfig struct {
	Commands  RequestCommands
	Requests  RequestQueries
	Directory DirectoryQueries
	// Links verifies the tokens of GET and POST /v1/shared/{token}.
	Links *sharelink.Signer
	// PendingFor is how long a request stays pending before it expires.
	// Default domain.DefaultPendingFor.
	PendingFor time.Duration
	// Retention is how long requests stay listed. Default
	// projections.DefaultRetention.
	Retention time.Duration
	// ShareTTL is how long share links are valid (at most until the
	// request expires). Default domain.DefaultShareTTL.
	ShareTTL time.Duration
	// Now is the clock of the list's retention and of share links.
	// Default time.Now.
	Now func() time.Time
}

var (
	userAdmins = roles(auth.RoleGlobalAdmin, auth.RoleUserAdmin)
	anyUser    = roles(auth.RoleGlobalAdmin, auth.RoleUserAdmin, auth.RoleLicenseAdmin, auth.RoleUser)
)

// requestRoutes registers the directory and license-request routes, when
// configured.
func (s *Server) requestRoutes() {
	rc := s.cfg.Requests
	if rc == nil {
		return
	}
	if rc.Now == nil {
		rc.Now = time.Now
	}
	s.handle("PUT /v1/users/{id}", userAdmins, s.putUser)
	s.handle("PUT /v1/groups/{id}", userAdmins, s.putGroup)
	s.handle("GET /v1/groups", anyAdmin, s.listGroups)
	s.handle("GET /v1/directory", anyUser, s.searchDirectory)
	s.handle("GET /v1/catalog", anyUser, s.catalog)
	s.handle("GET /v1/settings/request-process", anyAdmin, s.getRequestProcess)
	s.handle("PUT /v1/settings/request-process", anyAdmin, s.putRequestProcess)
	s.handle("POST /v1/requests", anyUser, s.submitRequest)
	s.handle("GET /v1/requests", anyUser, s.listRequests)
	s.handle("GET /v1/requests/{id}", anyUser, s.getRequest)
	s.handle("POST /v1/requests/{id}/decision", anyAdmin, s.decideRequest)
	s.handle("POST /v1/requests/{id}/share", anyAdmin, s.shareRequest)
	s.route("GET /v1/shared/{token}", http.HandlerFunc(s.sharedRequest))
	s.route("POST /v1/shared/{token}", http.HandlerFunc(s.answerShare))
}

// A request command (submit, decide, share) answers with the request as the
// request read model holds it once it has applied the command: the same
// projections.RequestDetails that GET /v1/requests/{id}?after=<position>
// answers, except that its position is the command's (also in the
// Seatflow-Position header), as on every command answer. A repeated command
// (same Idempotency-Key) answers the request as it stands then, with the
// first command's position.
//
// The write has landed before the answer is read, so the answer never turns
// into an error: when the read model has not reached the command's position
// within WaitTimeout, or no longer holds the request (a settled request
// past the retention, as GET /v1/requests/{id} would say 404), the command
// answers its usual status with a RequestRef: the request id and the
// position, which a client can read after later.

// RequestRef is a request command's answer when the request read model has
// no details of it to give.
type RequestRef struct {
	RequestID string `json:"request_id"`
	Position  uint64 `json:"position"`
}

// requestAt returns tenant's request id from the request read model once
// the read models have applied position; false when they have not within
// WaitTimeout, or when the model does not hold the request.
func (s *Server) requestAt(ctx context.Context, tenant, id string, position uint64) (projections.RequestDetails, bool) {
	if s.settle(ctx, position) != nil {
		return projections.RequestDetails{}, false
	}
	return s.cfg.Requests.Requests.Details(tenant, id)
}

// writeRequest answers a request command that stood at position: the
// request's details with the command's position, or its RequestRef.
func (s *Server) writeRequest(w http.ResponseWriter, r *http.Request, status int, tenant, id string, position uint64) error {
	d, ok := s.requestAt(r.Context(), tenant, id, position)
	if !ok {
		return writePositioned(w, status, position, RequestRef{RequestID: id, Position: position})
	}
	d.Position = position
	return writePositioned(w, status, position, d)
}

type submitBody struct {
	ProductID     *string  `json:"product_id"`
	Users         []string `json:"users"`
	Justification string   `json:"justification"`
}

// requestIDFor makes the id of a new request: derived from the
// Idempotency-Key when there is one, so a retried submission finds the
// request it created, else a new ULID.
func (s *Server) requestIDFor(r *http.Request, c auth.Claims) (string, error) {
	key, err := optionalKey(r, HeaderIdempotencyKey)
	if err != nil || key == "" {
		return s.cfg.NewID(), err
	}
	h := sha256.Sum256([]byte(c.Tenant + "\x00" + c.Subject + "\x00" + key))
	return "R" + strings.ToUpper(hex.EncodeToString(h[:13])), nil
}

// POST /v1/requests
func (s *Server) submitRequest(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	var b submitBody
	if err := decode(w, r, &b); err != nil {
		return err
	}
	if b.ProductID == nil {
		return invalidField("product_id", "is required")
	}
	if !events.ValidID(*b.ProductID) {
		return invalidField("product_id", idRule)
	}
	users := make([]domain.UserID, len(b.Users))
	for i, u := range b.Users {
		if !events.ValidID(u) {
			return invalidField("users", fmt.Sprintf("%q: %s", u, idRule))
		}
		users[i] = domain.UserID(u)
	}
	meta, err := s.meta(r, c)
	if err != nil {
		return err
	}
	id, err := s.requestIDFor(r, c)
	if err != nil {
		return err
	}
	rc := s.cfg.Requests
	res, err := rc.Commands.SubmitRequest(r.Context(), domain.TenantID(c.Tenant), domain.RequestID(id), meta, domain.SubmitRequest{
		ProductID: domain.ProductID(*b.ProductID), Requester: domain.UserID(c.Subject), Users: users,
		Justification: b.Justification, PendingFor: rc.PendingFor,
	})
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/requests/"+url.PathEscape(id))
	return s.writeRequest(w, r, http.StatusCreated, c.Tenant, id, res.Position)
}

// GET /v1/requests
func (s *Server) listRequests(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	q := r.URL.Query()
	status := q.Get("status")
	if len(q["status"]) > 1 || (status != "" && status != "pending" && status != "completed") {
		return invalidField("status", "must be pending or completed")
	}
	if err := s.waitAfter(r); err != nil {
		return err
	}
	rc := s.cfg.Requests
	f := projections.RequestFilter{Status: status, Now: rc.Now(), Retention: rc.Retention}
	if !c.IsAdmin() {
		f.Requester = c.Subject
	}
	return writePage(w, r, rc.Requests.List(c.Tenant, f), func(it projections.RequestItem) string { return it.RequestID })
}

// GET /v1/requests/{id}
func (s *Server) getRequest(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	id, err := pathID(r, "id", "id")
	if err != nil {
		return err
	}
	if err := s.waitAfter(r); err != nil {
		return err
	}
	d, ok := s.cfg.Requests.Requests.Details(c.Tenant, id)
	// A user who is neither admin nor requester learns nothing, not even
	// that the request exists.
	if !ok || (!c.IsAdmin() && d.Requester != c.Subject) {
		return &domain.NotFoundError{Kind: "request", ID: id}
	}
	return writeJSON(w, http.StatusOK, d)
}

type decisionBody struct {
	Approve          []string `json:"approve"`
	Reject           []string `json:"reject"`
	ProductID        string   `json:"product_id"`
	DisabledServices []string `json:"disabled_services"`
	GroupID          string   `json:"group_id"`
	Message          string   `json:"message"`
}

func userIDs(field string, xs []string) ([]domain.UserID, error) {
	out := make([]domain.UserID, len(xs))
	for i, x := range xs {
		if !events.ValidID(x) {
			return nil, invalidField(field, fmt.Sprintf("%q: %s", x, idRule))
		}
		out[i] = domain.UserID(x)
	}
	return out, nil
}

// POST /v1/requests/{id}/decision
func (s *Server) decideRequest(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	id, err := pathID(r, "id", "id")
	if err != nil {
		return err
	}
	var b decisionBody
	if err := decode(w, r, &b); err != nil {
		return err
	}
	approve, err := userIDs("approve", b.Approve)
	if err != nil {
		return err
	}
	reject, err := userIDs("reject", b.Reject)
	if err != nil {
		return err
	}
	if b.ProductID != "" && !events.ValidID(b.ProductID) {
		return invalidField("product_id", idRule)
	}
	if b.GroupID != "" && !events.ValidID(b.GroupID) {
		return invalidField("group_id", idRule)
	}
	meta, err := s.meta(r, c)
	if err != nil {
		return err
	}
	res, err := s.cfg.Requests.Commands.DecideRequest(r.Context(), domain.TenantID(c.Tenant), domain.RequestID(id), meta, domain.Decide{
		Approve: approve, Reject: reject, ProductID: domain.ProductID(b.ProductID), DisabledServices: b.DisabledServices,
		GroupID: domain.GroupID(b.GroupID), Message: b.Message,
	})
	if err != nil {
		return err
	}
	return s.writeRequest(w, r, http.StatusOK, c.Tenant, id, res.Position)
}

type shareBody struct {
	Recipients []string `json:"recipients"`
	Subject    string   `json:"subject"`
	Message    string   `json:"message"`
}

// POST /v1/requests/{id}/share
func (s *Server) shareRequest(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	id, err := pathID(r, "id", "id")
	if err != nil {
		return err
	}
	var b shareBody
	if err := decode(w, r, &b); err != nil {
		return err
	}
	// Recipients resolve through the directory read model: ?after= lets a
	// caller that just registered them wait for it.
	if err := s.waitAfter(r); err != nil {
		return err
	}
	if len(b.Recipients) == 0 || len(b.Recipients) > domain.MaxShareRecipients {
		return invalidField("recipients", fmt.Sprintf("must name 1 to %d email addresses", domain.MaxShareRecipients))
	}
	rc := s.cfg.Requests
	var rcpts []events.ShareRecipient
	for _, email := range b.Recipients {
		norm, err := domain.NormalEmail("recipients", email)
		if err != nil {
			return err
		}
		u, ok := rc.Directory.UserByEmail(c.Tenant, norm)
		if !ok {
			return invalidField("recipients", fmt.Sprintf("%q is not the email of a directory user", email))
		}
		rcpts = append(rcpts, events.ShareRecipient{Email: norm, UserID: u.UserID, ShareID: s.cfg.NewID()})
	}
	meta, err := s.meta(r, c)
	if err != nil {
		return err
	}
	res, err := rc.Commands.ShareRequest(r.Context(), domain.TenantID(c.Tenant), domain.RequestID(id), meta, domain.ShareRequest{
		Recipients: rcpts, Subject: b.Subject, Message: b.Message, TTL: rc.ShareTTL,
	})
	if err != nil {
		return err
	}
	return s.writeRequest(w, r, http.StatusOK, c.Tenant, id, res.Position)
}

type answerBody struct {
	Recommendation string `json:"recommendation"`
	Comment        string `json:"comment"`
}

// ShareAnswer is what POST /v1/shared/{token} answers: the answer as the
// request read model records it on the request's share (see writeRequest;
// without it, a ShareRef).
type ShareAnswer struct {
	RequestID      string `json:"request_id"`
	ShareID        string `json:"share_id"`
	Recommendation string `json:"recommendation"`
	Comment        string `json:"comment"`
	Position       uint64 `json:"position"`
}

// ShareRef is POST /v1/shared/{token}'s answer when the request read model
// has no details of the share to give (see writeRequest).
type ShareRef struct {
	RequestID string `json:"request_id"`
	ShareID   string `json:"share_id"`
	Position  uint64 `json:"position"`
}

// POST /v1/shared/{token}: the link is the credential; no bearer token.
func (s *Server) answerShare(w http.ResponseWriter, r *http.Request) {
	// The link, not a bearer token, authenticates this command; it is a
	// command like the others all the same: it names its command id and
	// refuses an Idempotency-Key reused with another answer.
	r = s.withCommandID(w, r)
	if err := s.doAnswerShare(w, r); err != nil {
		s.writeError(w, r, err)
	}
}

func (s *Server) doAnswerShare(w http.ResponseWriter, r *http.Request) error {
	rc := s.cfg.Requests
	claims, err := rc.Links.Verify(r.PathValue("token"), rc.Now())
	if err != nil {
		return err
	}
	if r, err = s.checkIdempotencyKey(w, r, auth.Claims{Tenant: claims.Tenant}); err != nil {
		return err
	}
	var b answerBody
	if err := decode(w, r, &b); err != nil {
		return err
	}
	meta, err := s.meta(r, auth.Claims{Subject: "share-" + claims.ShareID})
	if err != nil {
		return err
	}
	res, err := rc.Commands.AnswerShare(r.Context(), domain.TenantID(claims.Tenant), domain.RequestID(claims.RequestID), meta,
		domain.AnswerShare{ShareID: claims.ShareID, Recommendation: b.Recommendation, Comment: b.Comment})
	if err != nil {
		return err
	}
	d, _ := s.requestAt(r.Context(), claims.Tenant, claims.RequestID, res.Position)
	i := slices.IndexFunc(d.Shares, func(sh projections.RequestShare) bool { return sh.ShareID == claims.ShareID })
	if i < 0 || !d.Shares[i].Answered {
		return writePositioned(w, http.StatusOK, res.Position, ShareRef{RequestID: claims.RequestID, ShareID: claims.ShareID, Position: res.Position})
	}
	return writePositioned(w, http.StatusOK, res.Position, ShareAnswer{RequestID: claims.RequestID, ShareID: claims.ShareID,
		Recommendation: d.Shares[i].Recommendation, Comment: d.Shares[i].Comment, Position: res.Position})
}

// Person names a directory user to someone who cannot look them up.
type Person struct {
	UserID      string `json:"user_id"`
	DisplayName string `json:"display_name"`
}

// SharedRequest is what GET /v1/shared/{token} answers: the request as its
// shared recipient needs it to recommend, and their share.
type SharedRequest struct {
	RequestID      string     `json:"request_id"`
	ProductID      string     `json:"product_id"`
	ProductName    string     `json:"product_name"`
	Requester      Person     `json:"requester"`
	Users          []Person   `json:"users"`
	Justification  string     `json:"justification"`
	Status         string     `json:"status"`
	RequestedAt    time.Time  `json:"requested_at"`
	SharedBy       Person     `json:"shared_by"`
	Subject        string     `json:"subject"`
	Message        string     `json:"message"`
	ExpiresAt      time.Time  `json:"expires_at"`
	Answered       bool       `json:"answered"`
	Recommendation string     `json:"recommendation,omitempty"`
	Comment        string     `json:"comment,omitempty"`
	AnsweredAt     *time.Time `json:"answered_at,omitempty"`
}

// GET /v1/shared/{token}: read-only; the link is the credential.
func (s *Server) sharedRequest(w http.ResponseWriter, r *http.Request) {
	if err := s.doSharedRequest(w, r); err != nil {
		s.writeError(w, r, err)
	}
}

func (s *Server) doSharedRequest(w http.ResponseWriter, r *http.Request) error {
	rc := s.cfg.Requests
	claims, err := rc.Links.Verify(r.PathValue("token"), rc.Now())
	if err != nil {
		return err
	}
	if err := s.waitAfter(r); err != nil {
		return err
	}
	d, ok := rc.Requests.Details(claims.Tenant, claims.RequestID)
	if !ok {
		return &domain.NotFoundError{Kind: "request", ID: claims.RequestID}
	}
	i := slices.IndexFunc(d.Shares, func(sh projections.RequestShare) bool { return sh.ShareID == claims.ShareID })
	if i < 0 {
		return &domain.NotFoundError{Kind: "share", ID: claims.ShareID}
	}
	sh := d.Shares[i]
	person := func(id string) Person {
		p := Person{UserID: id, DisplayName: id}
		if u, ok := rc.Directory.User(claims.Tenant, id); ok && u.DisplayName != "" {
			p.DisplayName = u.DisplayName
		}
		return p
	}
	out := SharedRequest{RequestID: d.RequestID, ProductID: d.ProductID, ProductName: d.ProductName, Requester: person(d.Requester),
		Users: make([]Person, len(d.Users)), Justification: d.Justification, Status: string(d.Status), RequestedAt: d.RequestedAt,
		SharedBy: person(sh.SharedBy), Subject: sh.Subject, Message: sh.Message, ExpiresAt: sh.ExpiresAt,
		Answered: sh.Answered, Recommendation: sh.Recommendation, Comment: sh.Comment, AnsweredAt: sh.AnsweredAt}
	for i, u := range d.Users {
		out.Users[i] = person(u)
	}
	if out.ProductName == "" {
		out.ProductName = out.ProductID
	}
	return writeJSON(w, http.StatusOK, out)
}

// DirectoryEntry is one user as GET /v1/directory lists them.
type DirectoryEntry struct {
	UserID      string `json:"user_id"`
	Email       string `json:"email"`
	DisplayName string `json:"display_name"`
}

// MaxDirectoryResults bounds GET /v1/directory's answer.
const MaxDirectoryResults = 20

// MaxDirectoryIDs bounds the ids one GET /v1/directory?id= names.
const MaxDirectoryIDs = 100

// GET /v1/directory?q= is the people picker: any user may look colleagues
// up by name or email, as they name them in a request. ?id=a&id=b names
// users by id, for pages that show names rather than ids; unknown ids are
// left out.
func (s *Server) searchDirectory(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	q := r.URL.Query()
	ids := q["id"]
	switch {
	case len(q["q"]) > 1 || len(q.Get("q")) > 256:
		return invalidField("q", "must be given at most once, up to 256 characters")
	case len(ids) > 0 && q.Has("q"):
		return invalidField("id", "give q or id, not both")
	case len(ids) > MaxDirectoryIDs:
		return invalidField("id", fmt.Sprintf("at most %d ids at once", MaxDirectoryIDs))
	}
	for _, id := range ids {
		if !events.ValidID(id) {
			return invalidField("id", fmt.Sprintf("%q: %s", id, idRule))
		}
	}
	if err := s.waitAfter(r); err != nil {
		return err
	}
	dir := s.cfg.Requests.Directory
	var us []projections.DirectoryUser
	if len(ids) > 0 {
		for _, id := range ids {
			if u, ok := dir.User(c.Tenant, id); ok {
				us = append(us, u)
			}
		}
	} else {
		us = dir.Search(c.Tenant, q.Get("q"), MaxDirectoryResults)
	}
	out := make([]DirectoryEntry, len(us))
	for i, u := range us {
		out[i] = DirectoryEntry{UserID: u.UserID, Email: u.Email, DisplayName: u.DisplayName}
	}
	return writeJSON(w, http.StatusOK, out)
}

// GET /v1/groups
func (s *Server) listGroups(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	if err := s.waitAfter(r); err != nil {
		return err
	}
	return writePage(w, r, s.cfg.Requests.Directory.Groups(c.Tenant), func(g projections.DirectoryGroup) string { return g.GroupID })
}

// Catalog is what GET /v1/catalog answers: what a user needs to ask for a
// license.
type Catalog struct {
	RequestProcess domain.RequestProcess `json:"request_process"`
	Products       []CatalogProduct      `json:"products"`
}

// CatalogProduct is a product as a user sees it: no counts.
type CatalogProduct struct {
	ProductID   string   `json:"product_id"`
	Name        string   `json:"name"`
	Services    []string `json:"services"`
	SelfService string   `json:"self_service"`
}

// GET /v1/catalog
func (s *Server) catalog(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	if err := s.waitAfter(r); err != nil {
		return err
	}
	p, _, err := s.cfg.Requests.Commands.RequestProcessSetting(r.Context(), domain.TenantID(c.Tenant))
	if err != nil {
		return err
	}
	out := Catalog{RequestProcess: p, Products: []CatalogProduct{}}
	for _, pc := range s.cfg.Products.Products(c.Tenant) {
		out.Products = append(out.Products, CatalogProduct{ProductID: pc.ProductID, Name: pc.Name, Services: pc.Services, SelfService: pc.SelfService})
	}
	return writeJSON(w, http.StatusOK, out)
}

// ProcessState is what the request-process setting routes answer.
type ProcessState struct {
	domain.RequestProcess
	Position uint64 `json:"position"`
}

type processBody struct {
	Mode    *string `json:"mode"`
	Message string  `json:"message"`
	Link    string  `json:"link"`
}

// GET /v1/settings/request-process
func (s *Server) getRequestProcess(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	// The setting is read from the org aggregate itself, so it is always
	// current; after= is still validated like on every query.
	if err := s.waitAfter(r); err != nil {
		return err
	}
	p, res, err := s.cfg.Requests.Commands.RequestProcessSetting(r.Context(), domain.TenantID(c.Tenant))
	if err != nil {
		return err
	}
	return writePositioned(w, http.StatusOK, res.Position, ProcessState{RequestProcess: p, Position: res.Position})
}

// PUT /v1/settings/request-process
func (s *Server) putRequestProcess(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	var b processBody
	if err := decode(w, r, &b); err != nil {
		return err
	}
	if b.Mode == nil {
		return invalidField("mode", "is required")
	}
	meta, err := s.meta(r, c)
	if err != nil {
		return err
	}
	p, res, err := s.cfg.Requests.Commands.SetRequestProcess(r.Context(), domain.TenantID(c.Tenant), meta,
		domain.RequestProcess{Mode: *b.Mode, Message: b.Message, Link: b.Link})
	if err != nil {
		return err
	}
	return writePositioned(w, http.StatusOK, res.Position, ProcessState{RequestProcess: p, Position: res.Position})
}
