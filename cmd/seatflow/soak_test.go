package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/infra/oracle"
)

// TestSoakSmoke runs `seatflow bench --soak` briefly with a small load:
// both faults happen and every check runs and passes. It asserts the
// checks, never timings.
func TestSoakSmoke(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary and runs a 3-node cluster and two instances")
	}
	bin := buildBinary(t)
	var out bytes.Buffer
	// 20 seconds say nothing about memory growth: the check runs with a
	// loose tolerance here; bench --soak 10m is what judges it.
	err := runSoak(context.Background(), soakConfig{Duration: 20 * time.Second, Rate: 12, Tenants: 2, Workers: 8, Binary: bin, Tolerance: 0.5},
		&out, newLogger(io.Discard, "error"))
	t.Logf("soak output:\n%s", out.String())
	if err != nil {
		t.Fatalf("soak: %v", err)
	}
	for _, want := range []string{
		"SIGKILL instance 2", "instance 2 ready again", "shut down NATS node", "back (same store)",
		"PASS  invariants 1-3", "PASS  invariant 4", "PASS  every acknowledged command stands exactly once",
		"PASS  every answer names its command id", "PASS  faults injected and recovered",
		"PASS  instance 1 memory flat", "PASS  instance 2 memory flat",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("soak output lacks %q", want)
		}
	}
	if strings.Contains(out.String(), "FAIL") {
		t.Errorf("a check failed")
	}
}

// TestSoakCommandRetriesOutcomeUnknownWithCommandID: a 503
// outcome_unknown is retried with the answer's Seatflow-Command-Id as
// Idempotency-Key, and counted as a fault survived.
func TestSoakCommandRetriesOutcomeUnknownWithCommandID(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	var mu sync.Mutex
	var keys []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		keys = append(keys, r.Header.Get("Idempotency-Key"))
		mu.Unlock()
		w.Header().Set("Seatflow-Command-Id", r.Header.Get("Idempotency-Key"))
		if calls.Add(1) == 1 {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(503)
			_, _ = io.WriteString(w, `{"code":"outcome_unknown","status":503}`)
			return
		}
		w.WriteHeader(201)
		_, _ = io.WriteString(w, `{"product_id":"A"}`)
	}))
	defer srv.Close()
	s := &soak{client: srv.Client()}
	for i := range s.insts {
		s.insts[i] = &soakInstance{base: srv.URL}
	}
	c := &soakCmd{kind: skAssign, key: "k-1"}
	s.command(context.Background(), c, "POST", "/v1/products/A/assignments", "tok", map[string]any{"user_id": "u"})
	if c.status != 201 || c.retries != 1 || s.faults.outcomeUnknown.Load() != 1 {
		t.Fatalf("got status %d after %d retries, %d outcome_unknown counted; want 201 after 1 retry, 1 counted", c.status, c.retries, s.faults.outcomeUnknown.Load())
	}
	mu.Lock()
	defer mu.Unlock()
	if len(keys) != 2 || keys[0] != "k-1" || keys[1] != "k-1" {
		t.Fatalf("Idempotency-Keys sent: %v, want the command id twice", keys)
	}
	if len(s.cmds) != 1 {
		t.Fatalf("%d commands recorded, want 1", len(s.cmds))
	}
}

// TestSoakCheckCommands: the command check finds a lost acknowledged
// command, one applied twice, a refusal that left an event and a refusal
// the load cannot cause.
func TestSoakCheckCommands(t *testing.T) {
	t.Parallel()
	f := oracle.New()
	pos := uint64(0)
	add := func(cmd string, data events.Data, agg events.Aggregate) {
		pos++
		env := events.Envelope{ID: "e" + string(rune('a'+pos)), Type: data.EventType(), Tenant: "t", Aggregate: agg, CommandID: cmd, Data: data, Position: pos}
		f.Apply(oracle.Message{Seq: pos, Subject: env.Subject(), MsgID: env.ID, Env: env})
	}
	prod := events.Aggregate{Kind: events.KindProduct, ID: "A"}
	add("c-product", events.ProductAdded{ProductID: "A", Licenses: 2}, prod)
	add("c-ok", events.LicenseAssigned{ProductID: "A", UserID: "u1"}, prod)
	add("c-twice", events.LicenseAssigned{ProductID: "A", UserID: "u2"}, prod)
	add("c-twice", events.LicenseUnassigned{ProductID: "A", UserID: "u2"}, prod)
	add("c-refused-left", events.LicenseAssigned{ProductID: "A", UserID: "u3"}, prod)
	cmds := []*soakCmd{
		{kind: skProduct, tenant: "t", key: "c-product", status: 201},
		{kind: skAssign, tenant: "t", key: "c-ok", status: 201},
		{kind: skAssign, tenant: "t", key: "c-lost", status: 201},
		{kind: skAssign, tenant: "t", key: "c-twice", status: 201},
		{kind: skAssign, tenant: "t", key: "c-refused-left", status: 409, code: "no_licenses_available"},
		{kind: skAssign, tenant: "t", key: "c-refused-odd", status: 409, code: "below_assigned"},
		{kind: skUnassign, tenant: "t", key: "c-refused-ok", status: 404, code: "not_found"},
		{kind: skPurchase, tenant: "t", key: "c-none", status: 0},
	}
	acked, refused, problems := soakCheckCommands(cmds, f, 20)
	if acked != 4 || refused != 3 {
		t.Errorf("acked %d refused %d, want 4 and 3", acked, refused)
	}
	if r := soakCheckRefusals(cmds, 10); len(r) != 1 || !strings.Contains(r[0], "c-refused-odd") {
		t.Errorf("refusals the load cannot cause: %q, want only c-refused-odd (below_assigned on an assignment)", r)
	}
	want := []string{"c-lost", "c-twice", "c-refused-left", "c-none"}
	if len(problems) != len(want) {
		t.Fatalf("problems %q, want one each for %v", problems, want)
	}
	for i, key := range want {
		if !strings.Contains(problems[i], key) {
			t.Errorf("problem %d is %q, want one about %s", i, problems[i], key)
		}
	}
	if err := f.Err(); err != nil {
		t.Errorf("invariants: %v", err)
	}
}

// TestSoakMemoryFlat: the verdict compares the middle and last thirds of
// an instance's last process only.
func TestSoakMemoryFlat(t *testing.T) {
	t.Parallel()
	series := func(inst, pid int, kbs ...int64) []soakSample {
		var out []soakSample
		for i, kb := range kbs {
			out = append(out, soakSample{at: time.Duration(i) * time.Second, inst: inst, pid: pid, kb: kb})
		}
		return out
	}
	flat := series(0, 1, 10_000, 40_000, 50_000, 50_000, 52_000, 51_000, 52_000, 53_000, 52_000)
	if m := soakMemoryFlat(flat, 0, 0.25); !m.ok {
		t.Errorf("flat after warm-up judged not flat: %s", m.why)
	}
	growing := series(0, 1, 10_000, 20_000, 30_000, 40_000, 50_000, 60_000, 70_000, 80_000, 90_000)
	if m := soakMemoryFlat(growing, 0, 0.25); m.ok {
		t.Errorf("steady growth judged flat: %+v", m)
	}
	// A killed process's samples do not count: only the last life.
	restarted := append(series(1, 7, 90_000, 95_000, 99_000), series(1, 8, 10_000, 40_000, 50_000, 50_000, 51_000, 50_000)...)
	if m := soakMemoryFlat(restarted, 1, 0.25); !m.ok || m.samples != 6 {
		t.Errorf("restarted instance: %+v, want flat over its 6 samples", m)
	}
	if m := soakMemoryFlat(series(0, 1, 1, 2, 3), 0, 0.25); m.ok {
		t.Errorf("3 samples judged flat")
	}
}
