package projections

import (
	"encoding/json"
	"fmt"
	"sort"
	"sync"

	"github.com/seatflow/seatflow/events"
)

// NameAsOfIndex is the as-of index's name.
const NameAsOfIndex = "as_of_index"

// DefaultAsOfEvery is how many of a tenant's product and policy events lie
// between two marks of the as-of index by default.
const DefaultAsOfEvery = 1024

var _ Snapshotter = (*AsOfIndex)(nil)

// AsOfIndex answers what a tenant's products and policies were at any past
// stream position without keeping every past state: it folds each
// tenant's product and policy events into the tenant's own LicenseCounts
// and PolicyList and, every every of those events (more when the state is
// large: the marks take at most 16 bytes per event), keeps a snapshot of
// them (a mark). The state at position p is the last mark at or before p
// brought forward by the tenant's product and policy events after the
// mark up to p (one mark's span at most), which the caller reads from the
// stream and applies to Base's answer.
type AsOfIndex struct {
	mu      sync.RWMutex
	every   int
	tenants map[string]*asOfTenant
}

// AsOfMark is a tenant's products and policies as they stood once the
// event at Position was applied.
type AsOfMark struct {
	Position uint64          `json:"position"`
	Counts   json.RawMessage `json:"counts"`
	Policies json.RawMessage `json:"policies"`
}

type asOfTenant struct {
	counts   *LicenseCounts
	policies *PolicyList
	since    int // events since the last mark
	spacing  int // events between marks this tenant's state size asks for
	marks    []AsOfMark
}

// NewAsOfIndex returns an empty index that marks every every events of a
// tenant (DefaultAsOfEvery when every < 1).
func NewAsOfIndex(every int) *AsOfIndex {
	if every < 1 {
		every = DefaultAsOfEvery
	}
	return &AsOfIndex{every: every, tenants: map[string]*asOfTenant{}}
}

// Name implements Projection.
func (*AsOfIndex) Name() string { return NameAsOfIndex }

// AsOfKinds are the aggregate kinds whose events make the products and
// policies read models; the as-of replay reads only their subjects.
var AsOfKinds = []events.Kind{events.KindProduct, events.KindPolicy}

// asOfEvent reports whether env is one of the events the index folds.
func asOfEvent(env events.Envelope) bool {
	return env.Aggregate.Kind == events.KindProduct || env.Aggregate.Kind == events.KindPolicy
}

// Apply implements Projection.
func (x *AsOfIndex) Apply(env events.Envelope) {
	if !asOfEvent(env) {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	t := x.tenants[env.Tenant]
	if t == nil {
		t = &asOfTenant{counts: NewLicenseCounts(), policies: NewPolicyList()}
		x.tenants[env.Tenant] = t
	}
	t.counts.Apply(env)
	t.policies.Apply(env)
	if t.since++; t.since < max(x.every, t.spacing) {
		return
	}
	t.since = 0
	m, err := t.mark(env.Position)
	if err != nil {
		// The read models are plain maps and slices: encoding them does
		// not fail. Without the mark the replay is only longer.
		return
	}
	t.marks = append(t.marks, m)
	// A large state (long queues, many products) is marked less often, so
	// that the marks never take more than asOfMarkBytesPerEvent bytes per
	// event; the replay grows instead.
	t.spacing = (len(m.Counts) + len(m.Policies)) / asOfMarkBytesPerEvent
}

// asOfMarkBytesPerEvent bounds the marks' memory per event of a tenant.
const asOfMarkBytesPerEvent = 16

func (t *asOfTenant) mark(pos uint64) (AsOfMark, error) {
	c, err := t.counts.Snapshot()
	if err != nil {
		return AsOfMark{}, err
	}
	p, err := t.policies.Snapshot()
	if err != nil {
		return AsOfMark{}, err
	}
	return AsOfMark{Position: pos, Counts: c, Policies: p}, nil
}

// AsOfState is a tenant's products and policies at Position, to be
// brought forward with Apply.
type AsOfState struct {
	Tenant   string
	Position uint64
	Counts   *LicenseCounts
	Policies *PolicyList
}

// Apply folds env in when it is one of the tenant's product or policy
// events after Position; others are skipped.
func (s *AsOfState) Apply(env events.Envelope) {
	if env.Tenant != s.Tenant || env.Position <= s.Position || !asOfEvent(env) {
		return
	}
	s.Counts.Apply(env)
	s.Policies.Apply(env)
	s.Position = env.Position
}

// Base returns the tenant's state at the last mark at or before position
// (or the empty state at 0), fresh for the caller to bring forward.
func (x *AsOfIndex) Base(tenant string, position uint64) (*AsOfState, error) {
	s := &AsOfState{Tenant: tenant, Counts: NewLicenseCounts(), Policies: NewPolicyList()}
	x.mu.RLock()
	var m *AsOfMark
	if t := x.tenants[tenant]; t != nil {
		i := sort.Search(len(t.marks), func(i int) bool { return t.marks[i].Position > position })
		if i > 0 {
			m = &t.marks[i-1]
		}
	}
	x.mu.RUnlock()
	if m == nil {
		return s, nil
	}
	if err := s.Counts.Restore(m.Counts); err != nil {
		return nil, err
	}
	if err := s.Policies.Restore(m.Policies); err != nil {
		return nil, err
	}
	s.Position = m.Position
	return s, nil
}

// Marks is how many marks the index keeps for tenant.
func (x *AsOfIndex) Marks(tenant string) int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if t := x.tenants[tenant]; t != nil {
		return len(t.marks)
	}
	return 0
}

// Version implements Snapshotter.
func (*AsOfIndex) Version() int { return 1 }

type asOfTenantJSON struct {
	Counts   json.RawMessage `json:"counts"`
	Policies json.RawMessage `json:"policies"`
	Since    int             `json:"since"`
	Spacing  int             `json:"spacing,omitempty"`
	Marks    []AsOfMark      `json:"marks"`
}

type asOfJSON struct {
	Every   int                       `json:"every"`
	Tenants map[string]asOfTenantJSON `json:"tenants"`
}

// Snapshot implements Snapshotter.
func (x *AsOfIndex) Snapshot() ([]byte, error) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	out := asOfJSON{Every: x.every, Tenants: make(map[string]asOfTenantJSON, len(x.tenants))}
	for name, t := range x.tenants {
		cur, err := t.mark(0)
		if err != nil {
			return nil, fmt.Errorf("snapshot %s: %w", NameAsOfIndex, err)
		}
		out.Tenants[name] = asOfTenantJSON{Counts: cur.Counts, Policies: cur.Policies, Since: t.since, Spacing: t.spacing, Marks: t.marks}
	}
	return marshalSnapshot(out)
}

// Restore implements Snapshotter. A snapshot taken with another spacing of
// marks keeps its marks; new marks follow this index's spacing.
func (x *AsOfIndex) Restore(b []byte) error {
	var in asOfJSON
	if err := unmarshalSnapshot(b, &in); err != nil {
		return fmt.Errorf("restore %s: %w", NameAsOfIndex, err)
	}
	tenants := make(map[string]*asOfTenant, len(in.Tenants))
	for name, tj := range in.Tenants {
		t := &asOfTenant{counts: NewLicenseCounts(), policies: NewPolicyList(), since: tj.Since, spacing: tj.Spacing, marks: tj.Marks}
		if err := t.counts.Restore(tj.Counts); err != nil {
			return fmt.Errorf("restore %s: %w", NameAsOfIndex, err)
		}
		if err := t.policies.Restore(tj.Policies); err != nil {
			return fmt.Errorf("restore %s: %w", NameAsOfIndex, err)
		}
		tenants[name] = t
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	x.tenants = tenants
	return nil
}
