package signin

import (
	"context"
	"errors"
	"fmt"

	segjson "github.com/segmentio/encoding/json"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/infra/lastseen"
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

// Parse decodes and checks a sign-in message body; its errors are
// *domain.SignInRejectedError. Unknown fields are ignored so upstream
// systems may send more than Seatflow reads.
func Parse(body []byte) (domain.SignInMessage, error) {
	if len(body) > MaxPayload {
		return domain.SignInMessage{}, domain.RejectSignIn(domain.RejectTooLarge, "%d bytes, at most %d", len(body), MaxPayload)
	}
	var p domain.SignInMessage
	if err := segjson.Unmarshal(body, &p); err != nil {
		return domain.SignInMessage{}, domain.RejectSignIn(domain.RejectMalformedJSON, "%v", err)
	}
	return p, p.Validate()
}

// Commands is what the handler needs from the domain.
type Commands interface {
	// ClaimBatch runs the auto-claim rules for a batch of sign-ins of one
	// tenant, in order, in one append. Per sign-in errors are
	// *domain.ValidationError; the batch's error is a store error
	// (domain.ErrUnavailable: transient).
	ClaimBatch(ctx context.Context, tenant domain.TenantID, in []domain.SignIn, opts domain.ClaimOptions) ([]domain.BatchOutcome, error)
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

// Handler processes sign-ins in batches, for the Router's partitions
// (sign-ins posted over HTTP reach it through the sign-in stream, see
// Submitter).
type Handler struct {
	cmds    Commands
	tenants Tenants
	opts    domain.ClaimOptions
	seen    SeenRecorder
}

// NewHandler returns a Handler.
func NewHandler(cmds Commands, tenants Tenants, opts domain.ClaimOptions) *Handler {
	return &Handler{cmds: cmds, tenants: tenants, opts: opts}
}

// SeenRecorder keeps the last sign-in of each user to each app (the
// reclaim reactor's input), without an event per sign-in.
type SeenRecorder interface {
	// Record stores sign-ins of one tenant; it returns once they are
	// stored. Errors are transient.
	Record(ctx context.Context, tenant string, seen []lastseen.Seen) error
}

// RecordSeen makes the handler record, before a batch's sign-ins are
// acknowledged, the sign-ins of users who hold a product of the app's
// policy (a claim records its own time). Call before handling.
func (h *Handler) RecordSeen(r SeenRecorder) *Handler {
	h.seen = r
	return h
}

// Outcome is what one sign-in of a batch did, or why it can never succeed
// (Err, a *domain.SignInRejectedError).
type Outcome struct {
	domain.ClaimOutcome
	Position uint64
	Err      error
}

// HandleBatch processes sign-ins of one tenant, in order, deciding them
// together and storing their events in one append. A sign-in that can never
// succeed gets a *domain.SignInRejectedError in its Outcome and holds up no other; the
// error is for the whole batch and is transient (a *domain.SignInRejectedError when the
// tenant is unknown).
func (h *Handler) HandleBatch(ctx context.Context, tenant string, ps []domain.SignInMessage) ([]Outcome, error) {
	if err := checkTenant(ctx, h.tenants, tenant); err != nil {
		return nil, err
	}
	out := make([]Outcome, len(ps))
	in, idx := make([]domain.SignIn, 0, len(ps)), make([]int, 0, len(ps))
	for i, p := range ps {
		if p.Email != nil && *p.Email != "" {
			name := *p.Email
			if p.DisplayName != nil && *p.DisplayName != "" {
				name = *p.DisplayName
			}
			meta := events.Meta{Actor: p.UserID, CommandID: "signin-user-" + p.ID, CausationID: p.ID}
			if _, err := h.cmds.RegisterSignInUser(ctx, domain.TenantID(tenant), domain.UserID(p.UserID), meta, *p.Email, name); err != nil {
				if perr := permanent(err); perr != err {
					out[i].Err = perr
					continue
				}
				return nil, err
			}
		}
		in = append(in, domain.SignIn{ID: p.ID, UserID: domain.UserID(p.UserID), App: p.App, At: p.At})
		idx = append(idx, i)
	}
	for from := 0; from < len(in); from += domain.MaxClaimBatch {
		to := min(from+domain.MaxClaimBatch, len(in))
		res, err := h.cmds.ClaimBatch(ctx, domain.TenantID(tenant), in[from:to], h.opts)
		if err != nil {
			return nil, err
		}
		var seen []lastseen.Seen
		for j, r := range res {
			out[idx[from+j]] = Outcome{ClaimOutcome: r.ClaimOutcome, Position: r.Position, Err: permanent(r.Err)}
			if s := in[from+j]; r.Err == nil && r.Status == domain.ClaimAlreadyLicensed && !recentlyHeld(r, s) {
				seen = append(seen, lastseen.Seen{UserID: string(s.UserID), App: s.App, At: s.At})
			}
		}
		if h.seen != nil && len(seen) > 0 {
			if err := h.seen.Record(ctx, tenant, seen); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

func checkTenant(ctx context.Context, tenants Tenants, tenant string) error {
	if !events.ValidTenant(tenant) {
		return domain.RejectSignIn(domain.RejectUnknownTenant, "%q is not a tenant name", tenant)
	}
	known, err := tenants.Known(ctx, tenant)
	if err != nil {
		return fmt.Errorf("look up tenant %s: %w", tenant, err)
	}
	if !known {
		return domain.RejectSignIn(domain.RejectUnknownTenant, "tenant %q has no products or settings", tenant)
	}
	return nil
}

// recentlyHeld reports whether the license a re-sign-in finds was assigned
// or claimed less than lastseen.Granularity before it: reclaiming counts
// idleness from the later of the claim and the last recorded sign-in, so
// recording this one would move nothing by more than the granularity the
// bucket keeps anyway. Re-sign-ins soon after a claim then cost no write.
func recentlyHeld(o domain.BatchOutcome, s domain.SignIn) bool {
	return !o.HeldSince.IsZero() && s.At.Sub(o.HeldSince) < lastseen.Granularity
}

// permanent turns the domain's validation errors into rejections.
func permanent(err error) error {
	var v *domain.ValidationError
	if errors.As(err, &v) {
		return domain.RejectSignIn(domain.RejectInvalidField, "%s", v.Error())
	}
	return err
}
