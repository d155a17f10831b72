package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/seatflow/seatflow/infra/natsauth"
	"github.com/seatflow/seatflow/infra/natsjs"
	"github.com/seatflow/seatflow/infra/natstest"
)

// creds runs `seatflow creds args...` and returns what it printed.
func creds(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(context.Background(), append([]string{"creds"}, args...), &out, &errb, func(string) string { return "" })
	return out.String(), errb.String(), code
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "x.creds")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestCredsEndToEnd: against a running `seatflow serve`, a publisher
// credential from `seatflow creds` publishes a sign-in that claims a
// license; a reader credential tails the tenant's events with an ordered
// consumer, and nothing of another tenant; `creds revoke` closes the
// reader's connection and refuses it from then on, without a restart; an
// anonymous client is refused.
func TestCredsEndToEnd(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	w := newACWorldIn(t, dataDir, nil, 3, 2)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(w.svc.natsURL, "nats://"))

	if nc, err := nats.Connect(w.svc.natsURL, nats.Name("intruder"), nats.NoReconnect()); err == nil {
		nc.Close()
		t.Fatal("anonymous client: connected, want refused")
	}
	waitFor(t, 10*time.Second, "a log line for the refused connection", func() bool {
		for _, line := range strings.Split(w.svc.logs.String(), "\n") {
			if strings.Contains(line, `"component":"nats-server"`) && strings.Contains(line, "authentication error") && strings.Contains(line, `"level":"ERROR"`) {
				return true
			}
		}
		return false
	})

	pub, errOut, code := creds(t, "--data-dir", dataDir, "--tenant", "contoso", "--role", "publisher", "--name", "sso")
	if code != 0 {
		t.Fatalf("creds publisher: exit %d: %s", code, errOut)
	}
	if !strings.Contains(pub, "BEGIN NATS USER JWT") || !strings.Contains(pub, "BEGIN USER NKEY SEED") {
		t.Fatalf("creds publisher: got %q, want a NATS credentials file", pub)
	}
	rdr, errOut, code := creds(t, "--data-dir", dataDir, "--tenant", "contoso", "--role", "reader", "--name", "dash", "--ttl", "1h")
	if code != 0 {
		t.Fatalf("creds reader: exit %d: %s", code, errOut)
	}

	// The reader tails contoso's events from the start.
	closed := make(chan struct{})
	rc, err := nats.Connect(w.svc.natsURL, nats.UserCredentials(writeFile(t, rdr)), nats.CustomInboxPrefix("_INBOX_contoso"),
		nats.MaxReconnects(3), nats.ReconnectWait(50*time.Millisecond), nats.ClosedHandler(func(*nats.Conn) { close(closed) }))
	if err != nil {
		t.Fatalf("reader connect: %v", err)
	}
	defer rc.Close()
	rjs, err := jetstream.New(rc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cons, err := rjs.CreateOrUpdateConsumer(ctx, natsjs.StreamEvents, jetstream.ConsumerConfig{Durable: "contoso-dash", FilterSubject: "sf.evt.contoso.>"})
	if err != nil {
		t.Fatalf("reader durable: %v", err)
	}
	seen := make(chan string, 1000)
	cc, err := cons.Consume(func(m jetstream.Msg) {
		var env struct {
			Type   string `json:"type"`
			Tenant string `json:"tenant"`
		}
		_ = json.Unmarshal(m.Data(), &env)
		if env.Tenant != "contoso" || !strings.HasPrefix(m.Subject(), "sf.evt.contoso.") {
			t.Errorf("reader got %s of tenant %q", m.Subject(), env.Tenant)
		}
		seen <- env.Type
		_ = m.Ack()
	})
	if err != nil {
		t.Fatalf("reader consume: %v", err)
	}
	defer cc.Stop()

	// The publisher's sign-in claims a license.
	pc, err := nats.Connect(w.svc.natsURL, nats.UserCredentials(writeFile(t, pub)), nats.CustomInboxPrefix("_INBOX_contoso"))
	if err != nil {
		t.Fatalf("publisher connect: %v", err)
	}
	defer pc.Close()
	pjs, _ := jetstream.New(pc)
	msg, _ := json.Marshal(signInMsg{ID: "s-creds-1", UserID: "u-creds", App: "teams", At: time.Now().UTC()})
	if _, err := pjs.Publish(ctx, "sf.signin.contoso", msg, jetstream.WithMsgID("s-creds-1")); err != nil {
		t.Fatalf("publisher sign-in: %v", err)
	}
	natstest.CheckFor(t, 20*time.Second, 20*time.Millisecond, func() error {
		for {
			select {
			case typ := <-seen:
				if typ == "LicenseClaimed" {
					return nil
				}
			default:
				return errString("the reader has not seen LicenseClaimed yet")
			}
		}
	})

	// Revoked on the running server: the reader is cut off and refused.
	out, errOut, code := creds(t, "revoke", "--data-dir", dataDir, "--nats-listen", "127.0.0.1:"+port, "--tenant", "contoso", "--name", "dash")
	if code != 0 || !strings.Contains(out, "revoked 1 credential") {
		t.Fatalf("creds revoke: exit %d, out %q, err %q", code, out, errOut)
	}
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("the revoked reader is still connected after 10s")
	}
	if nc, err := nats.Connect(w.svc.natsURL, nats.UserCredentials(writeFile(t, rdr)), nats.NoReconnect()); err == nil {
		nc.Close()
		t.Fatal("revoked reader: connected again, want refused")
	}
	// The publisher, issued under another name, still publishes.
	if _, err := pjs.Publish(ctx, "sf.signin.contoso", msg, jetstream.WithMsgID("s-creds-1")); err != nil {
		t.Fatalf("publisher after another name's revocation: %v", err)
	}
	// An unknown name is a one-line error.
	if _, errOut, code := creds(t, "revoke", "--data-dir", dataDir, "--tenant", "contoso", "--name", "nobody"); code != 2 || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
		t.Errorf("revoke unknown name: exit %d, stderr %q, want 2 and one line", code, errOut)
	}
}

type errString string

func (e errString) Error() string { return string(e) }

// TestCredsRevocationSurvivesRestart: a revocation recorded while the server
// was down is in force when serve starts.
func TestCredsRevocationSurvivesRestart(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	svc, stop := startServe(t, dataDir)
	rdr, errOut, code := creds(t, "--data-dir", dataDir, "--tenant", "contoso", "--role", "reader", "--name", "old")
	if code != 0 {
		t.Fatalf("creds: exit %d: %s", code, errOut)
	}
	nc, err := nats.Connect(svc.natsURL, nats.UserCredentials(writeFile(t, rdr)))
	if err != nil {
		t.Fatalf("reader before revocation: %v", err)
	}
	nc.Close()
	stop()
	_, errOut, code = creds(t, "revoke", "--data-dir", dataDir, "--nats-listen", "127.0.0.1:1", "--tenant", "contoso", "--name", "old", "--timeout", "200ms")
	if code != 1 || !strings.Contains(errOut, "next start") {
		t.Fatalf("revoke with the server down: exit %d, stderr %q, want 1 and that it applies at the next start", code, errOut)
	}
	svc, _ = startServe(t, dataDir)
	if nc, err := nats.Connect(svc.natsURL, nats.UserCredentials(writeFile(t, rdr)), nats.NoReconnect()); err == nil {
		nc.Close()
		t.Fatal("revoked reader after restart: connected, want refused")
	}
}

// TestCredsRejectsBadInput: every bad request is one line and exit 2.
func TestCredsRejectsBadInput(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	for _, args := range [][]string{
		{"--tenant", "contoso"},
		{"--role", "reader"},
		{"--tenant", "Contoso!", "--role", "reader"},
		{"--tenant", "contoso", "--role", "admin"},
		{"--tenant", "contoso", "--role", "reader", "--name", "a-b"},
		{"--tenant", "seatflow", "--role", "reader"},
		{"--tenant", "contoso", "--role", "reader", "--ttl", "-1h"},
		{"revoke", "--tenant", "contoso"},
	} {
		out, errOut, code := creds(t, append([]string{"--data-dir", dataDir}, args...)...)
		if args[0] == "revoke" {
			out, errOut, code = creds(t, append(args, "--data-dir", dataDir)...)
		}
		if code != 2 || out != "" || strings.Count(strings.TrimSpace(errOut), "\n") != 0 || errOut == "" {
			t.Errorf("creds %v: exit %d, stdout %q, stderr %q; want 2, nothing, one line", args, code, out, errOut)
		}
	}
}

// TestCredsClusterConfigParses: `creds cluster` writes a nats-server config
// include that nats-server's own parser accepts, in operator mode with a
// full resolver trusting the data dir's operator, and the service's creds.
func TestCredsClusterConfigParses(t *testing.T) {
	t.Parallel()
	dataDir, dir := t.TempDir(), t.TempDir()
	_, errOut, code := creds(t, "cluster", "--data-dir", dataDir, "--out", filepath.Join(dir, "auth"), "--resolver-dir", filepath.Join(t.TempDir(), "accounts"))
	if code != 0 {
		t.Fatalf("creds cluster: exit %d: %s", code, errOut)
	}
	id, err := natsauth.Load(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "nats.conf")
	if err := os.WriteFile(conf, []byte("port: 4222\njetstream: {store_dir: \"/data\"}\ninclude ./auth/auth.conf\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	opts, err := server.ProcessConfigFile(conf)
	if err != nil {
		t.Fatalf("nats-server config: %v", err)
	}
	if len(opts.TrustedOperators) != 1 || opts.TrustedOperators[0].Subject != id.OperatorPublicKey() {
		t.Errorf("trusted operators: got %v, want %s", opts.TrustedOperators, id.OperatorPublicKey())
	}
	if opts.SystemAccount != id.SystemAccountPublicKey() {
		t.Errorf("system account: got %s, want %s", opts.SystemAccount, id.SystemAccountPublicKey())
	}
	fi, err := os.Stat(filepath.Join(dir, "auth", "service.creds"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("service.creds: %v, mode %v; want 0600", err, fi)
	}
}

// TestRecreatedEventStreamRebuildsOnRestart: the event stream deleted and
// created again restarts at sequence 1; the next start rebuilds the read
// models instead of resuming a checkpoint of the old stream, so what is
// written to the new stream is visible (before, new products answered 404).
func TestRecreatedEventStreamRebuildsOnRestart(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	admin := token(t, "contoso", "lena", "license-admin")
	svc, stop := startServe(t, dataDir)
	for i := range 5 {
		svc.do(t, "POST", "/v1/products", admin, map[string]any{"product_id": fmt.Sprintf("old%d", i), "name": "Old",
			"services": []string{"mail"}, "licenses": 1, "self_service": "blocked"}).want(t, 201, "")
	}
	stop()

	// Someone with the service's identity deletes the event stream.
	id, err := natsauth.Load(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := natsjs.StartServer(natsjs.ServerConfig{StoreDir: filepath.Join(dataDir, "jetstream"), AccountsDir: filepath.Join(dataDir, "accounts"),
		Listen: "127.0.0.1:0", Identity: id})
	if err != nil {
		t.Fatal(err)
	}
	opt, _ := id.ServiceOption()
	nc, err := nats.Connect(srv.ClientURL(), opt)
	if err != nil {
		t.Fatal(err)
	}
	js, _ := jetstream.New(nc)
	if err := js.DeleteStream(context.Background(), natsjs.StreamEvents); err != nil {
		t.Fatal(err)
	}
	nc.Close()
	srv.Shutdown()
	srv.WaitForShutdown()

	svc, _ = startServe(t, dataDir)
	waitFor(t, 30*time.Second, "the rebuild notice", func() bool { return strings.Contains(svc.logs.String(), "taken from another stream") })
	r := svc.do(t, "POST", "/v1/products", admin, map[string]any{"product_id": "new", "name": "New",
		"services": []string{"mail"}, "licenses": 1, "self_service": "blocked"}).want(t, 201, "")
	pos := r.header.Get("Seatflow-Position")
	svc.do(t, "GET", "/v1/products/new?after="+pos, admin, nil).want(t, 200, "")
	svc.do(t, "GET", "/v1/products/old0?after="+pos, admin, nil).want(t, 404, "not_found")
}

// TestRedactURL: credentials in NATS URLs never reach a log line or an
// error message.
func TestRedactURL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"nats://127.0.0.1:4222":                              "nats://127.0.0.1:4222",
		"nats://svc:s3cret@nats-1:4222":                      "nats://REDACTED@nats-1:4222",
		"tls://tok3n@a:4222,nats://u:p@b:4222,nats://c:4222": "tls://REDACTED@a:4222,nats://REDACTED@b:4222,nats://c:4222",
		"nats://user:p%40ss@host:4222":                       "nats://REDACTED@host:4222",
	} {
		if got := redactURL(in); got != want || strings.Contains(got, "s3cret") {
			t.Errorf("redactURL(%q) = %q, want %q", in, got, want)
		}
	}
}
