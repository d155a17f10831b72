package revocation

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/oklog/ulid/v2"

	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/infra/auth"
)

// Bucket is the key-value bucket holding revocations.
const Bucket = "SEATFLOW_TOKEN_REVOCATIONS"

// MaxBytes bounds the bucket: about a quarter of a million revocations.
const MaxBytes = 64 << 20

// markerTTL is how long the bucket keeps the marker of an entry whose TTL
// ran out, so that watchers drop it from memory.
const markerTTL = 10 * time.Minute

// ErrInvalid is wrapped by Revoke's error for an entry it refuses.
var ErrInvalid = errors.New("invalid revocation")

// Entry is one revocation: of the token with id JTI, or of every token of
// Tenant/Subject issued at or before RevokedAt.
type Entry struct {
	JTI       string    `json:"jti,omitempty"`
	Tenant    string    `json:"tenant,omitempty"`
	Subject   string    `json:"sub,omitempty"`
	RevokedAt time.Time `json:"revoked_at"`
	// Until is when the revocation may be forgotten: when every token it
	// revokes has expired.
	Until time.Time `json:"until"`
}

// key is the entry's key in the bucket.
func (e Entry) key() string {
	if e.JTI != "" {
		return "jti." + e.JTI
	}
	return "sub." + e.Tenant + "." + base64.RawURLEncoding.EncodeToString([]byte(e.Subject)) + "." +
		strconv.FormatInt(e.RevokedAt.UnixNano(), 10)
}

func (e Entry) validate(now time.Time) error {
	var p []string
	switch {
	case e.JTI != "" && (e.Tenant != "" || e.Subject != ""):
		p = append(p, "either a jti or a tenant and user, not both")
	case e.JTI != "":
		if _, err := ulid.ParseStrict(e.JTI); err != nil {
			p = append(p, fmt.Sprintf("jti %q is not a ULID", e.JTI))
		}
	default:
		if !events.ValidTenant(e.Tenant) {
			p = append(p, fmt.Sprintf("tenant %q is not valid", e.Tenant))
		}
		if !events.ValidID(e.Subject) {
			p = append(p, fmt.Sprintf("user %q is not a valid user id", e.Subject))
		}
	}
	if !e.Until.After(now) {
		p = append(p, fmt.Sprintf("until %s is not in the future", e.Until.UTC().Format(time.RFC3339)))
	}
	if len(p) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalid, strings.Join(p, "; "))
	}
	return nil
}

// Open creates or updates the bucket (replicas as the streams) and returns
// it.
func Open(ctx context.Context, js jetstream.JetStream, replicas int) (jetstream.KeyValue, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:         Bucket,
		Description:    "Seatflow revoked bearer tokens, by jti or by user; each entry expires with the tokens it revokes",
		History:        1,
		MaxBytes:       MaxBytes,
		Storage:        jetstream.FileStorage,
		Replicas:       replicas,
		LimitMarkerTTL: markerTTL,
	})
	if err != nil {
		return nil, fmt.Errorf("revocation bucket %s: %w", Bucket, err)
	}
	return kv, nil
}

// Bind returns the bucket, creating it (with replicas) only when it does
// not exist yet: a command run beside serve must not change the replicas
// serve chose.
func Bind(ctx context.Context, js jetstream.JetStream, replicas int) (jetstream.KeyValue, error) {
	kv, err := js.KeyValue(ctx, Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return Open(ctx, js, replicas)
	}
	if err != nil {
		return nil, fmt.Errorf("revocation bucket %s: %w", Bucket, err)
	}
	return kv, nil
}

// Revoke records e (RevokedAt defaults to now) with a TTL ending at
// e.Until. It reports false when the same revocation was already recorded.
func Revoke(ctx context.Context, kv jetstream.KeyValue, e Entry, now time.Time) (bool, error) {
	if e.RevokedAt.IsZero() {
		e.RevokedAt = now
	}
	e.RevokedAt, e.Until = e.RevokedAt.UTC(), e.Until.UTC()
	if err := e.validate(now); err != nil {
		return false, err
	}
	b, err := json.Marshal(e)
	if err != nil {
		return false, fmt.Errorf("encode revocation: %w", err)
	}
	// Per-message TTLs are whole seconds, at least one: round up, so the
	// entry outlives the tokens it revokes.
	ttl := e.Until.Sub(now).Truncate(time.Second) + time.Second
	if _, err := kv.Create(ctx, e.key(), b, jetstream.KeyTTL(ttl)); err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return false, nil
		}
		return false, fmt.Errorf("record revocation %s: %w", e.key(), err)
	}
	return true, nil
}

// Set is the in-memory copy of the bucket, kept up to date by a watcher.
// It is safe for concurrent use.
type Set struct {
	log    *slog.Logger
	w      jetstream.KeyWatcher
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.RWMutex
	entries map[string]Entry // by bucket key
	jtis    map[string]time.Time
	// subs maps tenant + "\x00" + subject to the instants at or before
	// which its tokens are revoked, by bucket key.
	subs map[string]map[string]time.Time
	// changed is closed (and replaced) whenever an entry is added.
	changed chan struct{}
}

// Watch loads the bucket's entries and keeps watching it until Stop. It
// returns once the current entries are loaded, or ctx's error.
//
// The watcher is an ordered consumer, which nats.go recreates after a
// reconnect or a gap, so the set catches up by itself; it ends when the
// connection closes.
func Watch(ctx context.Context, kv jetstream.KeyValue, log *slog.Logger) (*Set, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// The watcher's subscription ends when the context given to WatchAll
	// ends, so it gets one of its own, cancelled by Stop; ctx bounds only
	// the loading.
	wctx, cancel := context.WithCancel(context.Background())
	w, err := kv.WatchAll(wctx)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("watch %s: %w", Bucket, err)
	}
	s := &Set{log: log.With("component", "revocations"), w: w, cancel: cancel, done: make(chan struct{}),
		entries: map[string]Entry{}, jtis: map[string]time.Time{}, subs: map[string]map[string]time.Time{}, changed: make(chan struct{})}
	loaded := make(chan struct{})
	go s.run(w, loaded)
	select {
	case <-loaded:
		return s, nil
	case <-s.done:
		s.Stop()
		return nil, fmt.Errorf("watch %s: the watcher stopped before loading", Bucket)
	case <-ctx.Done():
		s.Stop()
		return nil, fmt.Errorf("load %s: %w", Bucket, ctx.Err())
	}
}

func (s *Set) run(w jetstream.KeyWatcher, loaded chan struct{}) {
	defer close(s.done)
	for e := range w.Updates() {
		if e == nil {
			if loaded != nil {
				close(loaded)
				loaded = nil
			}
			continue
		}
		switch e.Operation() {
		case jetstream.KeyValuePut:
			var r Entry
			if err := json.Unmarshal(e.Value(), &r); err != nil || r.key() != e.Key() {
				s.log.Error("ignoring a revocation that does not parse", "key", e.Key(), "err", err)
				continue
			}
			s.add(e.Key(), r)
		default: // deleted, purged or expired
			s.remove(e.Key())
		}
	}
}

func (s *Set) add(key string, e Entry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	close(s.changed)
	s.changed = make(chan struct{})
	s.entries[key] = e
	if e.JTI != "" {
		s.jtis[e.JTI] = e.Until
		return
	}
	sk := e.Tenant + "\x00" + e.Subject
	if s.subs[sk] == nil {
		s.subs[sk] = map[string]time.Time{}
	}
	s.subs[sk][key] = e.RevokedAt
}

func (s *Set) remove(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[key]
	if !ok {
		return
	}
	delete(s.entries, key)
	if e.JTI != "" {
		delete(s.jtis, e.JTI)
		return
	}
	sk := e.Tenant + "\x00" + e.Subject
	delete(s.subs[sk], key)
	if len(s.subs[sk]) == 0 {
		delete(s.subs, sk)
	}
}

// Check returns an error wrapping auth.ErrRevoked when c's token is
// revoked, by its jti or by its user. It is the auth.Config.Revoked of
// serve's verifier.
func (s *Set) Check(c auth.Claims) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if _, ok := s.jtis[c.ID]; ok {
		return fmt.Errorf("%w (jti %s)", auth.ErrRevoked, c.ID)
	}
	for _, at := range s.subs[c.Tenant+"\x00"+c.Subject] {
		if !c.IssuedAt.After(at) {
			return fmt.Errorf("%w (every token of %s issued until %s)", auth.ErrRevoked, c.Subject, at.Format(time.RFC3339))
		}
	}
	return nil
}

// WaitRevoked returns once Check refuses c (its revocation, recorded with
// Revoke, has reached this instance's watcher), or ctx's error. A sign-out
// waits for it, so that the same instance refuses the session from its
// answer on.
func (s *Set) WaitRevoked(ctx context.Context, c auth.Claims) error {
	for {
		s.mu.RLock()
		ch := s.changed
		s.mu.RUnlock()
		if s.Check(c) != nil {
			return nil
		}
		select {
		case <-ch:
		case <-s.done:
			return fmt.Errorf("watch %s: the watcher stopped", Bucket)
		case <-ctx.Done():
			return fmt.Errorf("wait for the revocation of %s: %w", c.ID, ctx.Err())
		}
	}
}

// Len is the number of revocations held.
func (s *Set) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.entries)
}

// Stop stops watching and waits for the watcher to end.
func (s *Set) Stop() {
	_ = s.w.Stop() // fails only when the connection already closed it
	s.cancel()
	<-s.done
}
