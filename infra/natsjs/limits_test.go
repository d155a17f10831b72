package natsjs_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/infra/natsauth"
	"github.com/seatflow/seatflow/infra/natsjs"
	"github.com/seatflow/seatflow/infra/natstest"
)

// TestStorageFullIsUnavailable: when JetStream refuses an append for lack of
// storage, the append fails as unavailable (HTTP 503), nothing is stored,
// and Health reports the store unable to take writes until an append
// succeeds again.
func TestStorageFullIsUnavailable(t *testing.T) {
	id, err := natsauth.Generate()
	if err != nil {
		t.Fatal(err)
	}
	const disk = 256 << 10
	id.SetJetStreamLimits(jwt.JetStreamLimits{DiskStorage: disk, MemoryStorage: -1, Streams: -1, Consumer: -1})
	s := natstest.RunJetStreamWith(t, id)
	opt, err := id.ServiceOption()
	if err != nil {
		t.Fatal(err)
	}
	_, js := natstest.ConnectWith(t, s.ClientURL(), opt)
	// The bounded streams reserve their bytes: keep them small here.
	small := natsjs.Limits{SigninsMaxBytes: 16 << 10, NotifyMaxBytes: 16 << 10, DLQMaxBytes: 16 << 10}
	if err := natsjs.EnsureStreamsWith(testCtx(t), js, 1, small); err != nil {
		t.Fatalf("ensure streams: %v", err)
	}
	store := natsjs.NewStore(js, events.Default())
	ctx := testCtx(t)
	var full error
	for i := 0; i < 10_000 && full == nil; i++ {
		agg := productAgg(fmt.Sprintf("p%d", i))
		_, full = store.Append(ctx, domain.Write{Events: []events.Envelope{purchased("acme", agg, 1)}})
	}
	if full == nil {
		t.Fatal("10,000 appends into 256 KiB: none refused")
	}
	if !errors.Is(full, domain.ErrUnavailable) || !errors.Is(full, natsjs.ErrStorageFull) {
		t.Fatalf("append on a full disk: got %v, want ErrUnavailable and ErrStorageFull", full)
	}
	if err := store.Health(); !errors.Is(err, natsjs.ErrStorageFull) {
		t.Fatalf("health after a refused append: got %v, want ErrStorageFull", err)
	}
	str, err := js.Stream(ctx, natsjs.StreamEvents)
	if err != nil {
		t.Fatal(err)
	}
	info, err := str.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Bytes > disk {
		t.Errorf("event stream holds %d bytes, over the %d the account may store", info.State.Bytes, disk)
	}
	t.Logf("refused after %d events (%d bytes): %v", info.State.Msgs, info.State.Bytes, full)
}

// TestFullDeadLetterStreamDropsTheOldest: dead letters beyond the DLQ's byte
// limit push the oldest out; writing one never fails, so a poison message
// can always be put aside.
func TestFullDeadLetterStreamDropsTheOldest(t *testing.T) {
	s := natstest.RunJetStream(t)
	_, js := natstest.Connect(t, s.ClientURL())
	const limit = 8 << 10
	if err := natsjs.EnsureStreamsWith(testCtx(t), js, 1, natsjs.Limits{DLQMaxBytes: limit}); err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	poison := []byte(strings.Repeat("x", 1000))
	for i := range 50 {
		if _, err := js.Publish(ctx, "sf.dlq.signin.acme", poison); err != nil {
			t.Fatalf("dead letter %d: %v", i, err)
		}
	}
	str, err := js.Stream(ctx, natsjs.StreamDLQ)
	if err != nil {
		t.Fatal(err)
	}
	info, err := str.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Bytes > limit || info.State.LastSeq != 50 || info.Config.Discard != jetstream.DiscardOld {
		t.Fatalf("DLQ: %d bytes (limit %d), last seq %d, discard %v; want within the limit, all 50 accepted, oldest dropped",
			info.State.Bytes, limit, info.State.LastSeq, info.Config.Discard)
	}
}
