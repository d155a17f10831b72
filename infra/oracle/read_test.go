package oracle_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/infra/natsjs"
	"github.com/seatflow/seatflow/infra/natstest"
	"github.com/seatflow/seatflow/infra/oracle"
)

// TestRead reads back what was published, whole and per tenant, with the
// other tenant's messages after the last of the one read.
func TestRead(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, js := natstest.Connect(t, natstest.RunJetStream(t).ClientURL())
	if err := natsjs.EnsureStreams(ctx, js, 1); err != nil {
		t.Fatal(err)
	}
	if msgs, err := oracle.Read(ctx, js); err != nil || len(msgs) != 0 {
		t.Fatalf("empty stream: got %d messages, %v", len(msgs), err)
	}
	publish := func(tenant string, i int) {
		env := events.New(fmt.Sprintf("%s-%04d", tenant, i), tenant, events.Aggregate{Kind: events.KindProduct, ID: "p"}, time.Now(),
			events.Meta{Actor: "a", CommandID: fmt.Sprintf("c%d", i)}, events.LicensesPurchased{ProductID: "p", Count: 1})
		data, err := json.Marshal(env)
		if err != nil {
			t.Fatal(err)
		}
		msg := &nats.Msg{Subject: env.Subject(), Data: data, Header: nats.Header{}}
		msg.Header.Set(jetstream.MsgIDHeader, env.ID)
		if _, err := js.PublishMsgAsync(msg); err != nil {
			t.Fatal(err)
		}
	}
	// More than one fetch of a: 1200 messages, then 5 of b.
	for i := range 1200 {
		publish("a", i)
	}
	for i := range 5 {
		publish("b", i)
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-ctx.Done():
		t.Fatal("publish: no acks")
	}
	for _, tc := range []struct {
		tenants []string
		want    int
	}{{nil, 1205}, {[]string{"a"}, 1200}, {[]string{"b"}, 5}, {[]string{"a", "b"}, 1205}, {[]string{"c"}, 0}} {
		began := time.Now()
		msgs, err := oracle.Read(ctx, js, tc.tenants...)
		t.Logf("read %v: %d messages in %s", tc.tenants, len(msgs), time.Since(began))
		if err != nil {
			t.Fatalf("read %v: %v", tc.tenants, err)
		}
		if len(msgs) != tc.want {
			t.Fatalf("read %v: got %d messages, want %d", tc.tenants, len(msgs), tc.want)
		}
		f := oracle.FoldAll(msgs, tc.tenants == nil)
		if err := f.Err(); err != nil {
			t.Fatalf("read %v: %v", tc.tenants, err)
		}
		if tc.want > 0 && (msgs[0].Env.Position != msgs[0].Seq || msgs[0].MsgID != msgs[0].Env.ID || msgs[0].Subject != msgs[0].Env.Subject()) {
			t.Fatalf("read %v: first message %+v", tc.tenants, msgs[0])
		}
	}
	msgs, _ := oracle.Read(ctx, js, "b")
	if msgs[0].Seq != 1201 || msgs[4].Env.ID != "b-0004" {
		t.Fatalf("b's messages: first at %d, last %s", msgs[0].Seq, msgs[4].Env.ID)
	}
}
