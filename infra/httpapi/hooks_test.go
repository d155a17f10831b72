package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/infra/auth"
	"github.com/seatflow/seatflow/infra/httpapi"
	"github.com/seatflow/seatflow/infra/idphook"
	"github.com/seatflow/seatflow/projections"
)

// published keeps the sign-ins the hooks hand over; the end-to-end tests in
// cmd/seatflow publish them on a real stream.
type published struct {
	mu  sync.Mutex
	got []domain.SignInMessage
}

func (p *published) Publish(_ context.Context, tenant string, ps []domain.SignInMessage) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.got = append(p.got, ps...)
	return 0, nil
}

// identity wires the identity routes to the env's service once it exists.
type identity struct {
	svc  *domain.Service
	hook *idphook.Receiver
}

func (i *identity) SetIdentityApps(ctx context.Context, t domain.TenantID, m events.Meta, ms []events.IdentityApp) ([]events.IdentityApp, domain.Result, error) {
	return i.svc.SetIdentityApps(ctx, t, m, ms)
}

func (i *identity) IdentityApps(ctx context.Context, t domain.TenantID) ([]events.IdentityApp, domain.Result, error) {
	return i.svc.IdentityApps(ctx, t)
}

// Receive hands the payload to the identity-provider edge, as serve does.
func (i *identity) Receive(ctx context.Context, tenant, provider string, body []byte) (httpapi.HookSummary, error) {
	sum, err := i.hook.Receive(ctx, tenant, provider, body)
	var m *idphook.MalformedError
	if errors.As(err, &m) {
		return httpapi.HookSummary{}, &httpapi.MalformedHookError{Field: m.Field, Reason: m.Reason, JSON: m.JSON}
	}
	return httpapi.HookSummary{Received: sum.Received, Accepted: sum.Accepted, Duplicates: sum.Duplicates,
		Ignored: httpapi.HookIgnored{OtherEvent: sum.Ignored.OtherEvent, Failed: sum.Ignored.Failed,
			UnmappedApp: sum.Ignored.UnmappedApp, UnknownUser: sum.Ignored.UnknownUser}}, err
}

func newIdentityEnv(t *testing.T) (*env, *published) {
	t.Helper()
	id := &identity{}
	e := newEnv(t, func(c *httpapi.Config, _ *domain.Config) {
		c.Identity = &httpapi.IdentityConfig{Commands: id, Hooks: id}
	})
	dir := projections.NewDirectory()
	e.store.apply = append(e.store.apply, dir.Apply)
	pub := &published{}
	hook, err := idphook.New(idphook.Config{Apps: e.svc, Directory: dir, Publisher: pub})
	if err != nil {
		t.Fatal(err)
	}
	id.svc, id.hook = e.svc, hook
	return e, pub
}

func hookFixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("../idphook/testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

const teamsApp = "de8bc8b5-d9f9-48b1-a8ad-b748da725064"

func TestIdentityAppsSetting(t *testing.T) {
	e, _ := newIdentityEnv(t)
	admin := e.admin()
	var got httpapi.IdentityAppsState
	e.do("GET", "/v1/settings/identity-apps", admin, "").mustStatus(t, 200).decode(t, &got)
	if got.Mappings == nil || len(got.Mappings) != 0 {
		t.Fatalf("a fresh org's mapping: %+v", got)
	}
	body := `{"mappings": [{"provider": "okta", "provider_app_id": "0oa1a35nndfI7w1yp1d8", "app": "teams"},
		{"provider": "entra", "provider_app_id": "` + strings.ToUpper(teamsApp) + `", "app": "teams"}]}`
	r := e.do("PUT", "/v1/settings/identity-apps", admin, body, "Idempotency-Key", "map-1").mustStatus(t, 200)
	r.decode(t, &got)
	want := []events.IdentityApp{{Provider: "entra", ProviderAppID: teamsApp, App: "teams"}, {Provider: "okta", ProviderAppID: "0oa1a35nndfI7w1yp1d8", App: "teams"}}
	if !reflect.DeepEqual(got.Mappings, want) || got.Position == 0 || r.header.Get(httpapi.HeaderPosition) == "" {
		t.Fatalf("PUT answered %+v", got)
	}
	if ev := e.store.lastEvent(); ev.Type != events.TypeIdentityAppsMapped || ev.Aggregate.Kind != events.KindOrg || ev.CommandID != "map-1" || ev.Actor != "root" {
		t.Fatalf("stored %+v", ev)
	}
	appends := e.store.count()
	// The same key again answers as the first time; the same list in
	// another order is no change.
	e.do("PUT", "/v1/settings/identity-apps", admin, body, "Idempotency-Key", "map-1").mustStatus(t, 200)
	e.do("PUT", "/v1/settings/identity-apps", admin, `{"mappings": [{"provider": "entra", "provider_app_id": "`+teamsApp+`", "app": "teams"},
		{"provider": "okta", "provider_app_id": "0oa1a35nndfI7w1yp1d8", "app": "teams"}]}`).mustStatus(t, 200)
	if e.store.count() != appends {
		t.Fatalf("an unchanged mapping appended %d times", e.store.count()-appends)
	}
	e.do("GET", "/v1/settings/identity-apps?after="+r.header.Get(httpapi.HeaderPosition), admin, "").mustStatus(t, 200).decode(t, &got)
	if !reflect.DeepEqual(got.Mappings, want) {
		t.Fatalf("GET after PUT: %+v", got.Mappings)
	}

	for _, c := range []struct {
		name, body, code, detail string
	}{
		{"no list", `{}`, "validation_failed", "mappings: is required"},
		{"null list", `{"mappings": null}`, "validation_failed", "mappings: is required"},
		{"missing app", `{"mappings": [{"provider": "okta", "provider_app_id": "0oa1"}]}`, "validation_failed", "mappings[0].app: is required"},
		{"bad provider", `{"mappings": [{"provider": "google", "provider_app_id": "x", "app": "a"}]}`, "validation_failed", "mappings[0].provider"},
		{"Entra id not a GUID", `{"mappings": [{"provider": "entra", "provider_app_id": "teams", "app": "a"}]}`, "validation_failed", "mappings[0].provider_app_id"},
		{"twice", `{"mappings": [{"provider": "okta", "provider_app_id": "0oa1", "app": "a"}, {"provider": "okta", "provider_app_id": "0oa1", "app": "b"}]}`,
			"validation_failed", "mappings[1].provider_app_id"},
		{"unknown field", `{"mappings": [{"provider": "okta", "provider_app_id": "0oa1", "app": "a", "label": "x"}]}`, "invalid_json", "label"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := e.do("PUT", "/v1/settings/identity-apps", admin, c.body).problem(t, 400, c.code)
			if !strings.Contains(p.Detail, c.detail) {
				t.Fatalf("detail %q, want it to name %q", p.Detail, c.detail)
			}
		})
	}
	// Global admins only.
	for _, role := range []string{auth.RoleLicenseAdmin, auth.RoleUserAdmin, auth.RoleIngest, auth.RoleUser} {
		e.do("GET", "/v1/settings/identity-apps", e.token("x", role), "").problem(t, 403, "forbidden")
		e.do("PUT", "/v1/settings/identity-apps", e.token("x", role), body).problem(t, 403, "forbidden")
	}
}

// TestOktaVerification: the one-time GET gets its challenge back as Okta
// expects, from a caller with role ingest only.
func TestOktaVerification(t *testing.T) {
	e, _ := newIdentityEnv(t)
	ingest := e.token("okta", auth.RoleIngest)
	r := e.do("GET", "/v1/hooks/okta", ingest, "", "X-Okta-Verification-Challenge", "Me_rShK8JHsTnbyYrWXCEoMGbM_zsZ6k0hLPZ_Pg").mustStatus(t, 200)
	if got := strings.TrimSpace(string(r.body)); got != `{"verification":"Me_rShK8JHsTnbyYrWXCEoMGbM_zsZ6k0hLPZ_Pg"}` || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("answered %s (%s)", got, r.header.Get("Content-Type"))
	}
	if p := e.do("GET", "/v1/hooks/okta", ingest, "").problem(t, 400, "validation_failed"); !strings.Contains(p.Detail, "X-Okta-Verification-Challenge") {
		t.Fatalf("without the header: %q", p.Detail)
	}
	e.do("GET", "/v1/hooks/okta", ingest, "", "X-Okta-Verification-Challenge", strings.Repeat("x", 1025)).problem(t, 400, "validation_failed")
	e.do("GET", "/v1/hooks/okta", "", "", "X-Okta-Verification-Challenge", "v").problem(t, 401, "unauthorized")
	e.do("GET", "/v1/hooks/okta", e.admin(), "", "X-Okta-Verification-Challenge", "v").problem(t, 403, "forbidden")
}

// TestHooks: the providers' payloads become sign-ins of mapped apps and
// directory users; Okta is answered empty, Entra with a summary; a payload
// that cannot be read is refused whole, naming the field.
func TestHooks(t *testing.T) {
	e, pub := newIdentityEnv(t)
	admin := e.admin()
	// Ann is provisioned over SCIM (her id is not her login); Bob is only
	// registered with his email.
	if _, _, err := e.svc.ProvisionUser(context.Background(), tenant, "01ANN", events.Meta{Actor: "scim"},
		domain.ProvisionUser{Email: "ann.lee@contoso.com", DisplayName: "Ann Lee", UserName: "ann.lee@contoso.com", ExternalID: "00u1ae58uup0y5Qkg1d8", Active: true}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.svc.RegisterUser(context.Background(), tenant, "bob", events.Meta{Actor: "root"},
		domain.RegisterUser{Email: "Bob.Ray@contoso.com", DisplayName: "Bob Ray"}); err != nil {
		t.Fatal(err)
	}
	e.do("PUT", "/v1/settings/identity-apps", admin, `{"mappings": [{"provider": "okta", "provider_app_id": "0oa1a35nndfI7w1yp1d8", "app": "teams"},
		{"provider": "entra", "provider_app_id": "`+teamsApp+`", "app": "teams"}]}`).mustStatus(t, 200)
	ingest := e.token("idp", auth.RoleIngest)

	r := e.do("POST", "/v1/hooks/okta", ingest, hookFixture(t, "okta-delivery.json")).mustStatus(t, http.StatusNoContent)
	if len(r.body) != 0 || r.header.Get(httpapi.HeaderCommandID) == "" {
		t.Fatalf("Okta's answer: %q, command id %q", r.body, r.header.Get(httpapi.HeaderCommandID))
	}
	var sum httpapi.HookSummary
	e.do("POST", "/v1/hooks/entra", ingest, hookFixture(t, "entra-records.json")).mustStatus(t, 200).decode(t, &sum)
	if want := (httpapi.HookSummary{Received: 4, Accepted: 1, Ignored: httpapi.HookIgnored{OtherEvent: 1, Failed: 1, UnmappedApp: 1}}); sum != want {
		t.Fatalf("entra records: %+v, want %+v", sum, want)
	}
	bare := `{"id": "b1", "createdDateTime": "2025-03-01T08:00:00Z", "userPrincipalName": "bob.ray@contoso.com", "appId": "` + teamsApp + `", "status": {"errorCode": 0}}`
	e.do("POST", "/v1/hooks/entra", ingest, "["+bare+`, {"id": "b2", "createdDateTime": "2025-03-01T08:00:00Z", "userPrincipalName": "eve@contoso.com", "appId": "`+teamsApp+`", "status": {"errorCode": 0}}]`).
		mustStatus(t, 200).decode(t, &sum)
	if want := (httpapi.HookSummary{Received: 2, Accepted: 1, Ignored: httpapi.HookIgnored{UnknownUser: 1}}); sum != want {
		t.Fatalf("entra array: %+v, want %+v", sum, want)
	}
	var raw map[string]any
	e.do("POST", "/v1/hooks/entra", ingest, hookFixture(t, "entra-graph.json")).mustStatus(t, 200).decode(t, &raw)
	if b, _ := json.Marshal(raw); string(b) != `{"accepted":1,"duplicates":0,"ignored":{"failed":0,"other_event":0,"unknown_user":0,"unmapped_app":0},"received":1}` {
		t.Fatalf("entra graph page answered %s", b)
	}
	ats := []string{"2026-11-23T09:00:01.517Z", "2026-11-23T09:05:48.0729893Z", "2025-03-01T08:00:00Z", "2026-11-23T19:15:41.6195833Z"}
	want := []domain.SignInMessage{
		{ID: "okta-f4b1c3e2-9e84-11f1-87c2-5a0e3d9b1f64", UserID: "01ANN", App: "teams"},
		{ID: "entra-2b9a1c6e-4d0b-4a3f-9c8e-7f6d5e4c3b2a", UserID: "01ANN", App: "teams"},
		{ID: "entra-b1", UserID: "bob", App: "teams"},
		{ID: "entra-66ea54eb-6301-4ee5-be62-ff5a759b0100", UserID: "01ANN", App: "teams"},
	}
	for i := range want {
		if err := want[i].At.UnmarshalText([]byte(ats[i])); err != nil {
			t.Fatal(err)
		}
		want[i].At = want[i].At.UTC()
	}
	if !reflect.DeepEqual(pub.got, want) {
		t.Fatalf("published %+v\nwant %+v", pub.got, want)
	}

	n := len(pub.got)
	for _, c := range []struct {
		name, path, body, code, detail string
	}{
		{"okta: not JSON", "/v1/hooks/okta", `{"data": {"events": [`, "invalid_json", "body: malformed JSON"},
		{"okta: no events", "/v1/hooks/okta", `{"eventType": "com.okta.event_hook"}`, "validation_failed", "data.events: is required"},
		{"okta: a bad time", "/v1/hooks/okta", strings.Replace(hookFixture(t, "okta-delivery.json"), "2026-11-23T09:00:01.517Z", "23 Nov 2026", 1),
			"validation_failed", `data.events[0].published: "23 Nov 2026" is not an RFC 3339 time`},
		{"okta: a number for a login", "/v1/hooks/okta", strings.Replace(hookFixture(t, "okta-delivery.json"), `"ann.lee@contoso.com",
          "displayName": "Ann Lee",
          "detailEntry": null
        },
        "outcome"`, `42,
          "displayName": "Ann Lee",
          "detailEntry": null
        },
        "outcome"`, 1), "invalid_json", "data.events[0].actor.alternateId: must be a string, not number"},
		{"entra: empty", "/v1/hooks/entra", ` `, "invalid_json", "body: malformed JSON"},
		{"entra: no status", "/v1/hooks/entra", `{"records": [{"category": "SignInLogs", "properties": {"id": "x"}}]}`, "validation_failed", "records[0].properties.status.errorCode: is required"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := e.do("POST", c.path, ingest, c.body).problem(t, 400, c.code)
			if p.Detail != c.detail && !strings.HasPrefix(p.Detail, c.detail) {
				t.Fatalf("detail %q, want %q", p.Detail, c.detail)
			}
		})
	}
	if len(pub.got) != n {
		t.Fatalf("refused payloads published %+v", pub.got[n:])
	}
	e.do("POST", "/v1/hooks/entra", ingest, `[`+strings.Repeat(bare+",", httpapi.MaxBodyBytes/len(bare))+bare+`]`).problem(t, 413, "body_too_large")
	e.do("POST", "/v1/hooks/okta", e.admin(), `{"data": {"events": []}}`).problem(t, 403, "forbidden")
	e.do("POST", "/v1/hooks/entra", "", `[]`).problem(t, 401, "unauthorized")
}

// FuzzHooks throws arbitrary bodies at the identity routes: whatever comes
// in, the answer is a documented success or a well-formed 4xx problem,
// never a 5xx, and a refused payload publishes nothing.
func FuzzHooks(f *testing.F) {
	routes := []struct{ method, path string }{
		{"POST", "/v1/hooks/okta"},
		{"POST", "/v1/hooks/entra"},
		{"PUT", "/v1/settings/identity-apps"},
	}
	for _, name := range []string{"okta-delivery.json", "entra-records.json", "entra-graph.json"} {
		b, err := os.ReadFile("../idphook/testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		for r := range routes {
			f.Add(uint8(r), b)
		}
	}
	for _, s := range []string{``, `null`, `[]`, `{}`, `{"data":{"events":[null]}}`, `{"records":[{"category":"SignInLogs"}]}`,
		`{"mappings":[{"provider":"okta","provider_app_id":"0oa1","app":"teams"}]}`, `{"mappings":[{"provider":"entra","provider_app_id":"` + teamsApp + `","app":""}]}`,
		`[{"id":"x","createdDateTime":"2025-03-01T08:00:00Z","userPrincipalName":"a@b.c","appId":"` + teamsApp + `","status":{"errorCode":0}}]`} {
		for r := range routes {
			f.Add(uint8(r), []byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		e, pub := newIdentityEnv(t)
		e.do("PUT", "/v1/settings/identity-apps", e.admin(), `{"mappings": [{"provider": "okta", "provider_app_id": "0oa1a35nndfI7w1yp1d8", "app": "teams"},
			{"provider": "entra", "provider_app_id": "`+teamsApp+`", "app": "teams"}]}`).mustStatus(t, 200)
		if _, _, err := e.svc.RegisterUser(context.Background(), tenant, "ann", events.Meta{Actor: "root"},
			domain.RegisterUser{Email: "ann.lee@contoso.com", DisplayName: "Ann"}); err != nil {
			t.Fatal(err)
		}
		rt := routes[int(route)%len(routes)]
		tok := e.token("idp", auth.RoleIngest)
		if rt.path == "/v1/settings/identity-apps" {
			tok = e.admin()
		}
		res := e.do(rt.method, rt.path, tok, string(body))
		switch res.status {
		case http.StatusOK:
			if !json.Valid(res.body) || res.header.Get("Content-Type") != "application/json" {
				t.Fatalf("200 with body %q", res.body)
			}
		case http.StatusNoContent:
			if len(res.body) != 0 {
				t.Fatalf("204 with body %q", res.body)
			}
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
			p, err := parseProblem(res)
			if err != nil {
				t.Fatal(err)
			}
			if p.Status != res.status {
				t.Fatalf("problem status %d on a %d answer", p.Status, res.status)
			}
			if len(pub.got) != 0 {
				t.Fatalf("a refused payload published %+v", pub.got)
			}
		default:
			t.Fatalf("%s %s with body %q answered %d: %s", rt.method, rt.path, body, res.status, res.body)
		}
	})
}
