package reactors_test

import (
	"context"
	"sync"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/projections"
)

// feed is a memstore whose appends feed the read models and the services'
// caches, as the projection runner would, and records the event types.
type feed struct {
	domain.Store
	mu       sync.Mutex
	models   []projections.Projection
	services []*domain.Service
	types    []string
}

func (f *feed) Append(ctx context.Context, writes ...domain.Write) ([]uint64, error) {
	pos, err := f.Store.Append(ctx, writes...)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	i := 0
	for _, w := range writes {
		for _, e := range w.Events {
			e.Position = pos[i]
			i++
			for _, m := range f.models {
				m.Apply(e)
			}
			for _, s := range f.services {
				s.Observe(e)
			}
			f.types = append(f.types, e.Type)
		}
	}
	return pos, nil
}

func (f *feed) count(typ string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, t := range f.types {
		if t == typ {
			n++
		}
	}
	return n
}
