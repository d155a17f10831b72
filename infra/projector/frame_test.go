package projector

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/seatflow/seatflow/projections"
)

func frameCheckpoint() Checkpoint {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	return Checkpoint{Position: 123_456, StreamCreated: time.Date(2026, 11, 1, 8, 0, 0, 123, time.UTC), Models: map[string]ModelState{
		"license_counts": {Version: 1, State: []byte(`{"contoso":{}}`)},
		"user_licenses":  {Version: 3, State: append([]byte{'U', 1}, all...)},
		"empty":          {Version: -1, State: []byte{}},
	}, Sizes: map[string]projections.Sizes{
		"user_licenses": {"contoso": 120_000, "fabrikam": 0, "": 7},
		"empty":         {},
	}}
}

// TestCheckpointFrame: a checkpoint's frame holds each model's state as
// it is (JSON or binary), the same checkpoint gives the same bytes, and a
// frame cut short or corrupted is an error or a checkpoint, never a panic.
func TestCheckpointFrame(t *testing.T) {
	cp := frameCheckpoint()
	b, err := encodeCheckpoint(cp)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := encodeCheckpoint(cp); !bytes.Equal(again, b) {
		t.Fatal("the same checkpoint encoded twice gave different bytes")
	}
	got, err := decodeCheckpoint(b)
	if err != nil {
		t.Fatal(err)
	}
	if !got.StreamCreated.Equal(cp.StreamCreated) || got.Position != cp.Position || len(got.Models) != len(cp.Models) {
		t.Fatalf("got %+v, want %+v", got, cp)
	}
	for name, ms := range cp.Models {
		if g := got.Models[name]; g.Version != ms.Version || !bytes.Equal(g.State, ms.State) {
			t.Errorf("%s: got %+v, want %+v", name, g, ms)
		}
	}
	if !reflect.DeepEqual(got.Sizes, cp.Sizes) {
		t.Errorf("sizes: got %v, want %v", got.Sizes, cp.Sizes)
	}
	for n := range len(b) {
		if _, err := decodeCheckpoint(b[:n]); !errors.Is(err, ErrBadCheckpoint) {
			t.Fatalf("cut at %d of %d bytes: got %v, want %v", n, len(b), err, ErrBadCheckpoint)
		}
	}
	if _, err := decodeCheckpoint(append(bytes.Clone(b), 0)); !errors.Is(err, ErrBadCheckpoint) {
		t.Fatalf("a byte left over: got %v, want %v", err, ErrBadCheckpoint)
	}
	for i := range b {
		for _, x := range []byte{0x01, 0x80, 0xff} {
			c := bytes.Clone(b)
			c[i] ^= x
			_, _ = decodeCheckpoint(c) // must not panic
		}
	}
}

// TestCheckpointFrameFormat1: a frame saved before sizes were (format 1:
// it ends after the models) is still read, with no sizes.
func TestCheckpointFrameFormat1(t *testing.T) {
	cp := frameCheckpoint()
	cp.Sizes = nil
	b, err := encodeCheckpoint(cp)
	if err != nil {
		t.Fatal(err)
	}
	if b[len(checkpointMagic)] != 2 || b[len(b)-1] != 0 {
		t.Fatalf("a format 2 frame without sizes should end with a zero count: format %d, last byte %d", b[len(checkpointMagic)], b[len(b)-1])
	}
	old := bytes.Clone(b[:len(b)-1])
	old[len(checkpointMagic)] = 1
	got, err := decodeCheckpoint(old)
	if err != nil {
		t.Fatal(err)
	}
	if got.Position != cp.Position || len(got.Models) != len(cp.Models) || got.Sizes != nil {
		t.Fatalf("got %+v, want the models and no sizes", got)
	}
	if _, err := decodeCheckpoint(b[:len(b)-1]); !errors.Is(err, ErrBadCheckpoint) {
		t.Fatalf("format 2 without its sizes: got %v, want %v", err, ErrBadCheckpoint)
	}
	old[len(checkpointMagic)] = 3
	if _, err := decodeCheckpoint(old); !errors.Is(err, ErrBadCheckpoint) {
		t.Fatalf("format 3: got %v, want %v", err, ErrBadCheckpoint)
	}
}

// TestLegacyCheckpointIsRead: a checkpoint saved as JSON (before frames)
// is still read, so the runner sees its read models' versions, finds them
// changed and rebuilds, rather than failing to read it.
func TestLegacyCheckpointIsRead(t *testing.T) {
	legacy := []byte(`{"position":42,"stream_created":"2026-11-01T08:00:00Z","models":{` +
		`"license_counts":{"version":1,"state":{"contoso":{}}},"user_licenses":{"version":2,"state":{"contoso":{"u1":[]}}}}}`)
	for _, b := range [][]byte{legacy, append([]byte("\n "), legacy...)} {
		cp, err := decodeLegacyCheckpoint(b)
		if err != nil {
			t.Fatal(err)
		}
		want := Checkpoint{Position: 42, StreamCreated: time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC), Models: map[string]ModelState{
			"license_counts": {Version: 1, State: []byte(`{"contoso":{}}`)},
			"user_licenses":  {Version: 2, State: []byte(`{"contoso":{"u1":[]}}`)},
		}}
		if !reflect.DeepEqual(cp, want) {
			t.Fatalf("got  %+v\nwant %+v", cp, want)
		}
	}
	if _, err := decodeLegacyCheckpoint(legacy[:len(legacy)-1]); !errors.Is(err, ErrBadCheckpoint) {
		t.Fatalf("truncated JSON: got %v, want %v", err, ErrBadCheckpoint)
	}
}
