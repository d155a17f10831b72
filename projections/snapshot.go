package projections

import (
	"fmt"
	"sync"

	segjson "github.com/segmentio/encoding/json"
)

// snapshotJSON encodes a read model's per-tenant state under its read lock.
func snapshotJSON[T any](mu *sync.RWMutex, tenants map[string]T) ([]byte, error) {
	mu.RLock()
	defer mu.RUnlock()
	return marshalSnapshot(tenants)
}

// restoreJSON decodes a snapshot and, only if it decodes, replaces the read
// model's per-tenant state with it under the write lock.
func restoreJSON[T any](name string, mu *sync.RWMutex, b []byte, tenants *map[string]T) error {
	fresh := map[string]T{}
	if err := unmarshalSnapshot(b, &fresh); err != nil {
		return fmt.Errorf("restore %s: %w", name, err)
	}
	mu.Lock()
	defer mu.Unlock()
	*tenants = fresh
	return nil
}

// marshalSnapshot and unmarshalSnapshot encode and decode snapshots with
// github.com/segmentio/encoding/json, which writes the same bytes as
// encoding/json (map keys sorted, HTML escaped) and reads them alike, a few
// times faster: a restart restores every read model from its snapshot, and
// a checkpoint encodes them all.
func marshalSnapshot(v any) ([]byte, error) { return segjson.Marshal(v) }

func unmarshalSnapshot(b []byte, v any) error { return segjson.Unmarshal(b, v) }
