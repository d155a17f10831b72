package signin_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/infra/natsjs"
	"github.com/seatflow/seatflow/infra/natstest"
	"github.com/seatflow/seatflow/infra/signin"
)

// TestPublisher: sign-ins land on the tenant's subject of the sign-in
// stream with their id as Nats-Msg-Id, in a form Parse reads back; a
// second publish of the same id is a duplicate the stream does not keep;
// an invalid payload is refused before anything is published.
func TestPublisher(t *testing.T) {
	srv := natstest.RunJetStream(t)
	_, js := natstest.Connect(t, srv.ClientURL())
	ctx := context.Background()
	if err := natsjs.EnsureStreams(ctx, js, 1); err != nil {
		t.Fatal(err)
	}
	pub := signin.NewPublisher(js)
	at := time.Date(2026, 11, 23, 9, 0, 1, 517_000_000, time.UTC)
	ps := []domain.SignInMessage{{ID: "okta-1", UserID: "01ANN", App: "teams", At: at}, {ID: "entra-2", UserID: "bob", App: "teams", At: at}}
	if dups, err := pub.Publish(ctx, "contoso", ps); err != nil || dups != 0 {
		t.Fatalf("first publish: %d duplicates, %v", dups, err)
	}
	if dups, err := pub.Publish(ctx, "contoso", append(ps, domain.SignInMessage{ID: "okta-3", UserID: "cy", App: "teams", At: at})); err != nil || dups != 2 {
		t.Fatalf("again: %d duplicates, %v; want 2", dups, err)
	}
	var rej *domain.SignInRejectedError
	if _, err := pub.Publish(ctx, "contoso", []domain.SignInMessage{{ID: "okta-4", UserID: "dee", App: "teams", At: at}, {ID: "x.y", UserID: "u", App: "a", At: at}}); !errors.As(err, &rej) {
		t.Fatalf("an invalid payload: %v", err)
	}

	s, err := js.Stream(ctx, natsjs.StreamSignins)
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	batch, err := c.Fetch(3, jetstream.FetchMaxWait(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for m := range batch.Messages() {
		p, err := signin.Parse(m.Data())
		if err != nil {
			t.Fatalf("%s: %v", m.Data(), err)
		}
		if !p.At.Equal(at) || m.Headers().Get(jetstream.MsgIDHeader) != p.ID {
			b, _ := json.Marshal(p)
			t.Errorf("stored %s with Nats-Msg-Id %q", b, m.Headers().Get(jetstream.MsgIDHeader))
		}
		got = append(got, p.ID+"@"+m.Subject())
	}
	want := []string{"okta-1@sf.signin.contoso.", "entra-2@sf.signin.contoso.", "okta-3@sf.signin.contoso."}
	ok := len(got) == len(want)
	for i := 0; ok && i < len(want); i++ {
		ok = strings.HasPrefix(got[i], want[i])
	}
	if !ok {
		t.Fatalf("stream holds %v, want %v (each on its tenant's partition)", got, want)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 3 {
		t.Fatalf("the stream holds %d messages, want 3: nothing of the refused batch", info.State.Msgs)
	}
}
