package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/infra/auth"
	"github.com/seatflow/seatflow/infra/httpapi"
	"github.com/seatflow/seatflow/infra/signin"
	"github.com/seatflow/seatflow/projections"
)

// late forwards to the env's service, which exists only after the server.
type late struct{ svc *domain.Service }

func (l *late) SetAutoClaim(ctx context.Context, t domain.TenantID, m events.Meta, on bool) (domain.AutoClaimSetting, domain.Result, error) {
	return l.svc.SetAutoClaim(ctx, t, m, on)
}
func (l *late) AutoClaim(ctx context.Context, t domain.TenantID) (domain.AutoClaimSetting, domain.Result, error) {
	return l.svc.AutoClaim(ctx, t)
}
func (l *late) Policy(ctx context.Context, t domain.TenantID, id domain.PolicyID, m events.Meta, c domain.PolicyCommand) (domain.PolicySummary, domain.Result, error) {
	return l.svc.Policy(ctx, t, id, m, c)
}
func (l *late) Claim(ctx context.Context, t domain.TenantID, in domain.SignIn, o domain.ClaimOptions) (domain.ClaimOutcome, domain.Result, error) {
	return l.svc.Claim(ctx, t, in, o)
}
func (l *late) ClaimBatch(ctx context.Context, t domain.TenantID, in []domain.SignIn, o domain.ClaimOptions) ([]domain.BatchOutcome, error) {
	return l.svc.ClaimBatch(ctx, t, in, o)
}
func (l *late) RegisterSignInUser(ctx context.Context, t domain.TenantID, id domain.UserID, m events.Meta, email, name string) (domain.Result, error) {
	return l.svc.RegisterSignInUser(ctx, t, id, m, email, name)
}

// oneAtATime hands each posted sign-in to the handler as a batch of one,
// in process: what serve's Submitter does through the sign-in stream and
// the partition owning the tenant.
type oneAtATime struct{ h *signin.Handler }

func (o oneAtATime) Handle(ctx context.Context, t string, p domain.SignInMessage) (domain.ClaimOutcome, domain.Result, error) {
	outs, err := o.h.HandleBatch(ctx, t, []domain.SignInMessage{p})
	if err != nil {
		return domain.ClaimOutcome{}, domain.Result{}, err
	}
	return outs[0].ClaimOutcome, domain.Result{Position: outs[0].Position}, outs[0].Err
}

type knownTenants struct{}

func (knownTenants) Known(_ context.Context, t string) (bool, error) { return t == tenant, nil }

func newAutoClaimEnv(t *testing.T) *env {
	t.Helper()
	l := &late{}
	pl, cl := projections.NewPolicyList(), projections.NewClaims()
	e := newEnv(t, func(c *httpapi.Config, _ *domain.Config) {
		c.AutoClaim = &httpapi.AutoClaimConfig{Commands: l, Policies: pl, Claims: cl,
			SignIns: oneAtATime{signin.NewHandler(l, knownTenants{}, domain.ClaimOptions{})}, Now: c.Now}
	})
	l.svc = e.svc
	e.store.mu.Lock()
	e.store.apply = append(e.store.apply, pl.Apply, cl.Apply)
	e.store.mu.Unlock()
	return e
}

func TestPolicyRoutes(t *testing.T) {
	e := newAutoClaimEnv(t)
	admin, lic := e.admin(), e.token("lena", auth.RoleLicenseAdmin)
	e.do("POST", "/v1/products", lic, `{"product_id":"p","name":"P","services":["mail","chat"],"licenses":1,"self_service":"blocked"}`).mustStatus(t, 201)
	e.do("POST", "/v1/products", lic, `{"product_id":"b","name":"B","licenses":0,"self_service":"blocked"}`).mustStatus(t, 201)

	e.do("GET", "/v1/settings/auto-claim", lic, "").problem(t, 403, "forbidden")
	if body := string(e.do("GET", "/v1/settings/auto-claim", admin, "").mustStatus(t, 200).body); !strings.Contains(body, `"enabled":false`) {
		t.Fatalf("default switch: %s", body)
	}
	e.do("PUT", "/v1/settings/auto-claim", admin, `{}`).problem(t, 400, "validation_failed")
	e.do("PUT", "/v1/settings/auto-claim", admin, `{"enabled":true}`).mustStatus(t, 200)

	body := `{"name":"Teams","app":"teams","products":[{"product_id":"p","disabled_services":["chat"]},{"product_id":"b"}]}`
	e.do("POST", "/v1/policies", lic, body).problem(t, 403, "forbidden")
	r1 := e.do("POST", "/v1/policies", admin, body, "Idempotency-Key", "create-1").mustStatus(t, 201)
	r2 := e.do("POST", "/v1/policies", admin, body, "Idempotency-Key", "create-1").mustStatus(t, 201)
	var p1, p2 httpapi.PolicyState
	_ = json.Unmarshal(r1.body, &p1)
	_ = json.Unmarshal(r2.body, &p2)
	if p1.PolicyID == "" || p1.PolicyID != p2.PolicyID || p1.Position != p2.Position || !p1.Enabled ||
		r1.header.Get("Location") != "/v1/policies/"+string(p1.PolicyID) {
		t.Fatalf("create and replay: %s / %s", r1.body, r2.body)
	}
	id := string(p1.PolicyID)
	e.do("POST", "/v1/policies", admin, `{"name":"Other","app":"teams","products":[{"product_id":"p"}]}`).problem(t, 409, "already_exists")
	e.do("POST", "/v1/policies", admin, `{"name":"x","app":"mail","products":[{"product_id":"p","disabled_services":["fax"]}]}`).problem(t, 400, "validation_failed")
	e.do("POST", "/v1/policies", admin, `{"name":"x","app":"mail","products":[{}]}`).problem(t, 400, "validation_failed")
	e.do("POST", "/v1/policies", admin, `{"name":"x","app":"mail"}`).problem(t, 400, "validation_failed")
	e.do("POST", "/v1/policies", admin, `{"name":"x","app":"mail","products":[],"color":"red"}`).problem(t, 400, "invalid_json")
	e.do("PATCH", "/v1/policies/"+id, admin, `{}`).problem(t, 400, "validation_failed")
	e.do("PATCH", "/v1/policies/nope", admin, `{"name":"x"}`).problem(t, 404, "not_found")

	// A sign-in claims p, the next one waits; both over HTTP.
	ingest := e.token("idp", auth.RoleIngest)
	sign := func(id, user string) string {
		r := e.do("POST", "/v1/signins", ingest, `{"id":"`+id+`","user_id":"`+user+`","app":"teams","at":"2025-03-01T11:00:00Z"}`).mustStatus(t, 200)
		var s httpapi.SignInState
		_ = json.Unmarshal(r.body, &s)
		return string(s.Status) + " " + string(s.ProductID)
	}
	if got := sign("s1", "u1"); got != "claimed p" {
		t.Fatalf("u1: %s", got)
	}
	if got := sign("s2", "u2"); got != "queued " {
		t.Fatalf("u2: %s", got)
	}
	e.do("POST", "/v1/signins", ingest, `{"id":"s3","user_id":"u3","app":"teams"}`).problem(t, 400, "validation_failed")
	e.do("POST", "/v1/signins", ingest, `{"id":"s3","user_id":"u3","app":"teams","at":"soon"}`).problem(t, 400, "validation_failed")
	e.do("POST", "/v1/signins", admin, `{}`).problem(t, 403, "forbidden")

	r := e.do("PATCH", "/v1/policies/"+id, admin, `{"name":"Chat","enabled":false}`).mustStatus(t, 200)
	pos := r.header.Get("Seatflow-Position")
	var list []projections.PolicyListItem
	_ = json.Unmarshal(e.do("GET", "/v1/policies?after="+pos, admin, "").mustStatus(t, 200).body, &list)
	if len(list) != 1 || list[0].Name != "Chat" || list[0].Enabled || list[0].Available != 0 ||
		len(list[0].Queue) != 1 || list[0].Products[0].Name != "P" || list[0].Products[0].DisabledServices[0] != "chat" {
		t.Fatalf("list: %+v", list)
	}
	e.do("PUT", "/v1/policies/"+id+"/products", admin, `{"products":[]}`).problem(t, 400, "validation_failed")
	e.do("PUT", "/v1/policies/"+id+"/products", admin, `{"products":[{"product_id":"b"},{"product_id":"b"}]}`).problem(t, 400, "validation_failed")
	e.do("PUT", "/v1/policies/"+id+"/products", admin, `{"products":[{"product_id":"b"}]}`).mustStatus(t, 200)

	var users []projections.ClaimedUser
	_ = json.Unmarshal(e.do("GET", "/v1/policies/"+id+"/claims?days=1", admin, "").mustStatus(t, 200).body, &users)
	if len(users) != 1 || users[0].UserID != "u1" || users[0].ProductID != "p" {
		t.Fatalf("claimed users: %+v", users)
	}
	e.do("GET", "/v1/policies/nope/claims", admin, "").problem(t, 404, "not_found")
	e.do("GET", "/v1/policies/"+id+"/claims?days=0", admin, "").problem(t, 400, "validation_failed")
	for _, q := range []string{"?days=14", "?days=x", "?days=7&days=30"} {
		e.do("GET", "/v1/reports/claims"+q, admin, "").problem(t, 400, "validation_failed")
	}
	var rep projections.ClaimReport
	_ = json.Unmarshal(e.do("GET", "/v1/reports/claims", admin, "").mustStatus(t, 200).body, &rep)
	if rep.Days != 90 || len(rep.Policies) != 1 || rep.Policies[0].Total != 1 || !rep.To.Equal(now) {
		t.Fatalf("report: %+v", rep)
	}
	csv := e.do("GET", "/v1/reports/claims?days=1", admin, "", "Accept", "text/csv").mustStatus(t, 200)
	want := "policy_id,name,app,date,product_id,count\n" + id + ",Chat,teams,2025-03-01,p,1\n"
	if string(csv.body) != want || !strings.HasPrefix(csv.header.Get("Content-Type"), "text/csv") {
		t.Fatalf("csv:\n%s\nwant\n%s", csv.body, want)
	}
}

// pendingSignIns stores every sign-in but never learns what it did.
type pendingSignIns struct{}

func (pendingSignIns) Handle(context.Context, string, domain.SignInMessage) (domain.ClaimOutcome, domain.Result, error) {
	return domain.ClaimOutcome{}, domain.Result{}, fmt.Errorf("sign-in s1: %w", signin.ErrOutcomePending)
}

// TestSignInOutcomePending: a sign-in stored on the sign-in stream whose
// outcome does not arrive in time answers 503 outcome_unknown with
// Retry-After, telling the client to post it again with the same id.
func TestSignInOutcomePending(t *testing.T) {
	e := newEnv(t, func(c *httpapi.Config, _ *domain.Config) {
		c.AutoClaim = &httpapi.AutoClaimConfig{Commands: &late{}, Policies: projections.NewPolicyList(), Claims: projections.NewClaims(),
			SignIns: pendingSignIns{}, Now: c.Now}
	})
	r := e.do("POST", "/v1/signins", e.token("idp", auth.RoleIngest), `{"id":"s1","user_id":"u1","app":"teams","at":"2025-03-01T11:00:00Z"}`)
	p := r.problem(t, 503, "outcome_unknown")
	if !strings.Contains(p.Detail, "post it again with the same id") || r.header.Get("Retry-After") != "1" {
		t.Fatalf("detail %q, Retry-After %q", p.Detail, r.header.Get("Retry-After"))
	}
}
