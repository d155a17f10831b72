package httpapi

import (
	"bytes"
	"errors"
	"net/http/httptest"
	"reflect"
	"testing"
)

func TestNoDuplicateKeys(t *testing.T) {
	for body, dup := range map[string]bool{
		`{"a":1,"b":2}`:                   false,
		`{"a":1,"a":2}`:                   true,
		`{"a":{"a":1},"b":{"a":2}}`:       false,
		`{"a":{"x":1,"x":2}}`:             true,
		`{"a":[{"k":1},{"k":2}],"b":"a"}`: false,
		`{"a":[{"k":1,"k":2}]}`:           true,
		`{"a":"b","b":"a","c":["a","a"]}`: false,
		`{"products":[{"product_id":"p","disabled_services":["x"]},{"product_id":"q"}]}`: false,
		`{"a":[],"b":{},"a":null}`: true,
	} {
		err := noDuplicateKeys([]byte(body))
		if (err != nil) != dup {
			t.Errorf("%s: got %v, want duplicate=%v", body, err, dup)
		}
	}
}

// BenchmarkDecode decodes an assignment's body, the most frequent command.
func BenchmarkDecode(b *testing.B) {
	body := []byte(`{"user_id":"user-000123","disabled_services":["chat","mail"]}`)
	var dst struct {
		UserID           string   `json:"user_id"`
		DisabledServices []string `json:"disabled_services"`
	}
	for b.Loop() {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("POST", "/v1/products/p/assignments", bytes.NewReader(body))
		if err := decode(w, r, &dst); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzDecodeBodyAsEncodingJSON: the fast decoding of a body (segmentio's
// tokenizer and decoder) accepts and refuses what encoding/json's does, and
// fills the destination alike.
func FuzzDecodeBodyAsEncodingJSON(f *testing.F) {
	for _, s := range []string{
		`{"user_id":"u1","disabled_services":["chat"]}`, `{"user_id":"u1","disabled_services":null}`,
		`{"User_ID":"u1"}`, `{"user_id":"u1","x":1}`, `{"user_id":1}`, `{"user_id":"u1"} x`, `null`, `[]`,
		`{"user_id":"u1","user_id":"u2"}`, `{"user_\u0069d":"u1","user_id":"u2"}`, `{"licenses":3,"names":{"a":1,"a":2}}`,
		`{"licenses":1.5}`, `{"licenses":99999999999999999999}`, `{"user_id":"\ud800"}`, "{\"user_id\":\"\xff\"}",
		`{"licenses":-0,"names":{}}`, ` {"user_id":"u1"} `, `{"user_id":"u1",}`, `{"names":{"a":[1,{"b":2}]}}`,
	} {
		f.Add([]byte(s))
	}
	type body struct {
		UserID           string         `json:"user_id"`
		DisabledServices []string       `json:"disabled_services"`
		Licenses         int            `json:"licenses"`
		Names            map[string]any `json:"names"`
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var fast, std body
		ferr := decodeBody(b, &fast)
		serr := noDuplicateKeysSlow(b)
		if serr == nil && len(bytes.TrimSpace(b)) > 0 {
			serr = decodeStd(b, &std)
		} else if serr == nil {
			serr = errors.New("empty")
		}
		if (ferr == nil) != (serr == nil) {
			t.Fatalf("%q: fast %v, encoding/json %v", b, ferr, serr)
		}
		if ferr == nil && !reflect.DeepEqual(fast, std) {
			t.Fatalf("%q: fast %+v, encoding/json %+v", b, fast, std)
		}
	})
}
