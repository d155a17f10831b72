package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/seatflow/seatflow/infra/auth"
	"github.com/seatflow/seatflow/infra/httpapi/openapitest"
	"github.com/seatflow/seatflow/infra/natsauth"
	"github.com/seatflow/seatflow/infra/natstest"
)

// testSecret is the token key the tests' instances use, in its one form:
// hex.
const testSecret = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// testKeys are testSecret as keys.
func testKeys(t testing.TB) auth.Keys {
	t.Helper()
	secret, err := auth.ParseSecret(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := auth.NewKeys(secret)
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// syncBuffer collects a process's log output for polling.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor polls cond every 20ms until it holds, and fails the test if that
// does not happen within d: natstest.CheckFor for a condition.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	natstest.CheckFor(t, d, 20*time.Millisecond, func() error {
		if !cond() {
			return fmt.Errorf("still waiting for %s", what)
		}
		return nil
	})
}

// servingRE finds the addresses in a child process's "serving" log line.
var servingRE = regexp.MustCompile(`"msg":"serving","http":"([^"]+)","nats":"([^"]+)"`)

// service is a running `seatflow serve` (in-process or a child process).
type service struct {
	base, natsURL string
	// metricsAddr is where /metrics listens (in-process only).
	metricsAddr string
	// clock is the App's clock (in-process only; nil: the wall clock).
	clock func() time.Time
	logs  *syncBuffer
	// natsOpts are the service user's connection options: from the data
	// dir's identity on the embedded server, natstest's on a test cluster.
	natsOpts []nats.Option
}

// connect connects to the service's NATS as the service user.
func (s *service) connect(t *testing.T) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	return natstest.ConnectWith(t, s.natsURL, s.natsOpts...)
}

// serviceOption is the service user's connection option from the identity
// serve generated into dataDir.
func serviceOption(t *testing.T, dataDir string) nats.Option {
	t.Helper()
	id, err := natsauth.Load(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	opt, err := id.ServiceOption()
	if err != nil {
		t.Fatal(err)
	}
	return opt
}

// startServe runs serve's App in-process on free ports and returns once it
// serves; the returned stop cancels it and checks it stopped cleanly.
func startServe(t *testing.T, dataDir string, extra ...string) (*service, func()) {
	t.Helper()
	return startServeWith(t, nil, dataDir, extra...)
}

// startServeWith is startServe with tune applied to the configuration the
// flags make: a test's clock, shorter reactor intervals.
func startServeWith(t *testing.T, tune func(*Config), dataDir string, extra ...string) (*service, func()) {
	t.Helper()
	args := append([]string{"serve", "--data-dir", dataDir, "--http", "127.0.0.1:0", "--nats-listen", "127.0.0.1:0",
		"--token-secret", testSecret}, extra...)
	external := slices.Contains(extra, "--nats-url")
	if external && !slices.Contains(extra, "--nats-creds") && !slices.Contains(extra, "--nats-user") {
		// A test cluster trusts natstest's identity only.
		args = append(args, "--nats-creds", natstest.ServiceCreds(t))
	}
	return startApp(t, args, tune)
}

// startServeArgs is startServe with the whole command line, args[0]
// "serve" and --data-dir among them.
func startServeArgs(t *testing.T, args []string) (*service, func()) {
	t.Helper()
	return startApp(t, args, nil)
}

// startApp reads serve's command line args (args[0] "serve") as serve
// does, lets tune change the configuration, and runs the App until the
// test ends; it returns once the App serves, at the addresses the App
// gives. The returned stop cancels Run, checks that it returned nil and
// closes the App.
func startApp(t *testing.T, args []string, tune func(*Config)) (*service, func()) {
	t.Helper()
	logs := &syncBuffer{}
	cfg, err := parseServe(args[1:], logs, func(string) string { return "" })
	if err != nil {
		t.Fatalf("serve %q: %v\n%s", args[1:], err, logs.String())
	}
	if tune != nil {
		tune(&cfg)
	}
	app, err := NewApp(context.Background(), cfg, newLogger(logs, cfg.LogLevel))
	if err != nil {
		t.Fatalf("serve: %v\n%s", err, logs.String())
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx) }()
	select {
	case <-app.Ready():
	case err := <-done:
		cancel()
		app.Close()
		t.Fatalf("serve stopped early: %v\n%s", err, logs.String())
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatalf("serve did not serve within 30s:\n%s", logs.String())
	}
	s := &service{base: "http://" + app.Addr(), natsURL: app.NATSURL(), metricsAddr: app.MetricsAddr(), clock: cfg.Clock,
		logs: logs, natsOpts: natstest.Options()}
	if cfg.NATSURL == "" {
		s.natsOpts = []nats.Option{serviceOption(t, cfg.DataDir)}
	}
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve stopped with %v, want a clean stop:\n%s", err, logs.String())
			}
			app.Close()
		case <-time.After(30 * time.Second):
			t.Errorf("serve did not stop within 30s")
		}
	}
	t.Cleanup(stop)
	return s, stop
}

func token(t testing.TB, tenant, user string, roles ...string) string {
	t.Helper()
	return tokenAt(t, time.Now(), time.Hour, tenant, user, roles...)
}

// tokenAt is a bearer token issued at now for ttl.
func tokenAt(t testing.TB, now time.Time, ttl time.Duration, tenant, user string, roles ...string) string {
	t.Helper()
	iss, err := auth.New(auth.Config{Keys: testKeys(t)})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := iss.Issue(auth.Claims{Tenant: tenant, Subject: user, Roles: roles}, ttl, now)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// token is a bearer token the service accepts now: issued at its clock's
// now, for as long as a token may live when a test moves that clock (the
// service checks tokens against it), else as token's.
func (s *service) token(t testing.TB, tenant, user string, roles ...string) string {
	t.Helper()
	if s.clock == nil {
		return token(t, tenant, user, roles...)
	}
	return tokenAt(t, s.clock(), auth.DefaultMaxTTL, tenant, user, roles...)
}

type response struct {
	status int
	header http.Header
	body   map[string]any
	list   []any
	raw    string
}

func (s *service) do(t testing.TB, method, path, tok string, body any, hdr ...string) response {
	t.Helper()
	var reqBody []byte
	switch b := body.(type) {
	case nil:
	case string:
		reqBody = []byte(b)
	default:
		reqBody, _ = json.Marshal(b)
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(reqBody)
	}
	req, err := http.NewRequest(method, s.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if err := openapitest.Check(openapitest.Exchange{
		Method: method, Path: path, ReqHeader: req.Header, ReqBody: reqBody,
		Status: res.StatusCode, ResHeader: res.Header, ResBody: raw,
		SkipRequest: openapitest.RequestRefused(res.StatusCode),
	}); err != nil {
		t.Error(err)
	}
	r := response{status: res.StatusCode, header: res.Header, raw: string(raw)}
	if len(raw) > 0 && raw[0] == '[' {
		_ = json.Unmarshal(raw, &r.list)
	} else {
		_ = json.Unmarshal(raw, &r.body)
	}
	return r
}

func (r response) want(t testing.TB, status int, code string) response {
	t.Helper()
	if r.status != status {
		t.Fatalf("status: got %d, want %d; body %s", r.status, status, r.raw)
	}
	if code != "" {
		if got := r.body["code"]; got != code {
			t.Fatalf("problem code: got %v, want %q; body %s", got, code, r.raw)
		}
		if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
			t.Fatalf("content type: got %q, want application/problem+json", ct)
		}
	}
	return r
}

func TestServeEndToEnd(t *testing.T) {
	t.Parallel()
	svc, stop := startServe(t, t.TempDir())
	admin := token(t, "contoso", "ada", "license-admin")
	svc.do(t, "GET", "/healthz", "", nil).want(t, 200, "")
	waitFor(t, 10*time.Second, "readyz", func() bool { return svc.do(t, "GET", "/readyz", "", nil).status == 200 })

	r := svc.do(t, "POST", "/v1/products", admin, map[string]any{
		"product_id": "e5", "name": "Office 365 E5", "services": []string{"mail", "chat"}, "licenses": 2, "self_service": "blocked",
	}).want(t, 201, "")
	if r.header.Get("Seatflow-Position") == "" {
		t.Fatalf("no Seatflow-Position header: %v", r.header)
	}
	r = svc.do(t, "POST", "/v1/products/e5/assignments", admin, map[string]any{"user_id": "u1", "disabled_services": []string{"chat"}}).want(t, 201, "")
	pos := r.header.Get("Seatflow-Position")
	list := svc.do(t, "GET", "/v1/products?after="+pos, admin, nil).want(t, 200, "").list
	if len(list) != 1 {
		t.Fatalf("products: got %v", list)
	}
	p := list[0].(map[string]any)
	if p["purchased"] != 2.0 || p["assigned"] != 1.0 || p["available"] != 1.0 {
		t.Fatalf("counts: got %v, want 2/1/1", p)
	}
	// The user sees their own license with its origin; another user may not.
	lic := svc.do(t, "GET", "/v1/users/u1/licenses?after="+pos, token(t, "contoso", "u1", "user"), nil).want(t, 200, "").list
	if len(lic) != 1 || lic[0].(map[string]any)["source"].(map[string]any)["kind"] != "manual" {
		t.Fatalf("licenses: got %v", lic)
	}
	svc.do(t, "GET", "/v1/users/u1/licenses", token(t, "contoso", "u2", "user"), nil).want(t, 403, "forbidden")

	// Conflicts and bad input get their problem codes.
	svc.do(t, "POST", "/v1/products/e5/assignments", admin, map[string]any{"user_id": "u1"}).want(t, 409, "already_assigned")
	svc.do(t, "POST", "/v1/products/e5/assignments", admin, map[string]any{"user_id": "u2"}).want(t, 201, "")
	svc.do(t, "POST", "/v1/products/e5/assignments", admin, map[string]any{"user_id": "u3"}).want(t, 409, "no_licenses_available")
	svc.do(t, "POST", "/v1/products/e5/licenses", admin, map[string]any{"remove": 1}).want(t, 409, "")
	svc.do(t, "POST", "/v1/products", admin, `{"product_id": "x",`).want(t, 400, "invalid_json")
	svc.do(t, "POST", "/v1/products", "", map[string]any{}).want(t, 401, "unauthorized")
	svc.do(t, "POST", "/v1/products", token(t, "contoso", "u1", "user"), map[string]any{}).want(t, 403, "forbidden")

	// Another tenant sees nothing of contoso.
	other := svc.do(t, "GET", "/v1/products", token(t, "fabrikam", "f", "global-admin"), nil).want(t, 200, "").list
	if len(other) != 0 {
		t.Fatalf("tenant leak: %v", other)
	}

	// An Idempotency-Key replay answers with the first position and adds nothing.
	key := "buy-once-1"
	first := svc.do(t, "POST", "/v1/products/e5/licenses", admin, map[string]any{"add": 3}, "Idempotency-Key", key).want(t, 200, "")
	again := svc.do(t, "POST", "/v1/products/e5/licenses", admin, map[string]any{"add": 3}, "Idempotency-Key", key).want(t, 200, "")
	if first.header.Get("Seatflow-Position") != again.header.Get("Seatflow-Position") {
		t.Fatalf("replay position: got %s, want %s", again.header.Get("Seatflow-Position"), first.header.Get("Seatflow-Position"))
	}
	list = svc.do(t, "GET", "/v1/products?after="+again.header.Get("Seatflow-Position"), admin, nil).want(t, 200, "").list
	if got := list[0].(map[string]any)["purchased"]; got != 5.0 {
		t.Fatalf("purchased after a replayed purchase: got %v, want 5", got)
	}

	// Prometheus metrics agree with the API, without a token.
	metrics := svc.do(t, "GET", "/metrics", "", nil).want(t, 200, "").raw
	for _, line := range []string{
		`seatflow_licenses{product="e5",state="assigned",tenant="contoso"} 2`,
		`seatflow_licenses{product="e5",state="purchased",tenant="contoso"} 5`,
		`seatflow_events_appended_total{type="LicenseAssigned"} 2`,
		`seatflow_projection_lag_events 0`,
		`seatflow_nats_connected 1`,
		`seatflow_http_request_duration_seconds_count{code="409",method="POST",route="POST /v1/products/{id}/assignments"} 2`,
	} {
		if !strings.Contains(metrics, line+"\n") {
			t.Errorf("/metrics lacks %q", line)
		}
	}
	stop()
}

func TestServeRestartKeepsState(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	svc, stop := startServe(t, dir, "--demo")
	admin := token(t, "demo", "ada", "global-admin")
	waitFor(t, 10*time.Second, "readyz", func() bool { return svc.do(t, "GET", "/readyz", "", nil).status == 200 })
	before := svc.do(t, "GET", "/v1/products", admin, nil).want(t, 200, "").raw
	stop()
	// Loading the demo again is idempotent: the same state after restart.
	svc, _ = startServe(t, dir, "--demo")
	waitFor(t, 10*time.Second, "readyz", func() bool { return svc.do(t, "GET", "/readyz", "", nil).status == 200 })
	after := svc.do(t, "GET", "/v1/products", admin, nil).want(t, 200, "").raw
	metrics := svc.do(t, "GET", "/metrics", "", nil).raw
	for _, line := range []string{
		`seatflow_requests_pending{tenant="demo"} 1`,
		`seatflow_policy_claims{policy="demo-teams",tenant="demo"} 0`,
		`seatflow_policy_queued{policy="demo-teams",tenant="demo"} 0`,
	} {
		if !strings.Contains(metrics, line+"\n") {
			t.Errorf("/metrics lacks %q", line)
		}
	}
	// A sign-in over NATS flows through the partitioned router, whose metrics
	// show up, and its claim is counted under the policy.
	nc, err := nats.Connect(svc.natsURL, svc.natsOpts...)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	msg := nats.NewMsg("sf.signin.demo")
	msg.Header.Set("Nats-Msg-Id", "metrics-signin-1")
	msg.Data = []byte(`{"id":"metrics-signin-1","user_id":"mia","app":"teams","at":"2026-11-23T10:00:00Z"}`)
	if err := nc.PublishMsg(msg); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "the sign-in's claim in /metrics", func() bool {
		m := svc.do(t, "GET", "/metrics", "", nil).raw
		return strings.Contains(m, `seatflow_policy_claims{policy="demo-teams",tenant="demo"} 1`+"\n") &&
			strings.Contains(m, "seatflow_signin_batch_seconds_count")
	})
	if before != after || !strings.Contains(after, "Office 365 E5") {
		t.Fatalf("state changed across restart:\nbefore %s\nafter  %s", before, after)
	}
}

func TestBadConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"bad http", []string{"serve", "--http", "nope"}, nil, "--http"},
		{"bad sync", []string{"serve", "--sync", "sometimes"}, nil, "--sync"},
		{"bad env bool", []string{"serve"}, map[string]string{"SEATFLOW_DEMO": "perhaps"}, "SEATFLOW_DEMO"},
		{"short secret", []string{"serve", "--token-secret", "short"}, nil, "--token-secret"},
		{"replicas without cluster", []string{"serve", "--replicas", "3"}, nil, "--replicas"},
		{"stray argument", []string{"serve", "extra"}, nil, "unexpected argument"},
		{"negative forecast horizon", []string{"serve", "--forecast-horizon", "-1h"}, nil, "--forecast-horizon"},
		{"several problems, one line", []string{"serve", "--http", "nope", "--sync", "sometimes", "--replicas", "9"}, nil, "--sync"},
		{"unknown command", []string{"frobnicate"}, nil, "unknown command"},
		{"token without tenant", []string{"token", "--user", "u", "--role", "user", "--token-secret", testSecret}, nil, "--tenant is required"},
		{"token unknown role", []string{"token", "--tenant", "t", "--user", "u", "--role", "wizard", "--token-secret", testSecret}, nil, "wizard"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			getenv := func(k string) string { return tt.env[k] }
			code := Main(context.Background(), tt.args, io.Discard, &stderr, getenv)
			if code != 2 {
				t.Fatalf("exit code: got %d, want 2 (stderr %q)", code, stderr.String())
			}
			out := strings.TrimSpace(stderr.String())
			if strings.Count(out, "\n") != 0 || !strings.Contains(out, tt.want) {
				t.Fatalf("stderr: got %q, want one line mentioning %q", out, tt.want)
			}
		})
	}
}

func TestTokenUsesDataDirSecret(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	code := Main(context.Background(), []string{"token", "--data-dir", dir, "--tenant", "contoso", "--user", "ada", "--role", "global-admin,user"},
		&out, &errOut, func(string) string { return "" })
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	secrets, err := auth.LoadOrCreateSecrets(dir)
	if err != nil {
		t.Fatal(err)
	}
	iss, _ := auth.NewIssuer(secrets[0])
	c, err := iss.Verify(strings.TrimSpace(out.String()), time.Now())
	if err != nil {
		t.Fatalf("token does not verify with the data dir's secret: %v", err)
	}
	if c.Tenant != "contoso" || c.Subject != "ada" || fmt.Sprint(c.Roles) != "[global-admin user]" {
		t.Fatalf("claims: got %+v", c)
	}
	// The env var is read like the flag.
	out.Reset()
	code = Main(context.Background(), []string{"token", "--tenant", "contoso", "--user", "ada", "--role", "user"},
		&out, &errOut, func(k string) string {
			if k == "SEATFLOW_DATA_DIR" {
				return dir
			}
			return ""
		})
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if _, err := iss.Verify(strings.TrimSpace(out.String()), time.Now()); err != nil {
		t.Fatalf("SEATFLOW_DATA_DIR not honoured: %v", err)
	}
}

var httpClient = &http.Client{Timeout: 30 * time.Second}

func newRequest(method, url, tok, body string) (*http.Request, error) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	return req, nil
}
