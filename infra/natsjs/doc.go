// Package natsjs is Seatflow's adapter to NATS JetStream: the embedded
// server (StartServer, logging through slog), the streams (EnsureStreams)
// and the event store (Store, implementing domain.Store).
//
// Streams and subjects (created or updated at every start-up, since a
// publish to a subject no stream captures fails):
//   - SEATFLOW_EVENTS, sf.evt.>: the event store. One aggregate is exactly
//     one literal subject, sf.evt.<tenant>.<kind>.<id> (events.Subject),
//     and an event's position is its stream sequence. Limits retention with
//     no limits at all: events are never removed (and DiscardNew would
//     refuse new writes rather than drop old ones if a limit were ever
//     set). Direct gets are allowed, for fast reads from any replica, and
//     atomic batch publish, for multi-event appends.
//   - SEATFLOW_SIGNINS, sf.signin.>: upstream sign-ins, deduplicated by
//     Nats-Msg-Id over SigninsDedupWindow.
//   - SEATFLOW_NOTIFY, sf.notify.>: outbound notifications, deduplicated by
//     Nats-Msg-Id (<event id>:<kind>) over NotifyDedupWindow.
//   - SEATFLOW_DLQ, sf.dlq.>: rejected messages.
//
// Invariants the Store keeps:
//   - every append is conditional: each aggregate's first event in an
//     append carries Nats-Expected-Last-Subject-Sequence (its write's
//     Expected, "0" for a new aggregate) and every event carries
//     Nats-Msg-Id = its event ID. There are no blind writes;
//   - API errors 10071 and 10164 (someone wrote first, or is writing) are
//     returned wrapping domain.ErrConcurrency, and then nothing was stored;
//   - an append of several events is one atomic batch: all or nothing,
//     stored at contiguous sequences. Inside a batch only the first event
//     of each aggregate carries the check: the server refuses (10164) a
//     check on a subject the same batch already wrote;
//   - nothing is published that the registry could not decode again, and
//     a stored message that does not decode fails Load naming its subject
//     and sequence.
package natsjs
