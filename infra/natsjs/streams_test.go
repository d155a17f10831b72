package natsjs_test

import (
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/seatflow/seatflow/infra/natsjs"
	"github.com/seatflow/seatflow/infra/natstest"
)

func TestEnsureStreams(t *testing.T) {
	s := natstest.RunJetStream(t)
	_, js := natstest.Connect(t, s.ClientURL())
	ctx := testCtx(t)
	// Twice: the second run finds everything in place.
	for range 2 {
		if err := natsjs.EnsureStreams(ctx, js, 1); err != nil {
			t.Fatalf("ensure streams: %v", err)
		}
	}
	if err := natsjs.EnsureStreams(ctx, js, 0); err == nil {
		t.Error("ensure streams with 0 replicas: got no error")
	}

	for _, tc := range []struct {
		stream, subject string
	}{
		{natsjs.StreamEvents, "sf.evt.acme.product.p1"},
		{natsjs.StreamSignins, "sf.signin.acme"},
		{natsjs.StreamNotify, "sf.notify.acme.email"},
		{natsjs.StreamDLQ, "sf.dlq.signin.acme"},
	} {
		t.Run(tc.stream, func(t *testing.T) {
			name, err := js.StreamNameBySubject(ctx, tc.subject)
			if err != nil {
				t.Fatalf("stream of %s: %v", tc.subject, err)
			}
			if name != tc.stream {
				t.Fatalf("stream of %s: got %s, want %s", tc.subject, name, tc.stream)
			}
		})
	}

	st, err := js.Stream(ctx, natsjs.StreamEvents)
	if err != nil {
		t.Fatal(err)
	}
	cfg := st.CachedInfo().Config
	for _, c := range []struct {
		what      string
		got, want any
	}{
		{"storage", cfg.Storage, jetstream.FileStorage},
		{"retention", cfg.Retention, jetstream.LimitsPolicy},
		{"discard", cfg.Discard, jetstream.DiscardNew},
		{"max msgs", cfg.MaxMsgs, int64(-1)},
		{"max bytes", cfg.MaxBytes, int64(-1)},
		{"max age", cfg.MaxAge, cfg.MaxAge * 0},
		{"max msgs per subject", cfg.MaxMsgsPerSubject, int64(-1)},
		{"allow direct", cfg.AllowDirect, true},
		{"allow atomic publish", cfg.AllowAtomicPublish, true},
		{"duplicates", cfg.Duplicates, natsjs.EventsDedupWindow},
	} {
		if c.got != c.want {
			t.Errorf("%s %s: got %v, want %v", natsjs.StreamEvents, c.what, c.got, c.want)
		}
	}
	for name, want := range map[string]any{
		natsjs.StreamSignins: natsjs.SigninsDedupWindow,
		natsjs.StreamNotify:  natsjs.NotifyDedupWindow,
	} {
		st, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if got := st.CachedInfo().Config.Duplicates; got != want {
			t.Errorf("%s duplicates window: got %v, want %v", name, got, want)
		}
	}
}
