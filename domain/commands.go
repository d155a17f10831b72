package domain

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/seatflow/seatflow/events"
)

// A repeated command (an HTTP retry with its Idempotency-Key, a retry with
// the Seatflow-Command-Id of an answer that was lost, a redelivered
// sign-in) answers as the first time instead of acting again, for
// CommandMemory after it was first issued. Two tiers keep that promise:
//
//   - memory: each cached aggregate keeps the ids of the commands of its
//     last CommandWindow of events (event time), so memory is bounded by
//     the command rate times the window, not by a day's commands;
//   - lookup: a command issued longer ago than memory can vouch for is
//     looked up among the aggregate's events stored since it was issued
//     (the store's own time index), once per command, only when memory
//     does not already hold it.
//
// When a command was issued is known from its id when that is a ULID (the
// server's command ids are; so are the Seatflow-Command-Id values clients
// retry with) and from WithCommandIssued otherwise (the HTTP layer passes
// when an Idempotency-Key was first seen). A command with neither is taken
// as new: memory alone answers for it. Past CommandMemory a repeat is
// decided afresh on the state, which for sign-ins, grants and expiries
// means nothing happens again (a user claims at most once under a policy,
// a grant or expiry applies once).
const (
	CommandMemory = 24 * time.Hour
	CommandWindow = 5 * time.Minute
	// commandSkew bounds how far the clocks of the instances (which stamp
	// events and make ULIDs) and of the store may disagree.
	commandSkew = time.Minute
)

type issuedKey struct{}

// WithCommandIssued tells the Service when the command it is about to run
// was first issued (e.g. when its Idempotency-Key was first seen), so a
// repeat from longer ago than memory holds is looked up in the store.
func WithCommandIssued(ctx context.Context, at time.Time) context.Context {
	return context.WithValue(ctx, issuedKey{}, at)
}

// commandIssued is the earliest of what the context says and what the
// command id, if a ULID, says; zero when neither says anything.
func commandIssued(ctx context.Context, commandID string) time.Time {
	at, _ := ctx.Value(issuedKey{}).(time.Time)
	if id, err := ulid.ParseStrict(commandID); err == nil {
		if t := ulid.Time(id.Time()); at.IsZero() || t.Before(at) {
			at = t
		}
	}
	return at
}

// mayBeOld reports whether memory alone cannot vouch that the command is
// new: it was issued longer ago than an aggregate's memory is sure to
// reach back (the window less the skew either side).
func (s *Service) mayBeOld(ctx context.Context, commandID string) (time.Time, bool) {
	at := commandIssued(ctx, commandID)
	if at.IsZero() {
		return at, false
	}
	return at, s.cfg.Now().Sub(at) > CommandWindow-2*commandSkew
}

// lookUpCommand looks for the events of a command issued longer ago than
// memory reaches among the events the aggregates stored since then (at most
// CommandMemory back), and returns the position of the last of them.
func (s *Service) lookUpCommand(ctx context.Context, tenant string, entries map[events.Aggregate]*entry, commandID string) (uint64, bool, error) {
	issued, old := s.mayBeOld(ctx, commandID)
	if !old {
		return 0, false, nil
	}
	since := issued.Add(-commandSkew)
	if floor := s.cfg.Now().Add(-CommandMemory); since.Before(floor) {
		since = floor
	}
	var (
		last  uint64
		found bool
	)
	for agg := range entries {
		evs, err := s.loadSince(ctx, tenant, agg, since)
		if err != nil {
			return 0, false, fmt.Errorf("look up command %s: %w", commandID, err)
		}
		for _, ev := range evs {
			if carries(ev, commandID) {
				last, found = max(last, ev.Position), true
			}
		}
	}
	return last, found, nil
}

func (s *Service) loadSince(ctx context.Context, tenant string, agg events.Aggregate, since time.Time) ([]events.Envelope, error) {
	if ts, ok := s.store.(TimeStore); ok {
		return ts.LoadSince(ctx, tenant, agg, since)
	}
	evs, err := s.store.Load(ctx, tenant, agg, 0)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(evs, func(ev events.Envelope) bool { return ev.OccurredAt.Before(since) }), nil
}

// carries reports whether ev was written for the command: as its own, or
// as one of those an event decided for several at once (group commit).
func carries(ev events.Envelope, commandID string) bool {
	if ev.CommandID == commandID {
		return true
	}
	m, ok := ev.Data.(interface{ CommandIDs() []string })
	return ok && slices.Contains(m.CommandIDs(), commandID)
}

type recentCommand struct {
	id  string
	pos uint64
	at  int64 // unix nanoseconds of the event
}

// apply folds one stored event into the entry.
func (e *entry) apply(ev events.Envelope) {
	e.kind.evolve(e.state, ev)
	e.pos = ev.Position
	at := ev.OccurredAt.UnixNano()
	e.remember(ev.CommandID, ev.Position, at)
	if m, ok := ev.Data.(interface{ CommandIDs() []string }); ok {
		// An event decided for several commands at once (group commit).
		for _, id := range m.CommandIDs() {
			e.remember(id, ev.Position, at)
		}
	}
	horizon := at - int64(CommandWindow)
	n := 0
	for n < len(e.recent) && e.recent[n].at < horizon {
		if r := e.recent[n]; e.commands[r.id] == r.pos { // not written again since
			delete(e.commands, r.id)
		}
		n++
	}
	if n > 0 {
		clear(e.recent[:n])
		e.recent = e.recent[n:]
		if cap(e.recent) > 64 && len(e.recent) < cap(e.recent)/4 {
			// A burst has passed: give its backing array back.
			e.recent = slices.Clone(e.recent)
		}
	}
}

func (e *entry) remember(id string, pos uint64, at int64) {
	if id == "" {
		return
	}
	e.commands[id] = pos
	e.recent = append(e.recent, recentCommand{id: id, pos: pos, at: at})
}
