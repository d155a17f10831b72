package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/infra/natsjs"
	"github.com/seatflow/seatflow/infra/natstest"
	"github.com/seatflow/seatflow/infra/oracle"
	"github.com/seatflow/seatflow/infra/signin"
)

// soTenant is the tenant of the scale-out test; nothing else writes to the
// test's cluster, so its events are the whole event stream.
const soTenant = "scaleout"

// TestScaleOut is issue 5's "Must show" for scale-out: two seatflow
// instances on one 3-node JetStream cluster (streams with 3 replicas) take
// racing sign-ins (HTTP through both instances and NATS), direct
// assignments, purchases and admin decisions (some requests decided through
// both instances at once) while the event stream's leader is shut down in
// the middle of the run. Clients retry what failed with the same
// Idempotency-Key (sign-ins with the same id), through the other instance.
// Afterwards the event stream, read directly, is folded to check every
// invariant at every position, every acknowledged command is in it exactly
// once and every refused one not at all, and both instances' read models
// equal each other and the fold.
func TestScaleOut(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("3-node cluster and two instances")
	}
	began := time.Now()
	c := natstest.RunCluster(t, 3)
	// Debug logs record every sign-in's outcome; they are shown only
	// when the run does not settle.
	args := []string{"--nats-url", c.URLs(), "--replicas", "3", "--log-level", "debug"}
	var insts [2]*service
	for i := range insts {
		insts[i], _ = startServe(t, t.TempDir(), args...)
	}
	for _, s := range insts {
		waitFor(t, 60*time.Second, "readyz", func() bool { return s.do(t, "GET", "/readyz", "", nil).status == 200 })
	}
	_, js := natstest.Connect(t, c.URLs())
	c.WaitOnStreamLeader(natstest.Account, natsjs.StreamEvents)
	t.Logf("cluster and two instances ready after %s", time.Since(began).Round(time.Millisecond))

	w := newSOWorld(t, insts, js)
	w.setup(t)
	t.Logf("setup done after %s: policy %s, %d requests", time.Since(began).Round(time.Millisecond), w.policy, len(w.requests))

	// The run: a shuffled list of operations worked through by a pool of
	// workers. When a third of them are done the stream leader is shut
	// down; the second half starts only once the shutdown has begun, so
	// it runs into the leader election and the reconnects.
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	ops := w.operations(rand.New(rand.NewPCG(seed, seed>>1)))
	var (
		done        atomic.Int32
		killOnce    sync.Once
		killStarted = make(chan struct{})
		killDone    = make(chan struct{})
		victim      string
		hitLeader   bool
		newLeader   string
		killAt      time.Time
	)
	// leader is the stream's leader once it has one, within total; nil
	// if it has none by then (the run goes on regardless).
	leader := func(total time.Duration) *server.Server {
		var l *server.Server
		_ = natstest.Poll(total, 20*time.Millisecond, func() error {
			if l = c.StreamLeader(natstest.Account, natsjs.StreamEvents); l == nil {
				return errors.New("no stream leader")
			}
			return nil
		})
		return l
	}
	kill := func() {
		defer close(killDone)
		old := leader(5 * time.Second)
		target := old
		if target == nil {
			target = c.Servers()[0]
		}
		victim, hitLeader = target.Name(), old != nil
		killAt = time.Now()
		close(killStarted)
		c.Shutdown(target)
		if l := leader(30 * time.Second); l != nil {
			newLeader = l.Name()
		}
	}
	runStart := time.Now()
	w.deadline = runStart.Add(75 * time.Second)
	queue := make(chan int)
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			for i := range queue {
				if half := len(ops) / 2; i >= half {
					// The second half starts with the shutdown and is
					// spread over the next seconds, so that commands keep
					// arriving through the leader election.
					<-killStarted
					if d := time.Until(killAt.Add(time.Duration(i-half) * 150 * time.Millisecond)); d > 0 {
						time.Sleep(d)
					}
				}
				ops[i]()
				if int(done.Add(1)) >= len(ops)/3 {
					killOnce.Do(func() { go kill() })
				}
			}
		})
	}
	for i := range ops {
		queue <- i
	}
	close(queue)
	wg.Wait()
	<-killDone
	runTook := time.Since(runStart)
	t.Logf("run: %d operations in %s; shut down %s (stream leader: %v), new stream leader %q",
		len(ops), runTook.Round(time.Millisecond), victim, hitLeader, newLeader)
	if !hitLeader {
		t.Logf("no SEATFLOW_EVENTS leader was found within 5s: shut down %s instead", victim)
	}
	c.WaitOnStreamLeader(natstest.Account, natsjs.StreamEvents)

	// Settle: every acknowledged sign-in handled, queued users granted
	// where seats are free, the stream quiet and both instances' read
	// models at its head.
	f, views := w.settle(t)
	t.Logf("settled after %s at stream position %d (%d events)", time.Since(runStart).Round(time.Millisecond), f.Pos, f.Events)

	w.checkCommands(t, f)
	w.checkFold(t, f)
	w.checkViews(t, f, views)
	w.checkNoDeadLetters(t)
	w.report(t, f)
	t.Logf("total %s", time.Since(began).Round(time.Millisecond))
}

// soWorld is the test's tenant, its clients and what they saw.
type soWorld struct {
	insts              [2]*service
	js                 jetstream.JetStream
	admin, lia, ingest string
	policy             string
	requests           []soRequest
	users              []string // every user whose licenses are compared
	signInUsers        []string
	deadline           time.Time

	mu   sync.Mutex
	cmds []*soCmd
}

// soRequest is a license request made in setup, for users requester and
// other, and how the run decides it.
type soRequest struct {
	id, requester, other string
	key                  string
	mode                 string // "contested", "single" or "pending"
}

func newSOWorld(t *testing.T, insts [2]*service, js jetstream.JetStream) *soWorld {
	return &soWorld{insts: insts, js: js,
		admin:  token(t, soTenant, "ada", "global-admin"),
		lia:    token(t, soTenant, "lia", "license-admin"),
		ingest: token(t, soTenant, "idp", "ingest"),
	}
}

// Seats at the start; the run buys 2 more of P and 1 of B and tries to
// take one of E away.
const (
	soSeatsP = 4
	soSeatsB = 2
	soSeatsE = 10
)

// setup registers the directory, adds products P and B (the policy's) and
// E, creates the auto-claim policy for app teams (P with chat off, then
// B), turns the org switch on and submits ten pending requests for E,
// alternating between the instances. Every command carries an
// Idempotency-Key and is checked against the stream later.
func (w *soWorld) setup(t *testing.T) {
	t.Helper()
	n := 0
	via := func() *service { n++; return w.insts[n%2] }
	run := func(kind, key, method, path, tok string, body any, status int) response {
		t.Helper()
		r := via().do(t, method, path, tok, body, "Idempotency-Key", key).want(t, status, "")
		w.record(&soCmd{kind: kind, key: key, attempts: 1, final: soReply{status: r.status, raw: r.raw, body: r.body}})
		return r
	}
	for i := range 18 {
		w.signInUsers = append(w.signInUsers, fmt.Sprintf("s%02d", i))
	}
	w.users = append(w.users, w.signInUsers...)
	for i := range 6 {
		w.users = append(w.users, fmt.Sprintf("d%02d", i))
	}
	others := []string{"d00", "d02", "d03", "d01", "o04", "o05", "o06", "o07", "o08", "o09"}
	for i := range others {
		w.users = append(w.users, fmt.Sprintf("q%02d", i))
		if strings.HasPrefix(others[i], "o") {
			w.users = append(w.users, others[i])
		}
	}
	for _, u := range append([]string{"ada", "lia"}, w.users...) {
		body := map[string]any{"email": u + "@example.com", "display_name": "User " + u}
		switch u {
		case "ada":
			body["roles"] = []string{"global-admin"}
		case "lia":
			body["roles"] = []string{"license-admin"}
		}
		run("register", "setup-user-"+u, "PUT", "/v1/users/"+u, w.admin, body, 200)
	}
	for _, p := range []struct {
		id       string
		seats    int
		services []string
	}{{"P", soSeatsP, []string{"mail", "chat"}}, {"B", soSeatsB, []string{"mail"}}, {"E", soSeatsE, []string{"mail", "chat", "teams"}}} {
		run("product", "setup-product-"+p.id, "POST", "/v1/products", w.admin, map[string]any{
			"product_id": p.id, "name": "Plan " + p.id, "services": p.services, "licenses": p.seats, "self_service": "blocked"}, 201)
	}
	r := run("policy", "setup-policy", "POST", "/v1/policies", w.admin, map[string]any{"name": "Teams", "app": "teams",
		"products": []map[string]any{{"product_id": "P", "disabled_services": []string{"chat"}}, {"product_id": "B"}}}, 201)
	w.policy, _ = r.body["policy_id"].(string)
	if w.policy == "" {
		t.Fatalf("no policy_id in %s", r.raw)
	}
	run("switch", "setup-switch", "PUT", "/v1/settings/auto-claim", w.admin, map[string]any{"enabled": true}, 200)
	for i, other := range others {
		q := fmt.Sprintf("q%02d", i)
		key := fmt.Sprintf("setup-request-%02d", i)
		r := via().do(t, "POST", "/v1/requests", token(t, soTenant, q, "user"),
			map[string]any{"product_id": "E", "users": []string{other}, "justification": "scale-out"}, "Idempotency-Key", key).want(t, 201, "")
		w.record(&soCmd{kind: "submit", key: key, attempts: 1, final: soReply{status: r.status, raw: r.raw, body: r.body}})
		id, _ := r.body["request_id"].(string)
		if id == "" {
			t.Fatalf("no request_id in %s", r.raw)
		}
		mode := "contested"
		switch {
		case i >= 8:
			mode = "pending"
		case i >= 6:
			mode = "single"
		}
		w.requests = append(w.requests, soRequest{id: id, requester: q, other: other, key: key, mode: mode})
	}
}

// operations returns the run's operations, shuffled, with the purchases
// placed in the second half.
func (w *soWorld) operations(rng *rand.Rand) []func() {
	var ops []func()
	at := time.Now().Add(-time.Minute).UTC().Truncate(time.Second)
	// Sign-ins: every user signs in twice. A third of the users sign in
	// twice at once through both instances (one operation), a third once
	// by HTTP and once over NATS, a third twice over NATS.
	for i, u := range w.signInUsers {
		id := func(j int) string { return fmt.Sprintf("si-%s-%d", u, j) }
		switch i % 3 {
		case 0:
			ops = append(ops, func() {
				var wg sync.WaitGroup
				for j := range 2 {
					wg.Go(func() { w.httpSignIn(id(j), u, at, (i+j)%2) })
				}
				wg.Wait()
			})
		case 1:
			ops = append(ops, func() { w.httpSignIn(id(0), u, at, i%2) }, func() { w.natsSignIn(id(1), u, at) })
		case 2:
			ops = append(ops, func() { w.natsSignIn(id(0), u, at) }, func() { w.natsSignIn(id(1), u, at) })
		}
	}
	// Direct assignments: users who also sign in, racing their claims;
	// the same user assigned through both instances at once (different
	// keys: one wins); and single ones, some to users that requests name.
	n := 0
	for _, u := range []string{"s00", "s03", "s06", "s09"} {
		n++
		first := n % 2
		ops = append(ops, func() { w.assign("P", u, "as-P-"+u, first) })
	}
	for _, pu := range [][2]string{{"E", "d00"}, {"B", "d01"}} {
		ops = append(ops, func() {
			var wg sync.WaitGroup
			for i := range 2 {
				wg.Go(func() { w.assign(pu[0], pu[1], fmt.Sprintf("as-%s-%s-%d", pu[0], pu[1], i), i) })
			}
			wg.Wait()
		})
	}
	for _, pu := range [][2]string{{"E", "d02"}, {"E", "d03"}, {"P", "d04"}, {"B", "d05"}} {
		n++
		first := n % 2
		ops = append(ops, func() { w.assign(pu[0], pu[1], "as-"+pu[0]+"-"+pu[1], first) })
	}
	// Decisions. Contested requests are decided through both instances at
	// the same moment: approve from E against reject for the first three,
	// approve from P against approve from E for the next three.
	for i, rq := range w.requests {
		all := []string{rq.requester, rq.other}
		switch rq.mode {
		case "contested":
			bodies := [2]map[string]any{{"approve": all, "product_id": "E"}, {"reject": all, "message": "no"}}
			if i >= 3 {
				bodies = [2]map[string]any{{"approve": all, "product_id": "P"}, {"approve": all, "product_id": "E"}}
			}
			ops = append(ops, func() {
				var wg sync.WaitGroup
				for side := range 2 {
					wg.Go(func() {
						tok := []string{w.admin, w.lia}[side]
						w.decide(rq.id, tok, bodies[side], fmt.Sprintf("decide-%s-%d", rq.id, side), (i+side)%2)
					})
				}
				wg.Wait()
			})
		case "single":
			ops = append(ops, func() { w.decide(rq.id, w.lia, map[string]any{"approve": all}, "decide-"+rq.id, i%2) })
		}
	}
	rng.Shuffle(len(ops), func(i, j int) { ops[i], ops[j] = ops[j], ops[i] })
	buys := []func(){
		func() { w.licenses("P", map[string]any{"add": 1}, "buy-P-1", 0) },
		func() { w.licenses("B", map[string]any{"add": 1}, "buy-B-1", 1) },
		func() { w.licenses("P", map[string]any{"add": 1}, "buy-P-2", 1) },
		func() { w.licenses("E", map[string]any{"remove": 1}, "remove-E-1", 0) },
	}
	for _, b := range buys {
		at := len(ops)/2 + rng.IntN(len(ops)-len(ops)/2+1)
		ops = slices.Insert(ops, at, b)
	}
	return ops
}

// soCmd is one command a client sent and what it finally got.
type soCmd struct {
	kind     string // register, product, policy, switch, submit, signin, signin-nats, assign, decide, licenses
	key      string // Idempotency-Key, or the sign-in id
	user     string
	product  string
	request  string
	attempts int
	final    soReply // status -1: no definite answer before the deadline
	inst     int     // the instance that answered finally
	failures []string
}

type soReply struct {
	status int
	code   string
	raw    string
	body   map[string]any
}

func (r soReply) ok() bool { return r.status >= 200 && r.status < 300 }

func (w *soWorld) record(c *soCmd) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.cmds = append(w.cmds, c)
}

var soHTTP = &http.Client{Timeout: 20 * time.Second}

// soCall sends one request; it never fails the test, so goroutines can
// use it.
func soCall(ctx context.Context, base, method, path, tok string, body any, hdr ...string) (soReply, error) {
	var rd io.Reader
	if body != nil {
		j, err := json.Marshal(body)
		if err != nil {
			return soReply{}, err
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
	if err != nil {
		return soReply{}, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := soHTTP.Do(req)
	if err != nil {
		return soReply{}, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return soReply{}, err
	}
	r := soReply{status: res.StatusCode, raw: string(raw)}
	if len(raw) > 0 && raw[0] == '{' {
		_ = json.Unmarshal(raw, &r.body)
		r.code, _ = r.body["code"].(string)
	}
	return r, nil
}

// command sends a command until it gets a definite answer or the run's
// deadline passes: a transport error, a 5xx or a 409 "conflict" is retried
// with the same key, alternating instances.
func (w *soWorld) command(c *soCmd, first int, method, path, tok string, body any, hdr ...string) {
	defer w.record(c)
	for attempt := 0; ; attempt++ {
		inst := (first + attempt) % 2
		c.attempts++
		rep, err := soCall(context.Background(), w.insts[inst].base, method, path, tok, body, hdr...)
		var why string
		switch {
		case err != nil:
			why = "transport: " + err.Error()
		case rep.status >= 500:
			why = fmt.Sprintf("%d %s", rep.status, rep.code)
		case rep.status == http.StatusConflict && rep.code == "conflict":
			why = "409 conflict"
		default:
			c.final, c.inst = rep, inst
			return
		}
		c.failures = append(c.failures, why)
		if time.Now().After(w.deadline) {
			c.final = soReply{status: -1, raw: why}
			return
		}
		time.Sleep(time.Duration(50+rand.IntN(200)) * time.Millisecond) // back-off, not a wait for consistency
	}
}

func (w *soWorld) httpSignIn(id, user string, at time.Time, first int) {
	w.command(&soCmd{kind: "signin", key: id, user: user}, first, "POST", "/v1/signins", w.ingest,
		map[string]any{"id": id, "user_id": user, "app": "teams", "at": at.Format(time.RFC3339)})
}

// natsSignIn publishes a sign-in to sf.signin.<tenant> until JetStream
// acknowledges it, with the same Nats-Msg-Id on every attempt.
func (w *soWorld) natsSignIn(id, user string, at time.Time) {
	c := &soCmd{kind: "signin-nats", key: id, user: user}
	defer w.record(c)
	data, _ := json.Marshal(map[string]any{"id": id, "user_id": user, "app": "teams", "at": at})
	for {
		c.attempts++
		msg := &nats.Msg{Subject: "sf.signin." + soTenant, Data: data, Header: nats.Header{}}
		msg.Header.Set(jetstream.MsgIDHeader, id)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := w.js.PublishMsg(ctx, msg)
		cancel()
		if err == nil {
			c.final = soReply{status: 200}
			return
		}
		c.failures = append(c.failures, "publish: "+err.Error())
		if time.Now().After(w.deadline) {
			c.final = soReply{status: -1, raw: err.Error()}
			return
		}
		time.Sleep(time.Duration(50+rand.IntN(200)) * time.Millisecond) // back-off, not a wait for consistency
	}
}

func (w *soWorld) assign(product, user, key string, first int) {
	w.command(&soCmd{kind: "assign", key: key, user: user, product: product}, first, "POST", "/v1/products/"+product+"/assignments",
		w.admin, map[string]any{"user_id": user, "disabled_services": []string{}}, "Idempotency-Key", key)
}

func (w *soWorld) decide(request, tok string, body map[string]any, key string, first int) {
	product, _ := body["product_id"].(string)
	w.command(&soCmd{kind: "decide", key: key, request: request, product: product}, first, "POST", "/v1/requests/"+request+"/decision",
		tok, body, "Idempotency-Key", key)
}

func (w *soWorld) licenses(product string, body map[string]any, key string, first int) {
	w.command(&soCmd{kind: "licenses", key: key, product: product}, first, "POST", "/v1/products/"+product+"/licenses",
		w.lia, body, "Idempotency-Key", key)
}

// soHistory lists the events that concern user, and the purchases, in
// stream order.
func soHistory(msgs []oracle.Message, user string) []string {
	var out []string
	for _, m := range msgs {
		e := m.Env
		var u string
		switch d := e.Data.(type) {
		case events.LicenseAssigned:
			u = d.UserID
		case events.LicensesAssigned:
			for _, a := range d.Assignments {
				if a.UserID == user {
					u = user
				}
			}
		case events.LicenseClaimed, events.LicensesClaimed:
			for _, c := range events.Claims(d) {
				if c.UserID == user {
					u = user
				}
			}
		case events.LicenseUnassigned:
			u = d.UserID
		case events.UserQueued:
			u = d.UserID
		case events.QueuedUserGranted:
			u = d.UserID
		case events.QueuedUserDropped:
			u = d.UserID
		case events.LicensesPurchased:
			u = user
		}
		if u == user {
			b, _ := json.Marshal(e.Data)
			out = append(out, fmt.Sprintf("%d %s %s/%s command %s at %s: %s", m.Seq, e.Type, e.Aggregate.Kind, e.Aggregate.ID,
				e.CommandID, e.OccurredAt.Format("15:04:05.000"), b))
		}
	}
	return out
}

// soStream is the event stream read after the run, folded by the oracle.
type soStream struct {
	*oracle.Fold
	t    *oracle.Tenant // the test's tenant: the whole stream
	msgs []oracle.Message
}

// unsettled says why the state after the run is not final yet: a user
// whose sign-in was acknowledged neither holds a product of the policy nor
// waits, or users wait while a product of the policy has a free seat (the
// granters have not caught up).
func (w *soWorld) unsettled(f *soStream) string {
	if u := w.unsettledUser(f); u != "" {
		return fmt.Sprintf("user %s signed in but neither holds a product of the policy nor waits", u)
	}
	if q := f.t.Queues[w.policy]; len(q) > 0 {
		for _, p := range f.t.Policies[w.policy] {
			if f.t.Available(p) > 0 {
				return fmt.Sprintf("%d users wait (%v) while %s has %d free seats", len(q), q, p, f.t.Available(p))
			}
		}
	}
	return ""
}

// unsettledUser is a user whose sign-in was acknowledged who neither holds
// a product of the policy nor waits; "" when there is none.
func (w *soWorld) unsettledUser(f *soStream) string {
	landed := map[string]bool{}
	w.mu.Lock()
	for _, c := range w.cmds {
		if (c.kind == "signin" || c.kind == "signin-nats") && c.final.ok() {
			landed[c.user] = true
		}
	}
	w.mu.Unlock()
	for _, u := range w.signInUsers {
		if landed[u] && !f.t.HoldsPolicyProduct(w.policy, u) && !slices.Contains(f.t.Queues[w.policy], u) {
			return u
		}
	}
	return ""
}

// soViews are one instance's read models, each normalised to canonical
// JSON.
type soViews struct {
	products, policies, requests, claims string
	licenses                             map[string]string
}

// settle polls until the run's effects are complete and stable, and
// returns the fold of the stream and both instances' read models at its
// head.
func (w *soWorld) settle(t *testing.T) (*soStream, [2]soViews) {
	t.Helper()
	start := time.Now()
	var (
		f       *soStream
		views   [2]soViews
		lastWhy string
	)
	// Beyond the sign-in consumer's 30s ack wait: a sign-in whose ack was
	// lost when the node went down is redelivered after it.
	err := natstest.Poll(60*time.Second, 100*time.Millisecond, func() error {
		why := w.settled(&f, &views)
		if why == "" {
			return nil
		}
		if why != lastWhy {
			t.Logf("settling (%s): %s", time.Since(start).Round(time.Millisecond), why)
			lastWhy = why
		}
		return errors.New(why)
	})
	if err == nil {
		return f, views
	}
	for i, s := range w.insts {
		var lines []string
		for _, l := range strings.Split(s.logs.String(), "\n") {
			if strings.Contains(l, `"level":"WARN"`) || strings.Contains(l, `"level":"ERROR"`) || strings.Contains(l, "NATS") ||
				strings.Contains(l, `"msg":"sign-in handled"`) {
				lines = append(lines, l)
			}
		}
		if len(lines) > 80 {
			lines = append(lines[:40], append([]string{"..."}, lines[len(lines)-40:]...)...)
		}
		t.Logf("instance %d warnings and errors:\n  %s", i, strings.Join(lines, "\n  "))
	}
	for i, s := range w.insts {
		r, err := soCall(context.Background(), s.base, "GET", "/v1/policies", w.admin, nil)
		t.Logf("instance %d policies read model: %v %s", i, err, r.raw)
	}
	if f != nil {
		t.Logf("stream fold at %d: queue %v; violations %v", f.Pos, f.t.Queues[w.policy], f.Violations())
		if u := w.unsettledUser(f); u != "" {
			w.mu.Lock()
			for _, c := range w.cmds {
				if c.user == u {
					t.Logf("%s's %s %s: %d attempts, final %d %s %s, failures %v", u, c.kind, c.key, c.attempts, c.final.status, c.final.code, c.final.raw, c.failures)
				}
			}
			w.mu.Unlock()
			t.Logf("%s's events:\n  %s", u, strings.Join(soHistory(f.msgs, u), "\n  "))
		}
	}
	t.Fatalf("the run did not settle within 60s: %v (%s; dead letters: %s)", err, w.signInsPending(), w.deadLetters())
	return nil, views
}

// settled reads and folds the stream into *f and, once the run's effects
// are complete, both instances' read models at its head into *views; it
// says why the run is not settled yet, "" when it is.
func (w *soWorld) settled(f **soStream, views *[2]soViews) string {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	msgs, err := oracle.Read(ctx, w.js, soTenant)
	switch {
	case err != nil:
		return "read the stream: " + err.Error()
	case len(msgs) == 0:
		return "the stream is empty"
	}
	// Nothing but the test's tenant writes to the cluster: its messages
	// are the whole stream.
	fold := oracle.FoldAll(msgs, true)
	*f = &soStream{Fold: fold, t: fold.Tenant(soTenant), msgs: msgs}
	if why := w.unsettled(*f); why != "" {
		return why
	}
	if why := w.signInsPending(); why != "" {
		return why
	}
	if *views, err = w.views(fold.Pos); err != nil {
		return "read models: " + err.Error()
	}
	last, err := w.lastSeq()
	switch {
	case err != nil:
		return err.Error()
	case last != fold.Pos:
		return fmt.Sprintf("the stream moved from %d to %d", fold.Pos, last)
	}
	return ""
}

func (w *soWorld) lastSeq() (uint64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := w.js.Stream(ctx, natsjs.StreamEvents)
	if err != nil {
		return 0, err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return 0, err
	}
	return info.State.LastSeq, nil
}

// signInsPending says whether the durable sign-in consumer has messages
// not yet acknowledged.
func (w *soWorld) signInsPending() string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var busy []string
	for n := range natsjs.SigninPartitions {
		name := signin.ConsumerName(signin.DefaultDurable, n)
		cons, err := w.js.Consumer(ctx, natsjs.StreamSignins, name)
		if err != nil {
			return "sign-in consumer " + name + ": " + err.Error()
		}
		info, err := cons.Info(ctx)
		if err != nil {
			return "sign-in consumer " + name + ": " + err.Error()
		}
		if info.NumPending > 0 || info.NumAckPending > 0 {
			leader := ""
			if info.Cluster != nil {
				leader = info.Cluster.Leader
			}
			busy = append(busy, fmt.Sprintf("sign-in consumer %s: %d pending, %d awaiting ack, %d redelivered, %d pull requests waiting, delivered up to %d, acknowledged up to %d, leader %q, ack wait %s",
				name, info.NumPending, info.NumAckPending, info.NumRedelivered, info.NumWaiting, info.Delivered.Stream, info.AckFloor.Stream, leader, info.Config.AckWait))
		}
	}
	return strings.Join(busy, "; ")
}

// views reads every read model the test compares from both instances, at
// position pos or later.
func (w *soWorld) views(pos uint64) ([2]soViews, error) {
	var out [2]soViews
	for i, s := range w.insts {
		get := func(path, sortBy string) (string, error) {
			sep := "?"
			if strings.Contains(path, "?") {
				sep = "&"
			}
			path += sep + fmt.Sprintf("after=%d", pos)
			// 503: the read model has not reached pos yet.
			var (
				got  string
				done error
			)
			err := natstest.Poll(time.Until(w.deadline.Add(60*time.Second)), 50*time.Millisecond, func() error {
				r, err := soCall(context.Background(), s.base, "GET", path, w.admin, nil)
				switch {
				case err != nil:
					return fmt.Errorf("GET %s: %w", path, err)
				case r.status == http.StatusServiceUnavailable:
					return fmt.Errorf("GET %s: %d %s", path, r.status, r.raw)
				case r.status == http.StatusOK:
					got, done = soCanon(r.raw, sortBy)
				default:
					done = fmt.Errorf("GET %s: %d %s", path, r.status, r.raw)
				}
				return nil
			})
			if err != nil {
				return "", err
			}
			return got, done
		}
		v := soViews{licenses: map[string]string{}}
		var err error
		if v.products, err = get("/v1/products", "product_id"); err != nil {
			return out, err
		}
		if v.policies, err = get("/v1/policies", "policy_id"); err != nil {
			return out, err
		}
		if v.requests, err = get("/v1/requests", "request_id"); err != nil {
			return out, err
		}
		if v.claims, err = get("/v1/policies/"+w.policy+"/claims", "user_id"); err != nil {
			return out, err
		}
		for _, u := range w.users {
			if v.licenses[u], err = get("/v1/users/"+u+"/licenses", "product_id"); err != nil {
				return out, err
			}
		}
		out[i] = v
	}
	// Both must agree; the caller compares them with the fold.
	if d := soDiffViews(out[0], out[1]); d != "" {
		return out, fmt.Errorf("instances disagree at position %d: %s", pos, d)
	}
	return out, nil
}

// soCanon re-encodes a JSON list sorted by field key, so two instances'
// answers compare as strings whatever the order of equal items.
func soCanon(raw, key string) (string, error) {
	var list []map[string]any
	if err := json.Unmarshal([]byte(raw), &list); err != nil {
		return "", fmt.Errorf("%w in %s", err, raw)
	}
	sort.SliceStable(list, func(i, j int) bool { return fmt.Sprint(list[i][key]) < fmt.Sprint(list[j][key]) })
	b, err := json.Marshal(list)
	return string(b), err
}

func soDiffViews(a, b soViews) string {
	var diffs []string
	for _, x := range []struct{ name, a, b string }{
		{"products", a.products, b.products}, {"policies", a.policies, b.policies},
		{"requests", a.requests, b.requests}, {"claims", a.claims, b.claims},
	} {
		if x.a != x.b {
			diffs = append(diffs, fmt.Sprintf("%s:\n  A %s\n  B %s", x.name, x.a, x.b))
		}
	}
	for u, la := range a.licenses {
		if lb := b.licenses[u]; la != lb {
			diffs = append(diffs, fmt.Sprintf("licenses of %s:\n  A %s\n  B %s", u, la, lb))
		}
	}
	return strings.Join(diffs, "\n")
}

// checkCommands: every command that was answered with success is in the
// stream exactly once, every refused one not at all, and the contested
// decisions and assignments had exactly one winner.
func (w *soWorld) checkCommands(t *testing.T, f *soStream) {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	count := func(key string, types ...string) int {
		n := 0
		for _, e := range f.t.ByCommand[key] {
			if slices.Contains(types, e.Type) {
				n++
			}
		}
		return n
	}
	// The event each kind of acknowledged command leaves exactly one of,
	// and whether it leaves nothing else.
	want := map[string]struct {
		types []string
		only  bool
	}{
		"register": {[]string{events.TypeUserRegistered}, false}, // every user registered in setup is new
		"product":  {[]string{events.TypeProductAdded}, false},
		"policy":   {[]string{events.TypePolicyCreated}, false},
		"switch":   {[]string{events.TypeAutoClaimSettingChanged}, false},
		"submit":   {[]string{events.TypeRequestSubmitted}, false},
		"licenses": {[]string{events.TypeLicensesPurchased, events.TypeLicensesRemoved}, true},
		"assign":   {[]string{events.TypeLicenseAssigned}, true},
		"decide":   {[]string{events.TypeRequestApproved, events.TypeRequestDenied}, false},
	}
	for _, c := range w.cmds {
		if c.final.status == -1 {
			t.Errorf("%s %s: no definite answer before the deadline after %d attempts: %v", c.kind, c.key, c.attempts, c.failures)
			continue
		}
		if !c.final.ok() {
			// A refusal must be one the workload can cause, and the
			// refused command must have left nothing behind, even when an
			// earlier attempt's outcome was unknown.
			allowed := map[string][]string{
				"assign":   {"already_assigned", "no_licenses_available"},
				"decide":   {"already_decided", "no_licenses_available"},
				"licenses": {"below_assigned"},
			}[c.kind]
			if c.final.status != http.StatusConflict || !slices.Contains(allowed, c.final.code) {
				t.Errorf("%s %s: unexpected answer %d %s", c.kind, c.key, c.final.status, c.final.raw)
			}
			if err := f.Check(oracle.Command{Tenant: soTenant, ID: c.key}); err != nil {
				t.Errorf("%s %s (%s, after failures %v): %v", c.kind, c.key, c.final.code, c.failures, err)
			}
			continue
		}
		if wt, ok := want[c.kind]; ok {
			if err := f.Check(oracle.Command{Tenant: soTenant, ID: c.key, Acked: true, Want: wt.types, Only: wt.only}); err != nil {
				t.Errorf("%s %s answered %d: %v", c.kind, c.key, c.final.status, err)
				continue
			}
		}
		switch c.kind {
		case "assign":
			if d := f.t.ByCommand[c.key][0].Data.(events.LicenseAssigned); d.ProductID != c.product || d.UserID != c.user || d.Source.Kind != events.SourceManual {
				t.Errorf("assign %s: stored %+v", c.key, d)
			}
		case "decide":
			for _, e := range f.t.ByCommand[c.key] {
				if e.Aggregate.Kind == events.KindRequest && e.Aggregate.ID != c.request {
					t.Errorf("decision %s stored on request %s, not %s", c.key, e.Aggregate.ID, c.request)
				}
				if d, ok := e.Data.(events.RequestApproved); ok {
					want := len(d.Approved) - len(d.AlreadyLicensed)
					if got := count(c.key, events.TypeLicenseAssigned); got != want {
						t.Errorf("decision %s: %d LicenseAssigned, want %d (approved %v, already licensed %v)", c.key, got, want, d.Approved, d.AlreadyLicensed)
					}
				}
			}
		case "signin":
			var out domain.ClaimOutcome
			status, _ := c.final.body["status"].(string)
			out.Status = domain.ClaimStatus(status)
			pid, _ := c.final.body["policy_id"].(string)
			out.PolicyID = domain.PolicyID(pid)
			switch out.Status {
			case domain.ClaimClaimed, domain.ClaimQueued:
			case domain.ClaimAlreadyLicensed:
				if !f.t.HoldsPolicyProduct(w.policy, c.user) {
					t.Errorf("sign-in %s answered already_licensed but %s holds no product of the policy", c.key, c.user)
				}
			case domain.ClaimAlreadyClaimed:
				// Only for a user whose claimed license was taken back:
				// nothing in this run takes one back.
				t.Errorf("sign-in %s answered already_claimed, but no license was taken back (claims of %s: %d)",
					c.key, c.user, f.t.Claims[oracle.PolicyUser{Policy: w.policy, User: c.user}])
			default:
				t.Errorf("sign-in %s: unexpected answer %s", c.key, c.final.raw)
			}
			if err := f.CheckSignIn(soTenant, c.key, c.user, out); err != nil {
				t.Errorf("%v", err)
			}
		case "signin-nats":
			// Not answered: whatever it did, it claimed or queued once at
			// most, and its grant follows its queuing.
			if s := f.t.SignIn(c.key); s.Claims+s.Queued > 1 || s.Grants > s.Queued {
				t.Errorf("sign-in %s over NATS: %+v", c.key, s)
			}
		}
	}
	// Contested commands: exactly one winner when anyone could win.
	winners := map[string][]*soCmd{}
	refusals := map[string][]string{}
	for _, c := range w.cmds {
		group := ""
		switch c.kind {
		case "decide":
			group = "request " + c.request
		case "assign":
			group = "assign " + c.product + "/" + c.user
		default:
			continue
		}
		if c.final.ok() {
			winners[group] = append(winners[group], c)
		} else {
			refusals[group] = append(refusals[group], c.final.code)
		}
	}
	for _, rq := range w.requests {
		group := "request " + rq.id
		ws, rs := winners[group], refusals[group]
		st := f.t.Requests[rq.id]
		switch {
		case rq.mode == "pending":
			if len(ws)+len(rs) != 0 || st == nil || st.Status != "pending" {
				t.Errorf("request %s was to stay pending: %v", rq.id, st)
			}
			continue
		case len(ws) > 1:
			t.Errorf("request %s: %d decisions won: %s and %s", rq.id, len(ws), ws[0].key, ws[1].key)
			continue
		case len(ws) == 0:
			// Nobody won only if every decision needed seats that were
			// gone; then the request is still pending.
			for _, code := range rs {
				if code != "no_licenses_available" {
					t.Errorf("request %s: no decision won, yet one was refused with %s", rq.id, code)
				}
			}
			if st == nil || len(st.Decisions) != 0 {
				t.Errorf("request %s: no decision won, yet the stream has %v", rq.id, st)
			}
			continue
		}
		if st == nil || len(st.Decisions) != 1 || st.Decisions[0].CommandID != ws[0].key {
			t.Errorf("request %s: decision %s won over HTTP, but the stream's decisions are %+v", rq.id, ws[0].key, st)
		}
		if rq.mode == "contested" && (len(rs) != 1 || !slices.Contains([]string{"already_decided", "no_licenses_available"}, rs[0])) {
			t.Errorf("request %s: the losing decision got %v, want one 409", rq.id, rs)
		}
	}
	for _, pu := range []string{"assign E/d00", "assign B/d01"} {
		ws, rs := winners[pu], refusals[pu]
		if len(ws)+len(rs) != 2 || len(ws) > 1 {
			t.Errorf("%s through both instances: %d won, refused %v; want at most one winner", pu, len(ws), rs)
		}
	}
}

// checkFold reports the violations the oracle found and checks the final
// state's own consistency.
func (w *soWorld) checkFold(t *testing.T, f *soStream) {
	t.Helper()
	suspects := map[string]bool{} // users named by violations
	for _, v := range f.Violations() {
		t.Errorf("%s", v)
		if v.User != "" {
			suspects[v.User] = true
		}
	}
	if n := f.Count() - len(f.Violations()); n > 0 {
		t.Errorf("and %d more violations", n)
	}
	for _, u := range slices.Sorted(maps.Keys(suspects)) {
		var calls []string
		w.mu.Lock()
		for _, c := range w.cmds {
			if c.user == u {
				via := "NATS"
				if c.kind != "signin-nats" {
					via = fmt.Sprintf("instance %d", c.inst)
				}
				calls = append(calls, fmt.Sprintf("%s %s via %s: %d %s", c.kind, c.key, via, c.final.status, strings.TrimSpace(c.final.raw)))
			}
		}
		w.mu.Unlock()
		t.Logf("events of %s:\n  %s\ncommands naming %s:\n  %s", u, strings.Join(soHistory(f.msgs, u), "\n  "), u, strings.Join(calls, "\n  "))
	}
	for _, u := range w.signInUsers {
		if f.t.Claims[oracle.PolicyUser{Policy: w.policy, User: u}] > 0 && slices.Contains(f.t.Queues[w.policy], u) {
			t.Errorf("user %s claimed under the policy and still waits in its queue", u)
		}
	}
	for _, r := range w.requests {
		if _, ok := f.t.Requests[r.id]; !ok {
			t.Errorf("request %s is not in the stream", r.id)
		}
	}
}

// checkViews compares the read models (equal on both instances) with the
// fold.
func (w *soWorld) checkViews(t *testing.T, f *soStream, v [2]soViews) {
	t.Helper()
	var products []struct {
		ProductID string `json:"product_id"`
		Purchased int    `json:"purchased"`
		Assigned  int    `json:"assigned"`
		Available int    `json:"available"`
	}
	soDecode(t, v[0].products, &products)
	if len(products) != 3 {
		t.Errorf("products: %s", v[0].products)
	}
	for _, p := range products {
		want := [3]int{f.t.Purchased[p.ProductID], f.t.Assigned(p.ProductID), f.t.Available(p.ProductID)}
		if got := [3]int{p.Purchased, p.Assigned, p.Available}; got != want {
			t.Errorf("product %s: read model purchased/assigned/available %v, stream %v", p.ProductID, got, want)
		}
	}
	var policies []struct {
		PolicyID string `json:"policy_id"`
		Products []struct {
			ProductID string `json:"product_id"`
			Available int    `json:"available"`
		} `json:"products"`
		Available int      `json:"available"`
		Enabled   bool     `json:"enabled"`
		Queue     []string `json:"queue"`
	}
	soDecode(t, v[0].policies, &policies)
	if len(policies) != 1 || policies[0].PolicyID != w.policy || !policies[0].Enabled {
		t.Fatalf("policies: %s", v[0].policies)
	}
	pv, total := policies[0], 0
	var ids []string
	for _, pp := range pv.Products {
		ids = append(ids, pp.ProductID)
		total += f.t.Available(pp.ProductID)
		if pp.Available != f.t.Available(pp.ProductID) {
			t.Errorf("policy product %s: read model available %d, stream %d", pp.ProductID, pp.Available, f.t.Available(pp.ProductID))
		}
	}
	if !slices.Equal(ids, f.t.Policies[w.policy]) || pv.Available != total {
		t.Errorf("policy: products %v available %d, stream %v available %d", ids, pv.Available, f.t.Policies[w.policy], total)
	}
	if !slices.Equal(pv.Queue, f.t.Queues[w.policy]) && (len(pv.Queue) != 0 || len(f.t.Queues[w.policy]) != 0) {
		t.Errorf("policy queue: read model %v, stream %v", pv.Queue, f.t.Queues[w.policy])
	}
	var reqs []struct {
		RequestID string `json:"request_id"`
		Status    string `json:"status"`
	}
	soDecode(t, v[0].requests, &reqs)
	if len(reqs) != len(w.requests) {
		t.Errorf("requests: read model lists %d, want %d", len(reqs), len(w.requests))
	}
	for _, r := range reqs {
		if st := f.t.Requests[r.RequestID]; st == nil || st.Status != r.Status {
			t.Errorf("request %s: read model %s, stream %+v", r.RequestID, r.Status, st)
		}
	}
	var claims []struct {
		UserID    string `json:"user_id"`
		ProductID string `json:"product_id"`
	}
	soDecode(t, v[0].claims, &claims)
	got, want := map[string]string{}, map[string]string{}
	for _, c := range claims {
		got[c.UserID] = c.ProductID
	}
	for k, p := range f.t.Claimed {
		if k.Policy == w.policy {
			want[k.User] = p
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) || len(claims) != len(want) {
		t.Errorf("claims: read model %v, stream %v", got, want)
	}
	for _, u := range w.users {
		var lic []struct {
			ProductID        string        `json:"product_id"`
			DisabledServices []string      `json:"disabled_services"`
			Source           events.Source `json:"source"`
		}
		soDecode(t, v[0].licenses[u], &lic)
		var got, want []string
		for _, l := range lic {
			got = append(got, fmt.Sprintf("%s %s:%s %v", l.ProductID, l.Source.Kind, l.Source.Ref, l.DisabledServices))
		}
		for p, hs := range f.t.Holders {
			if h, ok := hs[u]; ok {
				d := h.Disabled
				if d == nil {
					d = []string{}
				}
				want = append(want, fmt.Sprintf("%s %s:%s %v", p, h.Source.Kind, h.Source.Ref, d))
			}
		}
		sort.Strings(got)
		sort.Strings(want)
		if !slices.Equal(got, want) {
			t.Errorf("licenses of %s: read model %v, stream %v", u, got, want)
		}
	}
}

func soDecode(t *testing.T, raw string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(raw), v); err != nil {
		t.Fatalf("%v in %s", err, raw)
	}
}

// checkNoDeadLetters: no sign-in of the tenant was dead-lettered, e.g. for
// failing on every delivery while the node was down.
func (w *soWorld) checkNoDeadLetters(t *testing.T) {
	t.Helper()
	if d := w.deadLetters(); d != "none" {
		t.Errorf("dead letters: %s", d)
	}
}

// deadLetters describes the tenant's last dead-lettered sign-in, "none"
// if there is none.
func (w *soWorld) deadLetters() string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := w.js.Stream(ctx, natsjs.StreamDLQ)
	if err != nil {
		return err.Error()
	}
	m, err := s.GetLastMsgForSubject(ctx, "sf.dlq.signin."+soTenant)
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound):
		return "none"
	case err != nil:
		return err.Error()
	}
	return fmt.Sprintf("a sign-in was dead-lettered: %s (%s)", m.Data, m.Header.Get("Seatflow-Error"))
}

// report logs what the run did: outcomes, retries and the services'
// concurrency metrics.
func (w *soWorld) report(t *testing.T, f *soStream) {
	t.Helper()
	w.mu.Lock()
	outcomes, retried, failures := map[string]int{}, 0, map[string]int{}
	for _, c := range w.cmds {
		label := fmt.Sprint(c.final.status)
		if c.final.code != "" {
			label += " " + c.final.code
		}
		if s, _ := c.final.body["status"].(string); c.kind == "signin" && s != "" {
			label += " " + s
		}
		outcomes[c.kind+" "+label]++
		if c.attempts > 1 {
			retried++
		}
		for _, why := range c.failures {
			why, _, _ = strings.Cut(why, ":")
			failures[why]++
		}
	}
	n := len(w.cmds)
	w.mu.Unlock()
	keys := make([]string, 0, len(outcomes))
	for k := range outcomes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var lines []string
	for _, k := range keys {
		lines = append(lines, fmt.Sprintf("%s: %d", k, outcomes[k]))
	}
	t.Logf("%d commands; outcomes:\n  %s", n, strings.Join(lines, "\n  "))
	t.Logf("%d commands needed more than one attempt; failed attempts by kind: %v", retried, failures)
	claimedN, queued := 0, len(f.t.Queues[w.policy])
	for k, c := range f.t.Claims {
		if k.Policy == w.policy {
			claimedN += c
		}
	}
	t.Logf("stream: %d events; %d claims under the policy, %d users waiting; P %d/%d, B %d/%d, E %d/%d assigned",
		f.Events, claimedN, queued, f.t.Assigned("P"), f.t.Purchased["P"], f.t.Assigned("B"), f.t.Purchased["B"], f.t.Assigned("E"), f.t.Purchased["E"])
	for i, s := range w.insts {
		r, err := soCall(context.Background(), s.base, "GET", "/metrics", "", nil)
		if err != nil {
			continue
		}
		var ms []string
		for _, line := range strings.Split(r.raw, "\n") {
			if strings.HasPrefix(line, "seatflow_concurrency_conflicts_total") || strings.HasPrefix(line, "seatflow_append_errors_total") ||
				strings.HasPrefix(line, "seatflow_nats_reconnects_total") {
				ms = append(ms, line)
			}
		}
		t.Logf("instance %d metrics: %s", i, strings.Join(ms, "; "))
	}
}
