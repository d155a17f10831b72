package signin_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/infra/natsjs"
	"github.com/seatflow/seatflow/infra/natstest"
	"github.com/seatflow/seatflow/infra/signin"
)

func signInMessage(id, user string) domain.SignInMessage {
	return domain.SignInMessage{ID: id, UserID: user, App: "teams", At: time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)}
}

func storedSignIns(t *testing.T, js jetstream.JetStream) uint64 {
	t.Helper()
	s, err := js.Stream(context.Background(), natsjs.StreamSignins)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

// TestSubmitter: a sign-in posted over HTTP goes through the sign-in stream
// to the partition that owns its tenant, and its answer comes back: with
// no router running it is stored and answered "pending"; posted again once
// a router runs, the stream holds it already, so it is stored once more
// under a message id of its own and answered; a sign-in the partition
// dead-letters is answered with the rejection; one that fails validation
// or names an unknown tenant is refused without publishing.
func TestSubmitter(t *testing.T) {
	srv := natstest.RunJetStream(t)
	nc, js := natstest.Connect(t, srv.ClientURL())
	if err := natsjs.EnsureStreams(context.Background(), js, 1); err != nil {
		t.Fatal(err)
	}
	cmds := &fakeCommands{panicFor: "bad"}
	known := tenants{"contoso": true}
	sub, err := signin.NewSubmitter(nc, known, 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	ctx := context.Background()

	_, _, err = sub.Handle(ctx, "contoso", signInMessage("s1", "u1"))
	if !errors.Is(err, signin.ErrOutcomePending) || !errors.Is(err, domain.ErrOutcomeUnknown) {
		t.Fatalf("without a router: got %v, want ErrOutcomePending", err)
	}
	if n := storedSignIns(t, js); n != 1 {
		t.Fatalf("stored sign-ins: %d, want 1", n)
	}

	runRouter(t, srv.ClientURL(), cmds, signin.Config{RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond})
	out, _, err := sub.Handle(ctx, "contoso", signInMessage("s1", "u1"))
	if err != nil || out.Status != domain.ClaimClaimed {
		t.Fatalf("s1 again: %+v, %v; want claimed", out, err)
	}
	if n := storedSignIns(t, js); n != 2 {
		t.Fatalf("stored sign-ins: %d, want 2 (s1 and its repeat)", n)
	}
	// The fake claims whatever it is given; the domain recognises the
	// repeat by its command id, the sign-in id.
	natstest.CheckFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		if got := strings.Join(cmds.claimed(), ","); got != "s1,s1" {
			return fmt.Errorf("claims: %q, want s1,s1", got)
		}
		return nil
	})

	out, _, err = sub.Handle(ctx, "contoso", signInMessage("s2", "u2"))
	if err != nil || out.Status != domain.ClaimClaimed {
		t.Fatalf("s2: %+v, %v; want claimed", out, err)
	}

	var rej *domain.SignInRejectedError
	if _, _, err = sub.Handle(ctx, "contoso", signInMessage("s3", "bad")); !errors.As(err, &rej) || rej.Reason != domain.RejectInternal {
		t.Fatalf("a sign-in the handler fails on: got %v, want rejection %s", err, domain.RejectInternal)
	}

	before := storedSignIns(t, js)
	if _, _, err = sub.Handle(ctx, "nobody", signInMessage("s4", "u4")); !errors.As(err, &rej) || rej.Reason != domain.RejectUnknownTenant {
		t.Fatalf("unknown tenant: got %v, want rejection %s", err, domain.RejectUnknownTenant)
	}
	bad := signInMessage("s5", "u5")
	bad.App = ""
	if _, _, err = sub.Handle(ctx, "contoso", bad); !errors.As(err, &rej) || rej.Reason != domain.RejectMissingField {
		t.Fatalf("no app: got %v, want rejection %s", err, domain.RejectMissingField)
	}
	if n := storedSignIns(t, js); n != before {
		t.Fatalf("refused sign-ins were published: %d stored, want %d", n, before)
	}
}

// TestRouterAnswersOnlyTheServiceInbox: the partition answers a sign-in's
// Seatflow-Reply only when it names a subject of the service's inbox, so a
// publisher cannot make the service publish onto the event stream or
// anywhere else.
func TestRouterAnswersOnlyTheServiceInbox(t *testing.T) {
	srv := natstest.RunJetStream(t)
	nc, js := natstest.Connect(t, srv.ClientURL())
	if err := natsjs.EnsureStreams(context.Background(), js, 1); err != nil {
		t.Fatal(err)
	}
	cmds := &fakeCommands{}
	runRouter(t, srv.ClientURL(), cmds, signin.Config{})

	got := make(chan *nats.Msg, 16)
	for _, s := range []string{"_INBOX.test.ok", "sf.evt.contoso.product.p", "sf.notify.contoso.email", "_INBOX_contoso.x", "other"} {
		sub, err := nc.ChanSubscribe(s, got)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = sub.Unsubscribe() }()
	}
	for i, to := range []string{"sf.evt.contoso.product.p", "sf.notify.contoso.email", "_INBOX_contoso.x", "other", "_INBOX.*", "_INBOX.>", "_INBOX.test.ok"} {
		id := fmt.Sprintf("r%d", i)
		m := &nats.Msg{Subject: "sf.signin.contoso", Data: []byte(valid(id, "u"+id)), Header: nats.Header{}}
		m.Header.Set(jetstream.MsgIDHeader, id)
		m.Header.Set(signin.HeaderReply, to)
		if _, err := js.PublishMsg(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case m := <-got:
		if m.Subject != "_INBOX.test.ok" || !strings.Contains(string(m.Data), `"id":"r6"`) || !strings.Contains(string(m.Data), `"status":"claimed"`) {
			t.Fatalf("first answer on %s: %s; want r6's on _INBOX.test.ok", m.Subject, m.Data)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no answer on the service's inbox")
	}
	// Sign-ins are answered in order: r6 was the last.
	if got := strings.Join(cmds.claimed(), ","); got != "r0,r1,r2,r3,r4,r5,r6" {
		t.Fatalf("claims: %q", got)
	}
	select {
	case m := <-got:
		t.Fatalf("answer on %s: %s", m.Subject, m.Data)
	case <-time.After(200 * time.Millisecond):
	}
}
