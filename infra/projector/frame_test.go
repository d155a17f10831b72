package projector

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
	"time"
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
	for n := range len(b) {
		if _, err := decodeCheckpoint(b[:n]); !errors.Is(err, errBadCheckpoint) {
			t.Fatalf("cut at %d of %d bytes: got %v, want %v", n, len(b), err, errBadCheckpoint)
		}
	}
	if _, err := decodeCheckpoint(append(bytes.Clone(b), 0)); !errors.Is(err, errBadCheckpoint) {
		t.Fatalf("a byte left over: got %v, want %v", err, errBadCheckpoint)
	}
	for i := range b {
		for _, x := range []byte{0x01, 0x80, 0xff} {
			c := bytes.Clone(b)
			c[i] ^= x
			_, _ = decodeCheckpoint(c) // must not panic
		}
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
	if _, err := decodeLegacyCheckpoint(legacy[:len(legacy)-1]); !errors.Is(err, errBadCheckpoint) {
		t.Fatalf("truncated JSON: got %v, want %v", err, errBadCheckpoint)
	}
}
