package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"unicode/utf8"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/infra/auth"
)

// Sign-ins from identity providers: the organisation maps the providers'
// applications to Seatflow apps (GET/PUT /v1/settings/identity-apps), and
// Okta's Event Hook (GET and POST /v1/hooks/okta) and a forwarder of Entra
// ID's sign-in logs (POST /v1/hooks/entra) post their events; each
// successful sign-in of a directory user to a mapped application becomes a
// sign-in on sf.signin.<tenant> (see infra/idphook).

// IdentityCommands reads and sets the identity-app mapping.
type IdentityCommands interface {
	// SetIdentityApps replaces the mapping. Errors: *domain.ValidationError,
	// ErrConcurrency, store errors.
	SetIdentityApps(ctx context.Context, tenant domain.TenantID, meta events.Meta, ms []events.IdentityApp) ([]events.IdentityApp, domain.Result, error)
	// IdentityApps reads the mapping. Errors: store errors.
	IdentityApps(ctx context.Context, tenant domain.TenantID) ([]events.IdentityApp, domain.Result, error)
}

var _ IdentityCommands = (*domain.Service)(nil)

// IdentityHooks turns a provider's payload into sign-ins (serve gives it
// the identity-provider edge, infra/idphook).
type IdentityHooks interface {
	// Receive returns a *MalformedHookError for a payload it cannot read
	// (nothing is published then); other errors are transient.
	Receive(ctx context.Context, tenant, provider string, body []byte) (HookSummary, error)
}

// HookSummary answers POST /v1/hooks/entra: what the payload's events
// became.
type HookSummary struct {
	// Received counts the payload's events.
	Received int `json:"received"`
	// Accepted counts the events published as sign-ins, Duplicates those
	// of them the sign-in stream held already (a redelivery).
	Accepted   int `json:"accepted"`
	Duplicates int `json:"duplicates"`
	// Ignored counts the other events, by why.
	Ignored HookIgnored `json:"ignored"`
}

// HookIgnored counts a payload's ignored events by why: not a user's
// sign-in to an application, a failed sign-in, an application no Seatflow
// app is mapped to, a user the directory does not know.
type HookIgnored struct {
	OtherEvent  int `json:"other_event"`
	Failed      int `json:"failed"`
	UnmappedApp int `json:"unmapped_app"`
	UnknownUser int `json:"unknown_user"`
}

// MalformedHookError is a provider payload that cannot be read: Field is
// where in it (a path like data.events[2].published, or body), Reason what
// is wrong; JSON is set when the JSON itself is broken or of the wrong type
// there (invalid_json), rather than a value missing or invalid
// (validation_failed).
type MalformedHookError struct {
	Field  string
	Reason string
	JSON   bool
}

func (e *MalformedHookError) Error() string {
	if e.Field == "" {
		return e.Reason
	}
	return e.Field + ": " + e.Reason
}

// OktaVerificationHeader carries the value Okta's one-time verification of
// an Event Hook (GET /v1/hooks/okta) expects back as {"verification":
// value}.
const OktaVerificationHeader = "X-Okta-Verification-Challenge"

// IdentityConfig is what the identity-provider routes need; Config.Identity
// holds it (nil: the routes are not served).
type IdentityConfig struct {
	Commands IdentityCommands
	Hooks    IdentityHooks
}

// MaxOktaChallenge bounds the X-Okta-Verification-Challenge header.
const MaxOktaChallenge = 1024

func (s *Server) identityRoutes() {
	if s.cfg.Identity == nil {
		return
	}
	s.handle("GET /v1/settings/identity-apps", globalAdmin, s.getIdentityApps)
	s.handle("PUT /v1/settings/identity-apps", globalAdmin, s.putIdentityApps)
	ingest := roles(auth.RoleIngest)
	s.handle("GET /v1/hooks/okta", ingest, s.verifyOktaHook)
	s.handle("POST /v1/hooks/okta", ingest, s.postOktaHook)
	s.handle("POST /v1/hooks/entra", ingest, s.postEntraHook)
}

// IdentityAppsState answers the identity-app mapping routes.
type IdentityAppsState struct {
	Mappings []events.IdentityApp `json:"mappings"`
	Position uint64               `json:"position"`
}

// GET /v1/settings/identity-apps
func (s *Server) getIdentityApps(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	// Read from the org aggregate itself, so always current; after= is
	// still validated like on every query.
	if err := s.waitAfter(r); err != nil {
		return err
	}
	ms, res, err := s.cfg.Identity.Commands.IdentityApps(r.Context(), domain.TenantID(c.Tenant))
	if err != nil {
		return err
	}
	return writePositioned(w, http.StatusOK, res.Position, IdentityAppsState{Mappings: ms, Position: res.Position})
}

type identityAppsBody struct {
	Mappings *[]identityAppBody `json:"mappings"`
}

type identityAppBody struct {
	Provider      *string `json:"provider"`
	ProviderAppID *string `json:"provider_app_id"`
	App           *string `json:"app"`
}

// PUT /v1/settings/identity-apps: the whole mapping.
func (s *Server) putIdentityApps(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	var b identityAppsBody
	if err := decode(w, r, &b); err != nil {
		return err
	}
	if b.Mappings == nil {
		return invalidField("mappings", "is required: the whole list (an empty list unmaps every application)")
	}
	ms := make([]events.IdentityApp, len(*b.Mappings))
	for i, m := range *b.Mappings {
		for _, f := range []struct {
			name string
			v    *string
		}{{"provider", m.Provider}, {"provider_app_id", m.ProviderAppID}, {"app", m.App}} {
			if f.v == nil {
				return invalidField(fmt.Sprintf("mappings[%d].%s", i, f.name), "is required")
			}
		}
		ms[i] = events.IdentityApp{Provider: *m.Provider, ProviderAppID: *m.ProviderAppID, App: *m.App}
	}
	meta, err := s.meta(r, c)
	if err != nil {
		return err
	}
	out, res, err := s.cfg.Identity.Commands.SetIdentityApps(r.Context(), domain.TenantID(c.Tenant), meta, ms)
	if err != nil {
		return err
	}
	return writePositioned(w, http.StatusOK, res.Position, IdentityAppsState{Mappings: out, Position: res.Position})
}

// OktaVerification is the answer to Okta's one-time verification request.
type OktaVerification struct {
	Verification string `json:"verification"`
}

// GET /v1/hooks/okta: Okta's one-time verification of a new Event Hook
// sends a value in X-Okta-Verification-Challenge and expects it back as
// {"verification": value}.
func (s *Server) verifyOktaHook(w http.ResponseWriter, r *http.Request, _ auth.Claims) error {
	v := r.Header.Get(OktaVerificationHeader)
	switch {
	case v == "":
		return invalidField(OktaVerificationHeader, "header is required: Okta sends it with the one-time verification of an Event Hook")
	case len(v) > MaxOktaChallenge || !utf8.ValidString(v):
		return invalidField(OktaVerificationHeader, fmt.Sprintf("header must be at most %d bytes of text", MaxOktaChallenge))
	}
	return writeJSON(w, http.StatusOK, OktaVerification{Verification: v})
}

// POST /v1/hooks/okta: an Event Hook delivery. Okta wants an empty answer,
// 200 or 204; a 4xx is not retried, a 5xx or a timeout is, once.
func (s *Server) postOktaHook(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	if _, err := s.receiveHook(w, r, c, events.ProviderOkta); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// POST /v1/hooks/entra: Entra ID sign-in log records, answered with what
// became of them.
func (s *Server) postEntraHook(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	sum, err := s.receiveHook(w, r, c, events.ProviderEntra)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, sum)
}

func (s *Server) receiveHook(w http.ResponseWriter, r *http.Request, c auth.Claims, provider string) (HookSummary, error) {
	body, err := readBody(w, r)
	if err != nil {
		return HookSummary{}, err
	}
	sum, err := s.cfg.Identity.Hooks.Receive(r.Context(), c.Tenant, provider, body)
	var m *MalformedHookError
	if errors.As(err, &m) {
		code := CodeValidationFailed
		if m.JSON {
			code = CodeInvalidJSON
		}
		return HookSummary{}, &apiError{code: code, detail: m.Error(), cause: err}
	}
	return sum, err
}
