package lastseen

import (
	"context"
	"encoding/base32"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Bucket is the key-value bucket of last sign-ins.
const Bucket = "SEATFLOW_LASTSEEN"

// MaxBytes bounds the bucket.
const MaxBytes = 512 << 20

// Granularity is how much newer a sign-in must be than the one this
// process last recorded for the same user and app to be written again.
// Reclaiming counts in days, so an hour costs no precision and keeps a
// user who signs in all day from writing on every sign-in.
const Granularity = time.Hour

// Seen is one user signing in to one app.
type Seen struct {
	UserID, App string
	At          time.Time
}

// Store reads and writes the bucket.
type Store struct {
	js jetstream.JetStream
	kv jetstream.KeyValue

	mu      sync.Mutex
	written map[string]time.Time // by key: what this process last wrote
}

// Open creates or binds the bucket.
func Open(ctx context.Context, js jetstream.JetStream, replicas int) (*Store, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      Bucket,
		Description: "Seatflow: the last sign-in of each user to each app, for reclaiming unused licenses",
		History:     1,
		MaxBytes:    MaxBytes,
		Storage:     jetstream.FileStorage,
		Replicas:    max(replicas, 1),
	})
	if err != nil {
		return nil, fmt.Errorf("last-seen bucket %s: %w", Bucket, err)
	}
	return &Store{js: js, kv: kv, written: map[string]time.Time{}}, nil
}

var enc = base32.HexEncoding.WithPadding(base32.NoPadding)

func key(tenant, app, user string) string {
	return tenant + "." + enc.EncodeToString([]byte(app)) + "." + enc.EncodeToString([]byte(user))
}

// Record stores the sign-ins of one tenant: for each user and app the
// latest, unless this process wrote one less than Granularity older. The
// writes of a batch are published together and Record returns once every
// one is stored (or with the first error), so a caller may acknowledge the
// sign-ins after it.
func (s *Store) Record(ctx context.Context, tenant string, seen []Seen) error {
	latest := map[string]time.Time{}
	for _, x := range seen {
		k := key(tenant, x.App, x.UserID)
		if x.At.After(latest[k]) {
			latest[k] = x.At
		}
	}
	s.mu.Lock()
	for k, at := range latest {
		if w, ok := s.written[k]; ok && at.Sub(w) < Granularity {
			delete(latest, k)
		}
	}
	s.mu.Unlock()
	if len(latest) == 0 {
		return nil
	}
	var futures []jetstream.PubAckFuture
	for k, at := range latest {
		f, err := s.js.PublishAsync("$KV."+Bucket+"."+k, []byte(at.UTC().Format(time.RFC3339Nano)))
		if err != nil {
			return fmt.Errorf("record last sign-in: %w", err)
		}
		futures = append(futures, f)
	}
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return fmt.Errorf("record last sign-in: %w", err)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.mu.Lock()
	for k, at := range latest {
		if at.After(s.written[k]) {
			s.written[k] = at
		}
	}
	s.mu.Unlock()
	return nil
}

// LastSeen returns when user last signed in to app as recorded, or false
// when no sign-in is recorded.
func (s *Store) LastSeen(ctx context.Context, tenant, app, user string) (time.Time, bool, error) {
	e, err := s.kv.Get(ctx, key(tenant, app, user))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("last sign-in of %s to %s: %w", user, app, err)
	}
	at, err := time.Parse(time.RFC3339Nano, string(e.Value()))
	if err != nil {
		return time.Time{}, false, fmt.Errorf("last sign-in of %s to %s: %w", user, app, err)
	}
	return at, true, nil
}
