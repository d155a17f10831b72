package httpapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/infra/auth"
	"github.com/seatflow/seatflow/infra/httpapi"
	"github.com/seatflow/seatflow/projections"
)

// scimCommands is the SCIM command port, bound to the env's service once
// newEnv has made it.
type scimCommands struct{ httpapi.SCIMCommands }

// newSCIMEnv is an env serving /scim/v2 on its own service and a directory
// read model fed from the store.
func newSCIMEnv(t testing.TB) *env {
	t.Helper()
	cmds := &scimCommands{}
	dir := projections.NewDirectory()
	e := newEnv(t, func(c *httpapi.Config, _ *domain.Config) {
		c.SCIM = &httpapi.SCIMConfig{Commands: cmds, Directory: dir}
	})
	cmds.SCIMCommands = e.svc
	e.store.apply = append(e.store.apply, dir.Apply)
	return e
}

// scimError checks r is a SCIM error with status.
func scimError(t testing.TB, r response, status int) {
	t.Helper()
	var b struct {
		Schemas []string `json:"schemas"`
		Status  string   `json:"status"`
	}
	if r.status != status || json.Unmarshal(r.body, &b) != nil || len(b.Schemas) != 1 ||
		b.Schemas[0] != "urn:ietf:params:scim:api:messages:2.0:Error" || b.Status != itoa(status) {
		t.Fatalf("got %d %s, want SCIM error %d", r.status, r.body, status)
	}
	if ct := r.header.Get("Content-Type"); ct != httpapi.SCIMContentType {
		t.Fatalf("Content-Type %q, want %s", ct, httpapi.SCIMContentType)
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// TestSCIMTenantIsolation: a scim token reads and writes only its tenant's
// directory.
func TestSCIMTenantIsolation(t *testing.T) {
	e := newSCIMEnv(t)
	acme := e.token("idp", auth.RoleSCIM)
	other := e.tokenIn("globex", "idp", auth.RoleSCIM)
	r := e.do("POST", "/scim/v2/Users", acme, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ann@example.com"}`,
		"Content-Type", httpapi.SCIMContentType).mustStatus(t, http.StatusCreated)
	var u struct{ ID string }
	_ = json.Unmarshal(r.body, &u)
	scimError(t, e.do("GET", "/scim/v2/Users/"+u.ID, other, ""), http.StatusNotFound)
	scimError(t, e.do("DELETE", "/scim/v2/Users/"+u.ID, other, ""), http.StatusNotFound)
	if r := e.do("GET", "/scim/v2/Users", other, "").mustStatus(t, http.StatusOK); !strings.Contains(string(r.body), `"totalResults":0`) {
		t.Fatalf("another tenant lists %s", r.body)
	}
	e.do("GET", "/scim/v2/Users/"+u.ID, acme, "").mustStatus(t, http.StatusOK)
}

// FuzzSCIM throws arbitrary bodies at the SCIM write endpoints of an
// existing user and group. Whatever comes in, nothing crashes, a write
// never answers 5xx, and an error is SCIM error JSON.
func FuzzSCIM(f *testing.F) {
	routes := []struct{ method, path string }{
		{"PATCH", "/scim/v2/Users/{user}"}, {"PATCH", "/scim/v2/Groups/{group}"},
		{"PUT", "/scim/v2/Users/{user}"}, {"PUT", "/scim/v2/Groups/{group}"},
		{"POST", "/scim/v2/Users"}, {"POST", "/scim/v2/Groups"},
	}
	seeds := []string{
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"active","value":"False"}]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false,"userName":7}}]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"members[value eq \"{user}\"]"}]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Add","path":"members","value":[{"$ref":null,"value":"{user}"}]}]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"members[display co \"x\"]"}]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"emails[type eq \"work\"].value","value":"x@example.com"}]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"move","path":"userName"}]}`,
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"bob@example.com","active":"yes"}`,
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"G","members":[{"value":"{user}"},{"value":"{user}"}]}`,
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":""}`,
		``, `null`, `[]`, `{}`, "\xff", `{"userName":"` + strings.Repeat("a", 300) + `"}`,
	}
	for i, s := range seeds {
		f.Add(uint8(i), []byte(s))
	}
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		e := newSCIMEnv(t)
		tok := e.token("idp", auth.RoleSCIM)
		var u, g struct{ ID string }
		_ = json.Unmarshal(e.do("POST", "/scim/v2/Users", tok, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ann@example.com"}`).mustStatus(t, http.StatusCreated).body, &u)
		_ = json.Unmarshal(e.do("POST", "/scim/v2/Groups", tok, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Sales"}`).mustStatus(t, http.StatusCreated).body, &g)
		rt := routes[int(route)%len(routes)]
		path := strings.NewReplacer("{user}", u.ID, "{group}", g.ID).Replace(rt.path)
		b := strings.ReplaceAll(string(body), "{user}", u.ID)
		r := e.do(rt.method, path, tok, b, "Content-Type", httpapi.SCIMContentType)
		if r.status >= 500 {
			t.Fatalf("%s %s %q: %d %s", rt.method, path, b, r.status, r.body)
		}
		if r.status >= 400 {
			scimError(t, r, r.status)
		}
	})
}
