package domain

import (
	"slices"

	"github.com/seatflow/seatflow/events"
)

// A decider is a pure function: the states it reads and a command in, the
// events the command causes (or why it cannot happen) out. A decider over
// one aggregate takes its state and returns []events.Data; one over several
// reads them through a StateOf and returns []Emit (or []Change, one event
// each), which the transaction loop (tx.go) appends with the concurrency
// check of every aggregate it loaded. Deciders never read the clock, make
// ids or do I/O.

// StateOf gives a decider the state of an aggregate it reads (the
// transaction loop has loaded it): *Group for a group, *Product for a
// product, *Request for a request.
type StateOf func(events.Aggregate) any

// Emit is one aggregate's new events, as a decider over several aggregates
// returns them; the transaction loop appends them with every aggregate's
// concurrency check.
type Emit struct {
	Agg    events.Aggregate
	Events []events.Data
}

// Change is one event a decision causes and the aggregate it belongs to.
type Change struct {
	Agg  events.Aggregate
	Data events.Data
}

func one(d events.Data) []events.Data { return []events.Data{d} }

func ids[T ~string](xs []T) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = string(x)
	}
	return out
}

func nonNil(xs []string) []string {
	if xs == nil {
		return []string{}
	}
	return slices.Clone(xs)
}

func hasDuplicate(xs []string) bool {
	seen := make(map[string]bool, len(xs))
	for _, x := range xs {
		if seen[x] {
			return true
		}
		seen[x] = true
	}
	return false
}

func dedupe[T comparable](xs []T) []T {
	var out []T
	for _, x := range xs {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}
