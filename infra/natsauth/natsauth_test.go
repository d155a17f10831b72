package natsauth_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/seatflow/seatflow/infra/natsauth"
	"github.com/seatflow/seatflow/infra/natsjs"
	"github.com/seatflow/seatflow/infra/natstest"
	"github.com/seatflow/seatflow/infra/notify"
)

// bus is a running server (or cluster) with every Seatflow stream and some
// messages of tenants a and b on each.
type bus struct {
	url string
	js  jetstream.JetStream // the service's own connection
}

func ctx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func newBus(t *testing.T, url string, replicas int) *bus {
	t.Helper()
	_, js := natstest.Connect(t, url)
	if err := natsjs.EnsureStreams(ctx(t), js, replicas); err != nil {
		t.Fatal(err)
	}
	b := &bus{url: url, js: js}
	for _, tenant := range []string{"a", "b"} {
		b.publish(t, "sf.evt."+tenant+".user.u1", `{"tenant":"`+tenant+`","secret":"email of `+tenant+`"}`)
		b.publish(t, "sf.notify."+tenant+".email", `{"to":["x@`+tenant+`.example"]}`)
		b.publish(t, "sf.dlq.signin."+tenant, `{"bad":"`+tenant+`"}`)
	}
	return b
}

func (b *bus) publish(t *testing.T, subject, data string) {
	t.Helper()
	if _, err := b.js.Publish(ctx(t), subject, []byte(data)); err != nil {
		t.Fatalf("service publish %s: %v", subject, err)
	}
}

func (b *bus) count(t *testing.T, stream, subject string) uint64 {
	t.Helper()
	s, err := b.js.Stream(ctx(t), stream)
	if err != nil {
		t.Fatalf("stream %s: %v", stream, err)
	}
	info, err := s.Info(ctx(t), jetstream.WithSubjectFilter(subject))
	if err != nil {
		t.Fatalf("stream %s info: %v", stream, err)
	}
	var n uint64
	for _, c := range info.State.Subjects {
		n += c
	}
	return n
}

// client is a tenant's connection whose server-reported errors (permission
// violations) are collected.
type client struct {
	nc *nats.Conn
	js jetstream.JetStream

	mu   sync.Mutex
	errs []string
}

func (b *bus) connect(t *testing.T, tenant string, role natsauth.Role, name string) *client {
	t.Helper()
	creds, _, err := natstest.Identity().Issue(natsauth.Grant{Tenant: tenant, Role: role, Name: name}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	opt, err := natsauth.CredsOption(creds)
	if err != nil {
		t.Fatal(err)
	}
	c := &client{}
	c.nc, c.js = natstest.ConnectWith(t, b.url, opt, nats.CustomInboxPrefix(natsauth.InboxPrefix(tenant)),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			c.mu.Lock()
			c.errs = append(c.errs, err.Error())
			c.mu.Unlock()
		}))
	return c
}

// refused waits until the server has reported a permissions violation
// naming subject.
func (c *client) refused(t *testing.T, op, subject string) {
	t.Helper()
	want := strings.ToLower(fmt.Sprintf("permissions violation for %s to %q", op, subject))
	natstest.CheckFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, e := range c.errs {
			if strings.Contains(strings.ToLower(e), want) {
				return nil
			}
		}
		return fmt.Errorf("no %q among the errors the server reported: %q", want, c.errs)
	})
}

func TestBusGuards(t *testing.T) {
	t.Parallel()
	t.Run("single server", func(t *testing.T) {
		t.Parallel()
		s := natstest.RunJetStream(t)
		testGuards(t, newBus(t, s.ClientURL(), 1))
	})
	t.Run("3-node cluster", func(t *testing.T) {
		t.Parallel()
		c := natstest.RunCluster(t, 3)
		b := newBus(t, c.URLs(), 3)
		c.WaitOnStreamLeader(natstest.Account, natsjs.StreamEvents)
		testGuards(t, b)
	})
}

func testGuards(t *testing.T, b *bus) {
	t.Run("anonymous refused", func(t *testing.T) {
		nc, err := nats.Connect(b.url, nats.Timeout(2*time.Second), nats.NoReconnect())
		if err == nil {
			nc.Close()
			t.Fatal("anonymous connect: got a connection, want it refused")
		}
		if !errors.Is(err, nats.ErrAuthorization) && !strings.Contains(strings.ToLower(err.Error()), "authorization") {
			t.Fatalf("anonymous connect: got %v, want an authorization violation", err)
		}
	})

	t.Run("publisher", func(t *testing.T) {
		p := b.connect(t, "a", natsauth.RolePublisher, "sso")
		before := b.count(t, natsjs.StreamSignins, "sf.signin.a.>")
		if _, err := p.js.Publish(ctx(t), "sf.signin.a", []byte(`{"id":"s1"}`)); err != nil {
			t.Fatalf("publish own sign-in: %v", err)
		}
		if got := b.count(t, natsjs.StreamSignins, "sf.signin.a.>"); got != before+1 {
			t.Fatalf("sign-ins of a: got %d, want %d", got, before+1)
		}
		evBefore, notifyBefore, dlqBefore := b.count(t, natsjs.StreamEvents, "sf.evt.>"), b.count(t, natsjs.StreamNotify, "sf.notify.>"), b.count(t, natsjs.StreamDLQ, "sf.dlq.>")
		signinsB := b.count(t, natsjs.StreamSignins, "sf.signin.b.>")
		for _, subj := range []string{"sf.signin.b", "sf.evt.a.product.p1", "sf.notify.a.email", "sf.dlq.signin.a",
			"$JS.API.STREAM.DELETE." + natsjs.StreamEvents, "$JS.API.STREAM.PURGE." + natsjs.StreamEvents, "$JS.API.CONSUMER.CREATE." + natsjs.StreamEvents + ".x.sf.evt.a.>"} {
			if err := p.nc.Publish(subj, []byte(`{"forged":true}`)); err != nil {
				t.Fatal(err)
			}
			p.refused(t, "publish", subj)
		}
		for _, subj := range []string{"sf.evt.a.>", "sf.notify.a.>", "_INBOX.>", "_INBOX_b.>", ">"} {
			if _, err := p.nc.SubscribeSync(subj); err != nil {
				t.Fatal(err)
			}
			p.refused(t, "subscription", subj)
		}
		if got := b.count(t, natsjs.StreamEvents, "sf.evt.>"); got != evBefore {
			t.Errorf("events: got %d, want %d (nothing forged)", got, evBefore)
		}
		if got := b.count(t, natsjs.StreamNotify, "sf.notify.>"); got != notifyBefore {
			t.Errorf("notifications: got %d, want %d", got, notifyBefore)
		}
		if got := b.count(t, natsjs.StreamDLQ, "sf.dlq.>"); got != dlqBefore {
			t.Errorf("dead letters: got %d, want %d", got, dlqBefore)
		}
		if got := b.count(t, natsjs.StreamSignins, "sf.signin.b.>"); got != signinsB {
			t.Errorf("sign-ins of b: got %d, want %d", got, signinsB)
		}
		if _, err := b.js.Stream(ctx(t), natsjs.StreamEvents); err != nil {
			t.Errorf("event stream after a delete attempt: %v", err)
		}
	})

	t.Run("reader", func(t *testing.T) {
		r := b.connect(t, "a", natsauth.RoleReader, "dash")

		// Plain subscription to the tenant's live events.
		sub, err := r.nc.SubscribeSync("sf.evt.a.>")
		if err != nil {
			t.Fatal(err)
		}
		if err := r.nc.Flush(); err != nil {
			t.Fatal(err)
		}
		// On a cluster the subscription reaches the other servers a moment
		// later: publish until it arrives.
		natstest.CheckFor(t, 10*time.Second, time.Millisecond, func() error {
			b.publish(t, "sf.evt.a.user.u2", `{"live":true}`)
			m, err := sub.NextMsg(200 * time.Millisecond)
			if err != nil {
				return fmt.Errorf("live event of a: %w", err)
			}
			if m.Subject != "sf.evt.a.user.u2" {
				return fmt.Errorf("live event of a: got %s", m.Subject)
			}
			return nil
		})

		// A durable named <tenant>-<name>, filtered to the tenant, on each stream.
		for stream, filter := range map[string]string{natsjs.StreamEvents: "sf.evt.a.>", natsjs.StreamNotify: "sf.notify.a.>", natsjs.StreamDLQ: "sf.dlq.signin.a"} {
			cons, err := r.js.CreateOrUpdateConsumer(ctx(t), stream, jetstream.ConsumerConfig{Durable: natsauth.Durable("a", "dash"), FilterSubject: filter, AckPolicy: jetstream.AckExplicitPolicy})
			if err != nil {
				t.Fatalf("durable on %s: %v", stream, err)
			}
			// On a cluster the new consumer's leader answers a moment later.
			natstest.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error {
				batch, err := cons.Fetch(1, jetstream.FetchMaxWait(time.Second))
				if err != nil {
					return fmt.Errorf("fetch from %s: %w", stream, err)
				}
				n := 0
				for m := range batch.Messages() {
					if !strings.HasPrefix(m.Subject(), strings.TrimSuffix(filter, ">")) {
						t.Errorf("%s: got %s, want only %s", stream, m.Subject(), filter)
					}
					if err := m.Ack(); err != nil {
						t.Errorf("ack: %v", err)
					}
					n++
				}
				if n != 1 {
					return fmt.Errorf("%s: fetched %d, want 1 (%v)", stream, n, batch.Error())
				}
				return nil
			})
		}

		// An ordered consumer (push, delivered to the tenant's inbox).
		legacy, err := r.nc.JetStream()
		if err != nil {
			t.Fatal(err)
		}
		osub, err := legacy.SubscribeSync("sf.evt.a.>", nats.OrderedConsumer(), nats.BindStream(natsjs.StreamEvents))
		if err != nil {
			t.Fatalf("ordered consumer: %v", err)
		}
		for range 2 {
			m, err := osub.NextMsg(5 * time.Second)
			if err != nil {
				t.Fatalf("ordered consumer: %v", err)
			}
			if !strings.HasPrefix(m.Subject, "sf.evt.a.") {
				t.Fatalf("ordered consumer: got %s, want only a's events", m.Subject)
			}
		}
		_ = osub.Unsubscribe()

		// Everything of b, and everything that is not reading, is refused.
		for _, subj := range []string{"sf.evt.b.>", "sf.notify.b.>", "sf.dlq.signin.b", "sf.signin.a", "_INBOX.>", "_INBOX_b.>"} {
			if _, err := r.nc.SubscribeSync(subj); err != nil {
				t.Fatal(err)
			}
			r.refused(t, "subscription", subj)
		}
		for _, subj := range []string{"sf.signin.a", "sf.evt.a.user.u1", "sf.notify.a.email", "sf.dlq.signin.a"} {
			if err := r.nc.Publish(subj, []byte(`{}`)); err != nil {
				t.Fatal(err)
			}
			r.refused(t, "publish", subj)
		}
		refusedRequest := func(subj string, body string) {
			t.Helper()
			if _, err := r.nc.Request(subj, []byte(body), 200*time.Millisecond); err == nil {
				t.Errorf("request %s: got an answer, want it refused", subj)
			}
			r.refused(t, "publish", subj)
		}
		refusedRequest("$JS.API.DIRECT.GET."+natsjs.StreamEvents+".sf.evt.b.user.u1", "")
		refusedRequest("$JS.API.DIRECT.GET."+natsjs.StreamEvents, `{"seq":1}`)
		refusedRequest("$JS.API.STREAM.DELETE."+natsjs.StreamEvents, "")
		refusedRequest("$JS.API.STREAM.MSG.GET."+natsjs.StreamEvents, `{"seq":1}`)
		refusedRequest("$JS.API.CONSUMER.CREATE."+natsjs.StreamEvents+".x.sf.evt.b.>", `{}`)
		refusedRequest("$JS.API.CONSUMER.CREATE."+natsjs.StreamEvents+".x", `{}`)
		refusedRequest("$JS.API.CONSUMER.CREATE."+natsjs.StreamEvents, `{}`)
		refusedRequest("$JS.API.CONSUMER.DURABLE.CREATE."+natsjs.StreamEvents+".a-dash", `{}`)
		refusedRequest("$JS.API.CONSUMER.CREATE."+natsjs.StreamEvents+".seatflow-notifier.sf.evt.a.>", `{}`)
		refusedRequest("$JS.API.CONSUMER.MSG.NEXT."+natsjs.StreamEvents+".seatflow-notifier", `{"batch":1}`)
		refusedRequest("$JS.API.CONSUMER.MSG.NEXT."+natsjs.StreamEvents+".b-dash", `{"batch":1}`)
		refusedRequest("$JS.API.CONSUMER.LIST."+natsjs.StreamEvents, `{}`)
		refusedRequest("$JS.API.CONSUMER.CREATE."+natsjs.StreamSignins+".x.sf.signin.a", `{}`)

		// The subject's filter is a's, the body asks for b's: the server
		// itself refuses the mismatch.
		resp, err := r.nc.Request("$JS.API.CONSUMER.CREATE."+natsjs.StreamEvents+".a-dash3.sf.evt.a.>",
			[]byte(`{"stream_name":"`+natsjs.StreamEvents+`","config":{"durable_name":"a-dash3","filter_subject":"sf.evt.b.>","ack_policy":"explicit"}}`), 5*time.Second)
		if err != nil {
			t.Fatalf("create with a mismatched body: %v", err)
		}
		if !strings.Contains(string(resp.Data), `"error"`) {
			t.Errorf("create with a's subject and b's filter: got %s, want an error", resp.Data)
		}

		// A consumer whose body asks for more than a's events has no subject
		// it may be created on.
		short, cancel := context.WithTimeout(ctx(t), time.Second)
		defer cancel()
		if _, err := r.js.CreateOrUpdateConsumer(short, natsjs.StreamEvents, jetstream.ConsumerConfig{Durable: "a-dash", FilterSubjects: []string{"sf.evt.a.>", "sf.evt.b.>"}}); err == nil {
			t.Error("a consumer with b's filter among several: created, want refused")
		}
		if _, err := r.js.CreateOrUpdateConsumer(short, natsjs.StreamEvents, jetstream.ConsumerConfig{Durable: "a-dash2"}); err == nil {
			t.Error("a consumer without filter: created, want refused")
		}
		if _, err := b.js.Stream(ctx(t), natsjs.StreamEvents); err != nil {
			t.Errorf("event stream: %v", err)
		}

		// A push consumer is delivered by the server, not published by the
		// reader: one aimed at the API, another tenant's sign-ins or
		// notifications must not turn a's events into writes there.
		signinsB, notifyB := b.count(t, natsjs.StreamSignins, "sf.signin.b.>"), b.count(t, natsjs.StreamNotify, "sf.notify.b.>")
		for i, deliver := range []string{"$JS.API.STREAM.DELETE." + natsjs.StreamEvents, "sf.signin.b", "sf.notify.b.email", "sf.evt.b.user.u1"} {
			name := fmt.Sprintf("push%d", i)
			resp, err := r.nc.Request("$JS.API.CONSUMER.CREATE."+natsjs.StreamEvents+"."+name+".sf.evt.a.>",
				[]byte(`{"stream_name":"`+natsjs.StreamEvents+`","config":{"name":"`+name+`","filter_subject":"sf.evt.a.>","deliver_subject":"`+deliver+`","ack_policy":"none"}}`), 5*time.Second)
			if err != nil {
				t.Fatalf("push consumer to %s: %v", deliver, err)
			}
			t.Logf("push consumer delivering to %s: %.120s", deliver, resp.Data)
		}
		b.publish(t, "sf.evt.a.user.u3", `{"after":"push"}`)
		time.Sleep(500 * time.Millisecond) // deliveries, were there any, take microseconds
		if _, err := b.js.Stream(ctx(t), natsjs.StreamEvents); err != nil {
			t.Errorf("event stream after a push consumer aimed at its delete API: %v", err)
		}
		if got := b.count(t, natsjs.StreamSignins, "sf.signin.b.>"); got != signinsB {
			t.Errorf("sign-ins of b: got %d, want %d (none from a's push consumer)", got, signinsB)
		}
		if got := b.count(t, natsjs.StreamNotify, "sf.notify.b.>"); got != notifyB {
			t.Errorf("notifications of b: got %d, want %d (none from a's push consumer)", got, notifyB)
		}
		if got := b.count(t, natsjs.StreamEvents, "sf.evt.b.>"); got != 1 {
			t.Errorf("events of b: got %d, want 1 (none from a's push consumer)", got)
		}
	})

	t.Run("revoked credential refused within seconds", func(t *testing.T) {
		id := natstest.Identity()
		creds, user, err := id.Issue(natsauth.Grant{Tenant: "a", Role: natsauth.RoleReader, Name: "gone"}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		opt, _ := natsauth.CredsOption(creds)
		closed := make(chan struct{})
		nc, err := nats.Connect(b.url, opt, nats.CustomInboxPrefix("_INBOX_a"), nats.ReconnectWait(50*time.Millisecond), nats.MaxReconnects(5),
			nats.ClosedHandler(func(*nats.Conn) { close(closed) }))
		if err != nil {
			t.Fatalf("connect before revocation: %v", err)
		}
		defer nc.Close()
		sysCreds, _ := id.SystemUserCreds()
		sysOpt, _ := natsauth.CredsOption(sysCreds)
		sys, err := nats.Connect(b.url, sysOpt)
		if err != nil {
			t.Fatalf("system user: %v", err)
		}
		defer sys.Close()
		start := time.Now()
		if err := id.PushRevocations(sys, map[string]time.Time{user: time.Now()}, 5*time.Second); err != nil {
			t.Fatalf("push revocation: %v", err)
		}
		select {
		case <-closed:
		case <-time.After(10 * time.Second):
			t.Fatalf("connection of a revoked credential still open after 10s (status %v, connected to %s, %d reconnects)",
				nc.Status(), nc.ConnectedUrl(), nc.Stats().Reconnects)
		}
		t.Logf("revoked connection closed %s after the push", time.Since(start).Round(time.Millisecond))
		if nc2, err := nats.Connect(b.url, opt, nats.NoReconnect()); err == nil {
			nc2.Close()
			t.Fatal("connect with a revoked credential: got a connection, want it refused")
		}
		// Other credentials of the tenant keep working.
		b.connect(t, "a", natsauth.RolePublisher, "other")
	})
}

// TestServiceConsumersNamed: the consumers the permissions protect by name
// are the ones the edges keep, and the streams they name exist.
func TestServiceConsumersNamed(t *testing.T) {
	want := map[string][]string{natsjs.StreamEvents: {notify.DefaultNotifierDur}, natsjs.StreamNotify: {notify.DefaultSenderDur}}
	if !reflect.DeepEqual(natsauth.ServiceConsumers, want) {
		t.Fatalf("ServiceConsumers: got %v, want %v", natsauth.ServiceConsumers, want)
	}
	names := map[string]bool{}
	for _, c := range natsjs.StreamConfigs(1) {
		names[c.Name] = true
	}
	for _, s := range []string{natsjs.StreamEvents, natsjs.StreamNotify, natsjs.StreamDLQ, natsjs.StreamSignins} {
		if !names[s] {
			t.Errorf("stream %s is not one of natsjs's", s)
		}
	}
}
