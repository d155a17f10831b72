package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// writeTLS makes a CA and a server certificate for 127.0.0.1 and returns the
// CA file, the server's tls.Config, and the directory they are in.
func writeTLS(t *testing.T) (caFile string, cfg *tls.Config) {
	t.Helper()
	dir := t.TempDir()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "seatflow test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	srvKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	srvTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, ca, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caFile = filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return caFile, &tls.Config{MinVersion: tls.VersionTLS12,
		Certificates: []tls.Certificate{{Certificate: [][]byte{srvDER}, PrivateKey: srvKey}}}
}

// TestServeOnExternalNATSWithPasswordAndTLS: --nats-url with --nats-user,
// --nats-password and --nats-tls-ca reaches a server that requires both, for
// every connection the service opens; without them serve fails with one line.
func TestServeOnExternalNATSWithPasswordAndTLS(t *testing.T) {
	t.Parallel()
	caFile, tlsCfg := writeTLS(t)
	opts := &server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(),
		Username: "seatflow", Password: "s3cret-pass", TLSConfig: tlsCfg, TLS: true, TLSTimeout: 2, NoSigs: true, NoLog: true}
	ns, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	url := ns.ClientURL()

	// Without credentials: one clear line and a non-zero exit.
	var stderr bytes.Buffer
	code := Main(context.Background(), []string{"serve", "--nats-url", url, "--data-dir", t.TempDir(), "--http", "127.0.0.1:0",
		"--token-secret", testSecret, "--nats-tls-ca", caFile}, io.Discard, &stderr, func(string) string { return "" })
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	last := lines[len(lines)-1]
	if code == 0 || !strings.Contains(last, "seatflow serve: connect to NATS") {
		t.Fatalf("without credentials: exit %d, last line %q", code, last)
	}

	// With them, everything works, including the sign-in router's and the
	// notifier's own connections (the readiness of the service needs them).
	svc, stop := startServe(t, t.TempDir(), "--nats-url", url, "--nats-user", "seatflow", "--nats-password", "s3cret-pass",
		"--nats-tls-ca", caFile, "--nats-listen", "")
	admin := token(t, "contoso", "ada", "license-admin")
	waitFor(t, 10*time.Second, "readyz", func() bool { return svc.do(t, "GET", "/readyz", "", nil).status == 200 })
	svc.do(t, "POST", "/v1/products", admin, map[string]any{"product_id": "e5", "name": "E5", "licenses": 1, "self_service": "blocked"}).want(t, 201, "")
	if !strings.HasPrefix(svc.natsURL, "tls://") && !strings.HasPrefix(svc.natsURL, "nats://") {
		t.Fatalf("nats url %q", svc.natsURL)
	}
	if strings.Contains(svc.logs.String(), "Authorization Violation") {
		t.Fatalf("a connection was refused:\n%s", svc.logs.String())
	}
	stop()
}

func TestNATSAuthFlagsAreChecked(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--nats-user", "u"}, "need --nats-url"},
		{[]string{"--nats-url", "nats://x:4222", "--nats-creds", "/nope/creds"}, "--nats-creds /nope/creds"},
		{[]string{"--nats-url", "nats://x:4222", "--nats-tls-cert", "/etc/hostname"}, "go together"},
		{[]string{"--nats-url", "nats://x:4222", "--nats-password", "p"}, "needs --nats-user"},
		{[]string{"--nats-url", "nats://x:4222", "--nats-user", "u", "--nats-token", "t"}, "use one of"},
	}
	for _, tt := range tests {
		var stderr bytes.Buffer
		code := Main(context.Background(), append([]string{"serve"}, tt.args...), io.Discard, &stderr, func(string) string { return "" })
		out := strings.TrimSpace(stderr.String())
		if code != 2 || !strings.Contains(out, tt.want) || strings.Contains(out, "\n") {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 and one line with %q", tt.args, code, out, tt.want)
		}
	}
}

// TestNATSURLCredentialsNeverLogged: a --nats-url carrying a user and
// password works, and the password appears in no log line.
func TestNATSURLCredentialsNeverLogged(t *testing.T) {
	t.Parallel()
	opts := &server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(),
		Username: "seatflow", Password: "s3cret-in-url", NoSigs: true, NoLog: true}
	ns, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	url := strings.Replace(ns.ClientURL(), "nats://", "nats://seatflow:s3cret-in-url@", 1)
	svc, stop := startServe(t, t.TempDir(), "--nats-url", url, "--nats-creds", "", "--log-level", "debug")
	svc.do(t, "GET", "/healthz", "", nil).want(t, 200, "")
	stop()
	if logs := svc.logs.String(); strings.Contains(logs, "s3cret-in-url") {
		t.Fatalf("the URL's password is in the logs:\n%s", logs)
	}
}
