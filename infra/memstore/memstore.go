package memstore

import (
	"context"
	"fmt"
	"sync"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/infra/encode"
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
	if err := events.CheckAggregate(tenant, agg); err != nil {
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
	enc, err := encode.Writes(s.reg, writes)
	if err != nil {
		return nil, err
	}
	type pending struct {
		subj     string
		expected uint64
		data     [][]byte
	}
	var ps []pending
	for _, e := range enc {
		if e.First {
			ps = append(ps, pending{subj: e.Subject, expected: e.Expected})
		}
		ps[len(ps)-1].data = append(ps[len(ps)-1].data, e.Data)
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
