package main

import (
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seatflow/seatflow/infra/natstest"
)

// freezer is a TCP proxy to a NATS server that can stop passing bytes in
// both directions while keeping every connection open: what a frozen (e.g.
// SIGSTOPped) server looks like to its clients.
type freezer struct {
	ln     net.Listener
	frozen gate // nothing passes
	mute   gate // nothing comes back from the server
}

// gate holds bytes back while it is shut.
type gate struct {
	mu     sync.Mutex
	opened chan struct{} // closed while the gate is open; nil: open
}

// shut shuts the gate (true) or opens it (false).
func (g *gate) shut(shut bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case shut && g.opened == nil:
		g.opened = make(chan struct{})
	case !shut && g.opened != nil:
		close(g.opened)
		g.opened = nil
	}
}

// wait blocks while the gate is shut; it reports whether it had to.
func (g *gate) wait() bool {
	g.mu.Lock()
	opened := g.opened
	g.mu.Unlock()
	if opened == nil {
		return false
	}
	<-opened
	return true
}

func newFreezer(t *testing.T, upstream string) *freezer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &freezer{ln: ln}
	t.Cleanup(func() { ln.Close(); f.frozen.shut(false); f.mute.shut(false) })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", upstream)
			if err != nil {
				c.Close()
				continue
			}
			go f.pipe(u, c, &f.frozen)
			go f.pipe(c, u, &f.frozen, &f.mute)
		}
	}()
	return f
}

// pipe copies src to dst, holding what it read while any of gates is
// shut.
func (f *freezer) pipe(dst, src net.Conn, gates ...*gate) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		// Pass only after a round in which every gate was open.
		for waited := true; waited; {
			waited = false
			for _, g := range gates {
				waited = g.wait() || waited
			}
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (f *freezer) url() string { return "nats://" + f.ln.Addr().String() }

// TestReadyzFollowsAFrozenNATS: with NATS frozen, the connection still says
// "connected", yet /readyz turns 503 within seconds and
// seatflow_nats_connected drops to 0; both recover when NATS does.
func TestReadyzFollowsAFrozenNATS(t *testing.T) {
	t.Parallel()
	srv := natstest.RunJetStream(t)
	f := newFreezer(t, strings.TrimPrefix(srv.ClientURL(), "nats://"))
	svc, _ := startServe(t, t.TempDir(), "--nats-url", f.url())
	waitFor(t, 30*time.Second, "readyz", func() bool { return svc.do(t, "GET", "/readyz", "", nil).status == 200 })
	metric := func() string {
		for _, l := range strings.Split(svc.do(t, "GET", "/metrics", "", nil).raw, "\n") {
			if strings.HasPrefix(l, "seatflow_nats_connected ") {
				return strings.TrimPrefix(l, "seatflow_nats_connected ")
			}
		}
		return ""
	}
	if got := metric(); got != "1" {
		t.Fatalf("seatflow_nats_connected: got %q, want 1", got)
	}

	f.frozen.shut(true)
	var detail string
	waitFor(t, 15*time.Second, "readyz to turn 503", func() bool {
		r := svc.do(t, "GET", "/readyz", "", nil)
		detail = r.raw
		return r.status == 503
	})
	if !strings.Contains(detail, "event stream") {
		t.Errorf("readyz while frozen: %s, want the reason", detail)
	}
	if got := metric(); got != "0" {
		t.Errorf("seatflow_nats_connected while frozen: got %q, want 0", got)
	}

	f.frozen.shut(false)
	waitFor(t, 30*time.Second, "readyz to recover", func() bool { return svc.do(t, "GET", "/readyz", "", nil).status == 200 })
}

// TestOutcomeUnknownIsSafeToRetry: the server stores a purchase but its
// acknowledgement never comes back. The answer is 503 outcome_unknown with
// the command's id; retrying with that id as Idempotency-Key answers the
// stored result and buys the licenses once, not twice.
func TestOutcomeUnknownIsSafeToRetry(t *testing.T) {
	t.Parallel()
	srv := natstest.RunJetStream(t)
	f := newFreezer(t, strings.TrimPrefix(srv.ClientURL(), "nats://"))
	svc, _ := startServe(t, t.TempDir(), "--nats-url", f.url())
	admin := token(t, "contoso", "lena", "license-admin")
	svc.do(t, "POST", "/v1/products", admin, map[string]any{"product_id": "e5", "name": "E5", "services": []string{"mail"},
		"licenses": 5, "self_service": "blocked"}).want(t, 201, "")

	f.mute.shut(true)
	r := svc.do(t, "POST", "/v1/products/e5/licenses", admin, map[string]any{"add": 1}).want(t, 503, "outcome_unknown")
	id := r.header.Get("Seatflow-Command-Id")
	if id == "" || r.header.Get("Retry-After") == "" {
		t.Fatalf("outcome unknown: headers %v, want Seatflow-Command-Id and Retry-After", r.header)
	}
	f.mute.shut(false)
	var pos string
	waitFor(t, 30*time.Second, "the retry to answer", func() bool {
		r := svc.do(t, "POST", "/v1/products/e5/licenses", admin, map[string]any{"add": 1}, "Idempotency-Key", id)
		pos = r.header.Get("Seatflow-Position")
		if r.header.Get("Seatflow-Command-Id") != id {
			t.Fatalf("retry: Seatflow-Command-Id %q, want %q", r.header.Get("Seatflow-Command-Id"), id)
		}
		return r.status == 200
	})
	p := svc.do(t, "GET", "/v1/products/e5?after="+pos, admin, nil).want(t, 200, "")
	if p.body["purchased"] != float64(6) {
		t.Fatalf("after the unknown outcome and its retry: %s, want 6 purchased (bought once)", p.raw)
	}
}

// TestIdempotencyKeyReusedWithAnotherRequest: the same Idempotency-Key with
// another body is 422 idempotency_key_reused and changes nothing; with the
// same body it replays. Keys are per tenant.
func TestIdempotencyKeyReusedWithAnotherRequest(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	svc, _ := startServe(t, dataDir)
	admin := token(t, "contoso", "lena", "license-admin")
	svc.do(t, "POST", "/v1/products", admin, map[string]any{"product_id": "e5", "name": "E5", "services": []string{"mail"},
		"licenses": 5, "self_service": "blocked"}).want(t, 201, "")
	first := svc.do(t, "POST", "/v1/products/e5/licenses", admin, map[string]any{"add": 5}, "Idempotency-Key", "k-1").want(t, 200, "")
	svc.do(t, "POST", "/v1/products/e5/licenses", admin, map[string]any{"remove": 3}, "Idempotency-Key", "k-1").want(t, 422, "idempotency_key_reused")
	svc.do(t, "POST", "/v1/products/e6/licenses", admin, map[string]any{"add": 5}, "Idempotency-Key", "k-1").want(t, 422, "idempotency_key_reused")
	again := svc.do(t, "POST", "/v1/products/e5/licenses", admin, map[string]any{"add": 5}, "Idempotency-Key", "k-1").want(t, 200, "")
	if again.header.Get("Seatflow-Position") != first.header.Get("Seatflow-Position") {
		t.Fatalf("replay: position %s, want %s", again.header.Get("Seatflow-Position"), first.header.Get("Seatflow-Position"))
	}
	// Another tenant's key of the same name is its own.
	other := token(t, "fabrikam", "lena", "license-admin")
	svc.do(t, "POST", "/v1/products", other, map[string]any{"product_id": "e5", "name": "E5", "services": []string{"mail"},
		"licenses": 5, "self_service": "blocked"}, "Idempotency-Key", "k-1").want(t, 201, "")
	p := svc.do(t, "GET", "/v1/products/e5?after="+again.header.Get("Seatflow-Position"), admin, nil).want(t, 200, "")
	if p.body["purchased"] != float64(10) {
		t.Fatalf("after add 5, a refused remove 3 and a replay: %s, want 10 purchased", p.raw)
	}
}
