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

// Snapshotter is a read model whose state can be saved and restored, so a
// restart resumes from a checkpoint instead of replaying the whole stream.
type Snapshotter interface {
	Projection
	// Version is the version of the read model's logic and snapshot shape.
	// Changing how Apply folds events, or the snapshot's shape, means a new
	// version: a checkpoint of another version is discarded and the read
	// model is rebuilt from the start of the stream.
	Version() int
	// Snapshot returns the read model's state.
	Snapshot() ([]byte, error)
	// Restore replaces the read model's state with a snapshot.
	Restore([]byte) error
}
