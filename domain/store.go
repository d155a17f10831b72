package domain

import (
	"context"
	"time"

	"github.com/seatflow/seatflow/events"
)

// Store is the event store the Service needs. infra/natsjs implements it on
// JetStream and infra/memstore in memory; both pass the same conformance
// suite (domain/storetest).
type Store interface {
	// Load returns the events of one aggregate stored after position after,
	// oldest first, each with its Position set. An aggregate with no events
	// has none; that is not an error.
	Load(ctx context.Context, tenant string, agg events.Aggregate, after uint64) ([]events.Envelope, error)

	// Append stores each write's events as the next events of its aggregate,
	// all or none, provided each aggregate's last event is still at the
	// write's Expected position (0: the aggregate has no events). It returns
	// the position of every appended event, in order. It returns an error
	// wrapping ErrConcurrency when another writer got there first; nothing is
	// stored then. Any other error leaves the outcome unknown.
	Append(ctx context.Context, writes ...Write) ([]uint64, error)
}

// LeaderStore is a Store whose replicas may answer Load from behind the
// leader (a replicated stream read with direct gets). LoadLatest answers
// from the leader's head, so a refusal (a user not registered yet, a request
// not yet submitted) is never confirmed on a replica that has not seen the
// write that would allow the command. Stores without replicas need not
// implement it.
type LeaderStore interface {
	Store
	// LoadLatest is Load as of the leader's last sequence of the subject.
	LoadLatest(ctx context.Context, tenant string, agg events.Aggregate, after uint64) ([]events.Envelope, error)
}

// TimeStore is a Store that can read an aggregate's events stored at or
// after an instant, by its own time index. Stores without one are read
// whole and filtered by event time.
type TimeStore interface {
	Store
	LoadSince(ctx context.Context, tenant string, agg events.Aggregate, since time.Time) ([]events.Envelope, error)
}

// Write is one aggregate's part of an append. All its events belong to the
// same aggregate of the same tenant.
type Write struct {
	Expected uint64
	Events   []events.Envelope
}
