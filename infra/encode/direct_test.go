package encode

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/events/eventstest"
)

// claimsEnvelopes are LicensesClaimed envelopes as events.Encode writes
// them, covering what the form allows: no claim, one, many; service lists
// nil, empty and not; optional envelope fields set or not; times in UTC,
// with an offset, with and without nanoseconds.
func claimsEnvelopes(t testing.TB) [][]byte {
	var out [][]byte
	enc := func(env events.Envelope) {
		b, err := events.Encode(env)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	for _, env := range eventstest.ManyClaims(260) {
		enc(env)
	}
	paris := time.FixedZone("", 2*3600)
	at := time.Date(2026, 11, 23, 12, 0, 0, 123456789, time.UTC)
	for i, claims := range [][]events.Claim{
		{},
		{{UserID: "u1", DisabledServices: nil, SigninID: "s1", ClaimedAt: at}},
		{{UserID: "u1", DisabledServices: []string{}, SigninID: "", ClaimedAt: at.In(paris)},
			{UserID: "u-2@x", DisabledServices: []string{"chat", "mail"}, SigninID: "s 2", ClaimedAt: at.Truncate(time.Second)},
			{UserID: "u3", DisabledServices: []string{""}, SigninID: "s3", ClaimedAt: time.Time{}}},
	} {
		meta := events.Meta{Actor: "ada", CommandID: "cmd", CorrelationID: "corr", CausationID: "cause"}
		if i == 1 {
			meta = events.Meta{CommandID: "cmd"}
		}
		enc(events.New(fmt.Sprintf("ev%d", i), "contoso", events.Aggregate{Kind: events.KindProduct, ID: "P"}, at.In(paris), meta,
			events.LicensesClaimed{ProductID: "P", PolicyID: "pol-1", App: "teams", Claims: claims}))
	}
	return out
}

// TestDirectLicensesClaimed: every LicensesClaimed as events.Encode writes
// it is decoded by hand, to exactly what encoding/json makes of it.
func TestDirectLicensesClaimed(t *testing.T) {
	std := events.Default()
	for _, b := range claimsEnvelopes(t) {
		want, err := std.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := directLicensesClaimed(b)
		if !ok {
			t.Fatalf("%s: not decoded directly", b)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s:\ngot  %#v\nwant %#v", b, got, want)
		}
	}
}

// TestDirectLicensesClaimedLeavesTheRest: what is not in the form
// events.Encode writes (or not a whole envelope) is left to the general
// path, which decodes it or says why not; never decoded differently.
func TestDirectLicensesClaimedLeavesTheRest(t *testing.T) {
	std, reg := events.Default(), Registry()
	all := claimsEnvelopes(t)
	b, none := all[len(all)-1], all[len(all)-3]
	for name, bad := range map[string][]byte{
		"space":           bytes.Replace(b, []byte(`"tenant":`), []byte(`"tenant": `), 1),
		"escape":          bytes.Replace(b, []byte(`"u1"`), []byte(`"\u0075\u0031"`), 1),
		"escaped quote":   bytes.Replace(b, []byte(`"u1"`), []byte(`"u\"1"`), 1),
		"not ASCII":       bytes.Replace(b, []byte(`"u1"`), []byte(`"ü1"`), 1),
		"control":         bytes.Replace(b, []byte(`"u1"`), []byte("\"u\t1\""), 1),
		"keys reordered":  bytes.Replace(b, []byte(`"product_id":"P","policy_id":"pol-1"`), []byte(`"policy_id":"pol-1","product_id":"P"`), 1),
		"key in capitals": bytes.Replace(b, []byte(`"user_id"`), []byte(`"USER_ID"`), 1),
		"unknown key":     bytes.Replace(b, []byte(`"app":`), []byte(`"apps":`), 1),
		"extra key":       bytes.Replace(b, []byte(`"claimed_at"`), []byte(`"extra":1,"claimed_at"`), 1),
		"claims null":     bytes.Replace(none, []byte(`"claims":[]`), []byte(`"claims":null`), 1),
		"bad time":        bytes.Replace(b, []byte(`"occurred_at":"2026`), []byte(`"occurred_at":"2O26`), 1),
		"time null":       bytes.Replace(b, []byte(`"claimed_at":"2026-11-23T12:00:00Z"`), []byte(`"claimed_at":null`), 1),
		"other version":   bytes.Replace(b, []byte(`"version":1`), []byte(`"version":2`), 1),
		"version 01":      bytes.Replace(b, []byte(`"version":1`), []byte(`"version":01`), 1),
		"trailing data":   append(append([]byte{}, b...), ' '),
		"two envelopes":   append(append([]byte{}, b...), b...),
		"service number":  bytes.Replace(b, []byte(`["chat","mail"]`), []byte(`["chat",1]`), 1),
	} {
		if bytes.Equal(bad, b) {
			t.Fatalf("%s: the near miss is the envelope itself", name)
		}
		if _, ok := directLicensesClaimed(bad); ok {
			t.Errorf("%s: decoded directly: %s", name, bad)
		}
		want, werr := std.Decode(bad)
		got, gerr := reg.Decode(bad)
		if (werr == nil) != (gerr == nil) || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: decoded as %+v (%v), encoding/json: %+v (%v)", name, got, gerr, want, werr)
		}
	}
	if _, ok := directLicensesClaimed(none); !ok {
		t.Fatal("an envelope of no claims is not decoded directly")
	}
	for n := range len(b) {
		if _, ok := directLicensesClaimed(b[:n]); ok {
			t.Fatalf("the first %d bytes decoded directly", n)
		}
	}
	if !strings.Contains(string(b), `"claimed_at":"2026-11-23T12:00:00Z"`) {
		t.Fatal("the near misses miss: the time they replace is not in the envelope")
	}
}
