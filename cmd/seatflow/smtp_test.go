package main

import (
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// inbox is a loopback SMTP server that keeps every message's recipients
// and data.
type inbox struct {
	mu   sync.Mutex
	msgs []string
}

func (b *inbox) NewSession(*smtp.Conn) (smtp.Session, error) { return &inboxSession{box: b}, nil }

func (b *inbox) all() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.msgs...)
}

type inboxSession struct {
	box *inbox
	to  []string
}

func (s *inboxSession) Reset()                               { s.to = nil }
func (s *inboxSession) Logout() error                        { return nil }
func (s *inboxSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *inboxSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}
func (s *inboxSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.box.mu.Lock()
	defer s.box.mu.Unlock()
	s.box.msgs = append(s.box.msgs, "To "+strings.Join(s.to, ",")+"\n"+string(b))
	return nil
}

// TestServeSendsMail: with --smtp-addr, notifications reach a real SMTP
// server.
func TestServeSendsMail(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	box := &inbox{}
	srv := smtp.NewServer(box)
	srv.Domain = "localhost"
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	svc, _ := startServe(t, t.TempDir(), "--smtp-addr", ln.Addr().String(), "--smtp-tls", "none", "--smtp-from", "licenses@example.com")
	admin := token(t, "contoso", "ada", "global-admin")
	waitFor(t, 30*time.Second, "readyz", func() bool { return svc.do(t, "GET", "/readyz", "", nil).status == 200 })
	svc.do(t, "PUT", "/v1/users/ada", admin, map[string]any{"email": "ada@example.com", "display_name": "Ada", "roles": []string{"global-admin"}}).want(t, 200, "")
	svc.do(t, "PUT", "/v1/users/u1", admin, map[string]any{"email": "u1@example.com", "display_name": "Uma"}).want(t, 200, "")
	svc.do(t, "POST", "/v1/products", admin, map[string]any{"product_id": "e5", "name": "Office 365 E5", "services": []string{}, "licenses": 1, "self_service": "blocked"}).want(t, 201, "")
	svc.do(t, "POST", "/v1/requests", token(t, "contoso", "u1", "user"), map[string]any{"product_id": "e5"}).want(t, 201, "")
	waitFor(t, 20*time.Second, "a mail to the admin", func() bool { return len(box.all()) > 0 })
	m := box.all()[0]
	if !strings.HasPrefix(m, "To ada@example.com\n") || !strings.Contains(m, "Subject: License request: Office 365 E5") ||
		!strings.Contains(m, "From: <licenses@example.com>") {
		t.Fatalf("mail:\n%s", m)
	}
}
