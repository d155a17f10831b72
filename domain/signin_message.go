package domain

import (
	"fmt"
	"strings"
	"time"

	"github.com/seatflow/seatflow/events"
)

// SignInMessage is a sign-in as upstream systems report it: the body of
// sf.signin.<tenant> and of POST /v1/signins, and what an identity
// provider's hook makes of its events. Email, when set, registers (or
// updates) the directory user, named DisplayName or else by the address.
type SignInMessage struct {
	ID          string    `json:"id"`
	UserID      string    `json:"user_id"`
	App         string    `json:"app"`
	At          time.Time `json:"at"`
	Email       *string   `json:"email,omitempty"`
	DisplayName *string   `json:"display_name,omitempty"`
}

// Reasons a sign-in can never succeed: the Reason of a SignInRejectedError,
// the first word of a dead letter's Seatflow-Error header, and the field
// of POST /v1/signins' validation problem.
const (
	RejectTooLarge      = "too_large"
	RejectMalformedJSON = "malformed_json"
	RejectMissingField  = "missing_field"
	RejectInvalidField  = "invalid_field"
	RejectUnknownTenant = "unknown_tenant"
	// RejectRetriesExhausted: failures that looked transient went on for
	// too many deliveries.
	RejectRetriesExhausted = "retries_exhausted"
	// RejectInternal: handling failed unexpectedly (a bug).
	RejectInternal = "internal_error"
)

// SignInRejectedError is a sign-in that can never succeed. Reason is one of
// the Reject* constants.
type SignInRejectedError struct {
	Reason string
	Detail string
}

func (e *SignInRejectedError) Error() string { return e.Reason + ": " + e.Detail }

// RejectSignIn returns a SignInRejectedError with a formatted detail.
func RejectSignIn(reason, format string, args ...any) *SignInRejectedError {
	return &SignInRejectedError{Reason: reason, Detail: fmt.Sprintf(format, args...)}
}

// Validate checks the fields: id, user_id, app and at present, ids valid,
// the app at most 100 characters, the e-mail address (when given) one. It
// returns a *SignInRejectedError.
func (m SignInMessage) Validate() error {
	var missing []string
	for _, f := range []struct {
		name  string
		empty bool
	}{{"id", m.ID == ""}, {"user_id", m.UserID == ""}, {"app", m.App == ""}, {"at", m.At.IsZero()}} {
		if f.empty {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return RejectSignIn(RejectMissingField, "%s required", strings.Join(missing, ", "))
	}
	switch {
	case !events.ValidID(m.ID):
		return RejectSignIn(RejectInvalidField, "id %q is not a valid id (1-128 letters, digits, '_', '-' or '@')", m.ID)
	case !events.ValidID(m.UserID):
		return RejectSignIn(RejectInvalidField, "user_id %q is not a valid id (1-128 letters, digits, '_', '-' or '@')", m.UserID)
	case len(m.App) > 100:
		return RejectSignIn(RejectInvalidField, "app must be 1 to 100 characters")
	case m.Email != nil && *m.Email != "" && !strings.Contains(*m.Email, "@"):
		return RejectSignIn(RejectInvalidField, "email %q is not an address", *m.Email)
	}
	return nil
}
