package notify_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/seatflow/seatflow/infra/natsjs"
	"github.com/seatflow/seatflow/infra/natstest"
	"github.com/seatflow/seatflow/infra/notify"
)

// mailbox is a real SMTP server on loopback that keeps what it receives.
type mailbox struct {
	mu    sync.Mutex
	mails []received
	fail  int // refuse this many DATA commands first
}

type received struct {
	from string
	to   []string
	data string
}

func (b *mailbox) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{box: b}, nil }

type session struct {
	box *mailbox
	cur received
}

func (s *session) Reset()        { s.cur = received{} }
func (s *session) Logout() error { return nil }
func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.cur.from = from
	return nil
}
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.cur.to = append(s.cur.to, to)
	return nil
}
func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.box.mu.Lock()
	defer s.box.mu.Unlock()
	if s.box.fail > 0 {
		s.box.fail--
		return &smtp.SMTPError{Code: 451, Message: "try again later"}
	}
	s.cur.data = string(b)
	s.box.mails = append(s.box.mails, s.cur)
	return nil
}

func (b *mailbox) list() []received {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]received(nil), b.mails...)
}

// waitMail waits until the mailbox has received a mail.
func (b *mailbox) waitMail(t *testing.T, within time.Duration) {
	t.Helper()
	natstest.CheckFor(t, within, 20*time.Millisecond, func() error {
		if len(b.list()) == 0 {
			return errors.New("no mail yet")
		}
		return nil
	})
}

func startSMTP(t *testing.T, box *mailbox) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := smtp.NewServer(box)
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

func TestSenderDeliversEachNotificationOnce(t *testing.T) {
	s := natstest.RunJetStream(t)
	_, js := natstest.Connect(t, s.ClientURL())
	ctx := context.Background()
	if err := natsjs.EnsureStreams(ctx, js, 1); err != nil {
		t.Fatal(err)
	}
	box := &mailbox{fail: 1}
	addr := startSMTP(t, box)
	publish := func(n notify.Notification) {
		b, _ := json.Marshal(n)
		m := &nats.Msg{Subject: notify.Subject("contoso"), Data: b, Header: nats.Header{}}
		m.Header.Set(jetstream.MsgIDHeader, n.ID)
		if _, err := js.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	n := notify.Notification{ID: "ev1:request.approved:u1", Kind: "request.approved", To: []string{"u1@example.com"},
		Subject: "License request approved: E5", Text: "Welcome aboard.\n", EventID: "ev1"}
	publish(n)
	publish(n) // a duplicate the stream drops
	snd, err := notify.NewSender(notify.SenderConfig{JS: js, Addr: addr, From: "seatflow@example.com", TLS: notify.TLSNone,
		Redelay: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- snd.Run(runCtx) }()
	box.waitMail(t, 10*time.Second)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mails := box.list()
	if len(mails) != 1 {
		t.Fatalf("mails: got %d, want 1", len(mails))
	}
	m := mails[0]
	if m.from != "seatflow@example.com" || len(m.to) != 1 || m.to[0] != "u1@example.com" ||
		!strings.Contains(m.data, "Subject: License request approved: E5") || !strings.Contains(m.data, "Welcome aboard.") {
		t.Fatalf("mail: %+v", m)
	}
	// A restarted sender does not send it again: it was acknowledged.
	runCtx, cancel = context.WithCancel(ctx)
	go func() { done <- snd.Run(runCtx) }()
	time.Sleep(300 * time.Millisecond) // nothing to wait for: proving an absence
	cancel()
	<-done
	if got := len(box.list()); got != 1 {
		t.Fatalf("after restart: %d mails, want 1", got)
	}
}

func TestSenderConfigValidate(t *testing.T) {
	_, err := notify.NewSender(notify.SenderConfig{Addr: "nohost", TLS: "maybe"})
	for _, want := range []string{"JS is required", "--smtp-addr", "--smtp-from", "--smtp-tls"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("error %v does not mention %q", err, want)
		}
	}
}

// TestSenderErasesSentShareLinks: a request.shared notification carries a
// link that lets its holder answer the request; once mailed (or given up)
// it is erased from SEATFLOW_NOTIFY. Other notifications stay for
// downstream readers.
func TestSenderErasesSentShareLinks(t *testing.T) {
	s := natstest.RunJetStream(t)
	_, js := natstest.Connect(t, s.ClientURL())
	ctx := context.Background()
	if err := natsjs.EnsureStreams(ctx, js, 1); err != nil {
		t.Fatal(err)
	}
	publish := func(n notify.Notification) uint64 {
		b, _ := json.Marshal(n)
		m := &nats.Msg{Subject: notify.Subject("contoso"), Data: b, Header: nats.Header{}}
		m.Header.Set(jetstream.MsgIDHeader, n.ID)
		ack, err := js.PublishMsg(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		return ack.Sequence
	}
	link := "https://seatflow.example.com/shared/eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl"
	shared := publish(notify.Notification{ID: "ev1:request.shared:boss", Kind: notify.KindRequestShared, To: []string{"boss@example.com"},
		Subject: "Your opinion", Text: "Open " + link + "\n", EventID: "ev1"})
	approved := publish(notify.Notification{ID: "ev2:request.approved:u1", Kind: notify.KindRequestApproved, To: []string{"u1@example.com"},
		Subject: "Approved", Text: "Welcome aboard.\n", EventID: "ev2"})
	box := &mailbox{}
	addr := startSMTP(t, box)
	stream, err := js.Stream(ctx, natsjs.StreamNotify)
	if err != nil {
		t.Fatal(err)
	}
	snd, err := notify.NewSender(notify.SenderConfig{JS: js, Addr: addr, From: "seatflow@example.com", TLS: notify.TLSNone,
		Redelay: 50 * time.Millisecond, MaxDeliver: 2})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- snd.Run(runCtx) }()
	natstest.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if n := len(box.list()); n < 2 {
			return fmt.Errorf("%d mails, want 2", n)
		}
		if _, err := stream.GetMsg(ctx, shared); !errors.Is(err, jetstream.ErrMsgNotFound) {
			return fmt.Errorf("the sent share notification is still in the stream (%v)", err)
		}
		return nil
	})
	if !strings.Contains(box.list()[0].data+box.list()[1].data, "/shared/") {
		t.Fatal("the share link was not mailed")
	}
	if _, err := stream.GetMsg(ctx, approved); err != nil {
		t.Fatalf("a notification without a link was erased: %v", err)
	}

	// Given up: erased too.
	box.mu.Lock()
	box.fail = 1000
	box.mu.Unlock()
	failed := publish(notify.Notification{ID: "ev3:request.shared:boss", Kind: notify.KindRequestShared, To: []string{"boss@example.com"},
		Subject: "Your opinion", Text: "Open " + link + "3\n", EventID: "ev3"})
	natstest.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if _, err := stream.GetMsg(ctx, failed); !errors.Is(err, jetstream.ErrMsgNotFound) {
			return fmt.Errorf("the given-up share notification is still in the stream (%v)", err)
		}
		return nil
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestSenderSkipsNotificationsOlderThanMaxAge: a sender turned on after
// notifications piled up does not mail the stale ones: it counts and logs
// them, acknowledges them, and mails the fresh one.
func TestSenderSkipsNotificationsOlderThanMaxAge(t *testing.T) {
	ctx := context.Background()
	s := natstest.RunJetStream(t)
	_, js := natstest.Connect(t, s.ClientURL())
	if err := natsjs.EnsureStreams(ctx, js, 1); err != nil {
		t.Fatal(err)
	}
	box := &mailbox{}
	addr := startSMTP(t, box)
	publish := func(id string) {
		b, _ := json.Marshal(notify.Notification{ID: id, Kind: "request.approved", To: []string{"u1@example.com"}, Subject: id, Text: "x\n", EventID: id})
		m := &nats.Msg{Subject: notify.Subject("contoso"), Data: b, Header: nats.Header{}}
		m.Header.Set(jetstream.MsgIDHeader, id)
		if _, err := js.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"old-1", "old-2", "old-3"} {
		publish(id)
	}
	var clock atomic.Int64 // offset from the real time
	clock.Store(int64(100 * time.Hour))
	reg := prometheus.NewRegistry()
	snd, err := notify.NewSender(notify.SenderConfig{JS: js, Addr: addr, From: "seatflow@example.com", TLS: notify.TLSNone,
		MaxAge: 72 * time.Hour, Now: func() time.Time { return time.Now().Add(time.Duration(clock.Load())) }, Metrics: reg})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- snd.Run(runCtx) }()
	tooOld := func() float64 {
		mfs, _ := reg.Gather()
		for _, mf := range mfs {
			if mf.GetName() == "seatflow_notify_too_old_total" {
				return mf.GetMetric()[0].GetCounter().GetValue()
			}
		}
		return -1
	}
	natstest.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if got := tooOld(); got != 3 {
			return fmt.Errorf("too old: %v, want 3", got)
		}
		return nil
	})
	clock.Store(0)
	publish("fresh")
	natstest.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if len(box.list()) != 1 {
			return fmt.Errorf("mails: %d, want the fresh one", len(box.list()))
		}
		return nil
	})
	cancel()
	<-done
	if m := box.list()[0]; !strings.Contains(m.data, "Subject: fresh") {
		t.Fatalf("mailed %q, want only the fresh notification", m.data)
	}
}

// TestSenderWaitsForItsStream: a sender started before it can reach the
// notification stream (here: it does not exist yet) does not fail, which
// would stop the service; it tries again and delivers once it can.
func TestSenderWaitsForItsStream(t *testing.T) {
	s := natstest.RunJetStream(t)
	_, js := natstest.Connect(t, s.ClientURL())
	box := &mailbox{}
	snd, err := notify.NewSender(notify.SenderConfig{JS: js, Addr: startSMTP(t, box), From: "seatflow@example.com",
		TLS: notify.TLSNone, Redelay: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- snd.Run(runCtx) }()
	time.Sleep(300 * time.Millisecond) // several failed attempts
	select {
	case err := <-done:
		t.Fatalf("the sender stopped without its stream: %v", err)
	default:
	}

	ctx := context.Background()
	if err := natsjs.EnsureStreams(ctx, js, 1); err != nil {
		t.Fatal(err)
	}
	n := notify.Notification{ID: "ev1:request.approved:u1", Kind: "request.approved", To: []string{"u1@example.com"},
		Subject: "License request approved: E5", Text: "Welcome aboard.\n", EventID: "ev1"}
	b, _ := json.Marshal(n)
	if _, err := js.Publish(ctx, notify.Subject("contoso"), b); err != nil {
		t.Fatal(err)
	}
	box.waitMail(t, 15*time.Second)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
