package signin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/events"
)

// MaxPayload bounds a sign-in message; larger ones are dead-lettered.
const MaxPayload = 1 << 20

// Subject prefixes.
const (
	SubjectPrefix    = "sf.signin."
	DLQSubjectPrefix = "sf.dlq.signin."
	// HeaderError carries the reason a message was dead-lettered.
	HeaderError = "Seatflow-Error"
)

// Payload is a sign-in as upstream systems publish it.
type Payload struct {
	ID          string    `json:"id"`
	UserID      string    `json:"user_id"`
	App         string    `json:"app"`
	At          time.Time `json:"at"`
	Email       *string   `json:"email,omitempty"`
	DisplayName *string   `json:"display_name,omitempty"`
}

// Reasons a sign-in can never succeed; the first word of Seatflow-Error.
const (
	ReasonTooLarge      = "too_large"
	ReasonMalformedJSON = "malformed_json"
	ReasonMissingField  = "missing_field"
	ReasonInvalidField  = "invalid_field"
	ReasonUnknownTenant = "unknown_tenant"
	// ReasonRetriesExhausted: failures that looked transient went on for
	// Config.MaxDeliveries deliveries.
	ReasonRetriesExhausted = "retries_exhausted"
	// ReasonInternal: the handler failed unexpectedly (a bug).
	ReasonInternal = "internal_error"
)

// RejectedError is a sign-in that can never succeed. Reason is one of the
// Reason* constants.
type RejectedError struct {
	Reason string
	Detail string
}

func (e *RejectedError) Error() string { return e.Reason + ": " + e.Detail }

func reject(reason, format string, args ...any) *RejectedError {
	return &RejectedError{Reason: reason, Detail: fmt.Sprintf(format, args...)}
}

// Parse decodes and checks a sign-in message body. Unknown fields are
// ignored so upstream systems may send more than Seatflow reads.
func Parse(body []byte) (Payload, error) {
	if len(body) > MaxPayload {
		return Payload{}, reject(ReasonTooLarge, "%d bytes, at most %d", len(body), MaxPayload)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return Payload{}, reject(ReasonMalformedJSON, "%v", err)
	}
	var p Payload
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&p); err != nil {
		return Payload{}, reject(ReasonMalformedJSON, "%v", err)
	}
	return p, p.Validate(raw)
}

// Validate checks the fields; present lists the keys the message had (nil:
// judge by value).
func (p Payload) Validate(present map[string]json.RawMessage) error {
	var missing []string
	for _, f := range []struct {
		name  string
		empty bool
	}{{"id", p.ID == ""}, {"user_id", p.UserID == ""}, {"app", p.App == ""}, {"at", p.At.IsZero()}} {
		if _, ok := present[f.name]; (present != nil && !ok) || f.empty {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return reject(ReasonMissingField, "%s required", strings.Join(missing, ", "))
	}
	switch {
	case !events.ValidID(p.ID):
		return reject(ReasonInvalidField, "id %q is not a valid id (1-128 letters, digits, '_', '-' or '@')", p.ID)
	case !events.ValidID(p.UserID):
		return reject(ReasonInvalidField, "user_id %q is not a valid id (1-128 letters, digits, '_', '-' or '@')", p.UserID)
	case len(p.App) > 100:
		return reject(ReasonInvalidField, "app must be 1 to 100 characters")
	case p.Email != nil && *p.Email != "" && !strings.Contains(*p.Email, "@"):
		return reject(ReasonInvalidField, "email %q is not an address", *p.Email)
	}
	return nil
}

// Commands is what the handler needs from the domain.
type Commands interface {
	// Claim runs the auto-claim rules for one sign-in. Errors:
	// *domain.ValidationError, or store errors (transient).
	Claim(ctx context.Context, tenant domain.TenantID, in domain.SignIn, opts domain.ClaimOptions) (domain.ClaimOutcome, domain.Result, error)
	// RegisterSignInUser registers or updates the directory user a sign-in
	// names, keeping their roles. Errors: *domain.ValidationError, or store
	// errors.
	RegisterSignInUser(ctx context.Context, tenant domain.TenantID, id domain.UserID, meta events.Meta, email, displayName string) (domain.Result, error)
}

// Tenants says whether a tenant exists.
type Tenants interface {
	// Known reports whether the tenant has any events. Errors are
	// transient.
	Known(ctx context.Context, tenant string) (bool, error)
}

// Handler processes sign-ins, from NATS or HTTP.
type Handler struct {
	cmds    Commands
	tenants Tenants
	opts    domain.ClaimOptions
}

// NewHandler returns a Handler.
func NewHandler(cmds Commands, tenants Tenants, opts domain.ClaimOptions) *Handler {
	return &Handler{cmds: cmds, tenants: tenants, opts: opts}
}

// Handle processes one parsed sign-in of tenant. It returns a
// *RejectedError for a sign-in that can never succeed; other errors are
// transient.
func (h *Handler) Handle(ctx context.Context, tenant string, p Payload) (domain.ClaimOutcome, domain.Result, error) {
	if !events.ValidTenant(tenant) {
		return domain.ClaimOutcome{}, domain.Result{}, reject(ReasonUnknownTenant, "%q is not a tenant name", tenant)
	}
	known, err := h.tenants.Known(ctx, tenant)
	if err != nil {
		return domain.ClaimOutcome{}, domain.Result{}, fmt.Errorf("look up tenant %s: %w", tenant, err)
	}
	if !known {
		return domain.ClaimOutcome{}, domain.Result{}, reject(ReasonUnknownTenant, "tenant %q has no products or settings", tenant)
	}
	if p.Email != nil && *p.Email != "" {
		name := *p.Email
		if p.DisplayName != nil && *p.DisplayName != "" {
			name = *p.DisplayName
		}
		meta := events.Meta{Actor: p.UserID, CommandID: "signin-user-" + p.ID, CausationID: p.ID}
		if _, err := h.cmds.RegisterSignInUser(ctx, domain.TenantID(tenant), domain.UserID(p.UserID), meta, *p.Email, name); err != nil {
			return domain.ClaimOutcome{}, domain.Result{}, permanent(err)
		}
	}
	out, res, err := h.cmds.Claim(ctx, domain.TenantID(tenant), domain.SignIn{ID: p.ID, UserID: domain.UserID(p.UserID), App: p.App, At: p.At}, h.opts)
	return out, res, permanent(err)
}

// permanent turns the domain's validation errors into rejections.
func permanent(err error) error {
	var v *domain.ValidationError
	if errors.As(err, &v) {
		return reject(ReasonInvalidField, "%s", v.Error())
	}
	return err
}
