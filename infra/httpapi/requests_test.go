package httpapi_test

import (
	"encoding/json"
	"errors"
	"net/url"
	"strings"
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
	keys, err := auth.NewKeys(secret)
	if err != nil {
		t.Fatal(err)
	}
	links, err := sharelink.New(keys)
	if err != nil {
		t.Fatal(err)
	}
	dir, reqs := projections.NewDirectory(), projections.NewRequests()
	rc := &httpapi.RequestsConfig{Requests: reqs, Directory: dir, Links: links, Now: func() time.Time { return now }}
	e := newEnv(t, func(c *httpapi.Config, _ *domain.Config) { c.Requests = rc })
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
