package encode_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/events/eventstest"
	"github.com/seatflow/seatflow/infra/encode"
)

// seeds are encoded envelopes of every golden file and of a generated
// history, and some near misses.
func seeds(t testing.TB) [][]byte {
	var out [][]byte
	golden, err := filepath.Glob("../../events/testdata/golden/*.json")
	if err != nil || len(golden) == 0 {
		t.Fatalf("golden files: %v (%d)", err, len(golden))
	}
	for _, g := range golden {
		b, err := os.ReadFile(g)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	for _, env := range eventstest.History(7, 300) {
		b, err := events.Encode(env)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	b := out[len(out)-1]
	out = append(out,
		append(append([]byte{}, b...), `{}`...),                          // trailing data
		bytes.Replace(b, []byte(`"tenant"`), []byte(`"tenants"`), 1),     // unknown field
		bytes.Replace(b, []byte(`"version":`), []byte(`"version":"`), 1), // wrong kind
		bytes.Replace(b, []byte(`"data":{`), []byte(`"data":{"extra":1,`), 1),
		[]byte(`{"type":"ProductAdded","version":1,"data":{}}`),
		[]byte("{\"id\":\"\xff\xfe\",\"type\":\"OrgCreated\"}"),
	)
	return out
}

// sameDecode fails unless the registry decoding with StrictJSON gives what
// the one decoding with encoding/json gives: the same envelope, or an
// error for both (wrapping the same sentinel).
func sameDecode(t *testing.T, std, fast *events.Registry, b []byte) {
	t.Helper()
	want, werr := std.Decode(b)
	got, gerr := fast.Decode(b)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("%q: encoding/json: %v; StrictJSON: %v", b, werr, gerr)
	}
	if werr != nil {
		for _, sentinel := range []error{events.ErrMalformed, events.ErrUnknownType} {
			if errors.Is(werr, sentinel) != errors.Is(gerr, sentinel) {
				t.Fatalf("%q: encoding/json: %v; StrictJSON: %v", b, werr, gerr)
			}
		}
		return
	}
	if !reflect.DeepEqual(want, got) {
		t.Fatalf("%q decodes differently:\nencoding/json %+v\nStrictJSON    %+v", b, want, got)
	}
}

func TestStrictJSONDecodesAsEncodingJSON(t *testing.T) {
	std, fast := events.Default(), encode.Registry()
	for _, b := range seeds(t) {
		sameDecode(t, std, fast, b)
	}
}

func FuzzStrictJSONDecodesAsEncodingJSON(f *testing.F) {
	for _, b := range seeds(f) {
		f.Add(b)
	}
	std, fast := events.Default(), encode.Registry()
	f.Fuzz(func(t *testing.T, b []byte) { sameDecode(t, std, fast, b) })
}

func BenchmarkDecodeClaims(b *testing.B) {
	var data []byte
	for _, env := range eventstest.History(3, 2000) {
		if env.Type == events.TypeLicensesClaimed {
			if d, _ := events.Encode(env); len(d) > len(data) {
				data = d
			}
		}
	}
	if data == nil {
		b.Fatal("no LicensesClaimed in the history")
	}
	for name, reg := range map[string]*events.Registry{"encoding-json": events.Default(), "strict-json": encode.Registry()} {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := reg.Decode(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
