package domain_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/events"
)

// givenOrg folds events into a fresh org, as the service does on load.
func givenOrg(evs ...events.Data) *domain.Org {
	o := &domain.Org{}
	for _, d := range evs {
		domain.EvolveOrg(o, events.New("ev", "contoso", orgAgg, now, events.Meta{CommandID: "c"}, d))
	}
	return o
}

func okta(id, app string) events.IdentityApp {
	return events.IdentityApp{Provider: events.ProviderOkta, ProviderAppID: id, App: app}
}

func entra(id, app string) events.IdentityApp {
	return events.IdentityApp{Provider: events.ProviderEntra, ProviderAppID: id, App: app}
}

const (
	teamsGUID = "de8bc8b5-d9f9-48b1-a8ad-b748da725064"
	slackGUID = "00000003-0000-0ff1-ce00-000000000000"
)

func TestDecideIdentityApps(t *testing.T) {
	mapped := events.IdentityAppsMapped{Mappings: []events.IdentityApp{entra(teamsGUID, "teams"), okta("0oa1a35nndfI7w1yp1d8", "teams")}}
	tests := []struct {
		name      string
		given     []events.Data
		when      []events.IdentityApp
		then      []events.Data
		wantField string // the ValidationError's field, when the command is refused
	}{
		{
			name: "map on a fresh org, stored sorted by provider and id",
			when: []events.IdentityApp{okta("0oa1a35nndfI7w1yp1d8", "teams"), entra(teamsGUID, "teams")},
			then: []events.Data{mapped},
		},
		{
			name:  "the same mapping in another order changes nothing",
			given: []events.Data{mapped},
			when:  []events.IdentityApp{okta("0oa1a35nndfI7w1yp1d8", "teams"), entra(teamsGUID, "teams")},
		},
		{
			name:  "an Entra id in upper case is the same application",
			given: []events.Data{mapped},
			when:  []events.IdentityApp{entra(strings.ToUpper(teamsGUID), "teams"), okta("0oa1a35nndfI7w1yp1d8", "teams")},
		},
		{
			name:  "add one",
			given: []events.Data{mapped},
			when:  []events.IdentityApp{entra(teamsGUID, "teams"), okta("0oa1a35nndfI7w1yp1d8", "teams"), entra(slackGUID, "slack")},
			then: []events.Data{events.IdentityAppsMapped{Mappings: []events.IdentityApp{
				entra(slackGUID, "slack"), entra(teamsGUID, "teams"), okta("0oa1a35nndfI7w1yp1d8", "teams")}}},
		},
		{
			name:  "remove one",
			given: []events.Data{mapped},
			when:  []events.IdentityApp{okta("0oa1a35nndfI7w1yp1d8", "teams")},
			then:  []events.Data{events.IdentityAppsMapped{Mappings: []events.IdentityApp{okta("0oa1a35nndfI7w1yp1d8", "teams")}}},
		},
		{
			name:  "point an application at another app",
			given: []events.Data{mapped},
			when:  []events.IdentityApp{entra(teamsGUID, "teams-premium"), okta("0oa1a35nndfI7w1yp1d8", "teams")},
			then: []events.Data{events.IdentityAppsMapped{Mappings: []events.IdentityApp{
				entra(teamsGUID, "teams-premium"), okta("0oa1a35nndfI7w1yp1d8", "teams")}}},
		},
		{
			name:  "remove all",
			given: []events.Data{mapped},
			when:  []events.IdentityApp{},
			then:  []events.Data{events.IdentityAppsMapped{Mappings: []events.IdentityApp{}}},
		},
		{name: "nothing on a fresh org changes nothing", when: nil},
		{
			name: "the Okta id keeps its case",
			when: []events.IdentityApp{okta("0oaABC", "a"), okta("0oaabc", "b")},
			then: []events.Data{events.IdentityAppsMapped{Mappings: []events.IdentityApp{okta("0oaABC", "a"), okta("0oaabc", "b")}}},
		},
		{name: "unknown provider", when: []events.IdentityApp{{Provider: "google", ProviderAppID: "x", App: "teams"}}, wantField: "mappings[0].provider"},
		{name: "no provider", when: []events.IdentityApp{okta("0oa1", "a"), {ProviderAppID: "x", App: "teams"}}, wantField: "mappings[1].provider"},
		{name: "Entra id not a GUID", when: []events.IdentityApp{entra("teams", "teams")}, wantField: "mappings[0].provider_app_id"},
		{name: "Entra id with a stray character", when: []events.IdentityApp{entra(teamsGUID[:35]+"g", "teams")}, wantField: "mappings[0].provider_app_id"},
		{name: "empty Okta id", when: []events.IdentityApp{okta("", "teams")}, wantField: "mappings[0].provider_app_id"},
		{name: "Okta id with a space", when: []events.IdentityApp{okta("0oa 1", "teams")}, wantField: "mappings[0].provider_app_id"},
		{name: "no app", when: []events.IdentityApp{okta("0oa1", "")}, wantField: "mappings[0].app"},
		{name: "app too long", when: []events.IdentityApp{okta("0oa1", strings.Repeat("a", 101))}, wantField: "mappings[0].app"},
		{
			name:      "one application twice, even to the same app",
			when:      []events.IdentityApp{entra(teamsGUID, "teams"), okta("0oa1", "x"), entra(strings.ToUpper(teamsGUID), "teams")},
			wantField: "mappings[2].provider_app_id",
		},
		{name: "too many", when: make([]events.IdentityApp, domain.MaxIdentityApps+1), wantField: "mappings"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := givenOrg(tt.given...)
			got, err := domain.DecideIdentityApps(o, tt.when)
			if tt.wantField != "" {
				var v *domain.ValidationError
				if !errors.As(err, &v) || v.Field != tt.wantField {
					t.Fatalf("got %v, %v; want a validation error on %s", got, err, tt.wantField)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			if !reflect.DeepEqual(got, tt.then) {
				t.Fatalf("got events %#v\nwant %#v", got, tt.then)
			}
		})
	}
}

// TestIdentityAppFor: the org answers a lookup from the events it holds,
// Entra ids in any case, Okta ids exactly.
func TestIdentityAppFor(t *testing.T) {
	// An event written in another order is still searched correctly.
	o := givenOrg(events.IdentityAppsMapped{Mappings: []events.IdentityApp{okta("0oaZ", "zoom"), entra(teamsGUID, "teams"), okta("0oaA", "asana")}})
	for _, c := range []struct {
		provider, id, want string
		ok                 bool
	}{
		{events.ProviderEntra, teamsGUID, "teams", true},
		{events.ProviderEntra, strings.ToUpper(teamsGUID), "teams", true},
		{events.ProviderOkta, "0oaZ", "zoom", true},
		{events.ProviderOkta, "0oaA", "asana", true},
		{events.ProviderOkta, "0oaa", "", false},
		{events.ProviderOkta, teamsGUID, "", false},
		{events.ProviderEntra, slackGUID, "", false},
	} {
		if got, ok := domain.IdentityAppFor(o.IdentityApps, c.provider, c.id); got != c.want || ok != c.ok {
			t.Errorf("IdentityAppFor(%s, %s) = %q, %v; want %q, %v", c.provider, c.id, got, ok, c.want, c.ok)
		}
	}
}
