package httpapi

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/infra/auth"
	"github.com/seatflow/seatflow/projections"
)

// AutoClaimCommands runs the auto-claim commands.
type AutoClaimCommands interface {
	// SetAutoClaim turns the org switch on or off. Errors: store errors.
	SetAutoClaim(ctx context.Context, tenant domain.TenantID, meta events.Meta, enabled bool) (domain.AutoClaimSetting, domain.Result, error)
	// AutoClaim reads the org switch. Errors: store errors.
	AutoClaim(ctx context.Context, tenant domain.TenantID) (domain.AutoClaimSetting, domain.Result, error)
	// Policy runs a policy command. Errors: *domain.ValidationError,
	// *domain.NotFoundError, domain.ErrAlreadyExists (ErrAppHasPolicy),
	// ErrConcurrency, store errors.
	Policy(ctx context.Context, tenant domain.TenantID, id domain.PolicyID, meta events.Meta, cmd domain.PolicyCommand) (domain.PolicySummary, domain.Result, error)
}

var _ AutoClaimCommands = (*domain.Service)(nil)

// PolicyQueries answers from the policy list read model.
type PolicyQueries interface {
	Policies(tenant string) []projections.PolicyListItem
	Policy(tenant, id string) (projections.PolicyListItem, bool)
}

var _ PolicyQueries = (*projections.PolicyList)(nil)

// ClaimQueries answers from the claims read model.
type ClaimQueries interface {
	PolicyClaims(tenant, policy string, from time.Time) ([]projections.ClaimedUser, bool)
	Report(tenant string, days int, now time.Time) projections.ClaimReport
}

var _ ClaimQueries = (*projections.Claims)(nil)

// SignIns handles sign-ins posted over HTTP, as the NATS edge does (serve
// gives it a signin.Submitter, which hands each to the partition that owns
// its tenant, whichever instance runs it).
type SignIns interface {
	// Handle returns a *domain.SignInRejectedError for a sign-in that can
	// never succeed; other errors are transient, and one wrapping
	// domain.ErrOutcomeUnknown means the sign-in is stored but what it did
	// is not known yet.
	Handle(ctx context.Context, tenant string, p domain.SignInMessage) (domain.ClaimOutcome, domain.Result, error)
}

// AutoClaimConfig is what the auto-claim routes need; Config.AutoClaim
// holds it (nil: the routes are not served).
type AutoClaimConfig struct {
	Commands AutoClaimCommands
	Policies PolicyQueries
	Claims   ClaimQueries
	SignIns  SignIns
	// Now is the clock of the claim report's window. Default time.Now.
	Now func() time.Time
}

var globalAdmin = roles(auth.RoleGlobalAdmin)

// autoClaimRoutes registers the auto-claim routes, when configured.
func (s *Server) autoClaimRoutes() {
	ac := s.cfg.AutoClaim
	if ac == nil {
		return
	}
	if ac.Now == nil {
		ac.Now = time.Now
	}
	s.handle("GET /v1/settings/auto-claim", globalAdmin, s.getAutoClaim)
	s.handle("PUT /v1/settings/auto-claim", globalAdmin, s.putAutoClaim)
	s.handle("POST /v1/policies", globalAdmin, s.createPolicy)
	s.handle("GET /v1/policies", globalAdmin, s.listPolicies)
	s.handle("GET /v1/policies/{id}", globalAdmin, s.getPolicy)
	s.handle("PATCH /v1/policies/{id}", globalAdmin, s.patchPolicy)
	s.handle("PUT /v1/policies/{id}/products", globalAdmin, s.putPolicyProducts)
	s.handle("GET /v1/policies/{id}/claims", globalAdmin, s.policyClaims)
	s.handle("GET /v1/reports/claims", globalAdmin, s.claimReport)
	s.handle("POST /v1/signins", roles(auth.RoleIngest), s.postSignIn)
}

// AutoClaimState answers the auto-claim setting commands.
type AutoClaimState struct {
	Enabled  bool   `json:"enabled"`
	Position uint64 `json:"position"`
}

// GET /v1/settings/auto-claim
func (s *Server) getAutoClaim(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	set, res, err := s.cfg.AutoClaim.Commands.AutoClaim(r.Context(), domain.TenantID(c.Tenant))
	if err != nil {
		return err
	}
	return writePositioned(w, http.StatusOK, res.Position, AutoClaimState{Enabled: set.Enabled, Position: res.Position})
}

type autoClaimBody struct {
	Enabled *bool `json:"enabled"`
}

// PUT /v1/settings/auto-claim
func (s *Server) putAutoClaim(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	var b autoClaimBody
	if err := decode(w, r, &b); err != nil {
		return err
	}
	if b.Enabled == nil {
		return invalidField("enabled", "is required")
	}
	meta, err := s.meta(r, c)
	if err != nil {
		return err
	}
	set, res, err := s.cfg.AutoClaim.Commands.SetAutoClaim(r.Context(), domain.TenantID(c.Tenant), meta, *b.Enabled)
	if err != nil {
		return err
	}
	return writePositioned(w, http.StatusOK, res.Position, AutoClaimState{Enabled: set.Enabled, Position: res.Position})
}

// PolicyState is what policy commands answer: the policy after the command
// and the position to read it at.
type PolicyState struct {
	domain.PolicySummary
	Position uint64 `json:"position"`
}

type policyProductBody struct {
	ProductID        *string  `json:"product_id"`
	DisabledServices []string `json:"disabled_services"`
}

type createPolicyBody struct {
	Name             *string             `json:"name"`
	App              *string             `json:"app"`
	Products         []policyProductBody `json:"products"`
	Enabled          *bool               `json:"enabled"`
	DailyCap         *int                `json:"daily_cap"`
	TotalCap         *int                `json:"total_cap"`
	ReclaimAfterDays *int                `json:"reclaim_after_days"`
	ReclaimWarnDays  *int                `json:"reclaim_warn_days"`
}

// optionalInt is a PATCH field that may be absent (unchanged), null (off)
// or a number.
type optionalInt struct{ domain.OptionalInt }

func (o *optionalInt) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Value = nil
		return nil
	}
	var n int
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	o.Value = &n
	return nil
}

func policyProducts(bs []policyProductBody) ([]events.PolicyProduct, error) {
	if bs == nil {
		return nil, invalidField("products", "is required")
	}
	out := make([]events.PolicyProduct, len(bs))
	for i, b := range bs {
		if b.ProductID == nil {
			return nil, invalidField(fmt.Sprintf("products[%d].product_id", i), "is required")
		}
		out[i] = events.PolicyProduct{ProductID: *b.ProductID, DisabledServices: b.DisabledServices}
	}
	return out, nil
}

// newPolicyID makes a policy id: a ULID, or, when the request carries an
// Idempotency-Key, an id derived from it, so a repeated request names the
// same policy and answers with it.
func (s *Server) newPolicyID(r *http.Request, c auth.Claims) (string, error) {
	key, err := optionalKey(r, HeaderIdempotencyKey)
	if err != nil || key == "" {
		return s.cfg.NewID(), err
	}
	sum := sha256.Sum256([]byte(c.Tenant + "\x00policy\x00" + key))
	return "P" + base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:16]), nil
}

// POST /v1/policies
func (s *Server) createPolicy(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	var b createPolicyBody
	if err := decode(w, r, &b); err != nil {
		return err
	}
	switch {
	case b.Name == nil:
		return invalidField("name", "is required")
	case b.App == nil:
		return invalidField("app", "is required")
	}
	ps, err := policyProducts(b.Products)
	if err != nil {
		return err
	}
	id, err := s.newPolicyID(r, c)
	if err != nil {
		return err
	}
	return s.runPolicy(w, r, c, id, http.StatusCreated, domain.CreatePolicy{Name: *b.Name, App: *b.App, Products: ps,
		Disabled: b.Enabled != nil && !*b.Enabled, Limits: domain.PolicyLimits{DailyCap: b.DailyCap, TotalCap: b.TotalCap,
			ReclaimAfterDays: b.ReclaimAfterDays, ReclaimWarnDays: b.ReclaimWarnDays}})
}

type patchPolicyBody struct {
	Name             *string     `json:"name"`
	Enabled          *bool       `json:"enabled"`
	DailyCap         optionalInt `json:"daily_cap"`
	TotalCap         optionalInt `json:"total_cap"`
	ReclaimAfterDays optionalInt `json:"reclaim_after_days"`
	ReclaimWarnDays  optionalInt `json:"reclaim_warn_days"`
}

func (b patchPolicyBody) limits() (domain.SetPolicyLimits, bool) {
	l := domain.SetPolicyLimits{DailyCap: b.DailyCap.OptionalInt, TotalCap: b.TotalCap.OptionalInt,
		ReclaimAfterDays: b.ReclaimAfterDays.OptionalInt, ReclaimWarnDays: b.ReclaimWarnDays.OptionalInt}
	return l, l.DailyCap.Set || l.TotalCap.Set || l.ReclaimAfterDays.Set || l.ReclaimWarnDays.Set
}

// PATCH /v1/policies/{id}
func (s *Server) patchPolicy(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	id, err := pathID(r, "id", "id")
	if err != nil {
		return err
	}
	var b patchPolicyBody
	if err := decode(w, r, &b); err != nil {
		return err
	}
	limits, setLimits := b.limits()
	if b.Name == nil && b.Enabled == nil && !setLimits {
		return invalidField("name", "give name, enabled, daily_cap, total_cap, reclaim_after_days or reclaim_warn_days")
	}
	meta, err := s.meta(r, c)
	if err != nil {
		return err
	}
	// One command each; the second carries a derived command id so that a
	// repeated request replays both.
	var (
		sum domain.PolicySummary
		res domain.Result
	)
	if b.Name != nil {
		if sum, res, err = s.cfg.AutoClaim.Commands.Policy(r.Context(), domain.TenantID(c.Tenant), domain.PolicyID(id), meta,
			domain.RenamePolicy{Name: *b.Name}); err != nil {
			return err
		}
	}
	if b.Enabled != nil {
		m := meta
		if b.Name != nil {
			m.CommandID += ":enabled"
		}
		if sum, res, err = s.cfg.AutoClaim.Commands.Policy(r.Context(), domain.TenantID(c.Tenant), domain.PolicyID(id), m,
			domain.SetPolicyEnabled{Enabled: *b.Enabled}); err != nil {
			return err
		}
	}
	if setLimits {
		m := meta
		if b.Name != nil || b.Enabled != nil {
			m.CommandID += ":limits"
		}
		if sum, res, err = s.cfg.AutoClaim.Commands.Policy(r.Context(), domain.TenantID(c.Tenant), domain.PolicyID(id), m, limits); err != nil {
			return err
		}
	}
	return writePositioned(w, http.StatusOK, res.Position, PolicyState{PolicySummary: sum, Position: res.Position})
}

type policyProductsBody struct {
	Products []policyProductBody `json:"products"`
}

// PUT /v1/policies/{id}/products
func (s *Server) putPolicyProducts(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	id, err := pathID(r, "id", "id")
	if err != nil {
		return err
	}
	var b policyProductsBody
	if err := decode(w, r, &b); err != nil {
		return err
	}
	ps, err := policyProducts(b.Products)
	if err != nil {
		return err
	}
	return s.runPolicy(w, r, c, id, http.StatusOK, domain.SetPolicyProducts{Products: ps})
}

func (s *Server) runPolicy(w http.ResponseWriter, r *http.Request, c auth.Claims, id string, status int, cmd domain.PolicyCommand) error {
	meta, err := s.meta(r, c)
	if err != nil {
		return err
	}
	sum, res, err := s.cfg.AutoClaim.Commands.Policy(r.Context(), domain.TenantID(c.Tenant), domain.PolicyID(id), meta, cmd)
	if err != nil {
		return err
	}
	if status == http.StatusCreated {
		w.Header().Set("Location", "/v1/policies/"+url.PathEscape(id))
	}
	return writePositioned(w, status, res.Position, PolicyState{PolicySummary: sum, Position: res.Position})
}

// GET /v1/policies
func (s *Server) listPolicies(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	if err := s.waitAfter(r); err != nil {
		return err
	}
	return writePage(w, r, s.cfg.AutoClaim.Policies.Policies(c.Tenant), func(p projections.PolicyListItem) string { return p.PolicyID })
}

// GET /v1/policies/{id}
func (s *Server) getPolicy(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	id, err := pathID(r, "id", "id")
	if err != nil {
		return err
	}
	at, past, err := s.asOf(r)
	if err != nil {
		return err
	}
	if err := s.waitAfter(r); err != nil {
		return err
	}
	var (
		p  projections.PolicyListItem
		ok bool
	)
	if past {
		if p, ok, err = s.cfg.History.AsOf.PolicyAt(r.Context(), c.Tenant, id, at); err != nil {
			return err
		}
	} else {
		p, ok = s.cfg.AutoClaim.Policies.Policy(c.Tenant, id)
	}
	if !ok {
		return &domain.NotFoundError{Kind: "policy", ID: id}
	}
	return writeJSON(w, http.StatusOK, p)
}

// days reads ?days=, one of projections.ReportDays (default 90); for the
// claimed-users list any whole number of days from 1 to 3650 is allowed.
func days(r *http.Request, only []int) (int, error) {
	vs, ok := r.URL.Query()["days"]
	if !ok {
		return projections.DefaultReportDays, nil
	}
	n, err := strconv.Atoi(vs[0])
	if len(vs) != 1 || err != nil || n < 1 || n > 3650 || (only != nil && !slices.Contains(only, n)) {
		want := "a whole number of days from 1 to 3650"
		if only != nil {
			want = fmt.Sprintf("one of %v", only)
		}
		return 0, invalidField("days", fmt.Sprintf("%q: must be given once, %s", strings.Join(vs, ","), want))
	}
	return n, nil
}

// GET /v1/policies/{id}/claims?days=N
func (s *Server) policyClaims(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	id, err := pathID(r, "id", "id")
	if err != nil {
		return err
	}
	n, err := days(r, nil)
	if err != nil {
		return err
	}
	if err := s.waitAfter(r); err != nil {
		return err
	}
	from := s.cfg.AutoClaim.Now().Add(-time.Duration(n) * 24 * time.Hour)
	users, ok := s.cfg.AutoClaim.Claims.PolicyClaims(c.Tenant, id, from)
	if !ok {
		return &domain.NotFoundError{Kind: "policy", ID: id}
	}
	return writePage(w, r, users, func(u projections.ClaimedUser) string { return u.UserID + "/" + u.ProductID })
}

// GET /v1/reports/claims?days=1|7|30|90, as JSON or, with Accept:
// text/csv, as CSV with one row per policy, day and product.
func (s *Server) claimReport(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	n, err := days(r, projections.ReportDays)
	if err != nil {
		return err
	}
	if err := s.waitAfter(r); err != nil {
		return err
	}
	rep := s.cfg.AutoClaim.Claims.Report(c.Tenant, n, s.cfg.AutoClaim.Now())
	if !wantsCSV(r) {
		return writeJSON(w, http.StatusOK, rep)
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="claims-%dd.csv"`, n))
	w.WriteHeader(http.StatusOK)
	return WriteReportCSV(w, rep)
}

func wantsCSV(r *http.Request) bool {
	for _, a := range r.Header.Values("Accept") {
		for _, part := range strings.Split(a, ",") {
			mt, _, _ := strings.Cut(strings.TrimSpace(part), ";")
			if strings.EqualFold(strings.TrimSpace(mt), "text/csv") {
				return true
			}
		}
	}
	return false
}

// ReportCSVHeader is the header row of the claim report's CSV form.
var ReportCSVHeader = []string{"policy_id", "name", "app", "date", "product_id", "count"}

// WriteReportCSV writes rep as CSV: one row per policy, UTC day and
// product with claims, so summing count by policy gives total, by product
// by_product and by date by_day. A policy without claims has one row with
// empty date and product and count 0.
func WriteReportCSV(w interface{ Write([]byte) (int, error) }, rep projections.ClaimReport) error {
	cw := csv.NewWriter(w)
	_ = cw.Write(ReportCSVHeader)
	for _, p := range rep.Policies {
		rows := p.Cells
		if len(rows) == 0 {
			_ = cw.Write([]string{p.PolicyID, p.Name, p.App, "", "", "0"})
		}
		for _, row := range rows {
			_ = cw.Write([]string{p.PolicyID, p.Name, p.App, row.Date, row.ProductID, strconv.Itoa(row.Count)})
		}
	}
	cw.Flush()
	// The status is out: a failed write (the client went away) cannot be
	// answered any more.
	_ = cw.Error()
	return nil
}
