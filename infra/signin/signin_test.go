package signin_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/infra/lastseen"
	"github.com/seatflow/seatflow/infra/natsjs"
	"github.com/seatflow/seatflow/infra/natstest"
	"github.com/seatflow/seatflow/infra/signin"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name, body, reason string
	}{
		{"valid", `{"id":"s1","user_id":"u1","app":"teams","at":"2026-11-01T09:00:00Z","email":"u1@example.com","extra":1}`, ""},
		{"garbage", "\x00\xffgarbage", domain.RejectMalformedJSON},
		{"truncated", `{"id":"s1","user_id":"u1","app":"te`, domain.RejectMalformedJSON},
		{"array", `[1,2]`, domain.RejectMalformedJSON},
		{"wrong type", `{"id":1,"user_id":"u1","app":"teams","at":"2026-11-01T09:00:00Z"}`, domain.RejectMalformedJSON},
		{"bad time", `{"id":"s1","user_id":"u1","app":"teams","at":"yesterday"}`, domain.RejectMalformedJSON},
		{"null", `null`, domain.RejectMissingField},
		{"missing user", `{"id":"s1","app":"teams","at":"2026-11-01T09:00:00Z"}`, domain.RejectMissingField},
		{"missing at", `{"id":"s1","user_id":"u1","app":"teams"}`, domain.RejectMissingField},
		{"empty app", `{"id":"s1","user_id":"u1","app":"","at":"2026-11-01T09:00:00Z"}`, domain.RejectMissingField},
		{"bad user id", `{"id":"s1","user_id":"a b","app":"teams","at":"2026-11-01T09:00:00Z"}`, domain.RejectInvalidField},
		{"bad id", `{"id":"s.1","user_id":"u1","app":"teams","at":"2026-11-01T09:00:00Z"}`, domain.RejectInvalidField},
		{"bad email", `{"id":"s1","user_id":"u1","app":"teams","at":"2026-11-01T09:00:00Z","email":"nope"}`, domain.RejectInvalidField},
		{"too large", `{"id":"s1","pad":"` + strings.Repeat("x", signin.MaxPayload) + `"}`, domain.RejectTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := signin.Parse([]byte(tt.body))
			var rej *domain.SignInRejectedError
			switch {
			case tt.reason == "" && err != nil:
				t.Fatalf("got %v, want no error", err)
			case tt.reason == "" && (p.ID != "s1" || p.UserID != "u1" || p.App != "teams" || p.Email == nil):
				t.Fatalf("payload: %+v", p)
			case tt.reason != "" && (!errors.As(err, &rej) || rej.Reason != tt.reason):
				t.Fatalf("got %v, want rejection %s", err, tt.reason)
			}
		})
	}
}

// fakeCommands records claims and fails the first failN of them.
type fakeCommands struct {
	mu     sync.Mutex
	claims []domain.SignIn
	users  []string
	failN  int
	// panicFor and failFor name users whose claims panic or always fail.
	panicFor, failFor domain.UserID
	// licensed answers already_licensed, held since the time given.
	licensed map[domain.UserID]time.Time
	// delay is how long each batch takes.
	delay time.Duration
	// frozen, while open, holds every batch (a process that hangs).
	frozen chan struct{}
}

func (f *fakeCommands) ClaimBatch(_ context.Context, tenant domain.TenantID, in []domain.SignIn, _ domain.ClaimOptions) ([]domain.BatchOutcome, error) {
	time.Sleep(f.delay)
	f.mu.Lock()
	frozen := f.frozen
	f.mu.Unlock()
	if frozen != nil {
		<-frozen
	}
	for _, s := range in {
		if s.UserID == f.panicFor {
			panic("boom")
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range in {
		if s.UserID == f.failFor {
			return nil, errors.New("nats: no responders")
		}
	}
	if f.failN > 0 {
		f.failN--
		return nil, errors.New("nats: timeout")
	}
	out := make([]domain.BatchOutcome, len(in))
	for i, s := range in {
		if since, ok := f.licensed[s.UserID]; ok {
			out[i].Status, out[i].HeldSince = domain.ClaimAlreadyLicensed, since
			continue
		}
		f.claims = append(f.claims, s)
		out[i].Status = domain.ClaimClaimed
	}
	return out, nil
}

func (f *fakeCommands) RegisterSignInUser(_ context.Context, _ domain.TenantID, id domain.UserID, _ events.Meta, email, name string) (domain.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.users = append(f.users, fmt.Sprintf("%s %s %s", id, email, name))
	return domain.Result{}, nil
}

func (f *fakeCommands) claimed() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.claims {
		out = append(out, c.ID)
	}
	return out
}

type tenants map[string]bool

func (t tenants) Known(_ context.Context, tenant string) (bool, error) { return t[tenant], nil }

func publish(t *testing.T, js jetstream.JetStream, subject, id, body string) {
	t.Helper()
	m := &nats.Msg{Subject: subject, Data: []byte(body), Header: nats.Header{}}
	m.Header.Set(jetstream.MsgIDHeader, id)
	if _, err := js.PublishMsg(context.Background(), m); err != nil {
		t.Fatal(err)
	}
}

func valid(id, user string) string {
	return fmt.Sprintf(`{"id":%q,"user_id":%q,"app":"teams","at":"2026-11-01T09:00:00Z"}`, id, user)
}

// TestRouter: valid sign-ins are claimed in order, transient failures are
// retried, poison messages are dead-lettered with a reason, and the durable
// consumer resumes after a restart without redelivering what was done.
func TestRouter(t *testing.T) {
	srv := natstest.RunJetStream(t)
	_, js := natstest.Connect(t, srv.ClientURL())
	if err := natsjs.EnsureStreams(context.Background(), js, 1); err != nil {
		t.Fatal(err)
	}
	cmds := &fakeCommands{failN: 2}
	h := signin.NewHandler(cmds, tenants{"contoso": true}, domain.ClaimOptions{})
	start := func() func() {
		r, err := signin.New(context.Background(), signin.Config{URL: srv.ClientURL(), Options: natstest.Options(), Handler: h, Partitions: natsjs.SigninPartitions, RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = r.Run(ctx) }()
		<-r.Running()
		return func() { cancel(); <-done }
	}
	stop := start()
	publish(t, js, "sf.signin.contoso", "s1", valid("s1", "u1"))
	publish(t, js, "sf.signin.contoso", "g", "garbage")
	publish(t, js, "sf.signin.contoso", "s2", `{"id":"s2","user_id":"u2","app":"teams","at":"2026-11-01T09:00:00Z","email":"U2@example.com"}`)
	publish(t, js, "sf.signin.nobody", "n", valid("n1", "u9"))
	publish(t, js, "sf.signin.contoso", "s3", valid("s3", "u3"))
	publish(t, js, "sf.signin.contoso", "s1", valid("s1", "u1")) // deduplicated by the stream
	natstest.CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		if got := strings.Join(cmds.claimed(), ","); got != "s1,s2,s3" {
			return fmt.Errorf("claims: got %q, want s1,s2,s3", got)
		}
		return nil
	})
	stop()
	// After a restart the durable consumer goes on from where it was.
	publish(t, js, "sf.signin.contoso", "s4", valid("s4", "u4"))
	stop = start()
	defer stop()
	natstest.CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		if got := strings.Join(cmds.claimed(), ","); got != "s1,s2,s3,s4" {
			return fmt.Errorf("claims: got %q, want s1,s2,s3,s4", got)
		}
		return nil
	})
	// A batch retried after a transient failure registers its users again:
	// harmless, the registration's command id makes it happen once.
	if users := slices.Compact(slices.Clone(cmds.users)); len(users) != 1 || users[0] != "u2 U2@example.com U2@example.com" {
		t.Fatalf("directory: got %v", cmds.users)
	}
	s, err := js.Stream(context.Background(), natsjs.StreamDLQ)
	if err != nil {
		t.Fatal(err)
	}
	for subject, reason := range map[string]string{"sf.dlq.signin.contoso": domain.RejectMalformedJSON, "sf.dlq.signin.nobody": domain.RejectUnknownTenant} {
		m, err := s.GetLastMsgForSubject(context.Background(), subject)
		if err != nil {
			t.Fatalf("%s: %v", subject, err)
		}
		if got := m.Header.Get(signin.HeaderError); !strings.HasPrefix(got, reason+": ") {
			t.Fatalf("%s: reason %q, want %s", subject, got, reason)
		}
	}
	info, _ := s.Info(context.Background())
	if info.State.Msgs != 2 {
		t.Fatalf("dead letters: got %d, want 2", info.State.Msgs)
	}
}

// TestRouterOversized: on a server that lets 2 MB through, a 2 MB sign-in is
// dead-lettered as too large and the next one is claimed.
func TestRouterOversized(t *testing.T) {
	opts := &server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), MaxPayload: 4 << 20, NoLog: true}
	if err := natstest.Identity().ConfigureServer(opts, t.TempDir(), nil); err != nil {
		t.Fatal(err)
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	t.Cleanup(srv.Shutdown)
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	_, js := natstest.Connect(t, srv.ClientURL())
	if err := natsjs.EnsureStreams(context.Background(), js, 1); err != nil {
		t.Fatal(err)
	}
	cmds := &fakeCommands{}
	r, err := signin.New(context.Background(), signin.Config{URL: srv.ClientURL(), Options: natstest.Options(), Handler: signin.NewHandler(cmds, tenants{"contoso": true}, domain.ClaimOptions{}), Partitions: natsjs.SigninPartitions})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Run(ctx) }()
	defer func() { cancel(); <-done }()
	publish(t, js, "sf.signin.contoso", "big", `{"id":"big","user_id":"u1","app":"teams","at":"2026-11-01T09:00:00Z","pad":"`+strings.Repeat("x", 2<<20)+`"}`)
	publish(t, js, "sf.signin.contoso", "s1", valid("s1", "u1"))
	natstest.CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		if got := strings.Join(cmds.claimed(), ","); got != "s1" {
			return fmt.Errorf("claims: got %q, want s1", got)
		}
		return nil
	})
	s, _ := js.Stream(context.Background(), natsjs.StreamDLQ)
	m, err := s.GetLastMsgForSubject(context.Background(), "sf.dlq.signin.contoso")
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Header.Get(signin.HeaderError); !strings.HasPrefix(got, domain.RejectTooLarge+": ") || len(m.Data) < 2<<20 {
		t.Fatalf("dead letter: reason %q, %d bytes", got, len(m.Data))
	}
}

// TestRouterNeverHeldUp: a message that panics the handler, and one that
// keeps failing, are dead-lettered; the ones behind them are claimed.
func TestRouterNeverHeldUp(t *testing.T) {
	srv := natstest.RunJetStream(t)
	_, js := natstest.Connect(t, srv.ClientURL())
	if err := natsjs.EnsureStreams(context.Background(), js, 1); err != nil {
		t.Fatal(err)
	}
	cmds := &fakeCommands{panicFor: "bomb", failFor: "stuck"}
	r, err := signin.New(context.Background(), signin.Config{URL: srv.ClientURL(), Options: natstest.Options(), Handler: signin.NewHandler(cmds, tenants{"contoso": true}, domain.ClaimOptions{}),
		Partitions: natsjs.SigninPartitions, Retries: 2, RetryMin: time.Millisecond, RetryMax: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Run(ctx) }()
	defer func() { cancel(); <-done }()
	publish(t, js, "sf.signin.contoso", "b", valid("b1", "bomb"))
	publish(t, js, "sf.signin.contoso", "s", valid("s1", "stuck"))
	publish(t, js, "sf.signin.contoso", "ok", valid("ok1", "u1"))
	natstest.CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		if got := strings.Join(cmds.claimed(), ","); got != "ok1" {
			return fmt.Errorf("claims: got %q, want ok1", got)
		}
		return nil
	})
	s, _ := js.Stream(context.Background(), natsjs.StreamDLQ)
	var reasons []string
	for seq := uint64(1); seq <= 2; seq++ {
		m, err := s.GetMsg(context.Background(), seq)
		if err != nil {
			t.Fatal(err)
		}
		reason, _, _ := strings.Cut(m.Header.Get(signin.HeaderError), ":")
		reasons = append(reasons, reason)
	}
	if strings.Join(reasons, ",") != domain.RejectInternal+","+domain.RejectRetriesExhausted {
		t.Fatalf("dead letters: %v", reasons)
	}
}

type seenRecorder struct{ seen []string }

func (r *seenRecorder) Record(_ context.Context, tenant string, seen []lastseen.Seen) error {
	for _, s := range seen {
		r.seen = append(r.seen, tenant+" "+s.UserID)
	}
	return nil
}

// TestHandlerRecordsLastSignIns: a licensed user's sign-in is recorded for
// reclaiming, unless the license was claimed or assigned less than
// lastseen.Granularity before it (the claim's time counts as a sign-in), so
// re-sign-ins soon after a claim write nothing; a new claim records nothing
// either (its event carries its time).
func TestHandlerRecordsLastSignIns(t *testing.T) {
	at := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	cmds := &fakeCommands{licensed: map[domain.UserID]time.Time{
		"fresh":  at.Add(-10 * time.Minute),
		"old":    at.Add(-lastseen.Granularity),
		"warned": {},
	}}
	rec := &seenRecorder{}
	h := signin.NewHandler(cmds, tenants{"contoso": true}, domain.ClaimOptions{}).RecordSeen(rec)
	var ps []domain.SignInMessage
	for _, u := range []string{"fresh", "old", "warned", "new"} {
		ps = append(ps, domain.SignInMessage{ID: "s-" + u, UserID: u, App: "teams", At: at})
	}
	if _, err := h.HandleBatch(context.Background(), "contoso", ps); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(rec.seen, ","); got != "contoso old,contoso warned" {
		t.Fatalf("recorded %q, want the sign-ins of old and warned", got)
	}
}
