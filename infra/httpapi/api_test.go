package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/infra/auth"
	"github.com/seatflow/seatflow/infra/httpapi"
	"github.com/seatflow/seatflow/projections"
)

func TestProductLifecycle(t *testing.T) {
	e := newEnv(t)
	lic := e.token("lena", auth.RoleLicenseAdmin)
	ua := e.token("uma", auth.RoleUserAdmin)

	res := e.do("POST", "/v1/products", lic,
		`{"product_id":"m365","name":"Microsoft 365 E3","services":["word","excel","teams"],"licenses":2,"self_service":"blocked"}`).
		mustStatus(t, http.StatusCreated)
	if loc := res.header.Get("Location"); loc != "/v1/products/m365" {
		t.Errorf("Location %q, want /v1/products/m365", loc)
	}
	created := res.state(t)
	want := httpapi.ProductState{ProductSummary: domain.ProductSummary{ProductID: "m365", Name: "Microsoft 365 E3",
		Services: []string{"word", "excel", "teams"}, Purchased: 2, Available: 2, SelfService: "blocked"}, Position: 1}
	if fmt.Sprint(created) != fmt.Sprint(want) {
		t.Fatalf("got %+v, want %+v", created, want)
	}

	st := e.do("POST", "/v1/products/m365/licenses", lic, `{"add":3}`).mustStatus(t, 200).state(t)
	if st.Purchased != 5 || st.Available != 5 || st.Position != 2 {
		t.Fatalf("after add 3: %+v", st)
	}
	st = e.do("POST", "/v1/products/m365/assignments", ua, `{"user_id":"bob","disabled_services":["teams"]}`).
		mustStatus(t, http.StatusCreated).state(t)
	if st.Assigned != 1 || st.Available != 4 {
		t.Fatalf("after assign: %+v", st)
	}
	e.do("POST", "/v1/products/m365/assignments", ua, `{"user_id":"carol"}`).mustStatus(t, http.StatusCreated)
	st = e.do("POST", "/v1/products/m365/licenses", lic, `{"remove":2}`).mustStatus(t, 200).state(t)
	if st.Purchased != 3 || st.Available != 1 {
		t.Fatalf("after remove 2: %+v", st)
	}
	st = e.do("PUT", "/v1/products/m365/self-service", lic, `{"self_service":"allowed"}`).mustStatus(t, 200).state(t)
	if st.SelfService != "allowed" {
		t.Fatalf("after self-service: %+v", st)
	}
	st = e.do("DELETE", "/v1/products/m365/assignments/carol", ua, "").mustStatus(t, 200).state(t)
	if st.Assigned != 1 || st.Available != 2 {
		t.Fatalf("after unassign: %+v", st)
	}

	// Read your writes: the read models are at the last command's position.
	var list []projections.ProductCount
	e.do("GET", "/v1/products?after="+strconv.FormatUint(st.Position, 10), ua, "").mustStatus(t, 200).decode(t, &list)
	if len(list) != 1 || list[0].Purchased != 3 || list[0].Assigned != 1 || list[0].Available != 2 || list[0].SelfService != "allowed" {
		t.Fatalf("GET /v1/products = %+v", list)
	}
	var one projections.ProductCount
	e.do("GET", "/v1/products/m365?after="+strconv.FormatUint(st.Position, 10), ua, "").mustStatus(t, 200).decode(t, &one)
	if fmt.Sprint(one) != fmt.Sprint(list[0]) {
		t.Fatalf("GET /v1/products/m365 = %+v, want %+v", one, list[0])
	}
	var held []projections.UserLicense
	e.do("GET", "/v1/users/bob/licenses?after="+strconv.FormatUint(st.Position, 10), e.token("bob", auth.RoleUser), "").
		mustStatus(t, 200).decode(t, &held)
	if len(held) != 1 || held[0].ProductID != "m365" || fmt.Sprint(held[0].DisabledServices) != "[teams]" ||
		held[0].Source != (events.Source{Kind: events.SourceManual}) || !held[0].AssignedAt.Equal(now) {
		t.Fatalf("bob's licenses = %+v", held)
	}
	e.do("GET", "/v1/users/carol/licenses", ua, "").mustStatus(t, 200).decode(t, &held)
	if len(held) != 0 {
		t.Fatalf("carol's licenses after unassign = %+v", held)
	}
	e.do("GET", "/v1/products/nope", ua, "").problem(t, 404, "not_found")
}

func TestConflicts(t *testing.T) {
	e := newEnv(t)
	e.seed("p1", 1)
	adm := e.admin()
	cases := []struct {
		name, method, path, body, code string
		status                         int
	}{
		{"product exists", "POST", "/v1/products", `{"product_id":"p1","name":"Again","licenses":1,"self_service":"allowed"}`, "already_exists", 409},
		{"assign", "POST", "/v1/products/p1/assignments", `{"user_id":"bob"}`, "", 201},
		{"assign again", "POST", "/v1/products/p1/assignments", `{"user_id":"bob"}`, "already_assigned", 409},
		{"no seat left", "POST", "/v1/products/p1/assignments", `{"user_id":"carol"}`, "no_licenses_available", 409},
		{"remove an assigned seat", "POST", "/v1/products/p1/licenses", `{"remove":1}`, "below_assigned", 409},
		{"unassign a non-holder", "DELETE", "/v1/products/p1/assignments/carol", "", "not_found", 404},
		{"unknown product", "POST", "/v1/products/p2/licenses", `{"add":1}`, "not_found", 404},
		{"assign from unknown product", "POST", "/v1/products/p2/assignments", `{"user_id":"bob"}`, "not_found", 404},
	}
	for _, c := range cases {
		before := e.store.count()
		res := e.do(c.method, c.path, adm, c.body)
		if c.code == "" {
			res.mustStatus(t, c.status)
			continue
		}
		res.problem(t, c.status, c.code)
		if e.store.count() != before {
			t.Errorf("%s: appended although refused", c.name)
		}
	}
}

func TestConcurrencyExhaustedIsRetryableConflict(t *testing.T) {
	e := newEnv(t, func(_ *httpapi.Config, d *domain.Config) { d.MaxAttempts = 2 })
	e.seed("p1", 1)
	e.store.fail(fmt.Errorf("append: %w", domain.ErrConcurrency))
	res := e.do("POST", "/v1/products/p1/licenses", e.admin(), `{"add":1}`)
	res.problem(t, 409, "conflict")
	if res.header.Get("Retry-After") == "" {
		t.Error("409 conflict without Retry-After")
	}
}

func TestStoreFailures(t *testing.T) {
	e := newEnv(t)
	e.seed("p1", 1)

	e.store.fail(fmt.Errorf("publish: %w", context.DeadlineExceeded))
	res := e.do("POST", "/v1/products/p1/licenses", e.admin(), `{"add":1}`)
	res.problem(t, 503, "unavailable")
	if res.header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}

	e.store.fail(errors.New("disk on fire at /var/lib/seatflow"))
	res = e.do("POST", "/v1/products/p1/licenses", e.admin(), `{"add":1}`)
	p := res.problem(t, 500, "internal")
	if strings.Contains(p.Detail, "disk") {
		t.Errorf("500 detail leaks the cause: %q", p.Detail)
	}
	rid := res.header.Get(httpapi.HeaderRequestID)
	if rid == "" || !strings.Contains(p.Detail, rid) {
		t.Errorf("500 detail %q does not carry the request id %q", p.Detail, rid)
	}
	logs := e.logs.String()
	if !strings.Contains(logs, `"level":"ERROR"`) || !strings.Contains(logs, "disk on fire") || !strings.Contains(logs, rid) {
		t.Errorf("500 not logged with cause and request id:\n%s", logs)
	}
}

func TestOnlyServerErrorsAreLogged(t *testing.T) {
	e := newEnv(t)
	e.seed("p1", 1)
	e.do("POST", "/v1/products/p1/licenses", "", `{"add":1}`).problem(t, 401, "unauthorized")
	e.do("POST", "/v1/products/p1/licenses", e.admin(), `{"add":`).problem(t, 400, "invalid_json")
	e.do("POST", "/v1/products/p1/licenses", e.admin(), `{"remove":5}`).problem(t, 409, "below_assigned")
	for _, line := range strings.Split(strings.TrimSpace(e.logs.String()), "\n") {
		if !strings.Contains(line, `"level":"DEBUG"`) {
			t.Errorf("client error logged above Debug: %s", line)
		}
	}
}

func TestIdempotencyKeyReplays(t *testing.T) {
	e := newEnv(t)
	body := `{"product_id":"p1","name":"Office","services":["word"],"licenses":1,"self_service":"allowed"}`
	first := e.do("POST", "/v1/products", e.admin(), body, "Idempotency-Key", "create-p1:2025.03").
		mustStatus(t, http.StatusCreated).state(t)
	appends := e.store.count()
	again := e.do("POST", "/v1/products", e.admin(), body, "Idempotency-Key", "create-p1:2025.03").
		mustStatus(t, http.StatusCreated).state(t)
	if again.Position != first.Position || e.store.count() != appends {
		t.Fatalf("replay answered position %d (first %d) with %d appends (was %d)", again.Position, first.Position, e.store.count(), appends)
	}

	a := e.do("POST", "/v1/products/p1/assignments", e.admin(), `{"user_id":"bob"}`, "Idempotency-Key", "assign-bob").
		mustStatus(t, http.StatusCreated).state(t)
	e.do("POST", "/v1/products/p1/licenses", e.admin(), `{"add":1}`).mustStatus(t, 200)
	b := e.do("POST", "/v1/products/p1/assignments", e.admin(), `{"user_id":"bob"}`, "Idempotency-Key", "assign-bob").
		mustStatus(t, http.StatusCreated).state(t)
	if b.Position != a.Position {
		t.Fatalf("replayed assignment answered position %d, want the original %d", b.Position, a.Position)
	}
	// Without the key the same request is a new command, refused.
	e.do("POST", "/v1/products/p1/assignments", e.admin(), `{"user_id":"bob"}`).problem(t, 409, "already_assigned")

	d1 := e.do("DELETE", "/v1/products/p1/assignments/bob", e.admin(), "", "Idempotency-Key", "rm-bob").mustStatus(t, 200).state(t)
	d2 := e.do("DELETE", "/v1/products/p1/assignments/bob", e.admin(), "", "Idempotency-Key", "rm-bob").mustStatus(t, 200).state(t)
	if d1.Position != d2.Position {
		t.Fatalf("replayed unassign answered position %d, want %d", d2.Position, d1.Position)
	}
}

func TestEventMetadataComesFromTokenAndHeaders(t *testing.T) {
	e := newEnv(t)
	e.do("POST", "/v1/products", e.token("lena", auth.RoleLicenseAdmin),
		`{"product_id":"p1","name":"Office","licenses":1,"self_service":"allowed"}`,
		"Idempotency-Key", "key-1", "X-Correlation-ID", "corr-9").mustStatus(t, 201)
	e.do("POST", "/v1/products/p1/licenses", e.token("lena", auth.RoleLicenseAdmin), `{"add":1}`).mustStatus(t, 200)
	evs := e.store.all()
	if len(evs) != 2 {
		t.Fatalf("%d events, want 2", len(evs))
	}
	if ev := evs[0]; ev.Tenant != tenant || ev.Actor != "lena" || ev.CommandID != "key-1" || ev.CorrelationID != "corr-9" {
		t.Errorf("first event meta: tenant %q actor %q command %q correlation %q", ev.Tenant, ev.Actor, ev.CommandID, ev.CorrelationID)
	}
	if ev := evs[1]; ev.CommandID == "" || ev.CommandID == "key-1" || ev.Actor != "lena" {
		t.Errorf("second event: command %q actor %q; want a fresh command id", ev.CommandID, ev.Actor)
	}
}

func TestTenantComesFromToken(t *testing.T) {
	e := newEnv(t)
	e.seed("p1", 3)
	e.do("POST", "/v1/products/p1/assignments", e.admin(), `{"user_id":"bob"}`).mustStatus(t, 201)
	rival := e.tokenIn("globex", "root", auth.RoleGlobalAdmin)

	var list []projections.ProductCount
	e.do("GET", "/v1/products", rival, "").mustStatus(t, 200).decode(t, &list)
	if len(list) != 0 {
		t.Fatalf("globex sees acme's products: %+v", list)
	}
	e.do("GET", "/v1/products/p1", rival, "").problem(t, 404, "not_found")
	var held []projections.UserLicense
	e.do("GET", "/v1/users/bob/licenses", rival, "").mustStatus(t, 200).decode(t, &held)
	if len(held) != 0 {
		t.Fatalf("globex sees acme's licenses: %+v", held)
	}
	before := e.store.count()
	e.do("POST", "/v1/products/p1/licenses", rival, `{"add":1}`).problem(t, 404, "not_found")
	e.do("DELETE", "/v1/products/p1/assignments/bob", rival, "").problem(t, 404, "not_found")
	if e.store.count() != before {
		t.Fatal("a command from another tenant appended")
	}
	// Creating the same product id in another tenant is a different product.
	e.do("POST", "/v1/products", rival, `{"product_id":"p1","name":"Theirs","licenses":1,"self_service":"allowed"}`).mustStatus(t, 201)
	for _, ev := range e.store.all() {
		if added, ok := ev.Data.(events.ProductAdded); ok && (added.Name == "Theirs") != (ev.Tenant == "globex") {
			t.Fatalf("product %q stored under tenant %q", added.Name, ev.Tenant)
		}
	}
}

func TestUserLicensesSelfRule(t *testing.T) {
	e := newEnv(t)
	e.seed("p1", 3)
	e.do("POST", "/v1/products/p1/assignments", e.admin(), `{"user_id":"bob"}`).mustStatus(t, 201)
	allowed := map[string]string{
		"bob himself":    e.token("bob", auth.RoleUser),
		"global admin":   e.token("root", auth.RoleGlobalAdmin),
		"user admin":     e.token("uma", auth.RoleUserAdmin),
		"license admin":  e.token("lena", auth.RoleLicenseAdmin),
		"admin and user": e.token("lena", auth.RoleUser, auth.RoleLicenseAdmin),
	}
	for who, tok := range allowed {
		var held []projections.UserLicense
		e.do("GET", "/v1/users/bob/licenses", tok, "").mustStatus(t, 200).decode(t, &held)
		if len(held) != 1 {
			t.Errorf("%s sees %d of bob's licenses, want 1", who, len(held))
		}
	}
	denied := map[string]string{
		"another user":          e.token("alice", auth.RoleUser),
		"ingest named bob":      e.token("bob", auth.RoleIngest),
		"bob in another tenant": e.tokenIn("globex", "bob", auth.RoleUser),
	}
	for who, tok := range denied {
		res := e.do("GET", "/v1/users/bob/licenses", tok, "")
		if who == "bob in another tenant" {
			// Allowed by the rule, but confined to globex: sees nothing.
			var held []projections.UserLicense
			res.mustStatus(t, 200).decode(t, &held)
			if len(held) != 0 {
				t.Errorf("%s sees acme's licenses: %+v", who, held)
			}
			continue
		}
		res.problem(t, 403, "forbidden")
	}
}

func TestReadWaitsForPosition(t *testing.T) {
	e := newEnv(t)
	pos := e.seed("p1", 1)
	after := "/v1/products/p1?after=" + strconv.FormatUint(pos+1, 10)
	done := make(chan response, 1)
	go func() { done <- e.do("GET", after, e.admin(), "") }()
	select {
	case res := <-done:
		t.Fatalf("answered %d before position %d existed: %s", res.status, pos+1, res.body)
	case <-time.After(20 * time.Millisecond):
	}
	e.do("POST", "/v1/products/p1/licenses", e.admin(), `{"add":4}`).mustStatus(t, 200)
	select {
	case res := <-done:
		var p projections.ProductCount
		res.mustStatus(t, 200).decode(t, &p)
		if p.Purchased != 5 {
			t.Fatalf("read after position %d shows %d purchased, want 5", pos+1, p.Purchased)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("read did not return after its position was applied")
	}
}

func TestReadTimesOutWith503(t *testing.T) {
	e := newEnv(t, func(c *httpapi.Config, _ *domain.Config) { c.WaitTimeout = 30 * time.Millisecond })
	pos := e.seed("p1", 1)
	for _, path := range []string{"/v1/products", "/v1/products/p1", "/v1/users/bob/licenses"} {
		res := e.do("GET", path+"?after="+strconv.FormatUint(pos+1, 10), e.admin(), "")
		res.problem(t, 503, "unavailable")
		if res.header.Get("Retry-After") == "" {
			t.Errorf("%s: 503 without Retry-After", path)
		}
	}
	// A position already applied, or 0, answers at once.
	e.do("GET", "/v1/products?after="+strconv.FormatUint(pos, 10), e.admin(), "").mustStatus(t, 200)
	e.do("GET", "/v1/products?after=0", e.admin(), "").mustStatus(t, 200)
}

func TestBodyTooLarge(t *testing.T) {
	e := newEnv(t)
	e.seed("p1", 1)
	ts := httptest.NewServer(e.srv)
	defer ts.Close()
	huge := `{"product_id":"p2","name":"` + strings.Repeat("x", 2<<20) + `","licenses":1,"self_service":"allowed"}`
	for _, path := range []string{"/v1/products", "/v1/products/p1/licenses", "/v1/products/p1/assignments"} {
		before := e.store.count()
		req, _ := http.NewRequest("POST", ts.URL+path, strings.NewReader(huge))
		req.Header.Set("Authorization", "Bearer "+e.admin())
		res, err := ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r := response{status: res.StatusCode, header: res.Header}
		r.body = readAll(t, res)
		r.problem(t, 413, "body_too_large")
		if e.store.count() != before {
			t.Fatalf("%s: appended from a 2 MiB body", path)
		}
	}
	// Just under the limit is read (and then judged on its content).
	under := `{"add":1}` + strings.Repeat(" ", httpapi.MaxBodyBytes-len(`{"add":1}`))
	e.do("POST", "/v1/products/p1/licenses", e.admin(), under).mustStatus(t, 200)
}

func TestRoutingProblems(t *testing.T) {
	e := newEnv(t)
	e.do("GET", "/v1/nothing", e.admin(), "").problem(t, 404, "not_found")
	e.do("GET", "/nothing", "", "").problem(t, 404, "not_found")
	// The root and the former dashboard lead to the console.
	for _, path := range []string{"/", "/dashboard"} {
		if r := e.do("GET", path, "", "").mustStatus(t, 302); r.header.Get("Location") != "/console" {
			t.Errorf("GET %s: Location %q, want /console", path, r.header.Get("Location"))
		}
	}
	res := e.do("PATCH", "/v1/products", e.admin(), "")
	res.problem(t, 405, "method_not_allowed")
	if allow := res.header.Get("Allow"); !strings.Contains(allow, "GET") || !strings.Contains(allow, "POST") {
		t.Errorf("405 Allow = %q", allow)
	}
	e.do("DELETE", "/v1/users/bob/licenses", e.admin(), "").problem(t, 405, "method_not_allowed")
	// HEAD of a GET route is served without a body.
	e.do("HEAD", "/healthz", "", "").mustStatus(t, 200)
}

func TestHealthAndReadiness(t *testing.T) {
	e := newEnv(t)
	var body map[string]string
	e.do("GET", "/healthz", "", "").mustStatus(t, 200).decode(t, &body)
	if body["status"] != "ok" {
		t.Errorf("healthz = %v", body)
	}
	e.do("GET", "/readyz", "", "").mustStatus(t, 200).decode(t, &body)
	if body["status"] != "ready" {
		t.Errorf("readyz = %v", body)
	}
	e.progress.ready.Store(false)
	e.do("GET", "/readyz", "", "").problem(t, 503, "unavailable")
	e.do("GET", "/healthz", "", "").mustStatus(t, 200)
}

// TestReadinessFollowsStoreHealth: an event store refusing writes (e.g. for
// lack of storage) makes the service unready, with the reason, and ready
// again once it recovers.
func TestReadinessFollowsStoreHealth(t *testing.T) {
	var healthErr atomic.Pointer[error]
	e := newEnv(t, func(c *httpapi.Config, _ *domain.Config) {
		c.Health = func() error {
			if p := healthErr.Load(); p != nil {
				return *p
			}
			return nil
		}
	})
	e.do("GET", "/readyz", "", "").mustStatus(t, 200)
	full := errors.New("the event store is out of storage: an append was refused 3s ago")
	healthErr.Store(&full)
	if p := e.do("GET", "/readyz", "", "").problem(t, 503, "unavailable"); !strings.Contains(p.Detail, "out of storage") {
		t.Errorf("readyz: got %q, want the reason", p.Detail)
	}
	healthErr.Store(nil)
	e.do("GET", "/readyz", "", "").mustStatus(t, 200)
}

// panicky is a Commands whose every command panics.
type panicky struct{}

func (panicky) Product(context.Context, domain.TenantID, domain.ProductID, events.Meta, domain.ProductCommand) (domain.ProductSummary, domain.Result, error) {
	panic("boom")
}

func TestPanicBecomes500(t *testing.T) {
	e := newEnv(t, func(c *httpapi.Config, _ *domain.Config) { c.Commands = panicky{} })
	ts := httptest.NewServer(e.srv)
	defer ts.Close()
	for range 2 { // and the server keeps serving
		req, _ := http.NewRequest("POST", ts.URL+"/v1/products/p1/licenses", strings.NewReader(`{"add":1}`))
		req.Header.Set("Authorization", "Bearer "+e.admin())
		res, err := ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r := response{status: res.StatusCode, header: res.Header, body: readAll(t, res)}
		r.problem(t, 500, "internal")
	}
	if !strings.Contains(e.logs.String(), "handler panicked") || !strings.Contains(e.logs.String(), "boom") {
		t.Errorf("panic not logged:\n%s", e.logs.String())
	}
}

func TestRequestsAreLoggedAtDebug(t *testing.T) {
	e := newEnv(t)
	res := e.do("GET", "/healthz", "", "", "X-Request-ID", "trace-42")
	if res.header.Get(httpapi.HeaderRequestID) != "trace-42" {
		t.Errorf("X-Request-ID = %q, want the caller's trace-42", res.header.Get(httpapi.HeaderRequestID))
	}
	logs := e.logs.String()
	for _, want := range []string{`"level":"DEBUG"`, `"msg":"http request"`, `"request_id":"trace-42"`, `"path":"/healthz"`, `"status":200`} {
		if !strings.Contains(logs, want) {
			t.Errorf("request log lacks %s:\n%s", want, logs)
		}
	}
}

func TestConfigValidation(t *testing.T) {
	_, err := httpapi.New(httpapi.Config{WaitTimeout: -time.Second})
	if err == nil {
		t.Fatal("New accepted an empty config")
	}
	for _, want := range []string{"Commands", "Products", "Licenses", "Progress", "Tokens", "NewID", "WaitTimeout"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %s: %v", want, err)
		}
	}
}

func readAll(t *testing.T, res *http.Response) []byte {
	t.Helper()
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestEveryCommandAnswerNamesItsCommandID: success or error, a command's
// answer carries Seatflow-Command-Id: the Idempotency-Key when one was
// sent, a new id otherwise, and that id is the events' command_id.
func TestEveryCommandAnswerNamesItsCommandID(t *testing.T) {
	e := newEnv(t)
	ok := e.do("POST", "/v1/products", e.admin(), `{"product_id":"p1","name":"Office","services":[],"licenses":1,"self_service":"allowed"}`,
		"Idempotency-Key", "create-p1").mustStatus(t, http.StatusCreated)
	if got := ok.header.Get("Seatflow-Command-Id"); got != "create-p1" {
		t.Errorf("success with a key: Seatflow-Command-Id %q, want create-p1", got)
	}
	gen := e.do("POST", "/v1/products/p1/licenses", e.admin(), `{"add":1}`).mustStatus(t, 200)
	id := gen.header.Get("Seatflow-Command-Id")
	if id == "" {
		t.Fatal("success without a key: no Seatflow-Command-Id")
	}
	if last := e.store.lastEvent(); last.CommandID != id {
		t.Errorf("the event's command_id is %q, the answer names %q", last.CommandID, id)
	}
	for _, r := range []response{
		e.do("POST", "/v1/products/p1/licenses", e.admin(), `{"add":"x"}`),
		e.do("POST", "/v1/products/p1/licenses", "", `{"add":1}`),
		e.do("POST", "/v1/products/p1/licenses", e.admin(), `{"remove":5}`),
	} {
		if r.status < 400 || r.header.Get("Seatflow-Command-Id") == "" {
			t.Errorf("error %d %s: no Seatflow-Command-Id", r.status, r.body)
		}
	}
	if r := e.do("GET", "/v1/products", e.admin(), ""); r.header.Get("Seatflow-Command-Id") != "" {
		t.Error("a query names a command id")
	}
}

// TestListsArePaged: a list answers at most limit items and the cursor of
// the next page (Seatflow-Next-Cursor, Link rel="next"); following the
// cursors yields every item once, in order, also when an item before the
// cursor goes away; bad limits and cursors are 400.
func TestListsArePaged(t *testing.T) {
	e := newEnv(t)
	for i := range 7 {
		e.do("POST", "/v1/products", e.admin(), fmt.Sprintf(`{"product_id":"p%d","name":"P%d","services":[],"licenses":1,"self_service":"blocked"}`, i, i)).
			mustStatus(t, http.StatusCreated)
	}
	var got []string
	path := "/v1/products?limit=3"
	for pages := 0; path != ""; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		r := e.do("GET", path, e.admin(), "").mustStatus(t, 200)
		var items []struct {
			ProductID string `json:"product_id"`
		}
		if err := json.Unmarshal(r.body, &items); err != nil {
			t.Fatal(err)
		}
		if len(items) > 3 {
			t.Fatalf("page of %d items, want at most 3", len(items))
		}
		for _, it := range items {
			got = append(got, it.ProductID)
		}
		path = ""
		if c := r.header.Get("Seatflow-Next-Cursor"); c != "" {
			if !strings.Contains(r.header.Get("Link"), `rel="next"`) {
				t.Fatalf("Link: %q", r.header.Get("Link"))
			}
			path = "/v1/products?limit=3&cursor=" + c
		}
	}
	if want := []string{"p0", "p1", "p2", "p3", "p4", "p5", "p6"}; !slices.Equal(got, want) {
		t.Fatalf("paged: %v, want %v", got, want)
	}
	for _, q := range []string{"limit=0", "limit=1001", "limit=x", "cursor=!!!", "cursor=bm9wZQ"} {
		e.do("GET", "/v1/products?"+q, e.admin(), "").problem(t, 400, "validation_failed")
	}
}
