package projections

import (
	"encoding/json"
	"fmt"
	"sync"
)

// snapshotJSON encodes a read model's per-tenant state under its read lock.
func snapshotJSON[T any](mu *sync.RWMutex, tenants map[string]T) ([]byte, error) {
	mu.RLock()
	defer mu.RUnlock()
	return json.Marshal(tenants)
}

// restoreJSON decodes a snapshot and, only if it decodes, replaces the read
// model's per-tenant state with it under the write lock.
func restoreJSON[T any](name string, mu *sync.RWMutex, b []byte, tenants *map[string]T) error {
	fresh := map[string]T{}
	if err := json.Unmarshal(b, &fresh); err != nil {
		return fmt.Errorf("restore %s: %w", name, err)
	}
	mu.Lock()
	defer mu.Unlock()
	*tenants = fresh
	return nil
}
