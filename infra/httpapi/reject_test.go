package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/seatflow/seatflow/infra/auth"
)

// endpoint is one route with a request that would succeed and the ways to
// spoil it.
type endpoint struct {
	method, path string
	body         string // a valid body; "" for routes without one
	// denied are tokens (role lists, or a subject:role pair) that get 403.
	denied [][]string
	// invalid are requests (path and body) answered 400 validation_failed.
	invalid []struct{ path, body, field string }
}

type bad = struct{ path, body, field string }

func endpoints() []endpoint {
	nonLicenseAdmins := [][]string{{auth.RoleUserAdmin}, {auth.RoleUser}, {auth.RoleIngest}, {auth.RoleUser, auth.RoleIngest}}
	nonAssigners := [][]string{{auth.RoleUser}, {auth.RoleIngest}}
	return []endpoint{{
		method: "POST", path: "/v1/products",
		body:   `{"product_id":"p9","name":"Visio","services":["draw"],"licenses":2,"self_service":"allowed"}`,
		denied: nonLicenseAdmins,
		invalid: []bad{
			{"", `{"product_id":"p9","name":"","services":[],"licenses":2,"self_service":"allowed"}`, "name"},
			{"", `{"product_id":"p9","name":"Visio","licenses":-1,"self_service":"allowed"}`, "licenses"},
			{"", `{"product_id":"p9","name":"Visio","licenses":2,"self_service":"sometimes"}`, "self_service"},
			{"", `{"product_id":"p9","name":"Visio","services":["a","a"],"licenses":2,"self_service":"allowed"}`, "services"},
			{"", `{"product_id":"p.9","name":"Visio","licenses":2,"self_service":"allowed"}`, "product_id"},
			{"", `{"product_id":"*","name":"Visio","licenses":2,"self_service":"allowed"}`, "product_id"},
			{"", `{"name":"Visio","licenses":2,"self_service":"allowed"}`, "product_id"},
			{"", `{"product_id":"p9","licenses":2,"self_service":"allowed"}`, "name"},
			{"", `{"product_id":"p9","name":"Visio","self_service":"allowed"}`, "licenses"},
			{"", `{"product_id":"p9","name":"Visio","licenses":2}`, "self_service"},
			{"", `{"product_id":null,"name":"Visio","licenses":2,"self_service":"allowed"}`, "product_id"},
			{"", `{}`, "product_id"},
		},
	}, {
		method: "POST", path: "/v1/products/p1/licenses", body: `{"add":3}`,
		denied: nonLicenseAdmins,
		invalid: []bad{
			{"", `{"add":1,"remove":1}`, "add"},
			{"", `{}`, "add"},
			{"", `{"add":0}`, "add"},
			{"", `{"add":-4}`, "add"},
			{"", `{"remove":0}`, "remove"},
			{"", `{"add":20000000}`, "add"},
			{"/v1/products/p.1/licenses", `{"add":3}`, "id"},
		},
	}, {
		method: "PUT", path: "/v1/products/p1/self-service", body: `{"self_service":"allowed"}`,
		denied: nonLicenseAdmins,
		invalid: []bad{
			{"", `{"self_service":"yes"}`, "self_service"},
			{"", `{"self_service":""}`, "self_service"},
			{"", `{}`, "self_service"},
			{"/v1/products/%2A/self-service", `{"self_service":"allowed"}`, "id"},
		},
	}, {
		method: "GET", path: "/v1/products",
		denied: nonAssigners,
		invalid: []bad{
			{"/v1/products?after=x", "", "after"},
			{"/v1/products?after=-1", "", "after"},
			{"/v1/products?after=", "", "after"},
			{"/v1/products?after=1&after=2", "", "after"},
			{"/v1/products?after=18446744073709551616", "", "after"},
		},
	}, {
		method: "GET", path: "/v1/products/p1",
		denied: nonAssigners,
		invalid: []bad{
			{"/v1/products/p1?after=1.5", "", "after"},
			{"/v1/products/a%20b", "", "id"},
		},
	}, {
		method: "POST", path: "/v1/products/p1/assignments", body: `{"user_id":"carol","disabled_services":["excel"]}`,
		denied: nonAssigners,
		invalid: []bad{
			{"", `{"user_id":"carol","disabled_services":["teams"]}`, "disabled_services"},
			{"", `{"user_id":"carol","disabled_services":["word","word"]}`, "disabled_services"},
			{"", `{"user_id":"carol","disabled_services":[null]}`, "disabled_services"},
			{"", `{"user_id":"ca.rol"}`, "user_id"},
			{"", `{"user_id":""}`, "user_id"},
			{"", `{"disabled_services":[]}`, "user_id"},
			{"/v1/products/p.1/assignments", `{"user_id":"carol"}`, "id"},
		},
	}, {
		method: "DELETE", path: "/v1/products/p1/assignments/bob",
		denied: nonAssigners,
		invalid: []bad{
			{"/v1/products/p1/assignments/b.b", "", "user"},
			{"/v1/products/p~1/assignments/bob", "", "id"},
		},
	}, {
		method: "GET", path: "/v1/users/bob/licenses",
		denied: [][]string{{auth.RoleIngest}, {"alice:" + auth.RoleUser}, {"bob:" + auth.RoleIngest}},
		invalid: []bad{
			{"/v1/users/bob/licenses?after=bob", "", "after"},
			{"/v1/users/b.b/licenses", "", "id"},
		},
	}}
}

// malformed bodies: each is answered 400 invalid_json wherever a body is
// read.
var malformed = map[string]string{
	"not json":         `product please`,
	"truncated":        `{"product_id":"p9","name":`,
	"empty":            ``,
	"whitespace":       "  \n ",
	"array":            `[{"add":1}]`,
	"string":           `"add"`,
	"number":           `7`,
	"null":             `null`,
	"trailing object":  `{"add":1}{"add":2}`,
	"trailing junk":    `{"add":1} x`,
	"bad escape":       `{"add\q":1}`,
	"single quotes":    `{'add':1}`,
	"control char":     "{\"a\x01\":1}",
	"duplicate key":    `{"add":5,"add":1}`,
	"nested duplicate": `{"x":{"a":[{"b":1,"b":2}]}}`,
}

// wrongTypes replace the valid body's fields with values of the wrong JSON
// type.
var wrongTypes = map[string]string{
	"POST /v1/products":                 `{"product_id":"p9","name":"Visio","licenses":"2","self_service":"allowed"}`,
	"POST /v1/products/p1/licenses":     `{"add":1.5}`,
	"PUT /v1/products/p1/self-service":  `{"self_service":true}`,
	"POST /v1/products/p1/assignments":  `{"user_id":"carol","disabled_services":"excel"}`,
	"POST /v1/products/p1/assignments2": `{"user_id":7}`,
	"POST /v1/products/p1/licenses2":    `{"add":1e400}`,
	"POST /v1/products2":                `{"product_id":"p9","name":"Visio","services":[1],"licenses":2,"self_service":"allowed"}`,
}

// rejectEnv has product p1 (word, excel; 5 licenses) with bob assigned.
func rejectEnv(t *testing.T) *env {
	e := newEnv(t)
	e.seed("p1", 5)
	e.do("POST", "/v1/products/p1/assignments", e.admin(), `{"user_id":"bob"}`).mustStatus(t, http.StatusCreated)
	return e
}

func TestRejectedRequestsAppendNothing(t *testing.T) {
	e := rejectEnv(t)
	other, _ := auth.NewIssuer([]byte("another-secret-another-secret-xx"))
	forged, _ := other.Issue(auth.Claims{Tenant: tenant, Subject: "root", Roles: []string{auth.RoleGlobalAdmin}}, time.Hour, now)
	expired, _ := e.tokens.Issue(auth.Claims{Tenant: tenant, Subject: "root", Roles: []string{auth.RoleGlobalAdmin}}, time.Hour, now.Add(-2*time.Hour))

	for _, ep := range endpoints() {
		name := ep.method + " " + ep.path
		// check runs one spoilt request and asserts its problem and that
		// nothing was appended.
		check := func(t *testing.T, method, path, token, body string, status int, code string, headers ...string) {
			t.Helper()
			before := e.store.count()
			res := e.do(method, path, token, body, headers...)
			res.problem(t, status, code)
			if status == http.StatusUnauthorized && !strings.HasPrefix(res.header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("401 without WWW-Authenticate: Bearer (got %q)", res.header.Get("WWW-Authenticate"))
			}
			if got := e.store.count(); got != before {
				t.Fatalf("%d appends after a rejected request, want %d", got, before)
			}
		}
		t.Run(name, func(t *testing.T) {
			t.Run("no token", func(t *testing.T) {
				check(t, ep.method, ep.path, "", ep.body, 401, "unauthorized")
			})
			for label, raw := range map[string]string{"garbage": "not.a.token", "forged": forged, "expired": expired} {
				t.Run("bad token "+label, func(t *testing.T) {
					check(t, ep.method, ep.path, raw, ep.body, 401, "unauthorized")
				})
			}
			t.Run("basic auth", func(t *testing.T) {
				check(t, ep.method, ep.path, "", ep.body, 401, "unauthorized", "Authorization", "Basic cm9vdDpyb290")
			})
			for _, roles := range ep.denied {
				sub := "someone"
				if s, r, ok := strings.Cut(roles[0], ":"); ok {
					sub, roles = s, []string{r}
				}
				t.Run("role "+sub+" "+strings.Join(roles, "+"), func(t *testing.T) {
					check(t, ep.method, ep.path, e.token(sub, roles...), ep.body, 403, "forbidden")
				})
			}
			for _, iv := range ep.invalid {
				path := ep.path
				if iv.path != "" {
					path = iv.path
				}
				t.Run("invalid "+path+" "+iv.body, func(t *testing.T) {
					before := e.store.count()
					p := e.do(ep.method, path, e.admin(), iv.body).problem(t, 400, "validation_failed")
					if !strings.HasPrefix(p.Detail, iv.field+":") {
						t.Errorf("detail %q does not name field %q", p.Detail, iv.field)
					}
					if got := e.store.count(); got != before {
						t.Fatalf("%d appends after a rejected request, want %d", got, before)
					}
				})
			}
			if ep.body == "" {
				return
			}
			for label, body := range malformed {
				t.Run("malformed "+label, func(t *testing.T) {
					check(t, ep.method, ep.path, e.admin(), body, 400, "invalid_json")
				})
			}
			for _, suffix := range []string{"", "2"} {
				if body, ok := wrongTypes[name+suffix]; ok {
					t.Run("wrong type "+body, func(t *testing.T) {
						check(t, ep.method, ep.path, e.admin(), body, 400, "invalid_json")
					})
				}
			}
			unknown := strings.TrimSuffix(ep.body, "}") + `,"tenant":"other"}`
			t.Run("unknown field", func(t *testing.T) {
				check(t, ep.method, ep.path, e.admin(), unknown, 400, "invalid_json")
			})
			// encoding/json matches keys case-insensitively; the API does not.
			upper := strings.Replace(ep.body, `{"`, `{"X`, 1)
			t.Run("case-mangled field", func(t *testing.T) {
				check(t, ep.method, ep.path, e.admin(), upper, 400, "invalid_json")
			})
			t.Run("bad idempotency key", func(t *testing.T) {
				for _, key := range []string{"has space", strings.Repeat("k", 129), "ключ", ""} {
					check(t, ep.method, ep.path, e.admin(), ep.body, 400, "validation_failed", "Idempotency-Key", key)
				}
			})
			t.Run("bad correlation id", func(t *testing.T) {
				check(t, ep.method, ep.path, e.admin(), ep.body, 400, "validation_failed", "X-Correlation-ID", "a/b")
			})
		})
	}
}

// Every endpoint's valid request succeeds, so the rejections above are due
// to what was spoilt and nothing else.
func TestValidRequestsSucceed(t *testing.T) {
	e := rejectEnv(t)
	want := map[string]int{"POST /v1/products": 201, "POST /v1/products/p1/assignments": 201}
	for _, ep := range endpoints() {
		name := ep.method + " " + ep.path
		status, ok := want[name]
		if !ok {
			status = 200
		}
		tok := e.admin()
		if ep.path == "/v1/users/bob/licenses" {
			tok = e.token("bob", auth.RoleUser)
		}
		e.do(ep.method, ep.path, tok, ep.body).mustStatus(t, status)
	}
}
