package main

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/infra/natstest"
)

// rqWorld is a running service with tenant contoso: admins ada
// (global-admin) and lia (license-admin), users u1..u3 and boss, products
// e5 (services mail, chat, teams; 10 seats) and e3 (mail, chat; 2 seats),
// both with self-service purchase blocked, and visio (allowed).
type rqWorld struct {
	svc   *service
	dir   string
	tune  func(*Config) // of serve's configuration (see startServeWith)
	stop  func()
	admin string
	lia   string
	reads *acWorld // for its stream readers
	last  string   // position of the last request submitted, for ?after=
}

func newRQWorld(t *testing.T) *rqWorld {
	t.Helper()
	return newRQWorldWith(t, nil)
}

// newRQWorldWith is newRQWorld with tune applied to serve's configuration.
func newRQWorldWith(t *testing.T, tune func(*Config)) *rqWorld {
	t.Helper()
	w := &rqWorld{dir: t.TempDir(), tune: tune}
	w.start(t)
	w.admin, w.lia = w.svc.token(t, "contoso", "ada", "global-admin"), w.svc.token(t, "contoso", "lia", "license-admin")
	for _, u := range []struct {
		id    string
		roles []string
	}{{"ada", []string{"global-admin"}}, {"lia", []string{"license-admin"}}, {"u1", nil}, {"u2", nil}, {"u3", nil}, {"boss", nil}} {
		body := map[string]any{"email": u.id + "@example.com", "display_name": "User " + u.id}
		if u.roles != nil {
			body["roles"] = u.roles
		}
		w.svc.do(t, "PUT", "/v1/users/"+u.id, w.admin, body).want(t, 200, "")
	}
	for _, p := range []map[string]any{
		{"product_id": "e5", "name": "Office 365 E5", "services": []string{"mail", "chat", "teams"}, "licenses": 10, "self_service": "blocked"},
		{"product_id": "e3", "name": "Office 365 E3", "services": []string{"mail", "chat"}, "licenses": 2, "self_service": "blocked"},
		{"product_id": "visio", "name": "Visio", "services": []string{}, "licenses": 2, "self_service": "allowed"},
	} {
		w.svc.do(t, "POST", "/v1/products", w.admin, p).want(t, 201, "")
	}
	return w
}

func (w *rqWorld) start(t *testing.T) {
	t.Helper()
	w.svc, w.stop = startServeWith(t, w.tune, w.dir, "--expiry-interval", "20ms")
	waitFor(t, 30*time.Second, "readyz", func() bool { return w.svc.do(t, "GET", "/readyz", "", nil).status == 200 })
	_, js := w.svc.connect(t)
	w.reads = &acWorld{js: js}
}

func (w *rqWorld) restart(t *testing.T) {
	t.Helper()
	w.stop()
	w.start(t)
}

// submit posts a request as user for users and returns its id.
func (w *rqWorld) submit(t *testing.T, user, product string, users ...string) string {
	t.Helper()
	r := w.svc.do(t, "POST", "/v1/requests", w.svc.token(t, "contoso", user, "user"),
		map[string]any{"product_id": product, "users": users, "justification": "new project"}).want(t, 201, "")
	id, _ := r.body["request_id"].(string)
	if id == "" || r.header.Get("Seatflow-Position") == "" {
		t.Fatalf("no request_id or position: %s", r.raw)
	}
	w.last = r.header.Get("Seatflow-Position")
	return id
}

// events counts the events on the tenant's stream subjects.
func (w *rqWorld) eventCount(t *testing.T) int {
	t.Helper()
	return len(w.reads.streamData(t, "SEATFLOW_EVENTS", "sf.evt.>", ""))
}

// typesOf lists the event types stored on one aggregate's subject.
func (w *rqWorld) typesOf(t *testing.T, subject string) []string {
	t.Helper()
	var out []string
	for _, m := range w.reads.streamData(t, "SEATFLOW_EVENTS", subject, "") {
		var e struct {
			Type string `json:"type"`
		}
		_ = json.Unmarshal(m.Data, &e)
		out = append(out, e.Type)
	}
	return out
}

type note struct {
	ID      string            `json:"id"`
	Kind    string            `json:"kind"`
	To      []string          `json:"to"`
	Subject string            `json:"subject"`
	Text    string            `json:"text"`
	Refs    map[string]string `json:"refs"`
	EventID string            `json:"event_id"`
	msgID   string
}

// notes reads every notification of tenant contoso.
func (w *rqWorld) notes(t *testing.T) []note {
	t.Helper()
	var out []note
	for _, m := range w.reads.streamData(t, "SEATFLOW_NOTIFY", "sf.notify.contoso.email", "") {
		var n note
		if err := json.Unmarshal(m.Data, &n); err != nil {
			t.Fatalf("notification %s: %v", m.Data, err)
		}
		n.msgID = m.Header.Get(jetstream.MsgIDHeader)
		out = append(out, n)
	}
	return out
}

// tally counts notifications by "kind to" for a request.
func tally(ns []note, request string) map[string]int {
	out := map[string]int{}
	for _, n := range ns {
		if n.Refs["request_id"] == request {
			out[n.Kind+" "+strings.Join(n.To, ",")]++
		}
	}
	return out
}

func (w *rqWorld) waitNotes(t *testing.T, request string, want map[string]int) []note {
	t.Helper()
	var ns []note
	waitFor(t, 20*time.Second, fmt.Sprintf("notifications %v", want), func() bool {
		ns = w.notes(t)
		got := tally(ns, request)
		for k, v := range want {
			if got[k] < v {
				return false
			}
		}
		return true
	})
	if got := tally(ns, request); !mapsEqual(got, want) {
		t.Fatalf("notifications of %s: got %v, want %v", request, got, want)
	}
	return ns
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestRequestPartialApproval: a request for three users; two approved from
// another product with one service off, one rejected, with a message.
func TestRequestPartialApproval(t *testing.T) {
	t.Parallel()
	w := newRQWorld(t)
	id := w.submit(t, "u1", "e5", "u2", "u3")
	r := w.svc.do(t, "POST", "/v1/requests/"+id+"/decision", w.lia, map[string]any{
		"approve": []string{"u1", "u2"}, "reject": []string{"u3"}, "product_id": "e3", "disabled_services": []string{"chat"}, "message": "Enjoy E3",
	}).want(t, 200, "")
	pos := r.header.Get("Seatflow-Position")
	if r.body["status"] != "partially_approved" || r.body["product_name"] != "Office 365 E5" ||
		fmt.Sprint(r.body["outcomes"]) != "[map[outcome:approved user_id:u1] map[outcome:approved user_id:u2] map[outcome:rejected user_id:u3]]" {
		t.Fatalf("decision: %s", r.raw)
	}
	for _, u := range []string{"u1", "u2"} {
		lic := w.svc.do(t, "GET", "/v1/users/"+u+"/licenses?after="+pos, w.admin, nil).want(t, 200, "").list
		if len(lic) != 1 {
			t.Fatalf("%s licenses: %v", u, lic)
		}
		l := lic[0].(map[string]any)
		src := l["source"].(map[string]any)
		if l["product_id"] != "e3" || src["kind"] != "request" || src["ref"] != id || fmt.Sprint(l["disabled_services"]) != "[chat]" {
			t.Fatalf("%s license: %v", u, l)
		}
	}
	if lic := w.svc.do(t, "GET", "/v1/users/u3/licenses?after="+pos, w.admin, nil).want(t, 200, "").list; len(lic) != 0 {
		t.Fatalf("u3 got a license: %v", lic)
	}
	list := w.svc.do(t, "GET", "/v1/requests?status=completed&after="+pos, w.admin, nil).want(t, 200, "").list
	if len(list) != 1 {
		t.Fatalf("completed: %v", list)
	}
	item := list[0].(map[string]any)
	if item["status"] != "partially_approved" || item["product_name"] != "Office 365 E5" || item["requester"] != "u1" || item["requested_at"] == nil {
		t.Fatalf("list item: %v", item)
	}
	if p := w.svc.do(t, "GET", "/v1/requests?status=pending", w.admin, nil).want(t, 200, "").list; len(p) != 0 {
		t.Fatalf("pending: %v", p)
	}
	d := w.svc.do(t, "GET", "/v1/requests/"+id, token(t, "contoso", "u1", "user"), nil).want(t, 200, "").body
	if fmt.Sprint(d["outcomes"]) != "[map[outcome:approved user_id:u1] map[outcome:approved user_id:u2] map[outcome:rejected user_id:u3]]" {
		t.Fatalf("outcomes: %v", d["outcomes"])
	}
	// A decided request cannot be decided again, and nothing is appended.
	before := w.eventCount(t)
	w.svc.do(t, "POST", "/v1/requests/"+id+"/decision", w.admin, map[string]any{"reject": []string{"u1", "u2", "u3"}}).want(t, 409, "already_decided")

	want := map[string]int{
		"request.submitted ada@example.com": 1, "request.submitted lia@example.com": 1,
		"request.approved u1@example.com": 1, "request.approved u2@example.com": 1, "request.denied u3@example.com": 1,
	}
	ns := w.waitNotes(t, id, want)
	for _, n := range ns {
		if n.Kind == "request.approved" || n.Kind == "request.denied" {
			if !strings.Contains(n.Text, "Enjoy E3") {
				t.Fatalf("%s without the admin's message: %q", n.Kind, n.Text)
			}
		}
		if n.msgID != n.ID || !strings.HasPrefix(n.ID, n.EventID+":"+n.Kind+":") {
			t.Fatalf("message id %q / id %q / event %q", n.msgID, n.ID, n.EventID)
		}
	}
	// After a restart the notifier resumes; nothing is sent twice. A new
	// request's notifications prove it has passed the old events.
	w.restart(t)
	if got := w.eventCount(t); got != before {
		t.Fatalf("events after a refused decision and restart: got %d, want %d", got, before)
	}
	id2 := w.submit(t, "u2", "e5")
	w.waitNotes(t, id2, map[string]int{"request.submitted ada@example.com": 1, "request.submitted lia@example.com": 1})
	if got := tally(w.notes(t), id); !mapsEqual(got, want) {
		t.Fatalf("after restart: got %v, want %v", got, want)
	}
}

// TestRequestRivalDecisions: two admins decide at the same moment; exactly
// one wins.
func TestRequestRivalDecisions(t *testing.T) {
	t.Parallel()
	w := newRQWorld(t)
	for round := range 3 {
		id := w.submit(t, "u1", "e5", "u2")
		var wg sync.WaitGroup
		codes := make([]int, 2)
		for i, tok := range []string{w.admin, w.lia} {
			wg.Go(func() {
				body := map[string]any{"approve": []string{"u1", "u2"}}
				if i == 1 {
					body = map[string]any{"reject": []string{"u1", "u2"}}
				}
				codes[i] = w.svc.do(t, "POST", "/v1/requests/"+id+"/decision", tok, body).status
			})
		}
		wg.Wait()
		sort.Ints(codes)
		if codes[0] != 200 || codes[1] != 409 {
			t.Fatalf("round %d: statuses %v, want one 200 and one 409", round, codes)
		}
		types := w.typesOf(t, "sf.evt.contoso.request."+id)
		if len(types) != 2 || types[0] != "RequestSubmitted" {
			t.Fatalf("round %d: request events %v", round, types)
		}
		// Reset: unassign so the next round has seats.
		for _, u := range []string{"u1", "u2"} {
			w.svc.do(t, "DELETE", "/v1/products/e5/assignments/"+u, w.admin, nil)
		}
	}
}

// TestRequestOwnProcess: own process on and off, with existing requests
// listed throughout.
func TestRequestOwnProcess(t *testing.T) {
	t.Parallel()
	w := newRQWorld(t)
	old := w.submit(t, "u1", "e5")
	r := w.svc.do(t, "PUT", "/v1/settings/request-process", w.lia, map[string]any{
		"mode": "own", "message": "Ask the IT desk", "link": "https://it.example.com/licenses"}).want(t, 200, "")
	before := w.eventCount(t)
	p := w.svc.do(t, "POST", "/v1/requests", token(t, "contoso", "u2", "user"), map[string]any{"product_id": "e5"}).want(t, 409, "own_request_process")
	if p.body["detail"] != "Ask the IT desk" || p.body["link"] != "https://it.example.com/licenses" {
		t.Fatalf("problem: %s", p.raw)
	}
	if got := w.eventCount(t); got != before {
		t.Fatalf("own process stored %d events", got-before)
	}
	g := w.svc.do(t, "GET", "/v1/settings/request-process?after="+r.header.Get("Seatflow-Position"), w.admin, nil).want(t, 200, "")
	if g.body["mode"] != "own" {
		t.Fatalf("setting: %s", g.raw)
	}
	list := w.svc.do(t, "GET", "/v1/requests?status=pending&after="+w.last, w.admin, nil).want(t, 200, "").list
	if len(list) != 1 || list[0].(map[string]any)["request_id"] != old {
		t.Fatalf("existing requests while own process: %v", list)
	}
	// It can still be decided.
	w.svc.do(t, "PUT", "/v1/settings/request-process", w.admin, map[string]any{"mode": "builtin"}).want(t, 200, "")
	id := w.submit(t, "u2", "e5")
	list = w.svc.do(t, "GET", "/v1/requests?after="+w.last, w.admin, nil).want(t, 200, "").list
	if len(list) != 2 || list[0].(map[string]any)["request_id"] != id {
		t.Fatalf("list after switching back (newest first): %v", list)
	}
	w.svc.do(t, "POST", "/v1/requests", token(t, "contoso", "u2", "user"), map[string]any{"product_id": "visio"}).want(t, 409, "self_service_allowed")
}

// linkRE takes the token out of an emailed share link, which opens the
// /shared/{token} page.
var linkRE = regexp.MustCompile(`/shared/(\S+)`)

// TestRequestGroupShareExpiry: group fulfilment, share and answer, expiry.
func TestRequestGroupShareExpiry(t *testing.T) {
	clock := newTestClock(time.Now())
	w := newRQWorldWith(t, clock.tune)
	// Group fulfilment.
	w.svc.do(t, "PUT", "/v1/groups/empty", w.admin, map[string]any{"name": "Nothing", "members": []string{}, "products": []any{}}).want(t, 200, "")
	w.svc.do(t, "PUT", "/v1/groups/sales", w.admin, map[string]any{"name": "Sales", "members": []string{"u3"},
		"products": []map[string]any{{"product_id": "e5", "disabled_services": []string{"teams"}}}}).want(t, 200, "")
	id := w.submit(t, "u1", "e5", "u2")
	before := w.eventCount(t)
	w.svc.do(t, "POST", "/v1/requests/"+id+"/decision", w.admin, map[string]any{"approve": []string{"u1", "u2"}, "group_id": "empty"}).want(t, 409, "group_not_licensed")
	if got := w.eventCount(t); got != before {
		t.Fatalf("group_not_licensed stored %d events", got-before)
	}
	seqBefore := w.reads.streamData(t, "SEATFLOW_EVENTS", "sf.evt.>", "")
	r := w.svc.do(t, "POST", "/v1/requests/"+id+"/decision", w.admin, map[string]any{"approve": []string{"u1", "u2"}, "group_id": "sales", "message": "via Sales"}).want(t, 200, "")
	all := w.reads.streamData(t, "SEATFLOW_EVENTS", "sf.evt.>", "")
	var got []string
	for _, m := range all[len(seqBefore):] {
		var e struct {
			Type string `json:"type"`
			Data struct {
				UserID string            `json:"user_id"`
				Source map[string]string `json:"source"`
				Member []string          `json:"members"`
			} `json:"data"`
		}
		_ = json.Unmarshal(m.Data, &e)
		got = append(got, e.Type+" "+e.Data.UserID+" "+e.Data.Source["kind"]+e.Data.Source["ref"]+strings.Join(e.Data.Member, ","))
	}
	if want := []string{"GroupChanged  u3,u1,u2", "LicenseAssigned u1 groupsales", "LicenseAssigned u2 groupsales", "RequestApproved  "}; !slices.Equal(got, want) {
		t.Fatalf("group fulfilment events: got %q, want %q", got, want)
	}
	if r.body["status"] != "approved" {
		t.Fatalf("decision: %s", r.raw)
	}

	// Share and answer.
	id = w.submit(t, "u1", "e5", "u2")
	w.svc.do(t, "POST", "/v1/requests/"+id+"/share", w.admin, map[string]any{"recipients": []string{"nobody@example.com"}}).want(t, 400, "validation_failed")
	w.svc.do(t, "POST", "/v1/requests/"+id+"/share", w.admin, map[string]any{"recipients": []string{"Boss@example.com"}, "subject": "Your view?", "message": "Please advise"}).want(t, 200, "")
	ns := w.waitNotes(t, id, map[string]int{"request.submitted ada@example.com": 1, "request.submitted lia@example.com": 1, "request.shared boss@example.com": 1})
	var link string
	for _, n := range ns {
		if n.Kind == "request.shared" && n.Refs["request_id"] == id {
			m := linkRE.FindStringSubmatch(n.Text)
			if m == nil || n.Subject != "Your view?" {
				t.Fatalf("share notification: %+v", n)
			}
			link = m[1]
		}
	}
	before = w.eventCount(t)
	w.svc.do(t, "POST", "/v1/shared/"+link[:len(link)-3]+"abc", "", map[string]any{"recommendation": "approve"}).want(t, 401, "invalid_share_link")
	w.svc.do(t, "POST", "/v1/shared/"+link, "", map[string]any{"recommendation": "perhaps"}).want(t, 400, "validation_failed")
	w.svc.do(t, "POST", "/v1/shared/"+link, "", `{"recommendation": "approve", "extra": 1}`).want(t, 400, "invalid_json")
	if got := w.eventCount(t); got != before {
		t.Fatalf("refused answers stored %d events", got-before)
	}
	a := w.svc.do(t, "POST", "/v1/shared/"+link, "", map[string]any{"recommendation": "approve", "comment": "worth it"}).want(t, 200, "")
	w.svc.do(t, "POST", "/v1/shared/"+link, "", map[string]any{"recommendation": "deny"}).want(t, 409, "share_already_answered")
	d := w.svc.do(t, "GET", "/v1/requests/"+id+"?after="+a.header.Get("Seatflow-Position"), w.admin, nil).want(t, 200, "").body
	shares := d["shares"].([]any)
	if len(shares) != 1 || shares[0].(map[string]any)["recommendation"] != "approve" || shares[0].(map[string]any)["comment"] != "worth it" {
		t.Fatalf("shares: %v", d["shares"])
	}
	if types := w.typesOf(t, "sf.evt.contoso.request."+id); !slices.Equal(types, []string{"RequestSubmitted", "RequestShared", "ShareAnswered"}) {
		t.Fatalf("request events: %v", types)
	}

	// Expiry: move the clock to the warning, then past the deadline (the
	// admin's token is issued again at the clock's now).
	clock.Set(time.Now().Add(domain.DefaultPendingFor - 72*time.Hour + time.Minute))
	waitFor(t, 20*time.Second, "expiry warning", func() bool {
		return slices.Contains(w.typesOf(t, "sf.evt.contoso.request."+id), "RequestExpiryWarned")
	})
	clock.Set(time.Now().Add(domain.DefaultPendingFor + time.Minute))
	w.admin = w.svc.token(t, "contoso", "ada", "global-admin")
	waitFor(t, 20*time.Second, "expiry", func() bool {
		return slices.Contains(w.typesOf(t, "sf.evt.contoso.request."+id), "RequestExpired")
	})
	if types := w.typesOf(t, "sf.evt.contoso.request."+id); !slices.Equal(types, []string{"RequestSubmitted", "RequestShared", "ShareAnswered", "RequestExpiryWarned", "RequestExpired"}) {
		t.Fatalf("request events after expiry: %v", types)
	}
	w.waitNotes(t, id, map[string]int{"request.submitted ada@example.com": 1, "request.submitted lia@example.com": 1, "request.shared boss@example.com": 1,
		"request.expiring u1@example.com": 1, "request.expiring u2@example.com": 1, "request.expired u1@example.com": 1, "request.expired u2@example.com": 1})
	waitFor(t, 10*time.Second, "expired in the list", func() bool {
		d := w.svc.do(t, "GET", "/v1/requests/"+id, w.admin, nil).want(t, 200, "").body
		return d["status"] == "expired"
	})
	// Retention: a year later the requests leave the list.
	clock.Set(time.Now().Add(366 * 24 * time.Hour))
	w.admin = w.svc.token(t, "contoso", "ada", "global-admin")
	if l := w.svc.do(t, "GET", "/v1/requests", w.admin, nil).want(t, 200, "").list; len(l) != 0 {
		t.Fatalf("after retention: %v", l)
	}
}

// TestRequestRejections: every endpoint refuses wrong roles, other
// tenants and malformed input with the documented error and appends
// nothing; a user sees only their own requests.
func TestRequestRejections(t *testing.T) {
	t.Parallel()
	w := newRQWorld(t)
	id := w.submit(t, "u1", "e5", "u2")
	user := token(t, "contoso", "u2", "user")
	other := token(t, "fabrikam", "ada", "global-admin")
	before := w.eventCount(t)
	cases := []struct {
		method, path, tok string
		body              any
		status            int
		code              string
	}{
		{"PUT", "/v1/users/u9", user, map[string]any{"email": "u9@example.com", "display_name": "U9"}, 403, "forbidden"},
		{"PUT", "/v1/users/u9", w.lia, map[string]any{"email": "u9@example.com", "display_name": "U9"}, 403, "forbidden"},
		{"PUT", "/v1/users/u9", w.admin, map[string]any{"email": "not an email", "display_name": "U9"}, 400, "validation_failed"},
		{"PUT", "/v1/users/u9", w.admin, map[string]any{"email": "u9@example.com", "display_name": "U9", "roles": []string{"wizard"}}, 400, "validation_failed"},
		{"PUT", "/v1/users/u9", w.admin, `{"email": "u9@example.com"`, 400, "invalid_json"},
		{"PUT", "/v1/users/u9", "", map[string]any{}, 401, "unauthorized"},
		{"PUT", "/v1/groups/g1", user, map[string]any{"name": "G"}, 403, "forbidden"},
		{"PUT", "/v1/groups/g1", w.admin, map[string]any{"name": "G", "products": []map[string]any{{"product_id": "nope"}}}, 404, "not_found"},
		{"PUT", "/v1/groups/g1", w.admin, map[string]any{"name": "G", "members": []string{"u1", "u2", "u3"}, "products": []map[string]any{{"product_id": "e3"}}}, 409, "no_licenses_available"},
		{"PUT", "/v1/groups/g1", w.admin, map[string]any{"name": "G", "colour": "red"}, 400, "invalid_json"},
		{"PUT", "/v1/settings/request-process", user, map[string]any{"mode": "own", "message": "x"}, 403, "forbidden"},
		{"PUT", "/v1/settings/request-process", w.admin, map[string]any{"mode": "sometimes"}, 400, "validation_failed"},
		{"PUT", "/v1/settings/request-process", w.admin, map[string]any{"mode": "own", "message": "x", "link": "javascript:alert(1)"}, 400, "validation_failed"},
		{"GET", "/v1/settings/request-process", user, nil, 403, "forbidden"},
		{"POST", "/v1/requests", user, map[string]any{"product_id": "nope"}, 404, "not_found"},
		{"POST", "/v1/requests", user, map[string]any{"product_id": "e5", "users": []string{"stranger"}}, 404, "not_found"},
		{"POST", "/v1/requests", user, map[string]any{"product_id": "e5", "users": []string{"a b"}}, 400, "validation_failed"},
		{"POST", "/v1/requests", user, map[string]any{"product_id": "e5", "users": "u1"}, 400, "invalid_json"},
		{"POST", "/v1/requests", token(t, "contoso", "idp", "ingest"), map[string]any{"product_id": "e5"}, 403, "forbidden"},
		{"POST", "/v1/requests", other, map[string]any{"product_id": "e5"}, 404, "not_found"},
		{"GET", "/v1/requests?status=maybe", w.admin, nil, 400, "validation_failed"},
		{"GET", "/v1/requests/" + id, other, nil, 404, "not_found"},
		{"GET", "/v1/requests/" + id, token(t, "contoso", "u3", "user"), nil, 404, "not_found"},
		{"POST", "/v1/requests/" + id + "/decision", user, map[string]any{"approve": []string{"u1", "u2"}}, 403, "forbidden"},
		{"POST", "/v1/requests/" + id + "/decision", other, map[string]any{"approve": []string{"u1", "u2"}}, 404, "not_found"},
		{"POST", "/v1/requests/" + id + "/decision", w.admin, map[string]any{"approve": []string{"u1"}}, 400, "validation_failed"},
		{"POST", "/v1/requests/" + id + "/decision", w.admin, map[string]any{"approve": []string{"u1", "u2"}, "reject": []string{"u2"}}, 400, "validation_failed"},
		{"POST", "/v1/requests/" + id + "/decision", w.admin, map[string]any{"approve": []string{"u1", "u2"}, "product_id": "e5", "disabled_services": []string{"fax"}}, 400, "validation_failed"},
		{"POST", "/v1/requests/" + id + "/decision", w.admin, map[string]any{"approve": []string{"u1", "u2"}, "group_id": "nope"}, 404, "not_found"},
		{"POST", "/v1/requests/" + id + "/decision", w.admin, `[1]`, 400, "invalid_json"},
		{"POST", "/v1/requests/" + id + "/share", user, map[string]any{"recipients": []string{"boss@example.com"}}, 403, "forbidden"},
		{"POST", "/v1/requests/" + id + "/share", other, map[string]any{"recipients": []string{"boss@example.com"}}, 400, "validation_failed"},
		{"POST", "/v1/requests/" + id + "/share", w.admin, map[string]any{"recipients": []string{}}, 400, "validation_failed"},
		{"POST", "/v1/requests/" + id + "/share", w.admin, map[string]any{"recipients": []string{"<bad>"}}, 400, "validation_failed"},
		{"POST", "/v1/shared/not-a-token", "", map[string]any{"recommendation": "approve"}, 401, "invalid_share_link"},
		{"POST", "/v1/shared/" + token(t, "contoso", "ada", "global-admin"), "", map[string]any{"recommendation": "approve"}, 401, "invalid_share_link"},
	}
	for i, c := range cases {
		r := w.svc.do(t, c.method, c.path, c.tok, c.body)
		if r.status != c.status || r.body["code"] != c.code {
			t.Errorf("case %d %s %s: got %d %v, want %d %s (%s)", i, c.method, c.path, r.status, r.body["code"], c.status, c.code, r.raw)
		}
	}
	// A request over 1 MiB.
	w.svc.do(t, "POST", "/v1/requests", user, `{"product_id": "e5", "justification": "`+strings.Repeat("x", 1<<20)+`"}`).want(t, 413, "body_too_large")
	if got := w.eventCount(t); got != before {
		t.Fatalf("rejected calls appended %d events", got-before)
	}
	// A user sees only their own requests; admins see all.
	mine := w.submit(t, "u2", "e5")
	for tok, want := range map[string][]string{user: {mine}, w.admin: {mine, id}, token(t, "contoso", "u3", "user"): {}} {
		var got []string
		// The submit's position is not at hand: wait for the read model.
		waitFor(t, 10*time.Second, fmt.Sprintf("the request list %v", want), func() bool {
			got = nil
			for _, it := range w.svc.do(t, "GET", "/v1/requests", tok, nil).want(t, 200, "").list {
				got = append(got, it.(map[string]any)["request_id"].(string))
			}
			return slices.Equal(got, want) || (len(got) == 0 && len(want) == 0)
		})
	}
	// The same Idempotency-Key submits once.
	a := w.svc.do(t, "POST", "/v1/requests", user, map[string]any{"product_id": "e5"}, "Idempotency-Key", "req-once").want(t, 201, "")
	b := w.svc.do(t, "POST", "/v1/requests", user, map[string]any{"product_id": "e5"}, "Idempotency-Key", "req-once").want(t, 201, "")
	if a.body["request_id"] != b.body["request_id"] || a.header.Get("Seatflow-Position") != b.header.Get("Seatflow-Position") {
		t.Fatalf("idempotent submit: %s vs %s", a.raw, b.raw)
	}
	_ = strconv.Itoa
}

// TestRequestRivalDecisionsAcrossInstances: two seatflow instances on a
// 3-node cluster; two admins decide the same request at the same moment,
// one through each instance. Only the concurrency check on the request's
// subject can stop the second: exactly one wins, the loser gets 409 and
// the licenses match the winner.
func TestRequestRivalDecisionsAcrossInstances(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("3-node cluster")
	}
	c := natstest.RunCluster(t, 3)
	args := []string{"--nats-url", c.URLs(), "--replicas", "3"}
	a, _ := startServe(t, t.TempDir(), args...)
	b, _ := startServe(t, t.TempDir(), args...)
	admin := token(t, "contoso", "ada", "global-admin")
	for _, s := range []*service{a, b} {
		waitFor(t, 60*time.Second, "readyz", func() bool { return s.do(t, "GET", "/readyz", "", nil).status == 200 })
	}
	for _, u := range []string{"u1", "u2"} {
		a.do(t, "PUT", "/v1/users/"+u, admin, map[string]any{"email": u + "@example.com", "display_name": u}).want(t, 200, "")
	}
	a.do(t, "POST", "/v1/products", admin, map[string]any{"product_id": "e5", "name": "E5", "services": []string{}, "licenses": 50, "self_service": "blocked"}).want(t, 201, "")
	a.do(t, "POST", "/v1/products", admin, map[string]any{"product_id": "e3", "name": "E3", "services": []string{}, "licenses": 50, "self_service": "blocked"}).want(t, 201, "")
	for round := range 5 {
		r := a.do(t, "POST", "/v1/requests", token(t, "contoso", "u1", "user"), map[string]any{"product_id": "e5", "users": []string{"u2"}}).want(t, 201, "")
		id := r.body["request_id"].(string)
		var wg sync.WaitGroup
		res := make([]response, 2)
		for i, s := range []*service{a, b} {
			wg.Go(func() {
				// Each approves from a different product, so the loser's
				// licenses would show if it slipped through.
				res[i] = s.do(t, "POST", "/v1/requests/"+id+"/decision", admin,
					map[string]any{"approve": []string{"u1", "u2"}, "product_id": []string{"e5", "e3"}[i]})
			})
		}
		wg.Wait()
		winner := -1
		for i, x := range res {
			switch x.status {
			case 200:
				if winner >= 0 {
					t.Fatalf("round %d: both decisions won", round)
				}
				winner = i
			case 409:
				if x.body["code"] != "already_decided" {
					t.Fatalf("round %d: loser: %s", round, x.raw)
				}
			default:
				t.Fatalf("round %d: %d %s", round, x.status, x.raw)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: nobody won", round)
		}
		pos := res[winner].header.Get("Seatflow-Position")
		want := []string{"e5", "e3"}[winner]
		for _, u := range []string{"u1", "u2"} {
			lic := a.do(t, "GET", "/v1/users/"+u+"/licenses?after="+pos, admin, nil).want(t, 200, "").list
			if len(lic) != 1 || lic[0].(map[string]any)["product_id"] != want {
				t.Fatalf("round %d: %s licenses %v, want one of %s", round, u, lic, want)
			}
			a.do(t, "DELETE", "/v1/products/"+want+"/assignments/"+u, admin, nil).want(t, 200, "")
		}
	}
}

// TestDemoRequests: --demo lists a pending and an approved request, the
// same after loading again.
func TestDemoRequests(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	admin := token(t, "demo", "alice", "global-admin")
	var lists []string
	for range 2 {
		svc, stop := startServe(t, dir, "--demo")
		waitFor(t, 30*time.Second, "readyz", func() bool { return svc.do(t, "GET", "/readyz", "", nil).status == 200 })
		var raw string
		waitFor(t, 10*time.Second, "two demo requests", func() bool {
			r := svc.do(t, "GET", "/v1/requests", admin, nil).want(t, 200, "")
			raw = r.raw
			return len(r.list) == 2
		})
		if !strings.Contains(raw, `"status":"pending"`) || !strings.Contains(raw, `"status":"approved"`) {
			t.Fatalf("demo requests: %s", raw)
		}
		lists = append(lists, raw)
		stop()
	}
	if lists[0] != lists[1] {
		t.Fatalf("demo requests changed on reload:\n%s\n%s", lists[0], lists[1])
	}
}

// TestDirectoryRolesAndSignIns: a user admin edits a user's email and name
// but cannot grant or take away roles; a sign-in naming a known user with
// another email changes nothing, so the next request.submitted mail still
// goes to the admin's own address.
func TestDirectoryRolesAndSignIns(t *testing.T) {
	t.Parallel()
	w := newRQWorld(t)
	uma := token(t, "contoso", "uma", "user-admin")
	w.svc.do(t, "PUT", "/v1/users/u9", uma, map[string]any{"email": "u9@example.com", "display_name": "U9", "roles": []string{"global-admin"}}).want(t, 403, "forbidden")
	w.svc.do(t, "PUT", "/v1/users/ada", uma, map[string]any{"email": "ada@example.com", "display_name": "Ada", "roles": []string{}}).want(t, 403, "forbidden")
	r := w.svc.do(t, "PUT", "/v1/users/ada", uma, map[string]any{"email": "ada2@example.com", "display_name": "Ada L"}).want(t, 200, "")
	if roles, _ := r.body["roles"].([]any); len(roles) != 1 || roles[0] != "global-admin" {
		t.Fatalf("a user admin's edit without roles: %s, want the roles kept", r.raw)
	}
	w.svc.do(t, "PUT", "/v1/users/u9", w.admin, map[string]any{"email": "u9@example.com", "display_name": "U9", "roles": []string{"license-admin"}}).want(t, 200, "")

	ingest := token(t, "contoso", "idp", "ingest")
	w.svc.do(t, "POST", "/v1/signins", ingest, map[string]any{"id": "s-evil", "user_id": "ada", "app": "nothing", "at": time.Now().UTC(),
		"email": "attacker@evil.example", "display_name": "Evil"}).want(t, 200, "")
	id := w.submit(t, "u1", "e5")
	var got map[string]int
	waitFor(t, 20*time.Second, "request.submitted to ada", func() bool {
		got = tally(w.notes(t), id)
		return got["request.submitted ada2@example.com"] == 1
	})
	for k := range got {
		if strings.Contains(k, "evil") {
			t.Fatalf("notifications %v: one went to the address a sign-in claimed for ada", got)
		}
	}
	var entry map[string]any
	waitFor(t, 10*time.Second, "ada's directory entry", func() bool {
		list := w.svc.do(t, "GET", "/v1/directory?id=ada", w.admin, nil).want(t, 200, "").list
		if len(list) == 1 {
			entry = list[0].(map[string]any)
		}
		return entry != nil
	})
	if entry["email"] != "ada2@example.com" {
		t.Fatalf("ada after a sign-in with another email: %v, want ada2@example.com", entry)
	}
}
