package signin_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/infra/signin"
)

// FuzzParse: any bytes either parse into a sign-in whose ids are valid
// subject tokens, or are rejected with a known reason; never a panic.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{"id":"s1","user_id":"u1","app":"teams","at":"2026-11-01T09:00:00Z"}`,
		`{"id":"s1","user_id":"u1","app":"teams","at":"2026-11-01T09:00:00Z","email":"a@b.c","display_name":"A"}`,
		`{"id":"s1"`, `null`, `[]`, "\x00", `{"at":1}`,
	} {
		f.Add([]byte(s))
	}
	reasons := map[string]bool{domain.RejectTooLarge: true, domain.RejectMalformedJSON: true, domain.RejectMissingField: true,
		domain.RejectInvalidField: true}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := signin.Parse(b)
		if err != nil {
			var rej *domain.SignInRejectedError
			if !errors.As(err, &rej) || !reasons[rej.Reason] {
				t.Fatalf("%q: error %v is not a rejection with a known reason", b, err)
			}
			return
		}
		if !events.ValidID(p.ID) || !events.ValidID(p.UserID) || p.App == "" || p.At.IsZero() {
			t.Fatalf("%q: accepted %+v", b, p)
		}
	})
}

// FuzzParseAsEncodingJSON: Parse, which decodes with segmentio's JSON,
// accepts and rejects what a parse with encoding/json does, with the same
// result.
func FuzzParseAsEncodingJSON(f *testing.F) {
	for _, s := range []string{
		`{"id":"s1","user_id":"u1","app":"teams","at":"2026-11-01T09:00:00Z"}`,
		`{"ID":"s1","User_Id":"u1","app":"teams","at":"2026-11-01T09:00:00+02:00","extra":[1,{"a":null}]}`,
		`{"id":"s1","id":"s2","user_id":"u1","app":"teams","at":"2026-11-01T09:00:00Z"}`,
		`{"id":"s\u0031","user_id":"u1","app":"te\"ams","at":"2026-11-01T09:00:00.123456789Z"}`,
		`{"id":"s1","at":"2026-13-01T09:00:00Z"}`, `{"id":"s1"`, `null`, `[]`, "\x00", `{"at":1}`, `{"id":"s1"} x`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, gerr := signin.Parse(b)
		var want domain.SignInMessage
		werr := json.Unmarshal(b, &want)
		if werr == nil {
			werr = want.Validate()
		}
		if len(b) > signin.MaxPayload {
			return
		}
		if (gerr == nil) != (werr == nil) {
			t.Fatalf("%q: Parse %v, encoding/json %v", b, gerr, werr)
		}
		if gerr == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: Parse %+v, encoding/json %+v", b, got, want)
		}
	})
}
