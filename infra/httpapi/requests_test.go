package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/infra/auth"
	"github.com/seatflow/seatflow/infra/httpapi"
	"github.com/seatflow/seatflow/infra/sharelink"
	"github.com/seatflow/seatflow/projections"
)

// requestEnv is an env serving the request routes, with products e5
// (blocked) and users ann and bob registered.
func requestEnv(t *testing.T) (*env, *sharelink.Signer) {
	t.Helper()
	return requestEnvWith(t, projections.NewRequests())
}

// requestEnvWith is requestEnv with reqs as the request read model and
// opts applied.
func requestEnvWith(t *testing.T, reqs *projections.Requests, opts ...option) (*env, *sharelink.Signer) {
	t.Helper()
	keys, err := auth.NewKeys(secret)
	if err != nil {
		t.Fatal(err)
	}
	links, err := sharelink.New(keys)
	if err != nil {
		t.Fatal(err)
	}
	dir := projections.NewDirectory()
	rc := &httpapi.RequestsConfig{Requests: reqs, Directory: dir, Links: links, Now: func() time.Time { return now }}
	e := newEnv(t, append([]option{func(c *httpapi.Config, _ *domain.Config) { c.Requests = rc }}, opts...)...)
	rc.Commands = e.svc
	e.store.apply = append(e.store.apply, dir.Apply, reqs.Apply)
	admin := e.admin()
	e.do("POST", "/v1/products", admin, `{"product_id":"e5","name":"E5","services":["mail"],"licenses":5,"self_service":"blocked"}`).mustStatus(t, 201)
	for _, u := range []string{"ann", "bob"} {
		e.do("PUT", "/v1/users/"+u, admin, `{"email":"`+u+`@example.com","display_name":"`+u+`"}`).mustStatus(t, 200)
	}
	return e, links
}

func TestOwnProcessProblemCarriesLink(t *testing.T) {
	e, _ := requestEnv(t)
	e.do("PUT", "/v1/settings/request-process", e.admin(), `{"mode":"own","message":"Use the portal","link":"https://it.example.com/x"}`).mustStatus(t, 200)
	before := e.store.count()
	r := e.do("POST", "/v1/requests", e.token("ann", auth.RoleUser), `{"product_id":"e5"}`)
	p := r.problem(t, 409, httpapi.CodeOwnRequestProcess)
	if p.Detail != "Use the portal" || p.Link != "https://it.example.com/x" {
		t.Fatalf("problem: %+v", p)
	}
	var raw map[string]any
	_ = json.Unmarshal(r.body, &raw)
	if raw["link"] != "https://it.example.com/x" {
		t.Fatalf("no link member: %s", r.body)
	}
	if e.store.count() != before {
		t.Fatal("own process appended")
	}
}

func TestSharedLinkErrors(t *testing.T) {
	e, links := requestEnv(t)
	r := e.do("POST", "/v1/requests", e.token("ann", auth.RoleUser), `{"product_id":"e5","users":["bob"]}`).mustStatus(t, 201)
	var v struct {
		RequestID string `json:"request_id"`
	}
	r.decode(t, &v)
	e.do("POST", "/v1/requests/"+v.RequestID+"/share", e.admin(), `{"recipients":["bob@example.com"],"message":"Your call"}`).mustStatus(t, 200)
	var shareID string
	for _, ev := range e.store.all() {
		if s, ok := ev.Data.(events.RequestShared); ok {
			shareID = s.Recipients[0].ShareID
		}
	}
	sign := func(c sharelink.Claims) string {
		tok, err := links.Sign(c)
		if err != nil {
			t.Fatal(err)
		}
		return "/v1/shared/" + url.PathEscape(tok)
	}
	before := e.store.count()
	expired := sign(sharelink.Claims{Tenant: tenant, RequestID: v.RequestID, ShareID: shareID, ExpiresAt: now.Add(-time.Second)})
	otherRequest := sign(sharelink.Claims{Tenant: tenant, RequestID: "another", ShareID: shareID, ExpiresAt: now.Add(time.Hour)})
	otherShare := sign(sharelink.Claims{Tenant: tenant, RequestID: v.RequestID, ShareID: "forged", ExpiresAt: now.Add(time.Hour)})
	otherTenant := sign(sharelink.Claims{Tenant: "globex", RequestID: v.RequestID, ShareID: shareID, ExpiresAt: now.Add(time.Hour)})
	// Reading and answering refuse the same links the same way.
	for _, method := range []string{"GET", "POST"} {
		body := `{"recommendation":"approve"}`
		if method == "GET" {
			body = ""
		}
		e.do(method, expired, "", body).problem(t, 401, httpapi.CodeShareLinkExpired)
		e.do(method, "/v1/shared/not-a-token", "", body).problem(t, 401, httpapi.CodeInvalidShareLink)
		e.do(method, otherRequest, "", body).problem(t, 404, httpapi.CodeNotFound)
		e.do(method, otherShare, "", body).problem(t, 404, httpapi.CodeNotFound)
		e.do(method, otherTenant, "", body).problem(t, 404, httpapi.CodeNotFound)
	}
	if e.store.count() != before {
		t.Fatal("refused answers appended")
	}
	good := sign(sharelink.Claims{Tenant: tenant, RequestID: v.RequestID, ShareID: shareID, ExpiresAt: now.Add(time.Hour)})
	var view httpapi.SharedRequest
	e.do("GET", good, "", "").mustStatus(t, 200).decode(t, &view)
	if view.RequestID != v.RequestID || view.ProductName != "E5" || view.Requester.DisplayName != "ann" || len(view.Users) != 2 ||
		view.Users[1].DisplayName != "bob" || view.SharedBy.UserID != "root" || view.Message != "Your call" || view.Answered {
		t.Fatalf("shared request before answering: %+v", view)
	}
	if e.store.count() != before {
		t.Fatal("reading a shared request appended")
	}
	ok := e.do("POST", good, "", `{"recommendation":"deny","comment":"no"}`).mustStatus(t, 200)
	if !strings.Contains(string(ok.body), `"recommendation":"deny"`) {
		t.Fatalf("answer: %s", ok.body)
	}
	e.do("POST", good, "", `{"recommendation":"deny"}`).problem(t, 409, httpapi.CodeShareAnswered)
	e.do("GET", good, "", "").mustStatus(t, 200).decode(t, &view)
	if !view.Answered || view.Recommendation != "deny" || view.Comment != "no" || view.AnsweredAt == nil {
		t.Fatalf("shared request after answering: %+v", view)
	}
}

// TestConsoleReads: the reads the console needs beyond the contract's
// table, each with its roles.
func TestConsoleReads(t *testing.T) {
	e, _ := requestEnv(t)
	admin, ann := e.admin(), e.token("ann", auth.RoleUser)
	e.do("PUT", "/v1/users/carl", admin, `{"email":"carl.x@example.com","display_name":"Carl Annson"}`).mustStatus(t, 200)
	e.do("PUT", "/v1/groups/sales", admin, `{"name":"Sales","members":["bob"],"products":[{"product_id":"e5"}]}`).mustStatus(t, 200)
	e.do("POST", "/v1/products/e5/assignments", admin, `{"user_id":"carl","disabled_services":["mail"]}`).mustStatus(t, 201)

	// The people picker: any user role, by id, email or name, any case.
	var found []httpapi.DirectoryEntry
	e.do("GET", "/v1/directory?q=ANN", ann, "").mustStatus(t, 200).decode(t, &found)
	if len(found) != 2 || found[0].UserID != "ann" || found[1].UserID != "carl" || found[1].Email != "carl.x@example.com" {
		t.Fatalf("directory q=ANN: %+v", found)
	}
	e.do("GET", "/v1/directory?q=nobody", ann, "").mustStatus(t, 200).decode(t, &found)
	if len(found) != 0 {
		t.Fatalf("directory q=nobody: %+v", found)
	}
	e.do("GET", "/v1/directory?id=carl&id=nobody&id=ann", ann, "").mustStatus(t, 200).decode(t, &found)
	if len(found) != 2 || found[0].UserID != "carl" || found[0].DisplayName != "Carl Annson" || found[1].UserID != "ann" {
		t.Fatalf("directory by id: %+v", found)
	}
	e.do("GET", "/v1/directory?q=a&q=b", ann, "").problem(t, 400, httpapi.CodeValidationFailed)
	e.do("GET", "/v1/directory?q=a&id=ann", ann, "").problem(t, 400, httpapi.CodeValidationFailed)
	e.do("GET", "/v1/directory?id=%2Fbad", ann, "").problem(t, 400, httpapi.CodeValidationFailed)
	e.do("GET", "/v1/directory", "", "").problem(t, 401, httpapi.CodeUnauthorized)
	e.do("GET", "/v1/directory", e.token("edge", auth.RoleIngest), "").problem(t, 403, httpapi.CodeForbidden)

	// The catalog: names and the request process, for a plain user.
	e.do("PUT", "/v1/settings/request-process", admin, `{"mode":"own","message":"Ask IT","link":"https://it.example.com"}`).mustStatus(t, 200)
	var cat httpapi.Catalog
	e.do("GET", "/v1/catalog", ann, "").mustStatus(t, 200).decode(t, &cat)
	if cat.RequestProcess.Mode != "own" || cat.RequestProcess.Message != "Ask IT" || len(cat.Products) != 1 ||
		cat.Products[0].Name != "E5" || cat.Products[0].SelfService != "blocked" {
		t.Fatalf("catalog: %+v", cat)
	}
	if strings.Contains(string(e.do("GET", "/v1/catalog", ann, "").body), "purchased") {
		t.Fatal("the catalog shows license counts to a user")
	}

	// Groups and holders: admins only.
	var groups []projections.DirectoryGroup
	e.do("GET", "/v1/groups", e.token("lia", auth.RoleLicenseAdmin), "").mustStatus(t, 200).decode(t, &groups)
	if len(groups) != 1 || groups[0].GroupID != "sales" || len(groups[0].Products) != 1 {
		t.Fatalf("groups: %+v", groups)
	}
	e.do("GET", "/v1/groups", ann, "").problem(t, 403, httpapi.CodeForbidden)
	var holders []projections.ProductHolder
	e.do("GET", "/v1/products/e5/assignments", admin, "").mustStatus(t, 200).decode(t, &holders)
	if len(holders) != 2 || holders[0].UserID != "bob" || holders[0].Source.Kind != events.SourceGroup || holders[0].Source.Ref != "sales" ||
		holders[1].UserID != "carl" || holders[1].Source.Kind != events.SourceManual ||
		len(holders[1].DisabledServices) != 1 || holders[1].DisabledServices[0] != "mail" {
		t.Fatalf("holders: %+v", holders)
	}
	e.do("GET", "/v1/products/e5/assignments", ann, "").problem(t, 403, httpapi.CodeForbidden)
	e.do("GET", "/v1/products/nope/assignments", admin, "").problem(t, 404, httpapi.CodeNotFound)
}

// TestShareLinkNeverLogged: a share link's token is a credential. Neither
// the debug request log nor the log of a server error shows it, whatever
// the method or route; the path is logged with {token} instead.
func TestShareLinkNeverLogged(t *testing.T) {
	e, links := requestEnv(t)
	r := e.do("POST", "/v1/requests", e.token("ann", auth.RoleUser), `{"product_id":"e5","users":["bob"]}`).mustStatus(t, 201)
	var v struct {
		RequestID string `json:"request_id"`
	}
	r.decode(t, &v)
	e.do("POST", "/v1/requests/"+v.RequestID+"/share", e.admin(), `{"recipients":["bob@example.com"]}`).mustStatus(t, 200)
	var shareID string
	for _, ev := range e.store.all() {
		if s, ok := ev.Data.(events.RequestShared); ok {
			shareID = s.Recipients[0].ShareID
		}
	}
	tok, err := links.Sign(sharelink.Claims{Tenant: tenant, RequestID: v.RequestID, ShareID: shareID, ExpiresAt: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	e.do("GET", "/shared/"+tok, "", "")
	e.do("GET", "/v1/shared/"+tok, "", "").mustStatus(t, 200)
	e.do("DELETE", "/v1/shared/"+tok, "", "").mustStatus(t, 405)
	e.do("GET", "/v1/shared/"+tok+"/more", "", "").mustStatus(t, 404)
	e.store.fail(errors.New("disk on fire"))
	if got := e.do("POST", "/v1/shared/"+tok, "", `{"recommendation":"approve"}`); got.status < 500 {
		t.Fatalf("answer with the store failing: got %d, want a server error", got.status)
	}
	logs := e.logs.String()
	sig := tok[strings.LastIndex(tok, ".")+1:]
	if strings.Contains(logs, sig) {
		t.Fatalf("the share link's token is in the logs:\n%s", logs)
	}
	for _, want := range []string{`"msg":"request failed"`, `"path":"/v1/shared/{token}"`, `"path":"/shared/{token}"`} {
		if !strings.Contains(logs, want) {
			t.Fatalf("logs lack %s:\n%s", want, logs)
		}
	}
}

// shareLink is the path of the share link of request id's share to email.
func (e *env) shareLink(links *sharelink.Signer, id, email string) string {
	e.t.Helper()
	for _, ev := range e.store.all() {
		if s, ok := ev.Data.(events.RequestShared); ok && s.RequestID == id {
			for _, rc := range s.Recipients {
				if rc.Email == email {
					tok, err := links.Sign(sharelink.Claims{Tenant: tenant, RequestID: id, ShareID: rc.ShareID, ExpiresAt: now.Add(time.Hour)})
					if err != nil {
						e.t.Fatal(err)
					}
					return "/v1/shared/" + url.PathEscape(tok)
				}
			}
		}
	}
	e.t.Fatalf("request %s is not shared with %s", id, email)
	return ""
}

// requestID is the request_id of a request command's answer.
func requestID(t *testing.T, r response) string {
	t.Helper()
	var v struct {
		RequestID string `json:"request_id"`
	}
	r.decode(t, &v)
	if v.RequestID == "" {
		t.Fatalf("no request_id: %s", r.body)
	}
	return v.RequestID
}

// wantDetails checks that a request command's answer is the request read
// model's details of the request, byte for byte as GET /v1/requests/{id}
// answers them after the command's position, with the command's position
// in the body and the Seatflow-Position header.
func (e *env) wantDetails(t *testing.T, what string, r response, id string) projections.RequestDetails {
	t.Helper()
	pos := r.header.Get(httpapi.HeaderPosition)
	var got projections.RequestDetails
	r.decode(t, &got)
	if strconv.FormatUint(got.Position, 10) != pos || got.RequestID != id || got.Status == "" {
		t.Fatalf("%s: Seatflow-Position %q, answer %s; want request %s's details at that position", what, pos, r.body, id)
	}
	read := e.do("GET", "/v1/requests/"+id+"?after="+pos, e.admin(), "").mustStatus(t, 200)
	var d projections.RequestDetails
	read.decode(t, &d)
	d.Position = got.Position
	want, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(bytes.TrimSpace(r.body), want) {
		t.Fatalf("%s answered\n%s\nGET /v1/requests/%s answers\n%s", what, r.body, id, want)
	}
	return got
}

// TestRequestCommandsAnswerTheReadModel: submitting, sharing and deciding
// a request (with a product, through a group, or denying it) answer the
// request's details as the request read model holds them, the same JSON
// GET /v1/requests/{id} gives: one read shape of a request.
func TestRequestCommandsAnswerTheReadModel(t *testing.T) {
	e, links := requestEnv(t)
	admin, ann := e.admin(), e.token("ann", auth.RoleUser)
	e.do("PUT", "/v1/groups/sales", admin, `{"name":"Sales","members":[],"products":[{"product_id":"e5","disabled_services":["mail"]}]}`).mustStatus(t, 200)

	r := e.do("POST", "/v1/requests", ann, `{"product_id":"e5","users":["bob"],"justification":"launch"}`).mustStatus(t, 201)
	id := requestID(t, r)
	if d := e.wantDetails(t, "submit", r, id); d.ProductName != "E5" || d.Justification != "launch" || len(d.Outcomes) != 2 {
		t.Fatalf("submitted: %+v", d)
	}
	r = e.do("POST", "/v1/requests/"+id+"/share", admin, `{"recipients":["bob@example.com"],"subject":"Your view?","message":"Please advise"}`).mustStatus(t, 200)
	if d := e.wantDetails(t, "share", r, id); len(d.Shares) != 1 || d.Shares[0].Subject != "Your view?" || d.Shares[0].Message != "Please advise" {
		t.Fatalf("shared: %+v", d.Shares)
	}
	var a httpapi.ShareAnswer
	r = e.do("POST", e.shareLink(links, id, "bob@example.com"), "", `{"recommendation":"approve","comment":"worth it"}`).mustStatus(t, 200)
	r.decode(t, &a)
	if a != (httpapi.ShareAnswer{RequestID: id, ShareID: a.ShareID, Recommendation: "approve", Comment: "worth it", Position: a.Position}) ||
		strconv.FormatUint(a.Position, 10) != r.header.Get(httpapi.HeaderPosition) || a.ShareID == "" {
		t.Fatalf("answer: %s", r.body)
	}
	r = e.do("POST", "/v1/requests/"+id+"/decision", admin, `{"approve":["ann","bob"],"group_id":"sales","message":"via Sales"}`).mustStatus(t, 200)
	if d := e.wantDetails(t, "group decision", r, id); d.Status != projections.RequestApproved || d.Decision == nil || d.Decision.GroupID != "sales" ||
		len(d.Shares) != 1 || !d.Shares[0].Answered {
		t.Fatalf("decided through a group: %s", r.body)
	}

	id = requestID(t, e.do("POST", "/v1/requests", ann, `{"product_id":"e5","users":["bob"]}`).mustStatus(t, 201))
	r = e.do("POST", "/v1/requests/"+id+"/decision", admin, `{"approve":["ann"],"reject":["bob"],"disabled_services":["mail"],"message":"one"}`).mustStatus(t, 200)
	if d := e.wantDetails(t, "product decision", r, id); d.Status != projections.RequestPartiallyApproved || d.Outcomes[0].Outcome != projections.OutcomeAlreadyLicensed {
		t.Fatalf("decided with a product: %s", r.body)
	}
	id = requestID(t, e.do("POST", "/v1/requests", ann, `{"product_id":"e5"}`).mustStatus(t, 201))
	r = e.do("POST", "/v1/requests/"+id+"/decision", admin, `{"reject":["ann"],"message":"no"}`).mustStatus(t, 200)
	if d := e.wantDetails(t, "denial", r, id); d.Status != projections.RequestDenied || d.Decision == nil || d.Decision.Message != "no" {
		t.Fatalf("denied: %s", r.body)
	}
}

// TestRequestCommandReplayAnswersDetails: a command repeated with its
// Idempotency-Key appends nothing and answers the request's details as
// they stand, at the first command's position.
func TestRequestCommandReplayAnswersDetails(t *testing.T) {
	e, _ := requestEnv(t)
	admin, ann := e.admin(), e.token("ann", auth.RoleUser)
	first := e.do("POST", "/v1/requests", ann, `{"product_id":"e5","users":["bob"]}`, "Idempotency-Key", "submit-1").mustStatus(t, 201)
	id := requestID(t, first)
	e.do("POST", "/v1/requests/"+id+"/share", admin, `{"recipients":["bob@example.com"]}`).mustStatus(t, 200)
	decided := e.do("POST", "/v1/requests/"+id+"/decision", admin, `{"approve":["ann","bob"]}`, "Idempotency-Key", "decide-1").mustStatus(t, 200)
	before := e.store.count()

	again := e.do("POST", "/v1/requests", ann, `{"product_id":"e5","users":["bob"]}`, "Idempotency-Key", "submit-1").mustStatus(t, 201)
	if again.header.Get(httpapi.HeaderPosition) != first.header.Get(httpapi.HeaderPosition) || again.header.Get("Location") != first.header.Get("Location") {
		t.Fatalf("repeated submit: position %s, Location %s; want %s, %s", again.header.Get(httpapi.HeaderPosition), again.header.Get("Location"),
			first.header.Get(httpapi.HeaderPosition), first.header.Get("Location"))
	}
	var d projections.RequestDetails
	again.decode(t, &d)
	if d.RequestID != id || d.Status != projections.RequestApproved || len(d.Shares) != 1 || strconv.FormatUint(d.Position, 10) != first.header.Get(httpapi.HeaderPosition) {
		t.Fatalf("repeated submit: %s; want the request as it stands, at the submit's position", again.body)
	}
	again = e.do("POST", "/v1/requests/"+id+"/decision", admin, `{"approve":["ann","bob"]}`, "Idempotency-Key", "decide-1").mustStatus(t, 200)
	if !bytes.Equal(again.body, decided.body) || again.header.Get(httpapi.HeaderPosition) != decided.header.Get(httpapi.HeaderPosition) {
		t.Fatalf("repeated decision: %s; want %s", again.body, decided.body)
	}
	if got := e.store.count(); got != before {
		t.Fatalf("repeated commands appended %d times", got-before)
	}
}

// stallable is read-model progress that can stall: while it does, no
// position is ever reached.
type stallable struct {
	httpapi.Progress
	stalled atomic.Bool
}

func (p *stallable) WaitFor(ctx context.Context, pos uint64) error {
	if p.stalled.Load() {
		<-ctx.Done()
		return ctx.Err()
	}
	return p.Progress.WaitFor(ctx, pos)
}

// TestRequestCommandAnswerWithoutDetails: a command whose write stood is
// never answered with an error because its answer cannot be read. When the
// read models do not reach the command's position in time, or the request
// has left the read model (a settled request past the retention), the
// command answers its usual status with the request id (and share id) and
// the position to read after.
func TestRequestCommandAnswerWithoutDetails(t *testing.T) {
	t.Run("read models behind", func(t *testing.T) {
		var prog *stallable
		e, links := requestEnvWith(t, projections.NewRequests(), func(c *httpapi.Config, _ *domain.Config) {
			prog = &stallable{Progress: c.Progress}
			c.Progress, c.WaitTimeout = prog, 20*time.Millisecond
		})
		ann := e.token("ann", auth.RoleUser)
		prog.stalled.Store(true)
		r := e.do("POST", "/v1/requests", ann, `{"product_id":"e5","users":["bob"]}`).mustStatus(t, 201)
		id := requestID(t, r)
		pos := r.header.Get(httpapi.HeaderPosition)
		if want := fmt.Sprintf(`{"request_id":%q,"position":%s}`, id, pos); strings.TrimSpace(string(r.body)) != want || r.header.Get("Location") != "/v1/requests/"+id {
			t.Fatalf("submit while the read models are behind: %s (Location %q), want %s", r.body, r.header.Get("Location"), want)
		}
		r = e.do("POST", "/v1/requests/"+id+"/share", e.admin(), `{"recipients":["bob@example.com"]}`).mustStatus(t, 200)
		if want := fmt.Sprintf(`{"request_id":%q,"position":%s}`, id, r.header.Get(httpapi.HeaderPosition)); strings.TrimSpace(string(r.body)) != want {
			t.Fatalf("share while the read models are behind: %s, want %s", r.body, want)
		}
		link := e.shareLink(links, id, "bob@example.com")
		r = e.do("POST", link, "", `{"recommendation":"approve"}`).mustStatus(t, 200)
		var ref httpapi.ShareRef
		r.decode(t, &ref)
		if ref.RequestID != id || ref.ShareID == "" || strconv.FormatUint(ref.Position, 10) != r.header.Get(httpapi.HeaderPosition) ||
			strings.Contains(string(r.body), "recommendation") {
			t.Fatalf("answer while the read models are behind: %s", r.body)
		}
		r = e.do("POST", "/v1/requests/"+id+"/decision", e.admin(), `{"approve":["ann","bob"]}`, "Idempotency-Key", "decide").mustStatus(t, 200)
		if want := fmt.Sprintf(`{"request_id":%q,"position":%s}`, id, r.header.Get(httpapi.HeaderPosition)); strings.TrimSpace(string(r.body)) != want {
			t.Fatalf("decision while the read models are behind: %s, want %s", r.body, want)
		}
		// Caught up, the same command answers the details.
		prog.stalled.Store(false)
		r = e.do("POST", "/v1/requests/"+id+"/decision", e.admin(), `{"approve":["ann","bob"]}`, "Idempotency-Key", "decide").mustStatus(t, 200)
		e.wantDetails(t, "repeated decision", r, id)
	})
	t.Run("past the retention", func(t *testing.T) {
		clock := now
		var mu sync.Mutex
		e, _ := requestEnvWith(t, projections.NewRequestsRetaining(24*time.Hour), func(_ *httpapi.Config, d *domain.Config) {
			d.Now = func() time.Time {
				mu.Lock()
				defer mu.Unlock()
				return clock
			}
		})
		admin, ann := e.admin(), e.token("ann", auth.RoleUser)
		id := requestID(t, e.do("POST", "/v1/requests", ann, `{"product_id":"e5","users":["bob"]}`).mustStatus(t, 201))
		decided := e.do("POST", "/v1/requests/"+id+"/decision", admin, `{"reject":["ann","bob"]}`, "Idempotency-Key", "deny").mustStatus(t, 200)
		e.wantDetails(t, "decision", decided, id)
		// Two days on, the next request's event sweeps the settled one out.
		mu.Lock()
		clock = clock.Add(48 * time.Hour)
		mu.Unlock()
		e.do("POST", "/v1/requests", ann, `{"product_id":"e5"}`).mustStatus(t, 201)
		e.do("GET", "/v1/requests/"+id, admin, "").problem(t, 404, httpapi.CodeNotFound)

		before := e.store.count()
		r := e.do("POST", "/v1/requests/"+id+"/decision", admin, `{"reject":["ann","bob"]}`, "Idempotency-Key", "deny").mustStatus(t, 200)
		pos := decided.header.Get(httpapi.HeaderPosition)
		if want := fmt.Sprintf(`{"request_id":%q,"position":%s}`, id, pos); strings.TrimSpace(string(r.body)) != want || r.header.Get(httpapi.HeaderPosition) != pos {
			t.Fatalf("repeated decision of a request past the retention: %s (Seatflow-Position %s), want %s", r.body, r.header.Get(httpapi.HeaderPosition), want)
		}
		if e.store.count() != before {
			t.Fatal("the repeated decision appended")
		}
		// A new decision is still refused by the aggregate, which the
		// retention of the read model does not touch.
		e.do("POST", "/v1/requests/"+id+"/decision", admin, `{"approve":["ann","bob"]}`).problem(t, 409, httpapi.CodeAlreadyDecided)
	})
}
