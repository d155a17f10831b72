package projector

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	segjson "github.com/segmentio/encoding/json"

	"github.com/seatflow/seatflow/projections"
)

// Checkpoint is the saved state of every read model at one stream position.
type Checkpoint struct {
	// Position is the last stream sequence the states include.
	Position uint64
	// StreamCreated identifies the stream the checkpoint was taken from: a
	// stream deleted and created again restarts at sequence 1 and must not
	// be resumed at an old position.
	StreamCreated time.Time
	// Models maps each read model's name to its version and snapshot.
	Models map[string]ModelState
	// Sizes maps the name of each read model that reports them
	// (projections.Presizer) to its sizes: a rebuild from the start makes
	// its maps at those sizes. Checkpoints of format 1 have none.
	Sizes map[string]projections.Sizes
}

// ModelState is one read model's part of a checkpoint.
type ModelState struct {
	Version int
	// State is the read model's snapshot, as its Snapshot made it: JSON for
	// some, binary for those that grow with every user.
	State []byte
}

// A checkpoint is stored as a frame that holds each read model's state as
// it is, whatever its encoding:
//
//	"SFCP" format | position | stream_created (time.MarshalBinary) | models: name version state
//	| sizes: name (key n)...
//
// numbers as uvarints (the version a varint), strings and states as their
// length then their bytes, models and sizes by name, each list after its
// length. Format 1 ends after the models. Checkpoints saved before, all
// JSON, are still read: their read models' versions differ from the
// code's, so they are rebuilt.
const (
	checkpointMagic  = "SFCP"
	checkpointFormat = 2
)

// ErrBadCheckpoint is wrapped by every error decoding a checkpoint: one
// that was read but cannot be used (corrupt, or of a format this build
// does not know). Asking for it again gives the same bytes.
var ErrBadCheckpoint = errors.New("bad checkpoint")

// encodeCheckpoint is cp as a frame.
func encodeCheckpoint(cp Checkpoint) ([]byte, error) {
	created, err := cp.StreamCreated.MarshalBinary()
	if err != nil {
		return nil, err
	}
	size := 64 + len(created)
	names := make([]string, 0, len(cp.Models))
	for name, ms := range cp.Models {
		names = append(names, name)
		size += 32 + len(name) + len(ms.State)
	}
	slices.Sort(names)
	b := make([]byte, 0, size)
	b = append(b, checkpointMagic...)
	b = append(b, checkpointFormat)
	b = binary.AppendUvarint(b, cp.Position)
	b = appendBytes(b, created)
	b = binary.AppendUvarint(b, uint64(len(names)))
	for _, name := range names {
		ms := cp.Models[name]
		b = appendBytes(b, []byte(name))
		b = binary.AppendVarint(b, int64(ms.Version))
		b = appendBytes(b, ms.State)
	}
	names = names[:0]
	for name := range cp.Sizes {
		names = append(names, name)
	}
	slices.Sort(names)
	b = binary.AppendUvarint(b, uint64(len(names)))
	for _, name := range names {
		s := cp.Sizes[name]
		b = appendBytes(b, []byte(name))
		b = binary.AppendUvarint(b, uint64(len(s)))
		for _, k := range slices.Sorted(maps.Keys(s)) {
			b = appendBytes(b, []byte(k))
			b = binary.AppendUvarint(b, uint64(max(s[k], 0)))
		}
	}
	return b, nil
}

func appendBytes(b, x []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(x)))
	return append(b, x...)
}

// decodeCheckpoint reads a frame; the models' states are left in b.
func decodeCheckpoint(b []byte) (Checkpoint, error) {
	if !bytes.HasPrefix(b, []byte(checkpointMagic)) || len(b) < len(checkpointMagic)+1 {
		return Checkpoint{}, fmt.Errorf("%w: no checkpoint frame", ErrBadCheckpoint)
	}
	format := b[len(checkpointMagic)]
	if format != 1 && format != checkpointFormat {
		return Checkpoint{}, fmt.Errorf("%w: format %d, want 1 or %d", ErrBadCheckpoint, format, checkpointFormat)
	}
	rest := b[len(checkpointMagic)+1:]
	var err error
	uvarint := func() uint64 {
		v, n := binary.Uvarint(rest)
		if n <= 0 {
			err = badCheckpoint(err, "bad or truncated number")
			rest = nil
			return 0
		}
		rest = rest[n:]
		return v
	}
	field := func() []byte {
		n := uvarint()
		if n > uint64(len(rest)) {
			err = badCheckpoint(err, "field longer than the bytes left")
			rest = nil
			return nil
		}
		x := rest[:n:n]
		rest = rest[n:]
		return x
	}
	cp := Checkpoint{Position: uvarint()}
	if e := cp.StreamCreated.UnmarshalBinary(field()); e != nil && err == nil {
		err = badCheckpoint(err, "stream_created: "+e.Error())
	}
	n := uvarint()
	if n > uint64(len(rest)/3) { // a name, a version and a state take 3 bytes at least
		err = badCheckpoint(err, fmt.Sprintf("%d models is more than the bytes left hold", n))
		n = 0
	}
	cp.Models = make(map[string]ModelState, n)
	for range n {
		name := string(field())
		v, k := binary.Varint(rest)
		if k <= 0 {
			err = badCheckpoint(err, "bad or truncated version")
			break
		}
		rest = rest[k:]
		state := field()
		if err != nil {
			break
		}
		if _, dup := cp.Models[name]; dup {
			err = badCheckpoint(err, fmt.Sprintf("model %q twice", name))
			break
		}
		cp.Models[name] = ModelState{Version: int(v), State: state}
	}
	if format >= 2 && err == nil {
		n := uvarint()
		if n > uint64(len(rest)/2) { // a name and a count take 2 bytes at least
			err = badCheckpoint(err, fmt.Sprintf("sizes of %d models is more than the bytes left hold", n))
			n = 0
		}
		cp.Sizes = make(map[string]projections.Sizes, n)
		for range n {
			name := string(field())
			k := uvarint()
			if k > uint64(len(rest)/2) { // a key and a size take 2 bytes at least
				err = badCheckpoint(err, fmt.Sprintf("%d sizes is more than the bytes left hold", k))
			}
			if err != nil {
				break
			}
			if _, dup := cp.Sizes[name]; dup {
				err = badCheckpoint(err, fmt.Sprintf("sizes of model %q twice", name))
				break
			}
			s := make(projections.Sizes, k)
			for range k {
				key := string(field())
				s[key] = int(min(uvarint(), math.MaxInt32))
			}
			cp.Sizes[name] = s
		}
	}
	if err == nil && len(rest) > 0 {
		err = badCheckpoint(err, fmt.Sprintf("%d bytes left over", len(rest)))
	}
	if err != nil {
		return Checkpoint{}, err
	}
	return cp, nil
}

// badCheckpoint is err if there is one (the first error found is kept),
// else what went wrong.
func badCheckpoint(err error, what string) error {
	if err != nil {
		return err
	}
	return fmt.Errorf("%w: %s", ErrBadCheckpoint, what)
}

// legacyCheckpoint is a checkpoint as saved before frames: JSON.
type legacyCheckpoint struct {
	Position      uint64    `json:"position"`
	StreamCreated time.Time `json:"stream_created"`
	Models        map[string]struct {
		Version int             `json:"version"`
		State   json.RawMessage `json:"state"`
	} `json:"models"`
}

// decodeLegacyCheckpoint reads a JSON checkpoint; the models' states are
// left in b (DontCopyRawMessage).
func decodeLegacyCheckpoint(b []byte) (Checkpoint, error) {
	var lc legacyCheckpoint
	rest, err := segjson.Parse(b, &lc, segjson.DontCopyRawMessage)
	if err == nil && len(bytes.TrimSpace(rest)) > 0 {
		err = errors.New("trailing data")
	}
	if err != nil {
		return Checkpoint{}, fmt.Errorf("%w: %w", ErrBadCheckpoint, err)
	}
	cp := Checkpoint{Position: lc.Position, StreamCreated: lc.StreamCreated, Models: make(map[string]ModelState, len(lc.Models))}
	for name, ms := range lc.Models {
		cp.Models[name] = ModelState{Version: ms.Version, State: ms.State}
	}
	return cp, nil
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
	// The models' states are left in b: they are restored, and dropped,
	// right after.
	decode := decodeCheckpoint
	if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '{' {
		decode = decodeLegacyCheckpoint
	}
	cp, err := decode(b)
	if err != nil {
		return Checkpoint{}, false, fmt.Errorf("decode checkpoint: %w", err)
	}
	return cp, true, nil
}

// Save implements Checkpoints.
func (s *ObjectStore) Save(ctx context.Context, cp Checkpoint) error {
	b, err := encodeCheckpoint(cp)
	if err != nil {
		return fmt.Errorf("encode checkpoint: %w", err)
	}
	if _, err := s.obs.PutBytes(ctx, checkpointObject, b); err != nil {
		return fmt.Errorf("save checkpoint: %w", err)
	}
	return nil
}
