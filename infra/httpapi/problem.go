package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/seatflow/seatflow/domain"
)

// Problem codes. They are part of the contract: clients switch on them, so a
// code is never renamed; new ones are added.
const (
	CodeUnauthorized        = "unauthorized"
	CodeForbidden           = "forbidden"
	CodeInvalidJSON         = "invalid_json"
	CodeValidationFailed    = "validation_failed"
	CodeNotFound            = "not_found"
	CodeMethodNotAllowed    = "method_not_allowed"
	CodeBodyTooLarge        = "body_too_large"
	CodeNoLicensesAvailable = "no_licenses_available"
	CodeAlreadyExists       = "already_exists"
	CodeAlreadyAssigned     = "already_assigned"
	CodeBelowAssigned       = "below_assigned"
	CodeConflict            = "conflict"
	CodeUnavailable         = "unavailable"
	// CodeOutcomeUnknown: the write may or may not have been stored; retry
	// with the answer's Seatflow-Command-Id as Idempotency-Key.
	CodeOutcomeUnknown = "outcome_unknown"
	// CodeIdempotencyKeyReused: the Idempotency-Key was first used with a
	// different request.
	CodeIdempotencyKeyReused = "idempotency_key_reused"
	CodeInternal             = "internal"
	// CodeInvalidCSRFToken: a write authenticated by the console's session
	// cookie without the session's CSRF token, or from another origin.
	CodeInvalidCSRFToken = "invalid_csrf_token"
)

// ProblemTypePrefix prefixes a code to make a problem's "type" URI.
const ProblemTypePrefix = "urn:seatflow:problem:"

// Problem is the body of every error answer (RFC 9457).
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Code   string `json:"code"`
	// Link is the admin's documentation link of an own_request_process
	// problem.
	Link string `json:"link,omitempty"`
}

// codeInfo is the status and title of each code.
var codeInfo = map[string]struct {
	status int
	title  string
}{
	CodeUnauthorized:         {http.StatusUnauthorized, "Authentication required"},
	CodeForbidden:            {http.StatusForbidden, "Not allowed"},
	CodeInvalidJSON:          {http.StatusBadRequest, "Malformed JSON body"},
	CodeValidationFailed:     {http.StatusBadRequest, "Invalid value"},
	CodeNotFound:             {http.StatusNotFound, "Not found"},
	CodeMethodNotAllowed:     {http.StatusMethodNotAllowed, "Method not allowed"},
	CodeBodyTooLarge:         {http.StatusRequestEntityTooLarge, "Request body too large"},
	CodeNoLicensesAvailable:  {http.StatusConflict, "No licenses available"},
	CodeAlreadyExists:        {http.StatusConflict, "Already exists"},
	CodeAlreadyAssigned:      {http.StatusConflict, "Already assigned"},
	CodeBelowAssigned:        {http.StatusConflict, "Licenses are assigned"},
	CodeConflict:             {http.StatusConflict, "Concurrent change"},
	CodeUnavailable:          {http.StatusServiceUnavailable, "Temporarily unavailable"},
	CodeOutcomeUnknown:       {http.StatusServiceUnavailable, "Outcome unknown"},
	CodeIdempotencyKeyReused: {http.StatusUnprocessableEntity, "Idempotency-Key reused"},
	CodeInternal:             {http.StatusInternalServerError, "Internal error"},
	CodeInvalidCSRFToken:     {http.StatusForbidden, "CSRF token missing or wrong"},
	CodeSelfServiceAllowed:   {http.StatusConflict, "Self-service purchase is allowed"},
	CodeOwnRequestProcess:    {http.StatusConflict, "The organisation uses its own request process"},
	CodeAlreadyDecided:       {http.StatusConflict, "Request already decided"},
	CodeGroupNotLicensed:     {http.StatusConflict, "Group has no licenses"},
	CodeShareAnswered:        {http.StatusConflict, "Share already answered"},
	CodeInvalidShareLink:     {http.StatusUnauthorized, "Invalid share link"},
	CodeShareLinkExpired:     {http.StatusUnauthorized, "Share link expired"},
}

// apiError is an error raised by the HTTP layer itself, already classified.
type apiError struct {
	code   string
	detail string
	// allow is the Allow header of a 405; authErr marks a 401 for a token
	// that was present but invalid (RFC 6750 error="invalid_token").
	allow   string
	authErr bool
	cause   error
}

func (e *apiError) Error() string { return e.code + ": " + e.detail }
func (e *apiError) Unwrap() error { return e.cause }

func fail(code, detail string) *apiError { return &apiError{code: code, detail: detail} }

// invalidField is a validation failure found here rather than in domain; it
// is the same type so that it maps the same way.
func invalidField(field, reason string) error {
	return &domain.ValidationError{Field: field, Reason: reason}
}

// problemFor classifies err. It is the one place where error kinds become
// HTTP statuses and problem codes:
//
//	| code                  | status | meaning                                                          |
//	|-----------------------|--------|------------------------------------------------------------------|
//	| unauthorized          | 401    | no bearer token (nor session cookie), or it is invalid, expired  |
//	|                       |        | or revoked                                                       |
//	| forbidden             | 403    | the token's roles do not allow this request                      |
//	| invalid_csrf_token    | 403    | a write with the session cookie lacks its CSRF token, or comes   |
//	|                       |        | from a page of another origin                                    |
//	| invalid_json          | 400    | body is not one JSON object of the expected shape: syntax error, |
//	|                       |        | unknown field, wrong JSON type, trailing data, empty body        |
//	| validation_failed     | 400    | a value is missing or invalid (path id, body field, header,      |
//	|                       |        | query parameter); detail names the field                         |
//	| not_found             | 404    | no such route, product or license                                |
//	| method_not_allowed    | 405    | the route exists but not for this method (see Allow)             |
//	| body_too_large        | 413    | request body over 1 MiB                                          |
//	| no_licenses_available | 409    | the command needs a free seat and the product has none           |
//	| already_exists        | 409    | the resource to create exists already                            |
//	| already_assigned      | 409    | the user already holds a license of the product                  |
//	| below_assigned        | 409    | removing licenses would leave fewer purchased than assigned      |
//	| conflict              | 409    | other writers kept changing the aggregate; retry (Retry-After)   |
//	| self_service_allowed  | 409    | a request for a product users may buy themselves                 |
//	| own_request_process   | 409    | the org uses its own process: detail is its message, plus "link" |
//	| already_decided       | 409    | the request was approved, denied or expired already              |
//	| group_not_licensed    | 409    | fulfilling through a group licensed with no product              |
//	| share_already_answered| 409    | the share link was used already                                  |
//	| invalid_share_link    | 401    | a share link that is malformed or forged                         |
//	| share_link_expired    | 401    | a genuine share link past its expiry                             |
//	| unavailable           | 503    | timed out (e.g. ?after= not reached) or storage unavailable;     |
//	|                       |        | retry (Retry-After)                                              |
//	| internal              | 500    | anything else; detail carries the request id, the log the cause  |
func problemFor(err error) (status int, code, detail string) {
	var (
		api      *apiError
		invalid  *domain.ValidationError
		notFound *domain.NotFoundError
		tooLarge *http.MaxBytesError
	)
	if code, detail, ok := requestProblem(err); ok {
		return codeInfo[code].status, code, detail
	}
	switch {
	case errors.As(err, &api):
		code, detail = api.code, api.detail
	case errors.As(err, &tooLarge):
		code, detail = CodeBodyTooLarge, "the request body is larger than "+strconv.FormatInt(tooLarge.Limit, 10)+" bytes"
	case errors.As(err, &invalid):
		code, detail = CodeValidationFailed, invalid.Error()
	case errors.As(err, &notFound):
		code, detail = CodeNotFound, notFound.Error()
	case errors.Is(err, domain.ErrNoLicensesAvailable):
		code, detail = CodeNoLicensesAvailable, err.Error()
	case errors.Is(err, domain.ErrAlreadyExists):
		code, detail = CodeAlreadyExists, err.Error()
	case errors.Is(err, domain.ErrAlreadyAssigned):
		code, detail = CodeAlreadyAssigned, err.Error()
	case errors.Is(err, domain.ErrBelowAssigned):
		code, detail = CodeBelowAssigned, err.Error()
	case errors.Is(err, domain.ErrRolesNeedGlobalAdmin):
		code, detail = CodeForbidden, err.Error()
	case errors.Is(err, domain.ErrConcurrency):
		code, detail = CodeConflict, "other requests kept changing the same resource; retry"
	case errors.Is(err, domain.ErrOutcomeUnknown):
		code, detail = CodeOutcomeUnknown, "the event store did not confirm the write, which may or may not have been stored; "+
			"retry with the Seatflow-Command-Id of this answer as Idempotency-Key: it is applied at most once"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled), isTimeout(err),
		errors.Is(err, domain.ErrUnavailable):
		code, detail = CodeUnavailable, "the request timed out; retry"
	default:
		code, detail = CodeInternal, "internal error"
	}
	return codeInfo[code].status, code, detail
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// writeError answers err as a problem, with the headers its code calls for,
// and logs it when it is a server error.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, code, detail := problemFor(err)
	h := w.Header()
	switch code {
	case CodeUnauthorized:
		v := `Bearer realm="seatflow"`
		if api := (*apiError)(nil); errors.As(err, &api) && api.authErr {
			v += `, error="invalid_token"`
		}
		h.Set("WWW-Authenticate", v)
	case CodeMethodNotAllowed:
		if api := (*apiError)(nil); errors.As(err, &api) && api.allow != "" {
			h.Set("Allow", api.allow)
		}
	case CodeConflict, CodeUnavailable, CodeOutcomeUnknown:
		h.Set("Retry-After", "1")
	}
	if status >= 500 {
		rid := requestID(r.Context())
		if code == CodeInternal {
			detail += "; reference " + rid
		}
		level := slog.LevelError
		if status == http.StatusServiceUnavailable {
			level = slog.LevelWarn
			if r.Context().Err() != nil {
				level = slog.LevelDebug // the client went away
			}
		}
		s.log.LogAttrs(r.Context(), level, "request failed",
			slog.String("request_id", rid), slog.String("method", r.Method), slog.String("path", logPath(r)),
			slog.Int("status", status), slog.String("code", code), slog.Any("error", err))
	}
	writeProblem(w, Problem{Type: ProblemTypePrefix + code, Title: codeInfo[code].title, Status: status, Detail: detail, Code: code,
		Link: problemLink(err)})
}

func writeProblem(w http.ResponseWriter, p Problem) {
	b, err := json.Marshal(p)
	if err != nil { // cannot happen: only strings and an int
		b = []byte(`{"code":"internal"}`)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(p.Status)
	_, _ = w.Write(append(b, '\n'))
}
