package events_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/seatflow/seatflow/events"
)

var update = flag.Bool("update", false, "rewrite the golden files of current versions")

var at = time.Date(2026, 11, 1, 9, 30, 0, 0, time.UTC)

// samples holds one example payload of every current event type, by
// aggregate. The golden test fails if a registered type has none.
var samples = []events.Data{
	// product
	events.ProductAdded{ProductID: "e5", Name: "Office 365 E5", Services: []string{"exchange", "teams"}, Licenses: 50, SelfService: events.SelfServiceBlocked},
	events.LicensesPurchased{ProductID: "e5", Count: 10},
	events.LicensesRemoved{ProductID: "e5", Count: 2},
	events.SelfServicePurchaseChanged{ProductID: "e5", SelfService: events.SelfServiceAllowed},
	events.LicenseAssigned{ProductID: "e5", UserID: "u1", DisabledServices: []string{"teams"}, Source: events.Source{Kind: events.SourceRequest, Ref: "01JREQ"}},
	events.LicenseClaimed{ProductID: "e5", UserID: "u2", PolicyID: "p1", App: "teams", DisabledServices: []string{}, SigninID: "s-1", ClaimedAt: at},
	events.LicenseUnassigned{ProductID: "e5", UserID: "u1", Reason: events.UnassignedUserDeactivated},
	events.LicensesClaimed{ProductID: "e5", PolicyID: "p1", App: "teams", Claims: []events.Claim{
		{UserID: "u2", DisabledServices: []string{}, SigninID: "s-1", ClaimedAt: at},
		{UserID: "u3", DisabledServices: []string{"chat"}, SigninID: "s-2", ClaimedAt: at}}},
	events.LicensesAssigned{ProductID: "e5", Assignments: []events.Assignment{
		{UserID: "u2", DisabledServices: []string{}, Source: events.Source{Kind: events.SourceManual}, Actor: "admin", CommandID: "cmd-1"},
		{UserID: "u3", DisabledServices: []string{"chat"}, Source: events.Source{Kind: events.SourceManual}, Actor: "lena", CommandID: "cmd-2"}}},
	events.PoolLow{PolicyID: "p1", ProductID: "e5", Available: 2, Threshold: 2},
	events.PolicyExhausted{PolicyID: "p1", ProductID: "e5"},
	events.LicenseReclaimWarned{ProductID: "e5", UserID: "u2", PolicyID: "p1", App: "teams", LastSeen: at, ReclaimAt: at.AddDate(0, 0, 30)},
	events.LicenseReclaimed{ProductID: "e5", UserID: "u2", PolicyID: "p1", App: "teams", LastSeen: at},
	events.PoolForecastWarned{ProductID: "e5", RunOutAt: at.AddDate(0, 0, 12), DaysLeft: 12, Available: 14, Queued: 2,
		ClaimsPerDay7: 1, ClaimsPerDay30: 0.5, BuyToCover30Days: 18, HorizonDays: 14},
	events.PoolForecastCleared{ProductID: "e5", RunOutAt: ptr(at.AddDate(0, 0, 40)), DaysLeft: ptr(40.0), Available: 40},
	// org
	events.RequestProcessChanged{Mode: events.ProcessOwn, Message: "Use the IT portal", Link: "https://it.example.com/licenses"},
	events.AutoClaimSettingChanged{Enabled: true},
	events.AppPolicyBound{App: "teams", PolicyID: "p1"},
	events.AppPolicyUnbound{App: "teams", PolicyID: "p1"},
	// policy
	events.PolicyCreated{PolicyID: "p1", Name: "Teams users", App: "teams", Products: []events.PolicyProduct{{ProductID: "e5", DisabledServices: []string{}}, {ProductID: "e3", DisabledServices: []string{"exchange"}}}, Enabled: true},
	events.PolicyRenamed{PolicyID: "p1", Name: "Teams"},
	events.PolicyStatusChanged{PolicyID: "p1", Enabled: false},
	events.PolicyProductsChanged{PolicyID: "p1", Products: []events.PolicyProduct{{ProductID: "e3", DisabledServices: []string{}}}},
	events.UserQueued{PolicyID: "p1", UserID: "u9", SigninID: "s-9", SignedInAt: at, Reason: events.QueueDailyCap},
	events.QueuedUserGranted{PolicyID: "p1", UserID: "u9", ProductID: "e5"},
	events.QueuedUserDropped{PolicyID: "p1", UserID: "u9", Reason: events.DropAlreadyLicensed},
	events.PolicyLimitsChanged{PolicyID: "p1", DailyCap: ptr(10), TotalCap: ptr(200), ReclaimAfterDays: ptr(30), ReclaimWarnDays: nil},
	events.PolicyClaimsCounted{PolicyID: "p1", Day: "2026-11-01", Today: 3, Total: 41},
	// user
	events.UserRegistered{UserID: "u1", Email: "u1@example.com", DisplayName: "User One", Roles: []string{"license-admin"}},
	events.UserProvisioned{UserID: "u1", UserName: "u1@example.com", ExternalID: "00ujl29u0le5T6Aj10h7", Active: true},
	events.UserDeleted{UserID: "u1"},
	// group
	events.GroupChanged{GroupID: "g1", Name: "Sales", Members: []string{"u1"}, Products: []events.PolicyProduct{{ProductID: "e5", DisabledServices: []string{}}}},
	events.GroupDeleted{GroupID: "g1"},
	events.IdentityAppsMapped{Mappings: []events.IdentityApp{{Provider: events.ProviderEntra, ProviderAppID: "de8bc8b5-d9f9-48b1-a8ad-b748da725064", App: "teams"}, {Provider: events.ProviderOkta, ProviderAppID: "0oa1a35nndfI7w1yp1d8", App: "teams"}}},
	// request
	events.RequestSubmitted{RequestID: "r1", ProductID: "e5", Requester: "u1", Users: []string{"u1", "u2"}, Justification: "project X", ExpiresAt: at.AddDate(0, 0, 30)},
	events.RequestShared{RequestID: "r1", Recipients: []events.ShareRecipient{{Email: "boss@example.com", UserID: "boss", ShareID: "sh1"}}, Subject: "Please decide", Message: "Thoughts?", ExpiresAt: at.AddDate(0, 0, 7)},
	events.ShareAnswered{RequestID: "r1", ShareID: "sh1", Email: "boss@example.com", Recommendation: "approve", Comment: "fine"},
	events.RequestApproved{RequestID: "r1", ProductID: "e3", Approved: []string{"u1"}, Rejected: []string{"u2"}, AlreadyLicensed: []string{}, DisabledServices: []string{"teams"}, Message: "enjoy"},
	events.RequestDenied{RequestID: "r2", Rejected: []string{"u3"}, Message: "no budget"},
	events.RequestExpired{RequestID: "r3"},
	events.RequestExpiryWarned{RequestID: "r1", ExpiresAt: at.AddDate(0, 0, 30)},
}

func ptr[T any](v T) *T { return &v }

func sampleEnvelope(d events.Data) events.Envelope {
	return events.New("01JAAAAAAAAAAAAAAAAAAAAAAA", "contoso", events.Aggregate{Kind: events.KindProduct, ID: "e5"}, at,
		events.Meta{Actor: "admin", CommandID: "cmd-1", CorrelationID: "corr-1", CausationID: "cause-1"}, d)
}

func goldenPath(name string, version int) string {
	return filepath.Join("testdata", "golden", fmt.Sprintf("%s.v%d.json", name, version))
}

// TestGolden proves every version of every type still decodes from the file
// written when it was published, and that the current version encodes to
// exactly that file.
func TestGolden(t *testing.T) {
	reg := events.Default()
	byType := map[string]events.Data{}
	for _, s := range samples {
		byType[s.EventType()] = s
	}
	for _, ti := range reg.Types() {
		t.Run(ti.Name, func(t *testing.T) {
			sample, ok := byType[ti.Name]
			if !ok {
				t.Fatalf("no sample for registered type %s", ti.Name)
			}
			if sample.EventVersion() != ti.Version {
				t.Fatalf("sample is v%d, registry has v%d", sample.EventVersion(), ti.Version)
			}
			enc, err := events.Encode(sampleEnvelope(sample))
			if err != nil {
				t.Fatal(err)
			}
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, enc, "", "  "); err != nil {
				t.Fatal(err)
			}
			pretty.WriteByte('\n')
			cur := goldenPath(ti.Name, ti.Version)
			if *update {
				if err := os.WriteFile(cur, pretty.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(cur)
			if err != nil {
				t.Fatalf("golden file for the current version: %v (run go test ./events -update once, then never edit it)", err)
			}
			if !bytes.Equal(pretty.Bytes(), want) {
				t.Fatalf("encoding of %s v%d changed; a published type is never edited, add a version\ngot:\n%s\nwant:\n%s", ti.Name, ti.Version, pretty.Bytes(), want)
			}
			for _, v := range reg.Versions(ti.Name) {
				b, err := os.ReadFile(goldenPath(ti.Name, v))
				if err != nil {
					t.Fatalf("golden file of v%d: %v", v, err)
				}
				env, err := reg.Decode(b)
				if err != nil {
					t.Fatalf("decode v%d golden: %v", v, err)
				}
				if env.Version != ti.Version || env.Type != ti.Name {
					t.Fatalf("decoded v%d as %s v%d, want %s v%d", v, env.Type, env.Version, ti.Name, ti.Version)
				}
			}
		})
	}
	// No golden file may be orphaned: each names a version Decode accepts.
	files, _ := filepath.Glob(filepath.Join("testdata", "golden", "*.json"))
	for _, f := range files {
		var name string
		var v int
		base := strings.TrimSuffix(filepath.Base(f), ".json")
		i := strings.LastIndex(base, ".v")
		name = base[:i]
		fmt.Sscanf(base[i+2:], "%d", &v)
		if !reflect.DeepEqual(true, containsInt(reg.Versions(name), v)) {
			t.Errorf("golden file %s names a version the registry cannot decode", f)
		}
	}
}

func containsInt(xs []int, x int) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}

func TestRoundTrip(t *testing.T) {
	reg := events.Default()
	for _, s := range samples {
		env := sampleEnvelope(s)
		b, err := events.Encode(env)
		if err != nil {
			t.Fatal(err)
		}
		got, err := reg.Decode(b)
		if err != nil {
			t.Fatalf("%s: %v", s.EventType(), err)
		}
		if !reflect.DeepEqual(got, env) {
			t.Fatalf("%s: got %+v, want %+v", s.EventType(), got, env)
		}
	}
}

func TestUpcastProductAddedV1(t *testing.T) {
	reg := events.Default()
	b, err := os.ReadFile(goldenPath(events.TypeProductAdded, 1))
	if err != nil {
		t.Fatal(err)
	}
	env, err := reg.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := env.Data.(events.ProductAdded)
	if !ok {
		t.Fatalf("data is %T, want events.ProductAdded", env.Data)
	}
	want := events.ProductAdded{ProductID: "e5", Name: "Office 365 E5", Services: []string{}, Licenses: 25, SelfService: events.SelfServiceAllowed}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if env.Version != 2 {
		t.Fatalf("version: got %d, want 2", env.Version)
	}
}

func TestUpcastUserQueuedV1(t *testing.T) {
	b, err := os.ReadFile(goldenPath(events.TypeUserQueued, 1))
	if err != nil {
		t.Fatal(err)
	}
	env, err := events.Default().Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := env.Data.(events.UserQueued)
	if !ok {
		t.Fatalf("data is %T, want events.UserQueued", env.Data)
	}
	if got.Reason != events.QueueNoSeats || got.UserID != "u9" || env.Version != 2 {
		t.Fatalf("got %+v (v%d), want reason %q at v2", got, env.Version, events.QueueNoSeats)
	}
}

func TestDecodeErrors(t *testing.T) {
	reg := events.Default()
	good, _ := events.Encode(sampleEnvelope(samples[0]))
	mutate := func(f func(m map[string]any)) []byte {
		var m map[string]any
		_ = json.Unmarshal(good, &m)
		f(m)
		b, _ := json.Marshal(m)
		return b
	}
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"garbage", []byte("not json"), events.ErrMalformed},
		{"truncated", good[:len(good)/2], events.ErrMalformed},
		{"trailing", append(append([]byte{}, good...), []byte(`{}`)...), events.ErrMalformed},
		{"unknown type", mutate(func(m map[string]any) { m["type"] = "SomethingHappened" }), events.ErrUnknownType},
		{"future version", mutate(func(m map[string]any) { m["version"] = 99 }), events.ErrUnknownType},
		{"zero version", mutate(func(m map[string]any) { m["version"] = 0 }), events.ErrUnknownType},
		{"unknown envelope field", mutate(func(m map[string]any) { m["extra"] = 1 }), events.ErrMalformed},
		{"unknown data field", mutate(func(m map[string]any) { m["data"].(map[string]any)["extra"] = 1 }), events.ErrMalformed},
		{"wrong data shape", mutate(func(m map[string]any) { m["data"] = []int{1} }), events.ErrMalformed},
		{"null data", mutate(func(m map[string]any) { m["data"] = nil }), events.ErrMalformed},
		{"bad tenant", mutate(func(m map[string]any) { m["tenant"] = "a.b" }), events.ErrMalformed},
		{"wildcard id", mutate(func(m map[string]any) { m["aggregate"].(map[string]any)["id"] = "*" }), events.ErrMalformed},
		{"no command id", mutate(func(m map[string]any) { m["command_id"] = "" }), events.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := reg.Decode(tt.in)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}

func TestEncodeRejectsMismatchedEnvelope(t *testing.T) {
	env := sampleEnvelope(samples[0])
	env.Version = 1
	if _, err := events.Encode(env); err == nil {
		t.Fatal("encode accepted an envelope whose version disagrees with its data")
	}
}

func TestSubject(t *testing.T) {
	agg := events.Aggregate{Kind: events.KindProduct, ID: "e5"}
	s := events.Subject("contoso", agg)
	if s != "sf.evt.contoso.product.e5" {
		t.Fatalf("got %q", s)
	}
	tenant, got, err := events.ParseSubject(s)
	if err != nil || tenant != "contoso" || got != agg {
		t.Fatalf("got %q %+v %v", tenant, got, err)
	}
	for _, bad := range []string{"sf.evt.contoso.product", "sf.evt.contoso.nope.e5", "sf.evt.Contoso.product.e5", "sf.x.contoso.product.e5"} {
		if _, _, err := events.ParseSubject(bad); err == nil {
			t.Errorf("ParseSubject(%q) accepted it", bad)
		}
	}
}

func FuzzDecode(f *testing.F) {
	reg := events.Default()
	for _, s := range samples {
		b, _ := events.Encode(sampleEnvelope(s))
		f.Add(b)
	}
	f.Add([]byte(`{"type":"ProductAdded","version":1,"data":{}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		env, err := reg.Decode(b)
		if err != nil {
			if !errors.Is(err, events.ErrMalformed) && !errors.Is(err, events.ErrUnknownType) {
				t.Fatalf("error %v wraps neither sentinel", err)
			}
			return
		}
		// Whatever decodes must encode and decode to the same envelope.
		again, err := events.Encode(env)
		if err != nil {
			t.Fatalf("decoded envelope does not encode: %v", err)
		}
		env2, err := reg.Decode(again)
		if err != nil {
			t.Fatalf("re-encoded envelope does not decode: %v", err)
		}
		if !reflect.DeepEqual(env, env2) {
			t.Fatalf("round trip changed the envelope:\n%+v\n%+v", env, env2)
		}
	})
}

// BenchmarkDecodeClaims decodes a LicensesClaimed of 250 claims, the
// largest event a sign-in batch stores.
func BenchmarkDecodeClaims(b *testing.B) {
	e := events.LicensesClaimed{ProductID: "P", PolicyID: "01JABCDEFGHJKMNPQRSTVWXYZ0", App: "teams"}
	for i := range 250 {
		e.Claims = append(e.Claims, events.Claim{UserID: fmt.Sprintf("u%06d", i), DisabledServices: []string{}, SigninID: fmt.Sprintf("s-%d", i), ClaimedAt: at})
	}
	data, err := events.Encode(sampleEnvelope(e))
	if err != nil {
		b.Fatal(err)
	}
	reg := events.Default()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := reg.Decode(data); err != nil {
			b.Fatal(err)
		}
	}
}
