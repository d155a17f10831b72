package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/infra/natstest"
	"github.com/seatflow/seatflow/infra/oracle"
)

// startProcess runs `seatflow serve` as a child process on free ports.
func startProcess(t *testing.T, bin, dataDir string) (*service, *exec.Cmd) {
	t.Helper()
	logs := &syncBuffer{}
	cmd := exec.Command(bin, "serve", "--data-dir", dataDir, "--http", "127.0.0.1:0", "--nats-listen", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "SEATFLOW_TOKEN_SECRET="+testSecret)
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	var m []string
	waitFor(t, 60*time.Second, "seatflow to serve", func() bool {
		m = servingRE.FindStringSubmatch(logs.String())
		return m != nil
	})
	return &service{base: "http://" + m[1], natsURL: m[2], logs: logs, natsOpts: []nats.Option{serviceOption(t, dataDir)}}, cmd
}

// TestSIGKILLLosesNoAcknowledgedAssignment kills serve with SIGKILL while
// assignments stream in, restarts it on the same data dir, and checks that
// every assignment whose HTTP call succeeded is there exactly once (the
// oracle folds the stream: invariants at every position, command
// accounting), that the read model agrees with the stream, and that the
// restarted service takes new writes on the same aggregate.
func TestSIGKILLLosesNoAcknowledgedAssignment(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	svc, cmd := startProcess(t, bin, dir)
	admin := token(t, "contoso", "ada", "license-admin")
	waitFor(t, 20*time.Second, "readyz", func() bool { return svc.do(t, "GET", "/readyz", "", nil).status == 200 })
	svc.do(t, "POST", "/v1/products", admin, map[string]any{"product_id": "e5", "name": "E5", "licenses": 100000, "self_service": "blocked"}).want(t, 201, "")

	var (
		mu        sync.Mutex
		succeeded []string // users whose assignment was acknowledged; the user is the Idempotency-Key
		count     atomic.Int64
		stop      atomic.Bool
		wg        sync.WaitGroup
	)
	for g := range 8 {
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				user := fmt.Sprintf("u%d-%d", g, i)
				r, err := tryDo(svc.base, "POST", "/v1/products/e5/assignments", admin, fmt.Sprintf(`{"user_id":%q}`, user), "Idempotency-Key", user)
				if err != nil {
					return // the process is gone
				}
				if r == 201 {
					mu.Lock()
					succeeded = append(succeeded, user)
					mu.Unlock()
					count.Add(1)
				}
			}
		})
	}
	waitFor(t, 60*time.Second, "200 assignments", func() bool { return count.Load() >= 200 })
	if err := cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	_ = cmd.Wait()
	stop.Store(true)
	wg.Wait()
	t.Logf("%d assignments acknowledged before SIGKILL", len(succeeded))

	svc, _ = startProcess(t, bin, dir)
	waitFor(t, 30*time.Second, "readyz after restart", func() bool { return svc.do(t, "GET", "/readyz", "", nil).status == 200 })
	for _, u := range succeeded {
		lic := svc.do(t, "GET", "/v1/users/"+u+"/licenses", admin, nil).want(t, 200, "").list
		if len(lic) != 1 || lic[0].(map[string]any)["product_id"] != "e5" {
			t.Fatalf("acknowledged assignment of %s lost after SIGKILL: %v", u, lic)
		}
	}
	// The stream, folded by the oracle: no invariant broken at any
	// position, every acknowledged assignment stored exactly once.
	_, js := svc.connect(t)
	var msgs []oracle.Message
	natstest.CheckFor(t, 30*time.Second, 50*time.Millisecond, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var err error
		msgs, err = oracle.Read(ctx, js)
		return err
	})
	f := oracle.FoldAll(msgs, true)
	if err := f.Err(); err != nil {
		t.Fatalf("the event stream after SIGKILL breaks the invariants:\n%v", err)
	}
	for _, u := range succeeded {
		if err := f.Check(oracle.Command{Tenant: "contoso", ID: u, Acked: true, Want: []string{events.TypeLicenseAssigned}, Only: true}); err != nil {
			t.Errorf("assignment of %s: %v", u, err)
		}
	}
	// The projection's count equals the stream's: nothing lost from the
	// read side, nothing applied twice.
	inStream := f.Tenant("contoso").Assigned("e5")
	p := svc.do(t, "GET", "/v1/products", admin, nil).want(t, 200, "").list[0].(map[string]any)
	if int(p["assigned"].(float64)) != inStream {
		t.Fatalf("assigned: projection says %v, stream holds %d assignments", p["assigned"], inStream)
	}
	if inStream < len(succeeded) {
		t.Fatalf("stream holds %d assignments, fewer than the %d acknowledged", inStream, len(succeeded))
	}
	// And the restarted service takes new writes on the same aggregate.
	svc.do(t, "POST", "/v1/products/e5/assignments", admin, map[string]any{"user_id": "after-restart"}).want(t, 201, "")
}

func tryDo(base, method, path, tok, body string, hdr ...string) (int, error) {
	req, err := newRequest(method, base+path, tok, body)
	if err != nil {
		return 0, err
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := httpClient.Do(req)
	if err != nil {
		return 0, err
	}
	res.Body.Close()
	return res.StatusCode, nil
}

// TestSIGTERMDrainsAndExitsZero: a stop signal lets in-flight requests finish
// and exits 0.
func TestSIGTERMDrainsAndExitsZero(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	svc, cmd := startProcess(t, bin, t.TempDir())
	admin := token(t, "contoso", "ada", "license-admin")
	svc.do(t, "POST", "/v1/products", admin, map[string]any{"product_id": "e5", "name": "E5", "licenses": 10, "self_service": "blocked"}).want(t, 201, "")
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, svc.logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("did not exit within 30s of SIGTERM")
	}
	if !strings.Contains(svc.logs.String(), `"msg":"stopped"`) {
		t.Fatalf("no clean stop logged:\n%s", svc.logs.String())
	}
}
