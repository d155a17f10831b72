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

// singleEnvelopes are LicenseClaimed and LicenseAssigned envelopes as
// events.Encode writes them, with and without their optional keys.
func singleEnvelopes(t testing.TB) [][]byte {
	var out [][]byte
	at := time.Date(2026, 11, 23, 12, 0, 0, 123456789, time.UTC)
	for i, d := range []events.Data{
		events.LicenseClaimed{ProductID: "P", UserID: "u1", PolicyID: "pol", App: "teams", DisabledServices: []string{}, SigninID: "s1", ClaimedAt: at},
		events.LicenseClaimed{ProductID: "P", UserID: "u1", PolicyID: "pol", App: "teams", ClaimedAt: at.In(time.FixedZone("", -3600))},
		events.LicenseClaimed{ProductID: "P", UserID: "u1", DisabledServices: []string{"chat", "mail"}},
		events.LicenseAssigned{ProductID: "P", UserID: "u1", DisabledServices: []string{}, Source: events.Source{Kind: events.SourceManual}},
		events.LicenseAssigned{ProductID: "P", UserID: "u1", DisabledServices: []string{"chat"}, Source: events.Source{Kind: events.SourceGroup, Ref: "g1"}},
		events.LicenseAssigned{ProductID: "P", UserID: "u1", Source: events.Source{Kind: events.SourceRequest, Ref: "r1"}},
	} {
		meta := events.Meta{Actor: "ada", CommandID: "cmd", CorrelationID: "corr"}
		if i%2 == 1 {
			meta = events.Meta{CommandID: "cmd", CausationID: "cause"}
		}
		b, err := events.Encode(events.New(fmt.Sprintf("ev%d", i), "contoso", events.Aggregate{Kind: events.KindProduct, ID: "P"}, at, meta, d))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// directOf is the direct decoder of b's type.
func directOf(t *testing.T, b []byte) func([]byte) (events.Envelope, bool) {
	switch {
	case bytes.Contains(b, []byte(`"type":"`+events.TypeLicensesClaimed+`"`)):
		return directLicensesClaimed
	case bytes.Contains(b, []byte(`"type":"`+events.TypeLicenseClaimed+`"`)):
		return directLicenseClaimed
	case bytes.Contains(b, []byte(`"type":"`+events.TypeLicenseAssigned+`"`)):
		return directLicenseAssigned
	}
	t.Fatalf("no direct decoder for %s", b)
	return nil
}

// TestDirect: every LicensesClaimed, LicenseClaimed and LicenseAssigned as
// events.Encode writes it is decoded by hand, to exactly what
// encoding/json makes of it.
func TestDirect(t *testing.T) {
	std := events.Default()
	for _, b := range append(claimsEnvelopes(t), singleEnvelopes(t)...) {
		want, err := std.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := directOf(t, b)(b)
		if !ok {
			t.Fatalf("%s: not decoded directly", b)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s:\ngot  %#v\nwant %#v", b, got, want)
		}
	}
}

// TestDirectLeavesTheRest: what is not in the form events.Encode writes
// (or not a whole envelope) is left to the general path, which decodes it
// or says why not; never decoded differently.
func TestDirectLeavesTheRest(t *testing.T) {
	std, reg := events.Default(), Registry()
	all := claimsEnvelopes(t)
	b, none := all[len(all)-1], all[len(all)-3]
	singles := singleEnvelopes(t)
	claimed, assigned := singles[0], singles[4]
	near := map[string][]byte{
		"claimed: space":          bytes.Replace(claimed, []byte(`"app":`), []byte(`"app" :`), 1),
		"claimed: escape":         bytes.Replace(claimed, []byte(`"u1"`), []byte(`"u\/1"`), 1),
		"claimed: keys reordered": bytes.Replace(claimed, []byte(`"policy_id":"pol","app":"teams"`), []byte(`"app":"teams","policy_id":"pol"`), 1),
		"claimed: unknown key":    bytes.Replace(claimed, []byte(`"signin_id"`), []byte(`"signin"`), 1),
		"claimed: key missing":    bytes.Replace(claimed, []byte(`"app":"teams",`), nil, 1),
		"claimed: data of two":    bytes.Replace(claimed, []byte(`"user_id":"u1"`), []byte(`"user_id":"u1","claims":[]`), 1),
		"assigned: ref null":      bytes.Replace(assigned, []byte(`"ref":"g1"`), []byte(`"ref":null`), 1),
		"assigned: source extra":  bytes.Replace(assigned, []byte(`"ref":"g1"`), []byte(`"ref":"g1","x":""`), 1),
		"assigned: trailing":      append(append([]byte{}, assigned...), '}'),
		"assigned: not ASCII":     bytes.Replace(assigned, []byte(`"g1"`), []byte(`"g\u00e91"`), 1),
	}
	for n := range len(claimed) {
		if _, ok := directLicenseClaimed(claimed[:n]); ok {
			t.Fatalf("the first %d bytes of a LicenseClaimed decoded directly", n)
		}
	}
	for n := range len(assigned) {
		if _, ok := directLicenseAssigned(assigned[:n]); ok {
			t.Fatalf("the first %d bytes of a LicenseAssigned decoded directly", n)
		}
	}
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
		near[name] = bad
	}
	for name, bad := range near {
		for _, good := range append([][]byte{b, none}, singles...) {
			if bytes.Equal(bad, good) {
				t.Fatalf("%s: the near miss is an envelope itself", name)
			}
		}
		if _, ok := directOf(t, bad)(bad); ok {
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
