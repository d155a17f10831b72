package natsjs_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/oklog/ulid/v2"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/domain/storetest"
	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/infra/natsjs"
	"github.com/seatflow/seatflow/infra/natstest"
)

// storeEnv is one embedded server with the Seatflow streams and a store on it.
type storeEnv struct {
	nc    *nats.Conn
	js    jetstream.JetStream
	store *natsjs.Store
}

func newStoreEnv(t *testing.T) storeEnv {
	t.Helper()
	s := natstest.RunJetStream(t)
	nc, js := natstest.Connect(t, s.ClientURL())
	if err := natsjs.EnsureStreams(testCtx(t), js, 1); err != nil {
		t.Fatalf("ensure streams: %v", err)
	}
	return storeEnv{nc: nc, js: js, store: natsjs.NewStore(js, events.Default())}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestStoreConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) domain.Store { return newStoreEnv(t).store })
}

var testAt = time.Date(2026, 11, 1, 9, 30, 0, 0, time.UTC)

func purchased(tenant string, agg events.Aggregate, count int) events.Envelope {
	return events.New(ulid.Make().String(), tenant, agg, testAt,
		events.Meta{Actor: "test", CommandID: ulid.Make().String()},
		events.LicensesPurchased{ProductID: agg.ID, Count: count})
}

func productAgg(id string) events.Aggregate {
	return events.Aggregate{Kind: events.KindProduct, ID: id}
}

func apiCode(err error) jetstream.ErrorCode {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode
	}
	return 0
}

// TestExpectedZero proves that "no events yet" (Expected 0) goes out as the
// header value "0" and that the server enforces it: a subject that already
// has a message refuses it.
func TestExpectedZero(t *testing.T) {
	env := newStoreEnv(t)
	ctx := testCtx(t)
	stream, err := env.js.Stream(ctx, natsjs.StreamEvents)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("store sends 0", func(t *testing.T) {
		agg := productAgg("zero")
		pos, err := env.store.Append(ctx, domain.Write{Expected: 0, Events: []events.Envelope{purchased("acme", agg, 1)}})
		if err != nil {
			t.Fatalf("append: %v", err)
		}
		msg, err := stream.GetMsg(ctx, pos[0])
		if err != nil {
			t.Fatal(err)
		}
		if got := msg.Header.Get("Nats-Expected-Last-Subject-Sequence"); got != "0" {
			t.Fatalf("stored Nats-Expected-Last-Subject-Sequence: got %q, want %q", got, "0")
		}
	})

	t.Run("server refuses 0 on a subject with messages", func(t *testing.T) {
		agg := productAgg("blind")
		// A write without any check (which Seatflow never does) puts a
		// message on the subject first.
		data, _ := events.Encode(purchased("acme", agg, 1))
		if _, err := env.js.Publish(ctx, events.Subject("acme", agg), data); err != nil {
			t.Fatal(err)
		}
		_, err := env.store.Append(ctx, domain.Write{Expected: 0, Events: []events.Envelope{purchased("acme", agg, 2)}})
		if !errors.Is(err, domain.ErrConcurrency) {
			t.Fatalf("append expecting 0: got %v, want ErrConcurrency", err)
		}
		if got := apiCode(err); got != 10071 {
			t.Errorf("API error code: got %d, want 10071", got)
		}
	})

	// nats.go v1.55 keeps the option as a pointer, so 0 is sent too; the
	// store sets the header itself anyway, independent of that detail.
	t.Run("nats.go option sends 0", func(t *testing.T) {
		subj := events.Subject("acme", productAgg("option"))
		data, _ := events.Encode(purchased("acme", productAgg("option"), 1))
		ack, err := env.js.Publish(ctx, subj, data, jetstream.WithExpectLastSequencePerSubject(0))
		if err != nil {
			t.Fatalf("first publish expecting 0: %v", err)
		}
		msg, err := stream.GetMsg(ctx, ack.Sequence)
		if err != nil {
			t.Fatal(err)
		}
		if got := msg.Header.Get("Nats-Expected-Last-Subject-Sequence"); got != "0" {
			t.Fatalf("header: got %q, want %q", got, "0")
		}
		_, err = env.js.Publish(ctx, subj, data, jetstream.WithExpectLastSequencePerSubject(0))
		if got := apiCode(err); got != 10071 {
			t.Fatalf("second publish expecting 0: got %v (code %d), want code 10071", err, got)
		}
	})
}

// batchReply is the commit reply of an atomic batch.
type batchReply struct {
	Error *struct {
		Code    int    `json:"code"`
		ErrCode int    `json:"err_code"`
		Desc    string `json:"description"`
	} `json:"error"`
	Seq   uint64 `json:"seq"`
	Batch string `json:"batch"`
	Count int    `json:"count"`
}

type batchMsg struct {
	subj     string
	expected string // Nats-Expected-Last-Subject-Sequence, "" for none
}

// sendRawBatch publishes msgs as one atomic batch by hand and returns the
// commit reply.
func sendRawBatch(t *testing.T, nc *nats.Conn, id string, msgs []batchMsg) batchReply {
	t.Helper()
	for i, m := range msgs {
		msg := nats.NewMsg(m.subj)
		msg.Data = []byte(fmt.Sprintf("%s #%d", id, i+1))
		msg.Header.Set("Nats-Batch-Id", id)
		msg.Header.Set("Nats-Batch-Sequence", strconv.Itoa(i+1))
		if m.expected != "" {
			msg.Header.Set("Nats-Expected-Last-Subject-Sequence", m.expected)
		}
		if i < len(msgs)-1 {
			if err := nc.PublishMsg(msg); err != nil {
				t.Fatal(err)
			}
			continue
		}
		msg.Header.Set("Nats-Batch-Commit", "1")
		resp, err := nc.RequestMsg(msg, 5*time.Second)
		if err != nil {
			t.Fatalf("commit: %v", err)
		}
		var r batchReply
		if err := json.Unmarshal(resp.Data, &r); err != nil {
			t.Fatalf("commit reply %q: %v", resp.Data, err)
		}
		return r
	}
	t.Fatal("empty batch")
	return batchReply{}
}

// TestAtomicBatchProtocol records what nats-server requires of an atomic
// batch with per-subject checks, the protocol Store.Append builds on. The
// stream (file storage, one replica) starts with one message on each of
// sf.evt.t.product.a (seq 1) and sf.evt.t.product.b (seq 2).
func TestAtomicBatchProtocol(t *testing.T) {
	const (
		a = "sf.evt.t.product.a"
		b = "sf.evt.t.product.b"
		c = "sf.evt.t.product.c"
	)
	for _, tc := range []struct {
		name     string
		msgs     []batchMsg
		wantCode int // 0: committed
	}{
		{"one check per subject", []batchMsg{{a, "1"}, {b, "2"}, {c, "0"}}, 0},
		{"second on a subject without a check", []batchMsg{{a, "1"}, {a, ""}, {a, ""}}, 0},
		{"second on a subject repeating the check", []batchMsg{{a, "1"}, {a, "1"}}, 10164},
		{"second on a subject expecting the first", []batchMsg{{a, "1"}, {a, "3"}}, 10164},
		{"wrong check on the first subject", []batchMsg{{a, "0"}, {b, "2"}}, 10071},
		{"wrong check on a later subject", []batchMsg{{a, "1"}, {b, "1"}}, 10071},
		{"zero on a new subject, then more", []batchMsg{{c, "0"}, {c, ""}, {b, "2"}}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := newStoreEnv(t)
			ctx := testCtx(t)
			for _, subj := range []string{a, b} {
				if _, err := env.js.Publish(ctx, subj, []byte("seed")); err != nil {
					t.Fatal(err)
				}
			}
			id := nats.NewInbox()[7:] // any unique id up to 64 characters
			r := sendRawBatch(t, env.nc, id, tc.msgs)
			stream, err := env.js.Stream(ctx, natsjs.StreamEvents)
			if err != nil {
				t.Fatal(err)
			}
			msgs := stream.CachedInfo().State.Msgs
			if tc.wantCode != 0 {
				if r.Error == nil || r.Error.ErrCode != tc.wantCode {
					t.Fatalf("commit reply: got %+v, want error code %d", r, tc.wantCode)
				}
				if msgs != 2 {
					t.Fatalf("messages after a refused batch: got %d, want 2", msgs)
				}
				return
			}
			if r.Error != nil {
				t.Fatalf("commit reply: got error %+v, want success", *r.Error)
			}
			// The reply names the last sequence; the batch is contiguous.
			want := batchReply{Seq: uint64(2 + len(tc.msgs)), Batch: id, Count: len(tc.msgs)}
			if r.Seq != want.Seq || r.Batch != want.Batch || r.Count != want.Count {
				t.Fatalf("commit reply: got %+v, want %+v", r, want)
			}
			info, err := stream.Info(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if got := info.State.Msgs; got != want.Seq {
				t.Fatalf("messages: got %d, want %d", got, want.Seq)
			}
			for i, m := range tc.msgs {
				got, err := stream.GetMsg(ctx, uint64(3+i))
				if err != nil {
					t.Fatal(err)
				}
				if got.Subject != m.subj {
					t.Errorf("sequence %d: got subject %s, want %s", 3+i, got.Subject, m.subj)
				}
			}
		})
	}
}

// TestAppendBatchSameAggregate checks Store.Append's use of the protocol:
// several events of one aggregate, and several aggregates, in one append.
func TestAppendBatch(t *testing.T) {
	env := newStoreEnv(t)
	ctx := testCtx(t)
	a, b := productAgg("a"), productAgg("b")
	pa, err := env.store.Append(ctx, domain.Write{Events: []events.Envelope{purchased("acme", a, 1)}})
	if err != nil {
		t.Fatal(err)
	}
	pos, err := env.store.Append(ctx,
		domain.Write{Expected: pa[0], Events: []events.Envelope{purchased("acme", a, 2), purchased("acme", a, 3)}},
		domain.Write{Expected: 0, Events: []events.Envelope{purchased("acme", b, 1), purchased("acme", b, 2), purchased("acme", b, 3)}},
	)
	if err != nil {
		t.Fatalf("append: %v", err)
	}
	if want := []uint64{2, 3, 4, 5, 6}; fmt.Sprint(pos) != fmt.Sprint(want) {
		t.Fatalf("positions: got %v, want %v", pos, want)
	}
	stream, err := env.js.Stream(ctx, natsjs.StreamEvents)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"1", "", "0", "", ""} {
		msg, err := stream.GetMsg(ctx, pos[i])
		if err != nil {
			t.Fatal(err)
		}
		if got := msg.Header.Get("Nats-Expected-Last-Subject-Sequence"); got != want {
			t.Errorf("sequence %d: check header got %q, want %q", pos[i], got, want)
		}
	}
	// Exactly MaxAppendEvents fit; one more is refused before anything is sent.
	big := make([]events.Envelope, natsjs.MaxAppendEvents+1)
	for i := range big {
		big[i] = purchased("acme", productAgg("big"), i+1)
	}
	if _, err := env.store.Append(ctx, domain.Write{Events: big}); err == nil || errors.Is(err, domain.ErrConcurrency) {
		t.Fatalf("append of %d events: got %v, want a size error", len(big), err)
	}
	pos, err = env.store.Append(ctx, domain.Write{Events: big[:natsjs.MaxAppendEvents]})
	if err != nil {
		t.Fatalf("append of %d events: %v", natsjs.MaxAppendEvents, err)
	}
	if got := len(pos); got != natsjs.MaxAppendEvents {
		t.Fatalf("positions: got %d, want %d", got, natsjs.MaxAppendEvents)
	}
}

// TestLoadUndecodable shows that a message the registry cannot decode
// fails the load with its subject and sequence, and that a valid event of
// another aggregate stored under the subject is refused too.
func TestLoadUndecodable(t *testing.T) {
	env := newStoreEnv(t)
	ctx := testCtx(t)
	for _, tc := range []struct {
		name string
		agg  events.Aggregate
		data func(agg events.Aggregate) []byte
	}{
		{"not json", productAgg("garbage"), func(events.Aggregate) []byte { return []byte("not json") }},
		{"unknown type", productAgg("unknown"), func(agg events.Aggregate) []byte {
			return []byte(strings.Replace(string(mustEncode(t, purchased("acme", agg, 1))), `"LicensesPurchased"`, `"NoSuchEvent"`, 1))
		}},
		{"event of another aggregate", productAgg("foreign"), func(events.Aggregate) []byte {
			return mustEncode(t, purchased("acme", productAgg("elsewhere"), 1))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			subj := events.Subject("acme", tc.agg)
			// One good event first, so both the fast path and the range read
			// meet the bad one.
			good, err := env.store.Append(ctx, domain.Write{Events: []events.Envelope{purchased("acme", tc.agg, 1)}})
			if err != nil {
				t.Fatal(err)
			}
			ack, err := env.js.Publish(ctx, subj, tc.data(tc.agg))
			if err != nil {
				t.Fatal(err)
			}
			for _, after := range []uint64{0, good[0]} {
				_, err = env.store.Load(ctx, "acme", tc.agg, after)
				want := fmt.Sprintf("%s: decode sequence %d", subj, ack.Sequence)
				if tc.name == "event of another aggregate" {
					want = fmt.Sprintf("%s: sequence %d holds an event of", subj, ack.Sequence)
				}
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("load after %d: got %v, want an error containing %q", after, err, want)
				}
				if !errors.Is(err, events.ErrMalformed) && !errors.Is(err, events.ErrUnknownType) {
					t.Errorf("load after %d: got %v, want it to wrap ErrMalformed or ErrUnknownType", after, err)
				}
			}
		})
	}
}

func mustEncode(t *testing.T, e events.Envelope) []byte {
	t.Helper()
	b, err := events.Encode(e)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestLoadLargeAggregate loads an aggregate of tens of thousands of events,
// whole and from a position near its end.
func TestLoadLargeAggregate(t *testing.T) {
	const n = 25_000
	env := newStoreEnv(t)
	ctx := testCtx(t)
	agg := productAgg("huge")
	subj := events.Subject("acme", agg)
	// Fill the subject fast, bypassing the store, interleaved with another
	// subject so the aggregate's sequences are not contiguous.
	for i := range n {
		if _, err := env.js.PublishAsync(subj, mustEncode(t, purchased("acme", agg, i+1))); err != nil {
			t.Fatal(err)
		}
		if i%10 == 0 {
			if _, err := env.js.PublishAsync("sf.evt.acme.product.noise", mustEncode(t, purchased("acme", productAgg("noise"), i+1))); err != nil {
				t.Fatal(err)
			}
		}
		if i%1000 == 999 { // stay within the async window on a busy machine
			select {
			case <-env.js.PublishAsyncComplete():
			case <-ctx.Done():
				t.Fatal("publishing did not complete")
			}
		}
	}
	select {
	case <-env.js.PublishAsyncComplete():
	case <-ctx.Done():
		t.Fatal("publishing did not complete")
	}

	start := time.Now()
	evs, err := env.store.Load(ctx, "acme", agg, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("loaded %d events in %s", len(evs), time.Since(start))
	if len(evs) != n {
		t.Fatalf("events: got %d, want %d", len(evs), n)
	}
	for i, e := range evs {
		if got := e.Data.(events.LicensesPurchased).Count; got != i+1 {
			t.Fatalf("event %d: got count %d, want %d", i, got, i+1)
		}
		if i > 0 && e.Position <= evs[i-1].Position {
			t.Fatalf("event %d: position %d after %d", i, e.Position, evs[i-1].Position)
		}
	}
	tail, err := env.store.Load(ctx, "acme", agg, evs[n-11].Position)
	if err != nil {
		t.Fatal(err)
	}
	if len(tail) != 10 || tail[0].Position != evs[n-10].Position {
		t.Fatalf("tail: got %d events from %d, want 10 from %d", len(tail), tail[0].Position, evs[n-10].Position)
	}
}

// TestLoadLatest: reading from the leader's head gives what Load gives on a
// current server, nothing for an aggregate without events, and the tail
// after a position.
func TestLoadLatest(t *testing.T) {
	env := newStoreEnv(t)
	ctx := testCtx(t)
	agg := productAgg("latest")
	if evs, err := env.store.LoadLatest(ctx, "acme", agg, 0); err != nil || len(evs) != 0 {
		t.Fatalf("empty aggregate: %v, %v", evs, err)
	}
	var expected uint64
	for i := range 5 {
		pos, err := env.store.Append(ctx, domain.Write{Expected: expected, Events: []events.Envelope{purchased("acme", agg, i+1)}})
		if err != nil {
			t.Fatal(err)
		}
		expected = pos[0]
	}
	all, err := env.store.Load(ctx, "acme", agg, 0)
	if err != nil {
		t.Fatal(err)
	}
	latest, err := env.store.LoadLatest(ctx, "acme", agg, 0)
	if err != nil || len(latest) != 5 || latest[4].Position != all[4].Position {
		t.Fatalf("latest: %d events (%v), want the 5 Load gives", len(latest), err)
	}
	tail, err := env.store.LoadLatest(ctx, "acme", agg, all[3].Position)
	if err != nil || len(tail) != 1 || tail[0].Position != all[4].Position {
		t.Fatalf("tail after %d: %v, %v", all[3].Position, tail, err)
	}
}
