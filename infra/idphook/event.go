package idphook

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/events"
)

// Event is one event of an identity provider's payload, as far as Seatflow
// reads it.
type Event struct {
	Provider string
	// ID is the sign-in id it becomes: the provider's event id behind the
	// provider's prefix.
	ID string
	// Login is the user's sign-in name (Okta: actor.alternateId; Entra ID:
	// userPrincipalName); ProviderUserID the provider's own id of the user
	// (Okta: actor.id; Entra ID: userId).
	Login, ProviderUserID string
	// AppID is the provider's id of the application signed in to.
	AppID string
	At    time.Time
	// Ignored says why the event is no successful user sign-in to an
	// application (IgnoredOtherEvent, IgnoredFailed), or is empty.
	Ignored string
}

// Why an event was ignored; with ResultAccepted and ResultDuplicate, the
// result label of seatflow_identity_events_total.
const (
	// IgnoredOtherEvent: not a user's sign-in to an application (another
	// Okta event type; a service principal's or managed identity's
	// sign-in, or another category of Entra ID log).
	IgnoredOtherEvent = "other_event"
	// IgnoredFailed: the sign-in failed (Okta: outcome.result other than
	// SUCCESS; Entra ID: status.errorCode other than 0).
	IgnoredFailed = "failed"
	// IgnoredUnmappedApp: the organisation mapped no Seatflow app to the
	// provider's application.
	IgnoredUnmappedApp = "unmapped_app"
	// IgnoredUnknownUser: no directory user has the event's login (or
	// the provider's user id as externalId).
	IgnoredUnknownUser = "unknown_user"
)

// Results of the events that became sign-ins.
const (
	ResultAccepted  = "accepted"
	ResultDuplicate = "duplicate"
)

// Summary is what a payload did.
type Summary struct {
	// Received counts the payload's events.
	Received int `json:"received"`
	// Accepted counts the events published as sign-ins, Duplicates those
	// of them the sign-in stream held already (a redelivery).
	Accepted   int `json:"accepted"`
	Duplicates int `json:"duplicates"`
	// Ignored counts the other events, by why.
	Ignored Ignored `json:"ignored"`
}

// Ignored counts ignored events by why (the Ignored* constants).
type Ignored struct {
	OtherEvent  int `json:"other_event"`
	Failed      int `json:"failed"`
	UnmappedApp int `json:"unmapped_app"`
	UnknownUser int `json:"unknown_user"`
}

func (g *Ignored) add(why string) {
	switch why {
	case IgnoredOtherEvent:
		g.OtherEvent++
	case IgnoredFailed:
		g.Failed++
	case IgnoredUnmappedApp:
		g.UnmappedApp++
	case IgnoredUnknownUser:
		g.UnknownUser++
	}
}

// FindUser returns the directory user id of the user who signed in as login
// (with the provider's id providerUserID), or false.
type FindUser func(login, providerUserID string) (string, bool)

// SignIns turns events into the sign-ins to publish, in order: those that
// are successful user sign-ins to an application apps maps, by a user
// findUser knows. The others are counted in the summary.
func SignIns(evs []Event, apps []events.IdentityApp, findUser FindUser) ([]domain.SignInMessage, Summary) {
	sum := Summary{Received: len(evs)}
	var out []domain.SignInMessage
	for _, e := range evs {
		why := e.Ignored
		var app, user string
		if why == "" {
			var ok bool
			if app, ok = domain.IdentityAppFor(apps, e.Provider, e.AppID); !ok {
				why = IgnoredUnmappedApp
			}
		}
		if why == "" {
			var ok bool
			if user, ok = findUser(e.Login, e.ProviderUserID); !ok {
				why = IgnoredUnknownUser
			}
		}
		if why != "" {
			sum.Ignored.add(why)
			continue
		}
		out = append(out, domain.SignInMessage{ID: e.ID, UserID: user, App: app, At: e.At})
		sum.Accepted++
	}
	return out, sum
}

// MalformedError is a payload Seatflow cannot read. Field is where in it
// (a path like data.events[2].published, or body), Reason what is wrong;
// JSON is set when the JSON itself is broken or of the wrong type there,
// rather than a value missing or invalid.
type MalformedError struct {
	Field  string
	Reason string
	JSON   bool
}

func (e *MalformedError) Error() string {
	if e.Field == "" {
		return e.Reason
	}
	return e.Field + ": " + e.Reason
}

func malformed(field, format string, args ...any) *MalformedError {
	return &MalformedError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// join writes the path of a member of the value at path.
func join(path, member string) string {
	switch {
	case path == "":
		return member
	case strings.HasPrefix(member, "["):
		return path + member
	default:
		return path + "." + member
	}
}

// decodeAt decodes the JSON value raw, found at path, into dst, and
// explains a mismatch by the field it is in.
func decodeAt(path string, raw json.RawMessage, dst any) error {
	err := json.Unmarshal(raw, dst)
	if err == nil {
		return nil
	}
	var (
		typ    *json.UnmarshalTypeError
		syntax *json.SyntaxError
	)
	var m *MalformedError
	where := path
	if where == "" {
		where = "body" // the payload itself
	}
	switch {
	case errors.As(err, &typ):
		field := where
		if typ.Field != "" {
			field = join(path, typ.Field)
		}
		m = malformed(field, "must be %s, not %s", kind(typ.Type), typ.Value)
	case errors.As(err, &syntax):
		m = malformed(where, "malformed JSON at byte %d: %v", syntax.Offset, syntax)
	default:
		m = malformed(where, "%s", strings.TrimPrefix(err.Error(), "json: "))
	}
	m.JSON = true
	return m
}

// kind names the JSON type a Go type decodes from.
func kind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice:
		return "an array"
	default:
		return "an object"
	}
}

// eventID makes the sign-in id of a provider's event id.
func eventID(provider, field, id string) (string, error) {
	if id == "" {
		return "", malformed(field, "is required: it identifies the event, so a redelivery is recognised")
	}
	out := provider + "-" + id
	if !events.ValidID(out) {
		return "", malformed(field, "%q is not an event id Seatflow can keep (at most %d letters, digits, '_', '-' or '@')", id, 127-len(provider))
	}
	return out, nil
}

// eventTime reads an RFC 3339 time at field and checks it is a plausible
// sign-in time at now.
func eventTime(field, s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, malformed(field, "is required: the time of the sign-in")
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, malformed(field, "%q is not an RFC 3339 time", s)
	}
	t = t.UTC()
	switch {
	case t.Before(domain.SignInsSince):
		return time.Time{}, malformed(field, "%s is before %s", s, domain.SignInsSince.Format(time.RFC3339))
	case t.After(now.Add(domain.MaxSignInSkew)):
		return time.Time{}, malformed(field, "%s is more than %s after now", s, domain.MaxSignInSkew)
	}
	return t, nil
}
