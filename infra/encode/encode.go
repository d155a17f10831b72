// Package encode checks and encodes the writes of an append for an event
// store, the same way for every store (infra/natsjs, infra/memstore): the
// store side of domain.Store's Append contract, kept out of the domain.
package encode

import (
	"errors"
	"fmt"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/events"
)

// Encoded is one event of an append, checked and encoded for a store.
type Encoded struct {
	Subject  string
	ID       string
	Data     []byte
	Expected uint64 // the expected last position of the event's write
	First    bool   // the first event of its write: the one carrying the check
}

// Writes checks writes against Store.Append's contract (at least one
// write, none empty, each of one aggregate, no aggregate in two writes) and
// encodes every event, decoding it again with reg so that a store never
// keeps what Load could not read back. Stores call it before appending.
func Writes(reg *events.Registry, writes []domain.Write) ([]Encoded, error) {
	if len(writes) == 0 {
		return nil, errors.New("append: no writes")
	}
	var out []Encoded
	seen := make(map[string]bool, len(writes))
	for i, w := range writes {
		if len(w.Events) == 0 {
			return nil, fmt.Errorf("append: write %d has no events", i)
		}
		first := w.Events[0]
		if err := events.CheckAggregate(first.Tenant, first.Aggregate); err != nil {
			return nil, fmt.Errorf("append: write %d: %w", i, err)
		}
		subj := events.Subject(first.Tenant, first.Aggregate)
		if seen[subj] {
			return nil, fmt.Errorf("append: %s appears in more than one write", subj)
		}
		seen[subj] = true
		for j, e := range w.Events {
			if e.Tenant != first.Tenant || e.Aggregate != first.Aggregate {
				return nil, fmt.Errorf("append %s: event %d belongs to %s", subj, j, events.Subject(e.Tenant, e.Aggregate))
			}
			data, err := events.Encode(e)
			if err != nil {
				return nil, fmt.Errorf("append %s: event %d: %w", subj, j, err)
			}
			if _, err := reg.Decode(data); err != nil {
				return nil, fmt.Errorf("append %s: event %d does not decode: %w", subj, j, err)
			}
			out = append(out, Encoded{Subject: subj, ID: e.ID, Data: data, Expected: w.Expected, First: j == 0})
		}
	}
	return out, nil
}
