package natsjs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Stream names and the subjects each captures. Every subject Seatflow
// publishes to is captured by one of these streams, created at start-up:
// a publish to a subject no stream captures fails.
const (
	// StreamEvents is the event store: every event of every tenant, one
	// literal subject per aggregate (see events.Subject).
	StreamEvents         = "SEATFLOW_EVENTS"
	StreamEventsSubjects = "sf.evt.>"

	// StreamSignins holds sign-ins published by upstream systems,
	// deduplicated by Nats-Msg-Id.
	StreamSignins         = "SEATFLOW_SIGNINS"
	StreamSigninsSubjects = "sf.signin.>"
	// SigninPartitions is how many partitions the sign-in stream spreads
	// tenants over: its subject transform stores sf.signin.<tenant> as
	// sf.signin.<tenant>.<n>, n a hash of the tenant, so one consumer per
	// partition sees each of its tenants' sign-ins in arrival order.
	SigninPartitions = 16

	// StreamNotify holds notifications for the mail sender, deduplicated by
	// Nats-Msg-Id (<event id>:<kind>) so redelivery never sends twice.
	StreamNotify         = "SEATFLOW_NOTIFY"
	StreamNotifySubjects = "sf.notify.>"

	// StreamDLQ holds messages that could not be processed, with the reason
	// in a header.
	StreamDLQ         = "SEATFLOW_DLQ"
	StreamDLQSubjects = "sf.dlq.>"
)

// Deduplication windows and retention of the streams other than the event
// store.
const (
	// EventsDedupWindow is how long an event ID is remembered, so a
	// publish retried after a lost ack is recognised.
	EventsDedupWindow = 2 * time.Minute
	// SigninsDedupWindow is how long a sign-in ID is remembered: upstream
	// systems may retry long after their first attempt.
	SigninsDedupWindow = 20 * time.Minute
	// NotifyDedupWindow covers a notifier restarting and redelivering
	// events it had already turned into notifications.
	NotifyDedupWindow = time.Hour

	SigninsMaxAge = 7 * 24 * time.Hour
	NotifyMaxAge  = 30 * 24 * time.Hour
	DLQMaxAge     = 30 * 24 * time.Hour
)

// Limits bounds the streams beside the event store, so none of them can
// fill the disk the event store needs. Zero fields take the defaults.
type Limits struct {
	// SigninsMaxBytes bounds unprocessed sign-ins. When full, new sign-ins
	// are refused to their publisher (which retries), never dropped
	// silently. Default 1 GiB.
	SigninsMaxBytes int64
	// NotifyMaxBytes bounds unsent notifications. When full, the notifier
	// waits and retries; event appends never depend on it. Default 1 GiB.
	NotifyMaxBytes int64
	// DLQMaxBytes bounds dead letters. When full, the oldest are dropped:
	// a dead letter can always be written, so a poison sign-in never holds
	// up claims. Default 256 MiB.
	DLQMaxBytes int64
}

// DefaultLimits are the stream limits serve uses unless configured.
var DefaultLimits = Limits{SigninsMaxBytes: 1 << 30, NotifyMaxBytes: 1 << 30, DLQMaxBytes: 256 << 20}

func (l Limits) withDefaults() Limits {
	if l.SigninsMaxBytes == 0 {
		l.SigninsMaxBytes = DefaultLimits.SigninsMaxBytes
	}
	if l.NotifyMaxBytes == 0 {
		l.NotifyMaxBytes = DefaultLimits.NotifyMaxBytes
	}
	if l.DLQMaxBytes == 0 {
		l.DLQMaxBytes = DefaultLimits.DLQMaxBytes
	}
	return l
}

// StreamConfigs returns the configuration of every Seatflow stream with the
// given number of replicas and the default limits.
func StreamConfigs(replicas int) []jetstream.StreamConfig {
	return StreamConfigsWith(replicas, Limits{})
}

// StreamConfigsWith returns the configuration of every Seatflow stream. The
// event stream keeps everything forever (no limits; were one ever set,
// DiscardNew refuses new writes rather than dropping old events), allows
// direct gets for fast reads from any replica and atomic batch publish for
// multi-event appends. The other streams are bounded by l.
func StreamConfigsWith(replicas int, l Limits) []jetstream.StreamConfig {
	l = l.withDefaults()
	return []jetstream.StreamConfig{
		{
			Name:               StreamEvents,
			Description:        "Seatflow event store: one subject per aggregate, sf.evt.<tenant>.<kind>.<id>",
			Subjects:           []string{StreamEventsSubjects},
			Retention:          jetstream.LimitsPolicy,
			Storage:            jetstream.FileStorage,
			Replicas:           replicas,
			Discard:            jetstream.DiscardNew,
			MaxMsgs:            -1,
			MaxBytes:           -1,
			MaxAge:             0,
			MaxMsgsPerSubject:  -1,
			Duplicates:         EventsDedupWindow,
			AllowDirect:        true,
			AllowAtomicPublish: true,
			// An acknowledged event is never lost: nobody may delete or
			// purge one. (Once set, the server never lets these be unset.)
			DenyDelete: true,
			DenyPurge:  true,
		},
		{
			Name:        StreamSignins,
			Description: "Seatflow inbound sign-ins, sf.signin.<tenant>",
			Subjects:    []string{StreamSigninsSubjects},
			Retention:   jetstream.LimitsPolicy,
			Storage:     jetstream.FileStorage,
			Replicas:    replicas,
			MaxAge:      SigninsMaxAge,
			MaxBytes:    l.SigninsMaxBytes,
			Discard:     jetstream.DiscardNew,
			Duplicates:  SigninsDedupWindow,
			SubjectTransform: &jetstream.SubjectTransformConfig{Source: "sf.signin.*",
				Destination: fmt.Sprintf("sf.signin.{{wildcard(1)}}.{{partition(%d,1)}}", SigninPartitions)},
		},
		{
			Name:        StreamNotify,
			Description: "Seatflow outbound notifications, sf.notify.<tenant>.email",
			Subjects:    []string{StreamNotifySubjects},
			Retention:   jetstream.LimitsPolicy,
			Storage:     jetstream.FileStorage,
			Replicas:    replicas,
			MaxAge:      NotifyMaxAge,
			MaxBytes:    l.NotifyMaxBytes,
			Discard:     jetstream.DiscardNew,
			Duplicates:  NotifyDedupWindow,
		},
		{
			Name:        StreamDLQ,
			Description: "Seatflow dead letters, sf.dlq.<edge>.<tenant>, reason in Seatflow-Error",
			Subjects:    []string{StreamDLQSubjects},
			Retention:   jetstream.LimitsPolicy,
			Storage:     jetstream.FileStorage,
			Replicas:    replicas,
			MaxAge:      DLQMaxAge,
			MaxBytes:    l.DLQMaxBytes,
			Discard:     jetstream.DiscardOld,
		},
	}
}

// EnsureStreams creates every Seatflow stream, or updates it to the current
// configuration if it exists. It is idempotent and safe to run at every
// start-up, from several instances at once.
func EnsureStreams(ctx context.Context, js jetstream.JetStream, replicas int) error {
	return EnsureStreamsWith(ctx, js, replicas, Limits{})
}

// EnsureStreamsWith is EnsureStreams with the given limits.
func EnsureStreamsWith(ctx context.Context, js jetstream.JetStream, replicas int, l Limits) error {
	if replicas < 1 {
		return fmt.Errorf("ensure streams: replicas must be at least 1, got %d", replicas)
	}
	var errs []error
	for _, cfg := range StreamConfigsWith(replicas, l) {
		if _, err := js.CreateOrUpdateStream(ctx, cfg); err != nil {
			errs = append(errs, fmt.Errorf("ensure stream %s: %w", cfg.Name, err))
		}
	}
	return errors.Join(errs...)
}
