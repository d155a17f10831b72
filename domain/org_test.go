package domain_test

import (
	"reflect"
	"testing"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/events"
)

// TestDecideAutoClaim: given the org's switch, when an admin sets it, then
// a change only when it moves.
func TestDecideAutoClaim(t *testing.T) {
	for _, tc := range []struct {
		name    string
		given   []events.Data
		enabled bool
		then    []events.Data
	}{
		{"off by default: turned on", nil, true, []events.Data{events.AutoClaimSettingChanged{Enabled: true}}},
		{"off by default: off again changes nothing", nil, false, nil},
		{"on: on again changes nothing", []events.Data{events.AutoClaimSettingChanged{Enabled: true}}, true, nil},
		{"on: turned off", []events.Data{events.AutoClaimSettingChanged{Enabled: true}}, false, []events.Data{events.AutoClaimSettingChanged{Enabled: false}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := &domain.Org{}
			for _, d := range tc.given {
				domain.EvolveOrg(o, events.Envelope{Data: d})
			}
			if got := domain.DecideAutoClaim(o, tc.enabled); !reflect.DeepEqual(got, tc.then) {
				t.Fatalf("got %v, want %v", got, tc.then)
			}
		})
	}
}
