package memstore

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/events"
)

// Store is an in-memory event store. It is safe for concurrent use.
type Store struct {
	reg *events.Registry

	mu   sync.Mutex
	last uint64 // the last position handed out
	aggs map[string][]stored
}

type stored struct {
	pos  uint64
	data []byte
}

var _ domain.Store = (*Store)(nil)

// New returns an empty store decoding events with reg.
func New(reg *events.Registry) *Store {
	return &Store{reg: reg, aggs: map[string][]stored{}}
}

// Load returns the aggregate's events stored after position after, oldest
// first.
func (s *Store) Load(ctx context.Context, tenant string, agg events.Aggregate, after uint64) ([]events.Envelope, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkAggregate(tenant, agg); err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	subj := events.Subject(tenant, agg)
	s.mu.Lock()
	evs := s.aggs[subj]
	s.mu.Unlock() // stored slices are only ever appended to

	var out []events.Envelope
	for _, ev := range evs {
		if ev.pos <= after {
			continue
		}
		env, err := s.reg.Decode(ev.data)
		if err != nil {
			return nil, fmt.Errorf("load %s: decode position %d: %w", subj, ev.pos, err)
		}
		env.Position = ev.pos
		out = append(out, env)
	}
	return out, nil
}

// Append stores the writes' events, all or none, if every aggregate's last
// position is still its write's Expected; otherwise it returns an error
// wrapping domain.ErrConcurrency.
func (s *Store) Append(ctx context.Context, writes ...domain.Write) ([]uint64, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(writes) == 0 {
		return nil, errors.New("append: no writes")
	}
	type pending struct {
		subj     string
		expected uint64
		data     [][]byte
	}
	ps := make([]pending, 0, len(writes))
	seen := make(map[string]bool, len(writes))
	for i, w := range writes {
		if len(w.Events) == 0 {
			return nil, fmt.Errorf("append: write %d has no events", i)
		}
		first := w.Events[0]
		if err := checkAggregate(first.Tenant, first.Aggregate); err != nil {
			return nil, fmt.Errorf("append: write %d: %w", i, err)
		}
		subj := events.Subject(first.Tenant, first.Aggregate)
		if seen[subj] {
			return nil, fmt.Errorf("append: %s appears in more than one write", subj)
		}
		seen[subj] = true
		p := pending{subj: subj, expected: w.Expected}
		for j, e := range w.Events {
			if e.Tenant != first.Tenant || e.Aggregate != first.Aggregate {
				return nil, fmt.Errorf("append %s: event %d belongs to %s", subj, j, events.Subject(e.Tenant, e.Aggregate))
			}
			data, err := events.Encode(e)
			if err != nil {
				return nil, fmt.Errorf("append %s: event %d: %w", subj, j, err)
			}
			if _, err := s.reg.Decode(data); err != nil {
				return nil, fmt.Errorf("append %s: event %d does not decode: %w", subj, j, err)
			}
			p.data = append(p.data, data)
		}
		ps = append(ps, p)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range ps {
		var last uint64
		if evs := s.aggs[p.subj]; len(evs) > 0 {
			last = evs[len(evs)-1].pos
		}
		if last != p.expected {
			return nil, fmt.Errorf("append %s: expected last position %d, found %d: %w",
				p.subj, p.expected, last, domain.ErrConcurrency)
		}
	}
	var positions []uint64
	for _, p := range ps {
		for _, data := range p.data {
			s.last++
			s.aggs[p.subj] = append(s.aggs[p.subj], stored{pos: s.last, data: data})
			positions = append(positions, s.last)
		}
	}
	return positions, nil
}

func checkAggregate(tenant string, agg events.Aggregate) error {
	if !events.ValidTenant(tenant) {
		return fmt.Errorf("tenant %q is not valid", tenant)
	}
	if !agg.Kind.Valid() {
		return fmt.Errorf("aggregate kind %q is not valid", agg.Kind)
	}
	if !events.ValidID(agg.ID) {
		return fmt.Errorf("aggregate id %q is not valid", agg.ID)
	}
	return nil
}
