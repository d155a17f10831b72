package main

import (
	"strings"
	"testing"
)

// TestConsoleIdentityApps: a global admin lists, adds and removes identity
// apps in the console by clicking and typing; a refused value is explained
// where it was typed; a change made meanwhile by another admin is kept.
func TestConsoleIdentityApps(t *testing.T) {
	w := newACWorld(t, 2, 2)
	browser := startBrowser(t)
	admin := newPage(t, browser, w.svc.base)
	admin.signIn(w.admin)
	admin.nav("Identity apps")
	admin.waitVisible(withText("p", "No applications are mapped yet"))
	if got := admin.text("//section[@aria-label='Where identity providers send sign-ins']"); !strings.Contains(got, w.svc.base+"/v1/hooks/okta") ||
		!strings.Contains(got, w.svc.base+"/v1/hooks/entra") {
		t.Errorf("the hook addresses read %q", got)
	}

	row := func(provider, id string) string {
		return "//tr[@data-provider=" + xq(provider) + " and @data-provider-app-id=" + xq(id) + "]"
	}
	// Okta is the first provider offered.
	admin.typeInto(labelled("Application id"), "0oa1a35nndfI7w1yp1d8")
	admin.typeInto(labelled("Seatflow app"), "teams")
	admin.click(button("Add mapping"))
	admin.waitVisible(row("okta", "0oa1a35nndfI7w1yp1d8"))
	if got := admin.text(row("okta", "0oa1a35nndfI7w1yp1d8")); got != "Okta 0oa1a35nndfI7w1yp1d8 teams Remove" {
		t.Errorf("the Okta row reads %q", got)
	}
	if got := admin.eval(`document.activeElement.id === document.evaluate("` + strings.ReplaceAll(labelled("Application id"), `"`, `\"`) +
		`", document, null, XPathResult.FIRST_ORDERED_NODE_TYPE, null).singleNodeValue.id ? "id" : document.activeElement.tagName`); got != "id" {
		t.Errorf("after adding, the focus is on %q, want the application id for the next one", got)
	}

	// Entra ID: the hint follows the provider; a value that is no GUID is
	// refused and explained, the GUID in capitals is kept in lower case.
	admin.choose(labelled("Identity provider"), "Microsoft Entra ID")
	admin.waitVisible(withText("p", "application (client) id of the enterprise application"))
	admin.typeInto(labelled("Application id"), "contoso-teams")
	admin.typeInto(labelled("Seatflow app"), "teams")
	admin.click(button("Add mapping"))
	refusal := "//div[@role='alert' and @data-code='validation_failed']"
	admin.waitVisible(refusal)
	if got := admin.text(refusal); !strings.Contains(got, `"contoso-teams" is not an Entra ID application id`) {
		t.Errorf("the refusal reads %q", got)
	}
	admin.replaceText(labelled("Application id"), "DE8BC8B5-D9F9-48B1-A8AD-B748DA725064")
	admin.click(button("Add mapping"))
	admin.waitVisible(row("entra", "de8bc8b5-d9f9-48b1-a8ad-b748da725064"))
	admin.waitGone(refusal)

	// Another admin maps an application meanwhile; the next change keeps it.
	w.svc.do(t, "PUT", "/v1/settings/identity-apps", w.admin, map[string]any{"mappings": []map[string]string{
		{"provider": "okta", "provider_app_id": "0oa1a35nndfI7w1yp1d8", "app": "teams"},
		{"provider": "entra", "provider_app_id": "de8bc8b5-d9f9-48b1-a8ad-b748da725064", "app": "teams"},
		{"provider": "okta", "provider_app_id": "0oa9zoomZ8y7x6W5v4U3", "app": "zoom"},
	}}).want(t, 200, "")
	admin.choose(labelled("Identity provider"), "Okta")
	admin.typeInto(labelled("Application id"), "0oa5slackQ2w3e4r5t6y7")
	admin.typeInto(labelled("Seatflow app"), "slack")
	admin.click(button("Add mapping"))
	admin.waitVisible(row("okta", "0oa5slackQ2w3e4r5t6y7"))
	admin.waitVisible(row("okta", "0oa9zoomZ8y7x6W5v4U3"))
	admin.shot("console-identity-apps")

	admin.click(button("Remove Okta application 0oa1a35nndfI7w1yp1d8"))
	admin.waitGone(row("okta", "0oa1a35nndfI7w1yp1d8"))
	admin.waitVisible(withText("p", "Removed Okta application 0oa1a35nndfI7w1yp1d8."))
	got := w.svc.do(t, "GET", "/v1/settings/identity-apps", w.admin, nil).want(t, 200, "").raw
	if !strings.HasPrefix(got, `{"mappings":[{"provider":"entra","provider_app_id":"de8bc8b5-d9f9-48b1-a8ad-b748da725064","app":"teams"},`+
		`{"provider":"okta","provider_app_id":"0oa5slackQ2w3e4r5t6y7","app":"slack"},{"provider":"okta","provider_app_id":"0oa9zoomZ8y7x6W5v4U3","app":"zoom"}],`) {
		t.Errorf("the stored mapping: %s", got)
	}
	if n := admin.count("//tbody/tr"); n != 3 {
		t.Errorf("the list shows %d rows, want 3", n)
	}

	// Not for other admins.
	lia := newPage(t, browser, w.svc.base)
	lia.signIn(token(t, "contoso", "lia", "license-admin"))
	lia.open("/console#/identity")
	lia.ready()
	if got := lia.text("//div[contains(@class,'notice') and contains(@class,'forbidden')]"); !strings.Contains(got, "Identity apps can be managed by a Global admin only.") {
		t.Errorf("a license admin on the identity apps page sees %q", got)
	}
	if n := lia.count(button("Add mapping")); n != 0 {
		t.Errorf("a license admin sees the mapping form")
	}
}
