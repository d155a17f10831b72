package main

import (
	"io"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/url"
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
	t.Parallel()
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

// TestShareLinkSMTPNeitherLoggedNorKept: with debug logs and an SMTP
// server, an admin shares a request; the decision maker opens the mailed
// link (the page and the API) and answers. The link's token appears in no
// log line, and the request.shared notification is gone from
// SEATFLOW_NOTIFY once mailed, while the other notifications stay.
func TestShareLinkSMTPNeitherLoggedNorKept(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	box := &inbox{}
	srv := smtp.NewServer(box)
	srv.Domain = "localhost"
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	svc, _ := startServe(t, t.TempDir(), "--log-level", "debug", "--smtp-addr", ln.Addr().String(), "--smtp-tls", "none")
	admin := token(t, "contoso", "ada", "global-admin")
	waitFor(t, 30*time.Second, "readyz", func() bool { return svc.do(t, "GET", "/readyz", "", nil).status == 200 })
	svc.do(t, "PUT", "/v1/users/ada", admin, map[string]any{"email": "ada@example.com", "display_name": "Ada", "roles": []string{"global-admin"}}).want(t, 200, "")
	for _, u := range []string{"u1", "boss"} {
		svc.do(t, "PUT", "/v1/users/"+u, admin, map[string]any{"email": u + "@example.com", "display_name": u}).want(t, 200, "")
	}
	svc.do(t, "POST", "/v1/products", admin, map[string]any{"product_id": "e5", "name": "E5", "services": []string{}, "licenses": 1, "self_service": "blocked"}).want(t, 201, "")
	r := svc.do(t, "POST", "/v1/requests", token(t, "contoso", "u1", "user"), map[string]any{"product_id": "e5"}).want(t, 201, "")
	id := r.body["request_id"].(string)
	svc.do(t, "POST", "/v1/requests/"+id+"/share", admin, map[string]any{"recipients": []string{"boss@example.com"}}).want(t, 200, "")

	var link string
	waitFor(t, 20*time.Second, "the share mail", func() bool {
		for _, m := range box.all() {
			if strings.HasPrefix(m, "To boss@example.com\n") {
				if l := linkRE.FindStringSubmatch(mailBody(t, m)); l != nil {
					link = l[1]
					return true
				}
			}
		}
		return false
	})
	tok, err := url.PathUnescape(link)
	if err != nil {
		t.Fatal(err)
	}
	page := svc.do(t, "GET", "/shared/"+link, "", nil)
	if page.status != 200 {
		t.Fatalf("the shared page: %d", page.status)
	}
	svc.do(t, "GET", "/v1/shared/"+link, "", nil).want(t, 200, "")
	svc.do(t, "POST", "/v1/shared/"+link, "", map[string]any{"recommendation": "approve", "comment": "yes"}).want(t, 200, "")
	svc.do(t, "DELETE", "/v1/shared/"+link, "", nil).want(t, 405, "")

	logs := svc.logs.String()
	sig := tok[strings.LastIndex(tok, ".")+1:]
	if strings.Contains(logs, sig) || strings.Contains(logs, link) {
		t.Fatalf("the share link's token is in the logs:\n%s", logs)
	}
	if !strings.Contains(logs, `"path":"/v1/shared/{token}"`) {
		t.Fatalf("no debug line for the shared request; logs:\n%s", logs)
	}

	// The mail went out, so the notification carrying the link is gone;
	// the others (request.submitted to ada, mailed too) stay.
	_, js := svc.connect(t)
	w := &acWorld{js: js}
	waitFor(t, 10*time.Second, "the share notification erased", func() bool {
		for _, m := range w.streamData(t, "SEATFLOW_NOTIFY", "sf.notify.contoso.email", "") {
			if strings.Contains(string(m.Data), `"kind":"request.shared"`) {
				return false
			}
		}
		return true
	})
	kept := 0
	for _, m := range w.streamData(t, "SEATFLOW_NOTIFY", "sf.notify.contoso.email", "") {
		if strings.Contains(string(m.Data), `"kind":"request.submitted"`) {
			kept++
		}
	}
	if kept == 0 {
		t.Fatal("the request.submitted notification was erased too")
	}
}

// mailBody is the decoded text of a message the inbox kept ("To ...\n"
// then the message).
func mailBody(t *testing.T, m string) string {
	t.Helper()
	_, raw, _ := strings.Cut(m, "\n")
	msg, err := mail.ReadMessage(strings.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	var body io.Reader = msg.Body
	if strings.EqualFold(msg.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
		body = quotedprintable.NewReader(body)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
