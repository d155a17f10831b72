package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/infra/auth"
	"github.com/seatflow/seatflow/infra/httpapi"
	"github.com/seatflow/seatflow/infra/httpapi/openapitest"
	"github.com/seatflow/seatflow/projections"
)

var (
	secret = []byte("test-secret-test-secret-test-sec")
	now    = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
)

const tenant = "acme"

// store is an in-memory domain.Store that feeds the read models from each
// append, synchronously, and counts appends.
type store struct {
	mu       sync.Mutex
	last     uint64
	subjects map[string][]events.Envelope
	appends  int
	err      error // when set, every Append fails with it
	apply    []func(events.Envelope)
	changed  chan struct{}
}

func (s *store) Load(_ context.Context, tenant string, agg events.Aggregate, after uint64) ([]events.Envelope, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []events.Envelope
	for _, e := range s.subjects[events.Subject(tenant, agg)] {
		if e.Position > after {
			out = append(out, e)
		}
	}
	return out, nil
}

func (s *store) Append(_ context.Context, writes ...domain.Write) ([]uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return nil, s.err
	}
	for _, w := range writes {
		subj := w.Events[0].Subject()
		var last uint64
		if evs := s.subjects[subj]; len(evs) > 0 {
			last = evs[len(evs)-1].Position
		}
		if last != w.Expected {
			return nil, fmt.Errorf("%s at %d, expected %d: %w", subj, last, w.Expected, domain.ErrConcurrency)
		}
		for _, e := range w.Events {
			if _, err := events.Encode(e); err != nil {
				return nil, err
			}
		}
	}
	var positions []uint64
	for _, w := range writes {
		for _, e := range w.Events {
			s.last++
			e.Position = s.last
			s.subjects[e.Subject()] = append(s.subjects[e.Subject()], e)
			positions = append(positions, e.Position)
			for _, f := range s.apply {
				f(e)
			}
		}
	}
	s.appends++
	close(s.changed)
	s.changed = make(chan struct{})
	return positions, nil
}

// lastEvent is the event appended last.
func (s *store) lastEvent() events.Envelope {
	s.mu.Lock()
	defer s.mu.Unlock()
	var last events.Envelope
	for _, evs := range s.subjects {
		for _, ev := range evs {
			if ev.Position > last.Position {
				last = ev
			}
		}
	}
	return last
}

func (s *store) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.appends
}

func (s *store) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
}

// events returns every stored event, in stream order.
func (s *store) all() []events.Envelope {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []events.Envelope
	for _, evs := range s.subjects {
		out = append(out, evs...)
	}
	return out
}

// progress is the read models' progress: they are fed synchronously, so
// they are always at the store's last position.
type progress struct {
	store *store
	ready atomic.Bool
}

func (p *progress) Ready() bool { return p.ready.Load() }

func (p *progress) WaitFor(ctx context.Context, pos uint64) error {
	for {
		p.store.mu.Lock()
		last, ch := p.store.last, p.store.changed
		p.store.mu.Unlock()
		if last >= pos {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

// syncBuffer collects log output from concurrent handlers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

type env struct {
	t        testing.TB
	srv      *httpapi.Server
	store    *store
	progress *progress
	tokens   *auth.Issuer
	svc      *domain.Service
	logs     *syncBuffer
}

type option func(*httpapi.Config, *domain.Config)

func newEnv(t testing.TB, opts ...option) *env {
	t.Helper()
	st := &store{subjects: map[string][]events.Envelope{}, changed: make(chan struct{})}
	counts, licenses := projections.NewLicenseCounts(), projections.NewUserLicenses()
	st.apply = []func(events.Envelope){counts.Apply, licenses.Apply}
	var ids atomic.Uint64
	newID := func() string { return fmt.Sprintf("id%06d", ids.Add(1)) }
	clock := func() time.Time { return now }
	dcfg := domain.Config{Now: clock, NewID: newID, Backoff: time.Microsecond, MaxBackoff: time.Millisecond}
	tokens, err := auth.NewIssuer(secret)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	prog := &progress{store: st}
	prog.ready.Store(true)
	cfg := httpapi.Config{
		Products: counts, Licenses: licenses, Progress: prog, Tokens: tokens,
		Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:    clock, NewID: newID,
	}
	for _, o := range opts {
		o(&cfg, &dcfg)
	}
	svc, err := domain.NewService(st, dcfg)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Commands == nil {
		cfg.Commands = svc
	}
	srv, err := httpapi.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, srv: srv, store: st, progress: prog, tokens: tokens, svc: svc, logs: logs}
}

// token signs a token for sub in tenant acme with roles.
func (e *env) token(sub string, roles ...string) string {
	return e.tokenIn(tenant, sub, roles...)
}

func (e *env) tokenIn(tenant, sub string, roles ...string) string {
	e.t.Helper()
	tok, err := e.tokens.Issue(auth.Claims{Tenant: tenant, Subject: sub, Roles: roles}, time.Hour, now)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

func (e *env) admin() string { return e.token("root", auth.RoleGlobalAdmin) }

type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends one request. headers are name, value pairs; a token of "" sends
// no Authorization header.
func (e *env) do(method, path, token, body string, headers ...string) response {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		// As a client does; a header in headers replaces it.
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if strings.EqualFold(headers[i], "Content-Type") {
			req.Header.Del(headers[i])
		}
		req.Header.Add(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	e.srv.ServeHTTP(rec, req)
	res := rec.Result()
	b, _ := io.ReadAll(res.Body)
	if err := openapitest.Check(openapitest.Exchange{
		Method: method, Path: path, ReqHeader: req.Header, ReqBody: []byte(body),
		Status: res.StatusCode, ResHeader: res.Header, ResBody: b,
		SkipRequest: openapitest.RequestRefused(res.StatusCode),
	}); err != nil {
		e.t.Error(err)
	}
	if res.Header.Get("X-Content-Type-Options") != "nosniff" {
		e.t.Errorf("%s %s: X-Content-Type-Options = %q, want nosniff", method, path, res.Header.Get("X-Content-Type-Options"))
	}
	return response{status: res.StatusCode, header: res.Header, body: b}
}

// mustStatus fails unless r has status want.
func (r response) mustStatus(t testing.TB, want int) response {
	t.Helper()
	if r.status != want {
		t.Fatalf("status %d, want %d; body %s", r.status, want, r.body)
	}
	return r
}

// problem checks r is a problem answer with status and code, and returns it.
func (r response) problem(t testing.TB, status int, code string) httpapi.Problem {
	t.Helper()
	p, err := parseProblem(r)
	if err != nil {
		t.Fatal(err)
	}
	if p.Status != status || p.Code != code || r.status != status {
		t.Fatalf("got %d %s (body status %d), want %d %s; detail %q", r.status, p.Code, p.Status, status, code, p.Detail)
	}
	return p
}

func parseProblem(r response) (httpapi.Problem, error) {
	var p httpapi.Problem
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		return p, fmt.Errorf("Content-Type %q, want application/problem+json; body %s", ct, r.body)
	}
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return p, fmt.Errorf("problem body %s: %v", r.body, err)
	}
	if p.Type != httpapi.ProblemTypePrefix+p.Code || p.Title == "" || p.Detail == "" || p.Code == "" {
		return p, fmt.Errorf("incomplete problem %+v", p)
	}
	return p, nil
}

// decode checks r is JSON and decodes it into v.
func (r response) decode(t testing.TB, v any) {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q, want application/json; body %s", ct, r.body)
	}
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// state decodes a product command answer and checks the position header
// matches the body.
func (r response) state(t testing.TB) httpapi.ProductState {
	t.Helper()
	var s httpapi.ProductState
	r.decode(t, &s)
	if h := r.header.Get(httpapi.HeaderPosition); h != strconv.FormatUint(s.Position, 10) || s.Position == 0 {
		t.Fatalf("Seatflow-Position %q, body position %d", h, s.Position)
	}
	return s
}

// seed adds product id with services word and excel and n licenses.
func (e *env) seed(id string, n int) uint64 {
	e.t.Helper()
	body := fmt.Sprintf(`{"product_id":%q,"name":"Office %s","services":["word","excel"],"licenses":%d,"self_service":"blocked"}`, id, id, n)
	return e.do("POST", "/v1/products", e.admin(), body).mustStatus(e.t, http.StatusCreated).state(e.t).Position
}
