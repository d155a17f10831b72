package projector

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	segjson "github.com/segmentio/encoding/json"
)

// Checkpoint is the saved state of every read model at one stream position.
type Checkpoint struct {
	// Position is the last stream sequence the states include.
	Position uint64 `json:"position"`
	// StreamCreated identifies the stream the checkpoint was taken from: a
	// stream deleted and created again restarts at sequence 1 and must not
	// be resumed at an old position.
	StreamCreated time.Time `json:"stream_created"`
	// Models maps each read model's name to its version and snapshot.
	Models map[string]ModelState `json:"models"`
}

// ModelState is one read model's part of a checkpoint.
type ModelState struct {
	Version int             `json:"version"`
	State   json.RawMessage `json:"state"`
}

// Checkpoints stores the runner's checkpoint.
type Checkpoints interface {
	// Load returns the saved checkpoint; found is false when there is none.
	Load(ctx context.Context) (cp Checkpoint, found bool, err error)
	// Save replaces the saved checkpoint.
	Save(ctx context.Context, cp Checkpoint) error
}

// CheckpointBucket is the JetStream object store bucket holding checkpoints.
const CheckpointBucket = "SEATFLOW_CHECKPOINTS"

const checkpointObject = "read-models"

// ObjectStore keeps the checkpoint in a JetStream object store, which splits
// it into chunks, so read models larger than a message fit.
type ObjectStore struct{ obs jetstream.ObjectStore }

var _ Checkpoints = (*ObjectStore)(nil)

// OpenObjectStore creates (or opens) the checkpoint bucket.
func OpenObjectStore(ctx context.Context, js jetstream.JetStream, replicas int) (*ObjectStore, error) {
	obs, err := js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket:      CheckpointBucket,
		Description: "Seatflow read-model checkpoints: a restart resumes from here",
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
		Compression: true,
	})
	if err != nil {
		return nil, fmt.Errorf("checkpoint bucket %s: %w", CheckpointBucket, err)
	}
	return &ObjectStore{obs: obs}, nil
}

// Load implements Checkpoints.
func (s *ObjectStore) Load(ctx context.Context) (Checkpoint, bool, error) {
	b, err := s.obs.GetBytes(ctx, checkpointObject)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return Checkpoint{}, false, nil
	}
	if err != nil {
		return Checkpoint{}, false, fmt.Errorf("load checkpoint: %w", err)
	}
	// The models' states are left in b (DontCopyRawMessage): they are
	// restored, and dropped, right after.
	var cp Checkpoint
	rest, err := segjson.Parse(b, &cp, segjson.DontCopyRawMessage)
	if err == nil && len(bytes.TrimSpace(rest)) > 0 {
		err = errors.New("trailing data")
	}
	if err != nil {
		return Checkpoint{}, false, fmt.Errorf("decode checkpoint: %w", err)
	}
	return cp, true, nil
}

// Save implements Checkpoints.
func (s *ObjectStore) Save(ctx context.Context, cp Checkpoint) error {
	// The models' states are JSON their Snapshot made: they are not
	// checked and compacted again (TrustRawMessage).
	b, err := segjson.Append(nil, cp, segjson.SortMapKeys|segjson.TrustRawMessage)
	if err != nil {
		return fmt.Errorf("encode checkpoint: %w", err)
	}
	if _, err := s.obs.PutBytes(ctx, checkpointObject, b); err != nil {
		return fmt.Errorf("save checkpoint: %w", err)
	}
	return nil
}
