package signin_test

import (
	"errors"
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
