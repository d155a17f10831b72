package natsjs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// IdempotencyBucket is the JetStream key-value bucket remembering, for each
// tenant's Idempotency-Key, a fingerprint of the request first sent with it.
const IdempotencyBucket = "SEATFLOW_IDEMPOTENCY"

// IdempotencyTTL is how long a key's fingerprint is remembered; the
// Idempotency-Key draft suggests at least 24 hours.
const IdempotencyTTL = 24 * time.Hour

// IdempotencyKeys remembers which request an Idempotency-Key was first used
// with, on every instance alike.
type IdempotencyKeys struct{ kv jetstream.KeyValue }

// OpenIdempotencyKeys creates (or opens) the bucket.
func OpenIdempotencyKeys(ctx context.Context, js jetstream.JetStream, replicas int) (*IdempotencyKeys, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      IdempotencyBucket,
		Description: "Seatflow: fingerprint of the request each Idempotency-Key was first used with",
		TTL:         IdempotencyTTL,
		History:     1,
		Replicas:    replicas,
		Storage:     jetstream.FileStorage,
		MaxBytes:    256 << 20,
	})
	if err != nil {
		return nil, fmt.Errorf("idempotency keys: bucket %s: %w", IdempotencyBucket, err)
	}
	return &IdempotencyKeys{kv: kv}, nil
}

// Remember records fingerprint for tenant's key the first time the key is
// used, and reports whether it matches the fingerprint recorded before and
// when the key was first seen (now, the first time).
func (k *IdempotencyKeys) Remember(ctx context.Context, tenant, key, fingerprint string) (bool, time.Time, error) {
	sum := sha256.Sum256([]byte(key))
	name := tenant + "." + hex.EncodeToString(sum[:])
	for range 3 {
		if _, err := k.kv.Create(ctx, name, []byte(fingerprint)); err == nil {
			return true, time.Now(), nil
		} else if !errors.Is(err, jetstream.ErrKeyExists) {
			return false, time.Time{}, fmt.Errorf("idempotency keys: remember: %w", err)
		}
		e, err := k.kv.Get(ctx, name)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue // expired between the two calls: try again
		}
		if err != nil {
			return false, time.Time{}, fmt.Errorf("idempotency keys: look up: %w", err)
		}
		return string(e.Value()) == fingerprint, e.Created(), nil
	}
	return false, time.Time{}, errors.New("idempotency keys: the key keeps expiring while looked up")
}
