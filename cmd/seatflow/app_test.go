package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/infra/natsjs"
)

// TestRunDrainsInFlightRequests: when Run's context ends, the HTTP server
// stops accepting and finishes the request in flight, and the read models
// go on applying until it has. The request in flight shares a request
// with a recipient the directory learns of only during the drain, from
// another writer: its ?after= waits for that, and it is answered 200;
// then Run returns nil.
func TestRunDrainsInFlightRequests(t *testing.T) {
	svc, stop := startServe(t, t.TempDir())
	admin := token(t, "contoso", "ada", "global-admin")
	svc.do(t, "PUT", "/v1/users/u1", admin, map[string]any{"email": "u1@example.com", "display_name": "User u1"}).want(t, 200, "")
	svc.do(t, "POST", "/v1/products", admin, map[string]any{"product_id": "e5", "name": "E5", "services": []string{"mail"},
		"licenses": 10, "self_service": "blocked"}).want(t, 201, "")
	r := svc.do(t, "POST", "/v1/requests", token(t, "contoso", "u1", "user"), map[string]any{"product_id": "e5",
		"justification": "new project"}).want(t, 201, "")
	id, _ := r.body["request_id"].(string)
	pos, err := strconv.ParseUint(r.header.Get("Seatflow-Position"), 10, 64)
	if err != nil || id == "" {
		t.Fatalf("request %q at position %q: %v", id, r.header.Get("Seatflow-Position"), err)
	}

	// The share waits for the next position, boss's registration. Its body
	// is sent with Expect: 100-continue, so the server's "100 Continue"
	// says the handler runs (the request is in flight) before the stop.
	body, send := io.Pipe()
	req, err := http.NewRequest("POST", fmt.Sprintf("%s/v1/requests/%s/share?after=%d", svc.base, id, pos+1), body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+admin)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Expect", "100-continue")
	running := make(chan struct{})
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{Got100Continue: func() { close(running) }}))
	client := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: time.Minute, DisableKeepAlives: true}}
	type answer struct {
		status int
		body   string
		err    error
	}
	answered := make(chan answer, 1)
	go func() {
		res, err := client.Do(req)
		if err != nil {
			answered <- answer{err: err}
			return
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		answered <- answer{status: res.StatusCode, body: string(b), err: err}
	}()
	select {
	case <-running:
	case a := <-answered:
		t.Fatalf("the share was answered before the stop: %+v", a)
	}

	stopped := make(chan struct{})
	go func() { defer close(stopped); stop() }()
	waitFor(t, 10*time.Second, "the drain to begin", func() bool {
		return strings.Contains(svc.logs.String(), `"msg":"stopping: draining in-flight requests"`)
	})
	if c, err := net.DialTimeout("tcp", strings.TrimPrefix(svc.base, "http://"), time.Second); err == nil {
		c.Close()
		t.Error("the API still accepts connections while it drains")
	}
	if _, err := send.Write([]byte(`{"recipients": ["boss@example.com"]}`)); err != nil {
		t.Fatal(err)
	}
	send.Close()
	// Another writer (an instance sharing the stream) registers boss.
	_, js := svc.connect(t)
	other, err := domain.NewService(natsjs.NewStore(js, events.Default()), domain.Config{Now: time.Now, NewID: newID})
	if err != nil {
		t.Fatal(err)
	}
	if _, res, err := other.RegisterUser(context.Background(), "contoso", "boss", events.Meta{Actor: "ada", CommandID: "drain-boss"},
		domain.RegisterUser{Email: "boss@example.com", DisplayName: "Boss"}); err != nil || res.Position != pos+1 {
		t.Fatalf("registering boss: position %d, %v; want position %d", res.Position, err, pos+1)
	}
	var a answer
	select {
	case a = <-answered:
	case <-time.After(30 * time.Second):
		t.Fatal("the share in flight was not answered within 30s")
	}
	if a.err != nil || a.status != 200 {
		t.Fatalf("the share in flight: got %d %q (%v), want 200", a.status, a.body, a.err)
	}
	select {
	case <-stopped: // stop checked that Run returned nil
	case <-time.After(40 * time.Second):
		t.Fatal("Run did not return after the drain")
	}
	if !strings.Contains(svc.logs.String(), `"msg":"stopped"`) {
		t.Fatalf("no clean stop logged:\n%s", svc.logs.String())
	}
}

// TestCloseReleasesWhatNewAppOpened: an App closed without running frees
// its listeners and stops its embedded NATS server, and its data dir opens
// again.
func TestCloseReleasesWhatNewAppOpened(t *testing.T) {
	cfg, err := parseServe([]string{"--data-dir", t.TempDir(), "--http", "127.0.0.1:0", "--nats-listen", "127.0.0.1:0",
		"--metrics-listen", "127.0.0.1:0", "--token-secret", testSecret}, io.Discard, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	for range 2 {
		app, err := NewApp(context.Background(), cfg, newLogger(logs, "info"))
		if err != nil {
			t.Fatalf("NewApp: %v\n%s", err, logs.String())
		}
		addrs, natsURL := []string{app.Addr(), app.MetricsAddr()}, app.NATSURL()
		app.Close()
		for _, addr := range addrs {
			if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
				c.Close()
				t.Errorf("%s still accepts connections after Close", addr)
			}
		}
		if nc, err := nats.Connect(natsURL, nats.NoReconnect(), nats.Timeout(time.Second)); err == nil {
			nc.Close()
			t.Errorf("the embedded NATS server at %s still runs after Close", natsURL)
		}
	}
}
