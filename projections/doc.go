// Package projections holds Seatflow's read models. Each is a pure value:
// Apply(envelope) folds one event in, query methods answer from memory, and
// nothing here does I/O. A read model skips event types it does not use and
// never fails on one it does not know.
//
// The runner in infra feeds every read model the same ordered stream of
// events, each exactly once, and records the stream position applied. Read
// models are safe for one writer (the runner) and many concurrent readers.
package projections

import "github.com/seatflow/seatflow/events"

// Projection is a read model the runner can feed.
type Projection interface {
	// Name is the read model's stable name; it doubles as its durable
	// consumer and checkpoint name, so it does not change casually.
	Name() string
	// Apply folds one event into the read model. It must not fail: events it
	// does not use are skipped.
	Apply(env events.Envelope)
}
