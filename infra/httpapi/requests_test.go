package httpapi_test

import (
	"encoding/json"
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
	links, err := sharelink.New(secret)
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
	e.do("POST", "/v1/requests/"+v.RequestID+"/share", e.admin(), `{"recipients":["bob@example.com"]}`).mustStatus(t, 200)
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
	e.do("POST", expired, "", `{"recommendation":"approve"}`).problem(t, 401, httpapi.CodeShareLinkExpired)
	otherRequest := sign(sharelink.Claims{Tenant: tenant, RequestID: "another", ShareID: shareID, ExpiresAt: now.Add(time.Hour)})
	e.do("POST", otherRequest, "", `{"recommendation":"approve"}`).problem(t, 404, httpapi.CodeNotFound)
	otherShare := sign(sharelink.Claims{Tenant: tenant, RequestID: v.RequestID, ShareID: "forged", ExpiresAt: now.Add(time.Hour)})
	e.do("POST", otherShare, "", `{"recommendation":"approve"}`).problem(t, 404, httpapi.CodeNotFound)
	otherTenant := sign(sharelink.Claims{Tenant: "globex", RequestID: v.RequestID, ShareID: shareID, ExpiresAt: now.Add(time.Hour)})
	e.do("POST", otherTenant, "", `{"recommendation":"approve"}`).problem(t, 404, httpapi.CodeNotFound)
	if e.store.count() != before {
		t.Fatal("refused answers appended")
	}
	good := sign(sharelink.Claims{Tenant: tenant, RequestID: v.RequestID, ShareID: shareID, ExpiresAt: now.Add(time.Hour)})
	ok := e.do("POST", good, "", `{"recommendation":"deny","comment":"no"}`).mustStatus(t, 200)
	if !strings.Contains(string(ok.body), `"recommendation":"deny"`) {
		t.Fatalf("answer: %s", ok.body)
	}
	e.do("POST", good, "", `{"recommendation":"deny"}`).problem(t, 409, httpapi.CodeShareAnswered)
}
