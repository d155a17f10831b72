package main

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/seatflow/seatflow/events"
)

// hookPayload reads a provider payload fixture (shaped as Okta and Entra ID
// document them; see infra/idphook/idphook_test.go) and replaces the pairs
// of old, new strings in it.
func hookPayload(t *testing.T, name string, replace ...string) string {
	t.Helper()
	b, err := os.ReadFile("../../infra/idphook/testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for i := 0; i+1 < len(replace); i += 2 {
		if !strings.Contains(s, replace[i]) {
			t.Fatalf("%s has no %q to replace", name, replace[i])
		}
		s = strings.ReplaceAll(s, replace[i], replace[i+1])
	}
	return s
}

// provision creates a directory user over SCIM, as Okta or Entra ID does,
// and returns its id (Seatflow's, not the login).
func (w *acWorld) provision(t *testing.T, scimToken, userName, externalID, display string) string {
	t.Helper()
	r := w.scim(t, scimToken, "POST", "/Users", `{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "`+userName+
		`", "externalId": "`+externalID+`", "displayName": "`+display+`", "emails": [{"primary": true, "type": "work", "value": "`+
		strings.ToLower(userName)+`"}], "active": true}`, 201)
	id, _ := r.body["id"].(string)
	if id == "" || id == userName {
		t.Fatalf("SCIM create answered %s", r.raw)
	}
	return id
}

// TestIdentityHooksEndToEnd: the organisation maps its Okta and Entra ID
// applications to app teams; each provider's own payload then claims a
// license for the user SCIM provisioned, through the real service (hook,
// sign-in stream, router, policy); failed sign-ins, other events and
// unmapped applications claim nothing; a redelivered payload claims
// nothing twice; an unreadable one is refused with the field named; the
// metrics count all of it; and Okta's verification is answered as Okta
// expects.
func TestIdentityHooksEndToEnd(t *testing.T) {
	w := newACWorld(t, 5, 5)
	scimToken := token(t, "contoso", "idp-provisioning", "scim")
	ann := w.provision(t, scimToken, "ann.lee@contoso.com", "00u1ae58uup0y5Qkg1d8", "Ann Lee")    // an Okta user
	carl := w.provision(t, scimToken, "Carl.Diaz@contoso.com", "0a21f0f2-8d2a-4f8e", "Carl Diaz") // an Entra ID user
	dee := w.provision(t, scimToken, "dee.fox@contoso.com", "d0e5f0a1", "Dee Fox")
	bob := w.provision(t, scimToken, "bob.ray@contoso.com", "00u1ae58uup0y5Qkg2e9", "Bob Ray")

	m := w.svc.do(t, "PUT", "/v1/settings/identity-apps", w.admin, map[string]any{"mappings": []map[string]string{
		{"provider": "okta", "provider_app_id": "0oa1a35nndfI7w1yp1d8", "app": "teams"},
		{"provider": "entra", "provider_app_id": "de8bc8b5-d9f9-48b1-a8ad-b748da725064", "app": "teams"},
	}}).want(t, 200, "")
	if got := w.svc.do(t, "GET", "/v1/settings/identity-apps?after="+m.header.Get("Seatflow-Position"), w.admin, nil).want(t, 200, "").raw; !strings.Contains(got,
		`{"provider":"entra","provider_app_id":"de8bc8b5-d9f9-48b1-a8ad-b748da725064","app":"teams"},{"provider":"okta","provider_app_id":"0oa1a35nndfI7w1yp1d8","app":"teams"}`) {
		t.Fatalf("the mapping reads %s", got)
	}
	if n := w.countEvents(t, events.TypeIdentityAppsMapped); n != 1 {
		t.Fatalf("%d IdentityAppsMapped events", n)
	}

	// Okta verifies the hook once: its value comes back as JSON.
	v := w.svc.do(t, "GET", "/v1/hooks/okta", w.ingest, nil, "X-Okta-Verification-Challenge", "Me_rShK8JHsTnbyYrWXCEoMGbM_zsZ6k0hLPZ_Pg").want(t, 200, "")
	if v.raw != `{"verification":"Me_rShK8JHsTnbyYrWXCEoMGbM_zsZ6k0hLPZ_Pg"}`+"\n" {
		t.Fatalf("verification answered %q", v.raw)
	}

	licensed := func(user string) func() bool {
		return func() bool { return w.licensesOf(t, user)["P"] == events.SourcePolicy }
	}

	// Okta: Ann's user.authentication.sso claims; Bob's failed one and the
	// user.session.start do not.
	okta := hookPayload(t, "okta-delivery.json")
	if r := w.svc.do(t, "POST", "/v1/hooks/okta", w.ingest, okta).want(t, 204, ""); r.raw != "" {
		t.Fatalf("Okta's delivery answered %q, want an empty answer", r.raw)
	}
	waitFor(t, 30*time.Second, "Ann's license from her Okta sign-in", licensed(ann))

	// Entra ID: Carl's interactive sign-in (from a diagnostic setting)
	// claims; Bob's failure, Dee's sign-in to an unmapped application and a
	// service principal's sign-in do not.
	entra := hookPayload(t, "entra-records.json", "Ann.Lee@contoso.com", "carl.diaz@contoso.com")
	r := w.svc.do(t, "POST", "/v1/hooks/entra", w.ingest, entra).want(t, 200, "")
	if r.raw != `{"received":4,"accepted":1,"duplicates":0,"ignored":{"other_event":1,"failed":1,"unmapped_app":1,"unknown_user":0}}`+"\n" {
		t.Fatalf("Entra records answered %s", r.raw)
	}
	waitFor(t, 30*time.Second, "Carl's license from his Entra ID sign-in", licensed(carl))

	// Both again, as a provider redelivers: the stream keeps one of each.
	w.svc.do(t, "POST", "/v1/hooks/okta", w.ingest, okta).want(t, 204, "")
	r = w.svc.do(t, "POST", "/v1/hooks/entra", w.ingest, entra).want(t, 200, "")
	if r.body["accepted"] != 1.0 || r.body["duplicates"] != 1.0 {
		t.Fatalf("Entra records again answered %s", r.raw)
	}
	// A sign-in after them (Dee's, from a Graph page): once it has claimed,
	// the partition has handled everything before it.
	r = w.svc.do(t, "POST", "/v1/hooks/entra", w.ingest, hookPayload(t, "entra-graph.json", "ann.lee@contoso.com", "dee.fox@contoso.com")).want(t, 200, "")
	if r.body["accepted"] != 1.0 {
		t.Fatalf("the Graph page answered %s", r.raw)
	}
	waitFor(t, 30*time.Second, "Dee's license", licensed(dee))
	if n := w.countClaims(t); n != 3 {
		t.Fatalf("%d licenses claimed, want 3 (Ann, Carl, Dee, once each)", n)
	}
	if l := w.licensesOf(t, bob); len(l) != 0 {
		t.Fatalf("Bob's failed sign-ins gave him %v", l)
	}
	signins := w.streamData(t, "SEATFLOW_SIGNINS", "sf.signin.contoso.>", "")
	if len(signins) != 3 {
		t.Fatalf("%d sign-ins on the stream, want 3", len(signins))
	}
	for i, want := range []string{
		`"id":"okta-f4b1c3e2-9e84-11f1-87c2-5a0e3d9b1f64","user_id":"` + ann + `","app":"teams","at":"2026-11-23T09:00:01.517Z"`,
		`"id":"entra-2b9a1c6e-4d0b-4a3f-9c8e-7f6d5e4c3b2a","user_id":"` + carl + `","app":"teams","at":"2026-11-23T09:05:48.0729893Z"`,
		`"id":"entra-66ea54eb-6301-4ee5-be62-ff5a759b0100","user_id":"` + dee + `","app":"teams","at":"2026-11-23T19:15:41.6195833Z"`,
	} {
		if got := string(signins[i].Data); got != "{"+want+"}" || signins[i].Header.Get("Nats-Msg-Id") != strings.Split(want, `"`)[3] {
			t.Errorf("sign-in %d on the stream: %s (Nats-Msg-Id %q), want {%s}", i, got, signins[i].Header.Get("Nats-Msg-Id"), want)
		}
	}
	// The claims carry the providers' event ids as their sign-in ids.
	var stored []string
	for _, c := range w.streamData(t, "SEATFLOW_EVENTS", "sf.evt.contoso.product.P", "") {
		stored = append(stored, string(c.Data))
	}
	for _, id := range []string{"okta-f4b1c3e2-9e84-11f1-87c2-5a0e3d9b1f64", "entra-2b9a1c6e-4d0b-4a3f-9c8e-7f6d5e4c3b2a", "entra-66ea54eb-6301-4ee5-be62-ff5a759b0100"} {
		if !strings.Contains(strings.Join(stored, "\n"), `"`+id+`"`) {
			t.Errorf("no event of P carries sign-in %s:\n%s", id, strings.Join(stored, "\n"))
		}
	}

	// Unreadable payloads are refused whole, naming the field.
	p := w.svc.do(t, "POST", "/v1/hooks/okta", w.ingest, strings.Replace(okta, `"published": "2026-11-23T09:00:01.517Z"`, `"published": "yesterday"`, 1)).want(t, 400, "validation_failed")
	if d, _ := p.body["detail"].(string); d != `data.events[0].published: "yesterday" is not an RFC 3339 time` {
		t.Errorf("the refusal reads %q", d)
	}
	w.svc.do(t, "POST", "/v1/hooks/entra", w.ingest, `{"records": [{"category": "SignInLogs", "properties": {"status": {"errorCode": "0"}}}]}`).want(t, 400, "invalid_json")

	metrics := w.svc.do(t, "GET", "/metrics", "", nil).want(t, 200, "").raw
	for _, line := range []string{
		`seatflow_identity_events_total{provider="okta",result="accepted"} 1`,
		`seatflow_identity_events_total{provider="okta",result="duplicate"} 1`,
		`seatflow_identity_events_total{provider="okta",result="failed"} 2`,
		`seatflow_identity_events_total{provider="okta",result="other_event"} 2`,
		`seatflow_identity_events_total{provider="entra",result="accepted"} 2`,
		`seatflow_identity_events_total{provider="entra",result="duplicate"} 1`,
		`seatflow_identity_events_total{provider="entra",result="unmapped_app"} 2`,
		`seatflow_identity_payloads_refused_total{provider="okta"} 1`,
		`seatflow_identity_payloads_refused_total{provider="entra"} 1`,
	} {
		if !strings.Contains(metrics, line+"\n") {
			t.Errorf("/metrics lacks %s", line)
		}
	}
}
