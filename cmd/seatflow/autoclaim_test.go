package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/seatflow/seatflow/infra/natsjs"
	"github.com/seatflow/seatflow/infra/natstest"
	"github.com/seatflow/seatflow/infra/oracle"
	"github.com/seatflow/seatflow/infra/signin"
)

// acWorld is a running service with tenant contoso, products P and B, the
// auto-claim switch on and policy "Teams" for app teams listing P then B.
type acWorld struct {
	svc    *service
	admin  string
	ingest string
	policy string
	// created is the position of the policy's creation: reads pass it as
	// ?after= so they never race the read model.
	created string
	nc      *nats.Conn
	js      jetstream.JetStream
}

func newACWorld(t *testing.T, pSeats, bSeats int, serveArgs ...string) *acWorld {
	t.Helper()
	return newACWorldIn(t, t.TempDir(), nil, pSeats, bSeats, serveArgs...)
}

// newACWorldWith is newACWorld with tune applied to serve's configuration
// (see startServeWith).
func newACWorldWith(t *testing.T, tune func(*Config), pSeats, bSeats int, serveArgs ...string) *acWorld {
	t.Helper()
	return newACWorldIn(t, t.TempDir(), tune, pSeats, bSeats, serveArgs...)
}

// newACWorldIn is newACWorldWith with serve's data dir chosen by the
// caller.
func newACWorldIn(t *testing.T, dataDir string, tune func(*Config), pSeats, bSeats int, serveArgs ...string) *acWorld {
	t.Helper()
	svc, _ := startServeWith(t, tune, dataDir, serveArgs...)
	w := &acWorld{svc: svc, admin: svc.token(t, "contoso", "gina", "global-admin"), ingest: svc.token(t, "contoso", "idp", "ingest")}
	waitFor(t, 30*time.Second, "readyz", func() bool { return svc.do(t, "GET", "/readyz", "", nil).status == 200 })
	for id, seats := range map[string]int{"P": pSeats, "B": bSeats} {
		svc.do(t, "POST", "/v1/products", w.admin, map[string]any{"product_id": id, "name": "Plan " + id,
			"services": []string{"mail", "chat"}, "licenses": seats, "self_service": "blocked"}).want(t, 201, "")
	}
	r := svc.do(t, "POST", "/v1/policies", w.admin, map[string]any{"name": "Teams", "app": "teams", "products": []map[string]any{
		{"product_id": "P", "disabled_services": []string{"chat"}}, {"product_id": "B"}}}).want(t, 201, "")
	w.policy, w.created = r.body["policy_id"].(string), r.header.Get("Seatflow-Position")
	if w.policy == "" {
		t.Fatalf("no policy_id in %s", r.raw)
	}
	svc.do(t, "PUT", "/v1/settings/auto-claim", w.admin, map[string]any{"enabled": true}).want(t, 200, "")
	w.nc, w.js = svc.connect(t)
	return w
}

type signInMsg struct {
	ID     string    `json:"id"`
	UserID string    `json:"user_id"`
	App    string    `json:"app"`
	At     time.Time `json:"at"`
	Email  string    `json:"email,omitempty"`
}

// publish sends raw bytes to sf.signin.<tenant> with Nats-Msg-Id id.
func (w *acWorld) publish(t *testing.T, tenant, id string, data []byte) {
	t.Helper()
	msg := &nats.Msg{Subject: "sf.signin." + tenant, Data: data, Header: nats.Header{}}
	msg.Header.Set(jetstream.MsgIDHeader, id)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := w.js.PublishMsg(ctx, msg); err != nil {
		t.Fatalf("publish %s (%d bytes): %v", id, len(data), err)
	}
}

func (w *acWorld) signIn(t *testing.T, id, user string, at time.Time) {
	t.Helper()
	b, _ := json.Marshal(signInMsg{ID: id, UserID: user, App: "teams", At: at})
	w.publish(t, "contoso", id, b)
}

type claimed struct {
	UserID    string    `json:"user_id"`
	ProductID string    `json:"product_id"`
	ClaimedAt time.Time `json:"claimed_at"`
}

func (w *acWorld) claims(t *testing.T, query string) []claimed {
	t.Helper()
	sep := "?"
	if strings.Contains(query, "?") {
		sep = "&"
	}
	r := w.svc.do(t, "GET", "/v1/policies/"+w.policy+"/claims"+query+sep+"after="+w.created, w.admin, nil)
	if r.status == 503 { // the read models trail (a busy cluster): callers poll
		return nil
	}
	r.want(t, 200, "")
	var out []claimed
	if err := json.Unmarshal([]byte(r.raw), &out); err != nil {
		t.Fatalf("claims: %v in %s", err, r.raw)
	}
	return out
}

type policyView struct {
	Available int      `json:"available"`
	Enabled   bool     `json:"enabled"`
	Queue     []string `json:"queue"`
	Products  []struct {
		ProductID string `json:"product_id"`
		Available int    `json:"available"`
	} `json:"products"`
}

func (w *acWorld) policyView(t *testing.T) policyView {
	t.Helper()
	r := w.svc.do(t, "GET", "/v1/policies/"+w.policy+"?after="+w.created, w.admin, nil)
	if r.status == 503 { // the read models trail (a busy cluster): callers poll
		return policyView{}
	}
	r.want(t, 200, "")
	var v policyView
	if err := json.Unmarshal([]byte(r.raw), &v); err != nil {
		t.Fatalf("policy: %v in %s", err, r.raw)
	}
	return v
}

// stream reads the whole event stream and has the oracle fold it, failing
// the test on any violation of the invariants (at every position).
func (w *acWorld) stream(t *testing.T) *oracle.Tenant {
	t.Helper()
	var msgs []oracle.Message
	natstest.CheckFor(t, 20*time.Second, 50*time.Millisecond, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var err error
		msgs, err = oracle.Read(ctx, w.js)
		return err
	})
	f := oracle.FoldAll(msgs, true)
	if err := f.Err(); err != nil {
		t.Fatalf("the event stream breaks the invariants:\n%v", err)
	}
	return f.Tenant("contoso")
}

// countEvents counts the events of type typ (of any type: "") of tenant
// contoso on the stream, checking the invariants on the way.
func (w *acWorld) countEvents(t *testing.T, typ string) int {
	t.Helper()
	types := w.stream(t).Types
	if typ != "" {
		return types[typ]
	}
	n := 0
	for _, c := range types {
		n += c
	}
	return n
}

// countClaims counts the claims stored (one per LicenseClaimed, each of a
// LicensesClaimed: claims decided together), checking the invariants on
// the way.
func (w *acWorld) countClaims(t *testing.T) int {
	t.Helper()
	return w.stream(t).ClaimCount()
}

// streamData returns the messages on subject filter of stream (of type
// typ, for events), in stream order.
func (w *acWorld) streamData(t *testing.T, stream, filter, typ string) []*jetstream.RawStreamMsg {
	t.Helper()
	var msgs []*jetstream.RawStreamMsg
	// On a busy cluster a new consumer may not answer at first (no
	// responders): read again.
	natstest.CheckFor(t, 20*time.Second, 50*time.Millisecond, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var err error
		msgs, err = oracle.ReadRaw(ctx, w.js, stream, filter)
		return err
	})
	if typ == "" {
		return msgs
	}
	return slices.DeleteFunc(msgs, func(m *jetstream.RawStreamMsg) bool { return !strings.Contains(string(m.Data), `"type":"`+typ+`"`) })
}

// TestAutoClaimRaceSingleServer: 20 users sign in twice each, concurrently,
// over NATS, on the embedded server.
func TestAutoClaimRaceSingleServer(t *testing.T) {
	t.Parallel()
	testAutoClaimRace(t, newACWorld(t, 3, 2))
}

// TestAutoClaimRaceCluster: the same on a 3-node cluster with 3 replicas.
func TestAutoClaimRaceCluster(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("3-node cluster")
	}
	c := natstest.RunCluster(t, 3)
	testAutoClaimRace(t, newACWorld(t, 3, 2, "--nats-url", c.URLs(), "--replicas", "3"))
}

func testAutoClaimRace(t *testing.T, w *acWorld) {
	at := time.Now().Add(-time.Minute).UTC()
	var wg sync.WaitGroup
	for i := range 20 {
		for j := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				w.signIn(t, fmt.Sprintf("s-%02d-%d", i, j), fmt.Sprintf("u%02d", i), at)
			}()
		}
	}
	wg.Wait()
	var v policyView
	waitFor(t, 60*time.Second, "5 claims and 15 queued", func() bool {
		v = w.policyView(t)
		return len(v.Queue) == 15 && len(w.claims(t, "")) == 5
	})
	got := map[string]int{}
	users := map[string]bool{}
	for _, c := range w.claims(t, "") {
		got[c.ProductID]++
		users[c.UserID] = true
	}
	if got["P"] != 3 || got["B"] != 2 || len(users) != 5 {
		t.Fatalf("claims: got %v by %d users, want P 3, B 2 by 5 users", got, len(users))
	}
	for _, u := range v.Queue {
		if users[u] {
			t.Fatalf("user %s both claimed and queued", u)
		}
	}
	// Arrival order: the order in which each queued user's first sign-in
	// reached the sign-in stream (stored under the tenant's partition).
	var arrival []string
	for _, m := range w.streamData(t, "SEATFLOW_SIGNINS", "sf.signin.contoso.*", "") {
		var s signInMsg
		_ = json.Unmarshal(m.Data, &s)
		if !users[s.UserID] && !slices.Contains(arrival, s.UserID) {
			arrival = append(arrival, s.UserID)
		}
	}
	if !slices.Equal(arrival, v.Queue) {
		t.Fatalf("queue order:\ngot  %v\nwant %v", v.Queue, arrival)
	}
	if n := w.countEvents(t, "UserQueued"); n != 15 {
		t.Fatalf("UserQueued events: got %d, want 15", n)
	}

	// Two more licenses of P: the first two in the queue get them.
	w.svc.do(t, "POST", "/v1/products/P/licenses", w.admin, map[string]any{"add": 2}).want(t, 200, "")
	waitFor(t, 30*time.Second, "two grants", func() bool { return len(w.claims(t, "")) == 7 })
	granted := map[string]string{}
	for _, c := range w.claims(t, "") {
		granted[c.UserID] = c.ProductID
	}
	for _, u := range v.Queue[:2] {
		if granted[u] != "P" {
			t.Fatalf("queue head %s: got product %q, want P (claims %v)", u, granted[u], granted)
		}
	}
	after := w.policyView(t)
	if !slices.Equal(after.Queue, v.Queue[2:]) {
		t.Fatalf("queue after grants: got %v, want %v", after.Queue, v.Queue[2:])
	}
	st := w.stream(t)
	if n := st.ClaimCount(); n != 7 {
		t.Fatalf("claims stored: got %d, want 7", n)
	}
	if !slices.Equal(st.Queues[w.policy], after.Queue) {
		t.Fatalf("queue: stream %v, read model %v", st.Queues[w.policy], after.Queue)
	}
	// Of each user's two sign-ins, one claimed or queued, the other left
	// nothing; a grant claims for the sign-in that queued.
	for i := range 20 {
		var own, grants int
		for j := range 2 {
			s := st.SignIn(fmt.Sprintf("s-%02d-%d", i, j))
			own, grants = own+s.Claims+s.Queued, grants+s.Grants
		}
		if want := map[bool]int{true: 1, false: 0}[slices.Contains(v.Queue[:2], fmt.Sprintf("u%02d", i))]; own != 1 || grants != want {
			t.Errorf("sign-ins of u%02d: %d claims or queuings, %d grants; want 1 and %d", i, own, grants, want)
		}
	}
	// The second sign-in of a granted user changes nothing.
	w.signIn(t, "again-"+v.Queue[0], v.Queue[0], at)
	w.signIn(t, "sentinel", "sentinel", at) // queued (pool full): marks the end
	waitFor(t, 30*time.Second, "the sentinel queued", func() bool { return slices.Contains(w.policyView(t).Queue, "sentinel") })
	if n := w.countClaims(t); n != 7 {
		t.Fatalf("claims stored after repeat sign-ins: got %d, want 7", n)
	}
}

// TestAutoClaimReport: claims backdated by sign-in time across the last
// 100 days, counted against an injected clock.
func TestAutoClaimReport(t *testing.T) {
	now := time.Date(2026, 6, 15, 12, 0, 0, 0, time.UTC)
	w := newACWorldWith(t, newTestClock(now).tune, 10, 10)
	agoDays := []int{0, 0, 3, 6, 10, 29, 50, 89, 95, 99}
	for i, d := range agoDays {
		w.signIn(t, fmt.Sprintf("r%d", i), fmt.Sprintf("r%d", i), now.AddDate(0, 0, -d).Add(-time.Hour))
	}
	waitFor(t, 30*time.Second, "10 claims", func() bool { return len(w.claims(t, "?days=3650")) == 10 })
	for days, want := range map[int]int{1: 2, 7: 4, 30: 6, 90: 8} {
		q := "?days=" + strconv.Itoa(days)
		r := w.svc.do(t, "GET", "/v1/reports/claims"+q, w.admin, nil).want(t, 200, "")
		var rep struct {
			Days     int       `json:"days"`
			From     time.Time `json:"from"`
			To       time.Time `json:"to"`
			Policies []struct {
				PolicyID  string `json:"policy_id"`
				Total     int    `json:"total"`
				ByProduct []struct {
					ProductID string `json:"product_id"`
					Count     int    `json:"count"`
				} `json:"by_product"`
				ByDay []struct {
					Date  string `json:"date"`
					Count int    `json:"count"`
				} `json:"by_day"`
			} `json:"policies"`
		}
		if err := json.Unmarshal([]byte(r.raw), &rep); err != nil {
			t.Fatal(err)
		}
		if rep.Days != days || len(rep.Policies) != 1 || rep.Policies[0].Total != want {
			t.Fatalf("%d days: got %s, want total %d", days, r.raw, want)
		}
		if got := len(w.claims(t, q)); got != want {
			t.Fatalf("%d days: claimed users got %d, want %d", days, got, want)
		}
		// The CSV says the same: per-product and per-day sums.
		res := w.svc.do(t, "GET", "/v1/reports/claims"+q, w.admin, nil, "Accept", "text/csv").want(t, 200, "")
		if ct := res.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
			t.Fatalf("content type %q", ct)
		}
		rows, err := csv.NewReader(strings.NewReader(res.raw)).ReadAll()
		if err != nil || len(rows) < 2 || strings.Join(rows[0], ",") != "policy_id,name,app,date,product_id,count" {
			t.Fatalf("csv: %v %q", err, res.raw)
		}
		byProduct, byDay, total := map[string]int{}, map[string]int{}, 0
		for _, row := range rows[1:] {
			n, _ := strconv.Atoi(row[5])
			if row[0] != w.policy {
				t.Fatalf("csv row for another policy: %v", row)
			}
			total += n
			if n > 0 {
				byProduct[row[4]] += n
				byDay[row[3]] += n
			}
		}
		p := rep.Policies[0]
		jp, jd := map[string]int{}, map[string]int{}
		for _, x := range p.ByProduct {
			jp[x.ProductID] = x.Count
		}
		for _, x := range p.ByDay {
			jd[x.Date] = x.Count
		}
		if total != p.Total || fmt.Sprint(byProduct) != fmt.Sprint(jp) || fmt.Sprint(byDay) != fmt.Sprint(jd) {
			t.Fatalf("%d days: csv %v %v %d, json %v %v %d", days, byProduct, byDay, total, jp, jd, p.Total)
		}
	}
	w.svc.do(t, "GET", "/v1/reports/claims?days=14", w.admin, nil).want(t, 400, "validation_failed")
	w.svc.do(t, "GET", "/v1/reports/claims", w.svc.token(t, "contoso", "lisa", "license-admin"), nil).want(t, 403, "forbidden")
	r := w.svc.do(t, "GET", "/v1/reports/claims", w.admin, nil).want(t, 200, "")
	if r.body["days"] != 90.0 {
		t.Fatalf("default window: got %v, want 90", r.body["days"])
	}
}

// TestAutoClaimTurningOff: turning a policy off, removing a product and
// turning the org switch off each stop new claims and keep old ones.
func TestAutoClaimTurningOff(t *testing.T) {
	t.Parallel()
	w := newACWorld(t, 5, 5)
	signIn := func(id, user string) string {
		r := w.svc.do(t, "POST", "/v1/signins", w.ingest, map[string]any{"id": id, "user_id": user, "app": "teams",
			"at": time.Now().UTC().Format(time.RFC3339)}).want(t, 200, "")
		s, _ := r.body["status"].(string)
		p, _ := r.body["product_id"].(string)
		return s + " " + p
	}
	held := func(user string) string {
		var out []string
		for _, l := range w.svc.do(t, "GET", "/v1/users/"+user+"/licenses", w.admin, nil).want(t, 200, "").list {
			out = append(out, l.(map[string]any)["product_id"].(string))
		}
		sort.Strings(out)
		return strings.Join(out, ",")
	}
	if got := signIn("a1", "alice"); got != "claimed P" {
		t.Fatalf("alice: %q", got)
	}
	// A sign-in naming an email registers the directory user; the claimed
	// users list shows it.
	r := w.svc.do(t, "POST", "/v1/signins", w.ingest, map[string]any{"id": "d1", "user_id": "dana", "app": "teams",
		"at": time.Now().UTC().Format(time.RFC3339), "email": "Dana@Example.com", "display_name": "Dana"}).want(t, 200, "")
	waitFor(t, 10*time.Second, "dana's email", func() bool {
		for _, l := range w.svc.do(t, "GET", "/v1/policies/"+w.policy+"/claims?after="+r.header.Get("Seatflow-Position"), w.admin, nil).want(t, 200, "").list {
			if m := l.(map[string]any); m["user_id"] == "dana" && m["email"] == "dana@example.com" {
				return true
			}
		}
		return false
	})
	w.svc.do(t, "PATCH", "/v1/policies/"+w.policy, w.admin, map[string]any{"enabled": false}).want(t, 200, "")
	if got := signIn("b1", "bob"); got != "no_policy " {
		t.Fatalf("bob with the policy off: %q", got)
	}
	w.svc.do(t, "PATCH", "/v1/policies/"+w.policy, w.admin, map[string]any{"enabled": true, "name": "Teams 2"}).want(t, 200, "")
	w.svc.do(t, "PUT", "/v1/policies/"+w.policy+"/products", w.admin, map[string]any{"products": []map[string]any{{"product_id": "B"}}}).want(t, 200, "")
	if got := signIn("b2", "bob"); got != "claimed B" {
		t.Fatalf("bob after P was removed: %q", got)
	}
	w.svc.do(t, "PUT", "/v1/settings/auto-claim", w.admin, map[string]any{"enabled": false}).want(t, 200, "")
	if got := signIn("c1", "carol"); got != "off " {
		t.Fatalf("carol with the switch off: %q", got)
	}
	r = w.svc.do(t, "GET", "/v1/settings/auto-claim", w.admin, nil).want(t, 200, "")
	if r.body["enabled"] != false {
		t.Fatalf("switch: %s", r.raw)
	}
	pos := r.header.Get("Seatflow-Position")
	waitFor(t, 10*time.Second, "read models", func() bool {
		return w.svc.do(t, "GET", "/v1/policies?after="+pos, w.admin, nil).status == 200
	})
	if got := held("alice") + "|" + held("bob") + "|" + held("carol"); got != "P|B|" {
		t.Fatalf("licenses kept: got %q, want P|B|", got)
	}
	// Bad input and the rules of the routes.
	w.svc.do(t, "POST", "/v1/policies", w.admin, map[string]any{"name": "x", "app": "mail", "products": []map[string]any{}}).want(t, 400, "validation_failed")
	w.svc.do(t, "POST", "/v1/policies", w.admin, map[string]any{"name": "x", "app": "mail", "products": []map[string]any{{"product_id": "nope"}}}).want(t, 400, "validation_failed")
	w.svc.do(t, "POST", "/v1/policies", w.admin, map[string]any{"name": "x", "app": "mail", "products": []map[string]any{{"product_id": "P"}, {"product_id": "P"}}}).want(t, 400, "validation_failed")
	w.svc.do(t, "POST", "/v1/policies", w.admin, map[string]any{"name": "x", "app": "teams", "products": []map[string]any{{"product_id": "P"}}}).want(t, 409, "already_exists")
	w.svc.do(t, "PUT", "/v1/policies/"+w.policy+"/products", w.admin, map[string]any{"products": []map[string]any{}}).want(t, 400, "validation_failed")
	w.svc.do(t, "GET", "/v1/policies/nope", w.admin, nil).want(t, 404, "not_found")
	w.svc.do(t, "GET", "/v1/policies", token(t, "contoso", "lisa", "license-admin"), nil).want(t, 403, "forbidden")
	w.svc.do(t, "POST", "/v1/signins", w.admin, map[string]any{}).want(t, 403, "forbidden")
	w.svc.do(t, "POST", "/v1/signins", w.ingest, map[string]any{"id": "x"}).want(t, 400, "validation_failed")
}

// TestAutoClaimDeadLetters: bad messages land on sf.dlq.signin.<tenant> with
// a reason; the valid sign-ins around them are all claimed.
func TestAutoClaimDeadLetters(t *testing.T) {
	t.Parallel()
	w := newACWorld(t, 20, 0)
	at := time.Now().UTC()
	valid := func(i int) {
		w.signIn(t, fmt.Sprintf("ok%d", i), fmt.Sprintf("v%d", i), at)
	}
	valid(1)
	w.publish(t, "contoso", "bad-garbage", []byte("\x00\xffnot json at all"))
	valid(2)
	w.publish(t, "contoso", "bad-truncated", []byte(`{"id":"t1","user_id":"x","app":"teams","at":"2026-`))
	valid(3)
	w.publish(t, "contoso", "bad-missing", []byte(`{"id":"m1","app":"teams"}`))
	valid(4)
	w.publish(t, "nosuchtenant", "bad-tenant", []byte(`{"id":"n1","user_id":"x","app":"teams","at":"2026-01-01T00:00:00Z"}`))
	valid(5)
	big := `{"id":"big1","user_id":"x","app":"teams","at":"2026-01-01T00:00:00Z","pad":"` + strings.Repeat("x", 2<<20) + `"}`
	bigLands := w.nc.MaxPayload() >= int64(len(big))
	if bigLands {
		w.publish(t, "contoso", "bad-big", []byte(big))
	} else {
		// NATS refuses the publish itself: the message never reaches the
		// subject. The embedded server must allow payloads above 2 MB.
		t.Errorf("the server's max_payload is %d bytes: a 2 MB sign-in cannot be published to reach the dead-letter subject", w.nc.MaxPayload())
	}
	valid(6)
	waitFor(t, 30*time.Second, "6 claims", func() bool { return len(w.claims(t, "")) == 6 })
	var dlq []*jetstream.RawStreamMsg
	want := []string{
		"sf.dlq.signin.contoso malformed_json",
		"sf.dlq.signin.contoso malformed_json",
		"sf.dlq.signin.contoso missing_field",
		"sf.dlq.signin.contoso too_large",
		"sf.dlq.signin.nosuchtenant unknown_tenant",
	}
	if !bigLands {
		want = slices.DeleteFunc(want, func(s string) bool { return strings.HasSuffix(s, "too_large") })
	}
	waitFor(t, 30*time.Second, "the dead letters", func() bool {
		dlq = w.streamData(t, "SEATFLOW_DLQ", "sf.dlq.signin.>", "")
		return len(dlq) >= len(want)
	})
	var got []string
	for _, m := range dlq {
		reason, _, _ := strings.Cut(m.Header.Get("Seatflow-Error"), ":")
		got = append(got, m.Subject+" "+reason)
	}
	sort.Strings(got)
	if !slices.Equal(got, want) {
		t.Fatalf("dead letters:\ngot  %q\nwant %q", got, want)
	}
}

// TestAutoClaimGrantsWhenSeatsAppear: queued users are granted when a
// product is added to the policy and when a license is unassigned; the
// crossing of the low-seat threshold and running out are recorded once.
func TestAutoClaimGrantsWhenSeatsAppear(t *testing.T) {
	t.Parallel()
	w := newACWorld(t, 2, 0, "--pool-low-threshold", "1")
	w.svc.do(t, "PUT", "/v1/users/gina", w.admin, map[string]any{"email": "gina@example.com", "display_name": "Gina", "roles": []string{"global-admin"}}).want(t, 200, "")
	w.svc.do(t, "PUT", "/v1/users/lisa", w.admin, map[string]any{"email": "lisa@example.com", "display_name": "Lisa", "roles": []string{"license-admin"}}).want(t, 200, "")
	at := time.Now().UTC()
	for _, u := range []string{"u1", "u2", "u3", "u4"} {
		w.signIn(t, "s-"+u, u, at)
	}
	waitFor(t, 30*time.Second, "2 claims, 2 queued", func() bool {
		return len(w.claims(t, "")) == 2 && len(w.policyView(t).Queue) == 2
	})
	if got := w.policyView(t).Queue; !slices.Equal(got, []string{"u3", "u4"}) {
		t.Fatalf("queue: got %v", got)
	}
	w.svc.do(t, "POST", "/v1/products", w.admin, map[string]any{"product_id": "C", "name": "Plan C", "licenses": 1, "self_service": "blocked"}).want(t, 201, "")
	w.svc.do(t, "PUT", "/v1/policies/"+w.policy+"/products", w.admin, map[string]any{"products": []map[string]any{
		{"product_id": "P"}, {"product_id": "B"}, {"product_id": "C"}}}).want(t, 200, "")
	waitFor(t, 30*time.Second, "u3 granted C", func() bool { return len(w.claims(t, "")) == 3 })
	w.svc.do(t, "DELETE", "/v1/products/P/assignments/u1", w.admin, nil).want(t, 200, "")
	waitFor(t, 30*time.Second, "u4 granted P", func() bool { return len(w.claims(t, "")) == 4 })
	got := map[string]string{}
	for _, c := range w.claims(t, "") {
		if c.UserID != "u1" || c.ProductID != "P" {
			got[c.UserID] = c.ProductID
		}
	}
	if fmt.Sprint(got) != "map[u2:P u3:C u4:P]" {
		t.Fatalf("grants: got %v", got)
	}
	if v := w.policyView(t); len(v.Queue) != 0 || v.Available != 0 {
		t.Fatalf("policy after grants: %+v", v)
	}
	// P fell to the threshold of 1 free seat once (u1's claim); the policy
	// ran out three times: u2 took P's last seat, u3 C's, u4 P's freed one.
	if low, out := w.countEvents(t, "PoolLow"), w.countEvents(t, "PolicyExhausted"); low != 1 || out != 3 {
		t.Fatalf("alerts: got %d PoolLow and %d PolicyExhausted, want 1 and 3", low, out)
	}
	// Each alert is one pool.low email to the global admin, and only to her.
	var alerts []string
	waitFor(t, 30*time.Second, "4 pool.low notifications", func() bool {
		alerts = nil
		for _, m := range w.streamData(t, "SEATFLOW_NOTIFY", "sf.notify.contoso.email", "") {
			var n struct {
				Kind string   `json:"kind"`
				To   []string `json:"to"`
			}
			_ = json.Unmarshal(m.Data, &n)
			if n.Kind == "pool.low" {
				alerts = append(alerts, strings.Join(n.To, ","))
			}
		}
		return len(alerts) >= 4
	})
	if strings.Join(alerts, " ") != "gina@example.com gina@example.com gina@example.com gina@example.com" {
		t.Fatalf("pool.low recipients: %v", alerts)
	}
}

// TestAutoClaimSurvivesRestart: after a restart on the same data the
// durable sign-in consumer goes on where it stopped (nothing is claimed
// twice), the queue is still there, and seats bought then are granted.
func TestAutoClaimSurvivesRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	svc, stop := startServe(t, dir)
	w := &acWorld{svc: svc, admin: token(t, "contoso", "gina", "global-admin")}
	waitFor(t, 30*time.Second, "readyz", func() bool { return svc.do(t, "GET", "/readyz", "", nil).status == 200 })
	svc.do(t, "POST", "/v1/products", w.admin, map[string]any{"product_id": "P", "name": "Plan P", "licenses": 1, "self_service": "blocked"}).want(t, 201, "")
	r := svc.do(t, "POST", "/v1/policies", w.admin, map[string]any{"name": "Teams", "app": "teams", "products": []map[string]any{{"product_id": "P"}}}).want(t, 201, "")
	w.policy, w.created = r.body["policy_id"].(string), r.header.Get("Seatflow-Position")
	svc.do(t, "PUT", "/v1/settings/auto-claim", w.admin, map[string]any{"enabled": true}).want(t, 200, "")
	w.nc, w.js = svc.connect(t)
	at := time.Now().UTC()
	w.signIn(t, "s1", "u1", at)
	w.signIn(t, "s2", "u2", at)
	waitFor(t, 30*time.Second, "u1 claimed, u2 queued", func() bool {
		return len(w.claims(t, "")) == 1 && len(w.policyView(t).Queue) == 1
	})
	w.nc.Close()
	stop()

	svc, _ = startServe(t, dir)
	w.svc = svc
	waitFor(t, 30*time.Second, "readyz", func() bool { return svc.do(t, "GET", "/readyz", "", nil).status == 200 })
	w.nc, w.js = svc.connect(t)
	if q := w.policyView(t).Queue; !slices.Equal(q, []string{"u2"}) {
		t.Fatalf("queue after restart: %v", q)
	}
	svc.do(t, "POST", "/v1/products/P/licenses", w.admin, map[string]any{"add": 1}).want(t, 200, "")
	w.signIn(t, "s3", "u3", at)
	waitFor(t, 30*time.Second, "u2 granted, u3 queued", func() bool {
		return len(w.claims(t, "")) == 2 && slices.Equal(w.policyView(t).Queue, []string{"u3"})
	})
	if n := w.countClaims(t); n != 2 {
		t.Fatalf("claims stored: got %d, want 2", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// The tenant's partition consumer delivered each of the three
	// sign-ins once: the restart went on where it stopped.
	delivered := uint64(0)
	for n := range natsjs.SigninPartitions {
		cons, err := w.js.Consumer(ctx, natsjs.StreamSignins, signin.ConsumerName(signin.DefaultDurable, n))
		if err != nil {
			t.Fatalf("durable consumer %d: %v", n, err)
		}
		info, err := cons.Info(ctx)
		if err != nil || info.Config.Durable != signin.ConsumerName(signin.DefaultDurable, n) {
			t.Fatalf("durable consumer: %+v %v", info, err)
		}
		delivered += info.Delivered.Consumer
	}
	if delivered != 3 {
		t.Fatalf("sign-in deliveries: got %d, want 3", delivered)
	}
}

// TestAutoClaimDemo: --demo gives the demo tenant one enabled policy and
// turns auto-claim on, idempotently; a sign-in to its app claims E3.
func TestAutoClaimDemo(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	svc, stop := startServe(t, dir, "--demo")
	stop()
	svc, _ = startServe(t, dir, "--demo")
	admin := token(t, "demo", "ada", "global-admin")
	waitFor(t, 30*time.Second, "readyz", func() bool { return svc.do(t, "GET", "/readyz", "", nil).status == 200 })
	list := svc.do(t, "GET", "/v1/policies", admin, nil).want(t, 200, "").list
	if len(list) != 1 || list[0].(map[string]any)["name"] != "Teams users" || list[0].(map[string]any)["enabled"] != true {
		t.Fatalf("demo policies: %v", list)
	}
	if r := svc.do(t, "GET", "/v1/settings/auto-claim", admin, nil).want(t, 200, ""); r.body["enabled"] != true {
		t.Fatalf("demo switch: %s", r.raw)
	}
	r := svc.do(t, "POST", "/v1/signins", token(t, "demo", "idp", "ingest"), map[string]any{"id": "demo-s1", "user_id": "zoe", "app": "teams",
		"at": time.Now().UTC().Format(time.RFC3339)}).want(t, 200, "")
	if r.body["status"] != "claimed" || r.body["product_id"] != "e3" {
		t.Fatalf("demo sign-in: %s", r.raw)
	}
}

// TestAutoClaimFullDeadLetterStream: with the dead-letter stream far smaller
// than the poison sent, every poison sign-in is still put aside (the oldest
// dead letters make room) and every valid sign-in is claimed.
func TestAutoClaimFullDeadLetterStream(t *testing.T) {
	t.Parallel()
	w := newACWorld(t, 20, 0, "--dlq-max-bytes", "8KiB")
	at := time.Now().UTC()
	pad := strings.Repeat("x", 1000)
	for i := range 40 {
		w.publish(t, "contoso", fmt.Sprintf("poison-%d", i), []byte(`{"id":"p`+fmt.Sprint(i)+`","app":"teams","pad":"`+pad+`"}`))
		if i%4 == 0 {
			w.signIn(t, fmt.Sprintf("ok%d", i), fmt.Sprintf("v%d", i), at)
		}
	}
	waitFor(t, 30*time.Second, "10 claims", func() bool { return len(w.claims(t, "")) == 10 })
	_, js := w.svc.connect(t)
	waitFor(t, 30*time.Second, "40 dead letters written", func() bool {
		s, err := js.Stream(context.Background(), "SEATFLOW_DLQ")
		if err != nil {
			return false
		}
		info, err := s.Info(context.Background())
		return err == nil && info.State.LastSeq == 40 && info.State.Bytes <= 8<<10
	})
}
