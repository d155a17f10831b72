package main

import (
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/seatflow/seatflow/events"
)

// The request bodies below are shaped exactly as the identity providers'
// provisioning services send them, after their public documentation:
// Microsoft Entra ID ("Tutorial: Develop and plan provisioning for a SCIM
// endpoint", request examples: create user, PATCH with "Replace"/"Add"/
// "Remove", members as a value list with "$ref": null, active as a boolean
// and, in the older compatibility mode, as the string "False") and Okta
// ("SCIM 2.0 protocol reference": create user with password and groups,
// user exists filter with startIndex and count, PATCH replace {"active":
// false} without a path, group membership with remove members[value eq
// "id"], add and replace of members). Only ids are filled in.
const (
	entraCreateUser = `{
  "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
  "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
  "userName": "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1",
  "active": true,
  "emails": [{"primary": true, "type": "work", "value": "Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com"}],
  "meta": {"resourceType": "User"},
  "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
  "roles": []
}`
	entraCreateGroup = `{
  "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group", "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
  "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
  "displayName": "displayName",
  "meta": {"resourceType": "Group"}
}`
	entraAddMember = `{
  "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
  "Operations": [{"op": "Add", "path": "members", "value": [{"$ref": null, "value": "{{user}}"}]}]
}`
	entraRemoveMember = `{
  "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
  "Operations": [{"op": "Remove", "path": "members", "value": [{"$ref": null, "value": "{{user}}"}]}]
}`
	entraUpdateUser = `{
  "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
  "Operations": [
    {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "updatedEmail@microsoft.com"},
    {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"},
    {"op": "Replace", "path": "active", "value": false}
  ]
}`
	entraDisableUserString = `{
  "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
  "Operations": [{"op": "Replace", "path": "active", "value": "False"}]
}`
	oktaCreateUser = `{
  "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
  "userName": "test.user@okta.local",
  "name": {"givenName": "Test", "familyName": "User"},
  "emails": [{"primary": true, "value": "test.user@okta.local", "type": "work"}],
  "displayName": "Test User",
  "locale": "en-US",
  "externalId": "00ujl29u0le5T6Aj10h7",
  "groups": [],
  "password": "1mz050nq",
  "active": true
}`
	oktaCreateGroup = `{
  "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
  "displayName": "Test SCIMv2",
  "members": []
}`
	oktaGroupMembership = `{
  "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
  "Operations": [
    {"op": "remove", "path": "members[value eq \"{{gone}}\"]"},
    {"op": "add", "path": "members", "value": [{"value": "{{user}}", "display": "test.user@okta.local"}]}
  ]
}`
	oktaReplaceMembers = `{
  "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
  "Operations": [{"op": "replace", "path": "members", "value": [{"value": "{{user}}", "display": "test.user@okta.local"}]}]
}`
	oktaRenameGroup = `{
  "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
  "Operations": [{"op": "replace", "value": {"id": "{{group}}", "displayName": "Test SCIMv2 renamed"}}]
}`
	oktaDeactivateUser = `{
  "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
  "Operations": [{"op": "replace", "value": {"active": false}}]
}`
)

func fill(body string, kv ...string) string {
	for i := 0; i+1 < len(kv); i += 2 {
		body = strings.ReplaceAll(body, "{{"+kv[i]+"}}", kv[i+1])
	}
	return body
}

// scim sends one SCIM request as a provider does (application/scim+json)
// and checks the answer's status and media type.
func (w *acWorld) scim(t *testing.T, tok, method, path string, body string, status int) response {
	t.Helper()
	var b any
	if body != "" {
		b = body
	}
	r := w.svc.do(t, method, "/scim/v2"+path, tok, b, "Content-Type", "application/scim+json", "Accept", "application/scim+json")
	if r.status != status {
		t.Fatalf("%s %s: status %d, want %d; body %s", method, path, r.status, status, r.raw)
	}
	if r.raw != "" && !strings.HasPrefix(r.header.Get("Content-Type"), "application/scim+json") {
		t.Fatalf("%s %s: Content-Type %q, want application/scim+json", method, path, r.header.Get("Content-Type"))
	}
	return r
}

func filterQuery(expr string, extra ...string) string {
	q := "?filter=" + url.QueryEscape(expr)
	for _, e := range extra {
		q += "&" + e
	}
	return q
}

// members lists the member ids of a SCIM group answer.
func scimMembers(r response) []string {
	var out []string
	ms, _ := r.body["members"].([]any)
	for _, m := range ms {
		if v, ok := m.(map[string]any)["value"].(string); ok {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return out
}

// licensesOf lists the products user holds, with their source kinds.
func (w *acWorld) licensesOf(t *testing.T, user string) map[string]string {
	t.Helper()
	r := w.svc.do(t, "GET", "/v1/users/"+user+"/licenses", w.admin, nil).want(t, 200, "")
	out := map[string]string{}
	for _, l := range r.list {
		m := l.(map[string]any)
		src, _ := m["source"].(map[string]any)
		out[m["product_id"].(string)], _ = src["kind"].(string)
	}
	return out
}

// TestSCIMProvisioningEntraAndOkta replays Entra ID's and Okta's
// provisioning requests against a running service and checks that the
// directory, group licensing, request notifications and the auto-claim
// queue all follow: a SCIM user submits a request and the admins are
// mailed; a SCIM group member gets the group's license; deprovisioning
// releases it (with the reason) and the queued user gets the seat.
func TestSCIMProvisioningEntraAndOkta(t *testing.T) {
	t.Parallel()
	w := newACWorld(t, 1, 0) // P has one seat, B none: the second user queues
	w.svc.do(t, "PUT", "/v1/users/gina", w.admin, map[string]any{"email": "gina@example.com", "display_name": "Gina", "roles": []string{"global-admin"}}).want(t, 200, "")
	entra := token(t, "contoso", "entra-provisioning", "scim")
	okta := token(t, "contoso", "okta-provisioning", "scim")

	// Discovery, as both providers read it when the app is connected.
	spc := w.scim(t, entra, "GET", "/ServiceProviderConfig", "", 200)
	if p, _ := spc.body["patch"].(map[string]any); p["supported"] != true {
		t.Fatalf("ServiceProviderConfig: patch not supported: %s", spc.raw)
	}
	if rt := w.scim(t, okta, "GET", "/ResourceTypes", "", 200); !strings.Contains(rt.raw, `"/Users"`) || !strings.Contains(rt.raw, `"/Groups"`) {
		t.Fatalf("ResourceTypes: %s", rt.raw)
	}
	if sc := w.scim(t, okta, "GET", "/Schemas", "", 200); !strings.Contains(sc.raw, "urn:ietf:params:scim:schemas:core:2.0:User") {
		t.Fatalf("Schemas: %s", sc.raw)
	}

	// Entra: does the user exist? No. Create it; now the filters find it.
	const entraName = "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1"
	if r := w.scim(t, entra, "GET", "/Users"+filterQuery(`userName eq "`+entraName+`"`), "", 200); r.body["totalResults"] != 0.0 {
		t.Fatalf("before create: %s", r.raw)
	}
	created := w.scim(t, entra, "POST", "/Users", entraCreateUser, 201)
	ann, _ := created.body["id"].(string)
	if ann == "" || created.header.Get("Location") != "/scim/v2/Users/"+ann || created.body["active"] != true ||
		created.body["externalId"] != "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef" || created.body["userName"] != entraName {
		t.Fatalf("created: %s (Location %q)", created.raw, created.header.Get("Location"))
	}
	for _, f := range []string{`userName eq "` + entraName + `"`, `externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"`} {
		r := w.scim(t, entra, "GET", "/Users"+filterQuery(f), "", 200)
		res, _ := r.body["Resources"].([]any)
		if r.body["totalResults"] != 1.0 || len(res) != 1 || res[0].(map[string]any)["id"] != ann {
			t.Fatalf("filter %s: %s", f, r.raw)
		}
	}
	// The same user again is a uniqueness conflict, as Entra expects.
	if r := w.scim(t, entra, "POST", "/Users", entraCreateUser, 409); !strings.Contains(r.raw, `"scimType":"uniqueness"`) {
		t.Fatalf("duplicate: %s", r.raw)
	}
	// The directory has the user: the email and display name are mapped.
	if r := w.svc.do(t, "GET", "/v1/directory?id="+ann, w.admin, nil).want(t, 200, ""); len(r.list) != 1 ||
		r.list[0].(map[string]any)["email"] != "test_user_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com" ||
		r.list[0].(map[string]any)["display_name"] != "givenName familyName" {
		t.Fatalf("directory: %s", r.raw)
	}

	// A SCIM user is a directory user: it submits a request for B and the
	// tenant's admin is mailed.
	userTok := token(t, "contoso", ann, "user")
	req := w.svc.do(t, "POST", "/v1/requests", userTok, map[string]any{"product_id": "B", "users": []string{}, "justification": "SCIM-provisioned"}).want(t, 201, "")
	requestID, _ := req.body["request_id"].(string)
	waitFor(t, 30*time.Second, "request.submitted mailed to gina", func() bool {
		for _, m := range w.streamData(t, "SEATFLOW_NOTIFY", "sf.notify.contoso.email", "") {
			var n struct {
				Kind string            `json:"kind"`
				To   []string          `json:"to"`
				Refs map[string]string `json:"refs"`
			}
			_ = json.Unmarshal(m.Data, &n)
			if n.Kind == "request.submitted" && n.Refs["request_id"] == requestID && slices.Equal(n.To, []string{"gina@example.com"}) {
				return true
			}
		}
		return false
	})

	// Entra creates a group; an admin licenses it with P; Entra adds the
	// user: the user holds P through the group.
	grp := w.scim(t, entra, "POST", "/Groups", entraCreateGroup, 201)
	gid, _ := grp.body["id"].(string)
	if r := w.scim(t, entra, "GET", "/Groups"+filterQuery(`displayName eq "displayName"`), "", 200); r.body["totalResults"] != 1.0 {
		t.Fatalf("group filter: %s", r.raw)
	}
	w.svc.do(t, "PUT", "/v1/groups/"+gid, w.admin, map[string]any{"name": "displayName", "members": []string{}, "products": []map[string]any{{"product_id": "P"}}}).want(t, 200, "")
	if r := w.scim(t, entra, "PATCH", "/Groups/"+gid, fill(entraAddMember, "user", ann), 200); !slices.Equal(scimMembers(r), []string{ann}) {
		t.Fatalf("after Entra add: %s", r.raw)
	}
	if got := w.licensesOf(t, ann); got["P"] != "group" {
		t.Fatalf("licenses after joining the group: got %v, want P from the group", got)
	}

	// Okta: the user-exists check (with startIndex and count), then create.
	if r := w.scim(t, okta, "GET", "/Users"+filterQuery(`userName eq "test.user@okta.local"`, "startIndex=1", "count=100"), "", 200); r.body["totalResults"] != 0.0 {
		t.Fatalf("okta exists: %s", r.raw)
	}
	bob, _ := w.scim(t, okta, "POST", "/Users", oktaCreateUser, 201).body["id"].(string)
	// Bob signs in to the app: P's only seat is Ann's, B has none: queued.
	w.signIn(t, "s-bob", bob, time.Now().UTC())
	waitFor(t, 30*time.Second, "bob queued", func() bool { return slices.Equal(w.policyView(t).Queue, []string{bob}) })

	// Entra deprovisions Ann (its PATCH with active false among other
	// attributes): her group license is released with the reason, and the
	// queued Bob gets the seat.
	r := w.scim(t, entra, "PATCH", "/Users/"+ann, entraUpdateUser, 200)
	if r.body["active"] != false || !strings.Contains(r.raw, "updatedemail@microsoft.com") {
		t.Fatalf("after Entra update: %s", r.raw)
	}
	waitFor(t, 30*time.Second, "bob granted P", func() bool {
		for _, c := range w.claims(t, "") {
			if c.UserID == bob && c.ProductID == "P" {
				return true
			}
		}
		return false
	})
	if got := w.licensesOf(t, ann); len(got) != 0 {
		t.Fatalf("Ann's licenses after deactivation: %v", got)
	}
	var reasons []string
	for _, m := range w.streamData(t, "SEATFLOW_EVENTS", "sf.evt.contoso.product.P", events.TypeLicenseUnassigned) {
		env, err := events.Default().Decode(m.Data)
		if err != nil {
			t.Fatal(err)
		}
		e := env.Data.(events.LicenseUnassigned)
		reasons = append(reasons, e.UserID+":"+e.Reason)
	}
	if !slices.Equal(reasons, []string{ann + ":" + events.UnassignedUserDeactivated}) {
		t.Fatalf("LicenseUnassigned on P: got %v", reasons)
	}
	// Entra's older string form of the same change is accepted too.
	if r := w.scim(t, entra, "PATCH", "/Users/"+ann, entraDisableUserString, 200); r.body["active"] != false {
		t.Fatalf("string False: %s", r.raw)
	}
	// She is still a member of the licensed group, but a change of the
	// group does not license her again (P has no free seat: it would fail).
	w.svc.do(t, "PUT", "/v1/groups/"+gid, w.admin, map[string]any{"name": "displayName", "members": []string{ann}, "products": []map[string]any{{"product_id": "P"}}}).want(t, 200, "")
	if got := w.licensesOf(t, ann); len(got) != 0 {
		t.Fatalf("a group change licensed the deactivated user: %v", got)
	}
	// Paging through the users (Gina, Ann, Bob), as the providers' imports do.
	if r := w.scim(t, entra, "GET", "/Users?startIndex=2&count=1", "", 200); r.body["totalResults"] != 3.0 || r.body["startIndex"] != 2.0 || len(r.body["Resources"].([]any)) != 1 {
		t.Fatalf("page 2: %s", r.raw)
	}
	if r := w.scim(t, entra, "GET", "/Users"+filterQuery(`displayName eq "Test User"`), "", 200); r.body["totalResults"] != 1.0 {
		t.Fatalf("displayName filter: %s", r.raw)
	}
	// Entra removes her from the group (its value-list form).
	if r := w.scim(t, entra, "PATCH", "/Groups/"+gid, fill(entraRemoveMember, "user", ann), 200); len(scimMembers(r)) != 0 {
		t.Fatalf("after Entra remove: %s", r.raw)
	}

	// Okta's group: create, membership PATCH (remove by filter, add),
	// replace, rename; its members are read back.
	og, _ := w.scim(t, okta, "POST", "/Groups", oktaCreateGroup, 201).body["id"].(string)
	w.scim(t, okta, "PATCH", "/Groups/"+og, fill(oktaReplaceMembers, "user", ann), 200)
	if r := w.scim(t, okta, "PATCH", "/Groups/"+og, fill(oktaGroupMembership, "gone", ann, "user", bob), 200); !slices.Equal(scimMembers(r), []string{bob}) {
		t.Fatalf("after Okta membership patch: %s", r.raw)
	}
	if r := w.scim(t, okta, "PATCH", "/Groups/"+og, fill(oktaRenameGroup, "group", og), 200); r.body["displayName"] != "Test SCIMv2 renamed" {
		t.Fatalf("after Okta rename: %s", r.raw)
	}
	if r := w.scim(t, okta, "GET", "/Groups/"+og, "", 200); !slices.Equal(scimMembers(r), []string{bob}) {
		t.Fatalf("Okta group: %s", r.raw)
	}

	// Okta deactivates Bob (replace without a path): his P seat is
	// released with the reason.
	if r := w.scim(t, okta, "PATCH", "/Users/"+bob, oktaDeactivateUser, 200); r.body["active"] != false {
		t.Fatalf("okta deactivate: %s", r.raw)
	}
	waitFor(t, 30*time.Second, "bob's license released", func() bool { return len(w.licensesOf(t, bob)) == 0 })

	// Delete: gone from SCIM, from the directory and from the group.
	w.scim(t, okta, "DELETE", "/Users/"+bob, "", 204)
	w.scim(t, okta, "GET", "/Users/"+bob, "", 404)
	w.scim(t, okta, "DELETE", "/Users/"+bob, "", 404)
	if r := w.scim(t, okta, "GET", "/Groups/"+og, "", 200); len(scimMembers(r)) != 0 {
		t.Fatalf("group after delete: %s", r.raw)
	}
	if r := w.svc.do(t, "GET", "/v1/directory?id="+bob, w.admin, nil).want(t, 200, ""); len(r.list) != 0 {
		t.Fatalf("directory after delete: %s", r.raw)
	}
	if w.countEvents(t, events.TypeUserDeleted) != 1 {
		t.Fatal("no UserDeleted")
	}
	w.scim(t, entra, "DELETE", "/Groups/"+gid, "", 204)
	w.scim(t, entra, "GET", "/Groups/"+gid, "", 404)
}

// TestSCIMRefusals: wrong or missing tokens, bad filters, bodies and ids are
// answered with SCIM errors, never a crash, and change nothing.
func TestSCIMRefusals(t *testing.T) {
	t.Parallel()
	w := newACWorld(t, 1, 0)
	scimTok := token(t, "contoso", "idp", "scim")
	before := w.countEvents(t, "")

	for _, c := range []struct {
		name, tok, method, path, body string
		status                        int
		scimType                      string
	}{
		{"no token", "", "GET", "/Users", "", 401, ""},
		{"an admin token", w.admin, "GET", "/Users", "", 403, ""},
		{"another role", w.ingest, "POST", "/Users", oktaCreateUser, 403, ""},
		{"bad filter", scimTok, "GET", "/Users" + filterQuery(`userName eq`), "", 400, "invalidFilter"},
		{"unknown attribute in a filter", scimTok, "GET", "/Users" + filterQuery(`shoeSize eq "9"`), "", 400, "invalidFilter"},
		{"unknown user", scimTok, "GET", "/Users/nobody", "", 404, ""},
		{"malformed JSON", scimTok, "POST", "/Users", `{"userName":`, 400, "invalidSyntax"},
		{"no userName", scimTok, "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"emails":[{"value":"a@example.com"}]}`, 400, "invalidValue"},
		{"no usable email", scimTok, "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"jdoe"}`, 400, "invalidValue"},
		{"patch without PatchOp", scimTok, "PATCH", "/Users/nobody", `{"Operations":[]}`, 400, "invalidValue"},
		{"patch of an unknown user", scimTok, "PATCH", "/Users/nobody", oktaDeactivateUser, 404, ""},
		{"bad member id", scimTok, "POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"G","members":[{"value":"a b"}]}`, 400, "invalidValue"},
		{"remove without a path", scimTok, "PATCH", "/Groups/none", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove"}]}`, 400, "noTarget"},
		{"patch of an unknown group", scimTok, "PATCH", "/Groups/none", fill(entraAddMember, "user", "u1"), 404, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := w.scim(t, c.tok, c.method, c.path, c.body, c.status)
			var e struct {
				Schemas  []string `json:"schemas"`
				Status   string   `json:"status"`
				ScimType string   `json:"scimType"`
			}
			if err := json.Unmarshal([]byte(r.raw), &e); err != nil || !slices.Equal(e.Schemas, []string{"urn:ietf:params:scim:api:messages:2.0:Error"}) ||
				e.Status != itoa(c.status) || e.ScimType != c.scimType {
				t.Fatalf("error body: %s (want scimType %q)", r.raw, c.scimType)
			}
		})
	}
	if after := w.countEvents(t, ""); after != before {
		t.Fatalf("refused requests appended %d events", after-before)
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
