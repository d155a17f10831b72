package projections

import (
	"sync"

	"github.com/seatflow/seatflow/events"
)

// NameForecastWarnings is the forecast warnings read model's name.
const NameForecastWarnings = "forecast_warnings"

var _ Snapshotter = (*ForecastWarnings)(nil)

// ForecastWarnings is the read model the forecast reactor works from: the
// products whose run-out forecast warning stands (PoolForecastWarned with
// no PoolForecastCleared since), so that each tick issues a command only
// for a product whose warning may change.
type ForecastWarnings struct {
	mu      sync.RWMutex
	tenants map[string]map[string]bool // tenant -> product -> warned
}

// NewForecastWarnings returns an empty read model.
func NewForecastWarnings() *ForecastWarnings {
	return &ForecastWarnings{tenants: map[string]map[string]bool{}}
}

// Name implements Projection.
func (*ForecastWarnings) Name() string { return NameForecastWarnings }

// Apply implements Projection.
func (fw *ForecastWarnings) Apply(env events.Envelope) {
	if env.Aggregate.Kind != events.KindProduct {
		return
	}
	switch env.Data.(type) {
	case events.PoolForecastWarned:
		fw.set(env.Tenant, env.Aggregate.ID, true)
	case events.PoolForecastCleared:
		fw.set(env.Tenant, env.Aggregate.ID, false)
	}
}

func (fw *ForecastWarnings) set(tenant, product string, warned bool) {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	t := fw.tenants[tenant]
	if t == nil {
		t = map[string]bool{}
		fw.tenants[tenant] = t
	}
	if warned {
		t[product] = true
	} else {
		delete(t, product)
	}
}

// Warned reports whether a run-out forecast warning stands for product.
func (fw *ForecastWarnings) Warned(tenant, product string) bool {
	fw.mu.RLock()
	defer fw.mu.RUnlock()
	return fw.tenants[tenant][product]
}

// Version implements Snapshotter.
func (*ForecastWarnings) Version() int { return 1 }

// Snapshot implements Snapshotter.
func (fw *ForecastWarnings) Snapshot() ([]byte, error) { return snapshotJSON(&fw.mu, fw.tenants) }

// Restore implements Snapshotter.
func (fw *ForecastWarnings) Restore(b []byte) error {
	return restoreJSON(NameForecastWarnings, &fw.mu, b, &fw.tenants)
}
