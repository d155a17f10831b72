package signin

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// members is the list of running sign-in routers, kept in a JetStream
// key-value bucket whose entries expire after a TTL: each router puts its
// id every TTL/3 and deletes it when it stops, so a router that vanishes
// drops out of the list within the TTL. Which router consumes which
// partition follows from the list (share); that only one consumes a
// partition at any moment is the server's pin of the partition's consumer,
// not this list.
type members struct {
	kv  jetstream.KeyValue
	id  string
	ttl time.Duration
}

func newMembers(ctx context.Context, js jetstream.JetStream, bucket, id string, ttl time.Duration, replicas int) (*members, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: bucket,
		Description: "Seatflow sign-in routers running now (each entry expires unless renewed)", TTL: ttl, History: 1,
		Storage: jetstream.MemoryStorage, Replicas: replicas})
	if err != nil {
		return nil, fmt.Errorf("signin: members bucket %s: %w", bucket, err)
	}
	return &members{kv: kv, id: id, ttl: ttl}, nil
}

// beat renews this router's entry and returns the ids of every router
// running, sorted.
func (m *members) beat(ctx context.Context) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, m.ttl)
	defer cancel()
	if _, err := m.kv.Put(ctx, m.id, nil); err != nil {
		return nil, fmt.Errorf("announce %s: %w", m.id, err)
	}
	lister, err := m.kv.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("list members: %w", err)
	}
	var ids []string
	for k := range lister.Keys() {
		ids = append(ids, k)
	}
	if !slices.Contains(ids, m.id) {
		ids = append(ids, m.id)
	}
	slices.Sort(ids)
	return ids, nil
}

// leave removes this router's entry.
func (m *members) leave(ctx context.Context) {
	if err := m.kv.Delete(ctx, m.id); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		_ = err // it expires anyway
	}
}
