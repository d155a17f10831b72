package signin

import (
	"context"
	"errors"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/seatflow/seatflow/events"
)

// StreamTenants knows a tenant by its having any event on the event
// stream. Known tenants are remembered; unknown ones are asked again.
type StreamTenants struct {
	js     jetstream.JetStream
	stream string
	mu     sync.Mutex
	known  map[string]bool
}

// NewStreamTenants looks tenants up on stream (e.g. SEATFLOW_EVENTS).
func NewStreamTenants(js jetstream.JetStream, stream string) *StreamTenants {
	return &StreamTenants{js: js, stream: stream, known: map[string]bool{}}
}

var _ Tenants = (*StreamTenants)(nil)

// Known implements Tenants.
func (t *StreamTenants) Known(ctx context.Context, tenant string) (bool, error) {
	t.mu.Lock()
	ok := t.known[tenant]
	t.mu.Unlock()
	if ok {
		return true, nil
	}
	s, err := t.js.Stream(ctx, t.stream)
	if err != nil {
		return false, err
	}
	_, err = s.GetLastMsgForSubject(ctx, events.TenantSubjects(tenant))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	t.mu.Lock()
	t.known[tenant] = true
	t.mu.Unlock()
	return true, nil
}
