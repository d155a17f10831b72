package main

import (
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seatflow/seatflow/infra/natstest"
)

// freezer is a TCP proxy to a NATS server that can stop passing bytes in
// both directions while keeping every connection open: what a frozen (e.g.
// SIGSTOPped) server looks like to its clients.
type freezer struct {
	ln     net.Listener
	frozen atomic.Bool
	wg     sync.WaitGroup
}

func newFreezer(t *testing.T, upstream string) *freezer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &freezer{ln: ln}
	t.Cleanup(func() { ln.Close(); f.frozen.Store(false) })
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
			go f.pipe(c, u)
			go f.pipe(u, c)
		}
	}()
	return f
}

func (f *freezer) pipe(dst, src net.Conn) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		for f.frozen.Load() {
			time.Sleep(10 * time.Millisecond)
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

	f.frozen.Store(true)
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

	f.frozen.Store(false)
	waitFor(t, 30*time.Second, "readyz to recover", func() bool { return svc.do(t, "GET", "/readyz", "", nil).status == 200 })
}
