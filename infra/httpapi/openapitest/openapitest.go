// Package openapitest checks HTTP exchanges against docs/openapi.yaml, so that
// the shapes the document promises cannot drift from what the server does.
//
// It is imported by tests only: the HTTP harnesses of infra/httpapi and
// cmd/seatflow pass every exchange through Check. The document is loaded and
// compiled once per test binary.
package openapitest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	verrors "github.com/pb33f/libopenapi-validator/errors"
	"github.com/pb33f/libopenapi-validator/helpers"
)

// Exchange is one request and the answer to it, with both bodies read.
type Exchange struct {
	Method, Path string // Path may carry a query string
	ReqHeader    http.Header
	ReqBody      []byte
	Status       int
	ResHeader    http.Header
	ResBody      []byte
	// SkipRequest leaves the request unchecked: it is set for requests a
	// test sends malformed on purpose. The answer is always checked.
	SkipRequest bool
}

// RequestRefused reports whether status answers a request refused for its
// form or its caller (bad JSON or values, no or bad token, wrong role, too
// large, wrong method, a reused idempotency key). Tests send such requests
// malformed on purpose, so only the answer to them is checked.
func RequestRefused(status int) bool {
	switch status {
	case http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusMethodNotAllowed,
		http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity:
		return true
	}
	return false
}

var load = sync.OnceValues(func() (validator.Validator, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return nil, errors.New("locate docs/openapi.yaml: no caller information")
	}
	path := filepath.Join(filepath.Dir(file), "..", "..", "..", "docs", "openapi.yaml")
	spec, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read openapi document: %w", err)
	}
	doc, err := libopenapi.NewDocument(spec)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	// The session cookie is declared as the security scheme "session",
	// which strict mode's cookie check does not consult (it knows only
	// cookie parameters). Browsers add the fetch metadata headers to every
	// request, as they add Origin (ignored by default).
	v, errs := validator.NewValidator(doc, config.WithFormatAssertions(), config.WithStrictMode(),
		config.WithStrictIgnoredHeadersExtra("x-content-type-options", "content-security-policy", "referrer-policy", "x-frame-options",
			"sec-fetch-site", "sec-fetch-mode", "sec-fetch-dest", "sec-fetch-user"),
		config.WithStrictIgnorePaths("$.cookies.seatflow-session", "$.cookies.__Host-seatflow-session"))
	if len(errs) > 0 {
		return nil, fmt.Errorf("build validator for %s: %w", path, errors.Join(errs...))
	}
	if ok, verrs := v.ValidateDocument(); !ok {
		return nil, fmt.Errorf("%s is not a valid OpenAPI document: %s", path, describe(verrs))
	}
	return v, nil
})

// Check validates x against docs/openapi.yaml: the answer's status must be
// documented for the route, its content type and body must match, and so must
// the response headers the document declares; unless x.SkipRequest, so must
// the request's parameters, headers and body. The error names the route,
// the status and the validator's messages.
func Check(x Exchange) error {
	if x.Method == http.MethodHead {
		// net/http answers HEAD for every GET route by itself; the
		// document describes the GET.
		return nil
	}
	v, err := load()
	if err != nil {
		return err
	}
	req, err := http.NewRequest(x.Method, "http://seatflow.test"+x.Path, bytes.NewReader(x.ReqBody))
	if err != nil {
		return fmt.Errorf("openapi: %s %s: %w", x.Method, x.Path, err)
	}
	req.Header = x.ReqHeader.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	res := &http.Response{
		StatusCode: x.Status, Header: x.ResHeader.Clone(), Request: req,
		Body: io.NopCloser(bytes.NewReader(x.ResBody)),
	}
	var verrs []*verrors.ValidationError
	if !x.SkipRequest {
		if ok, errs := v.ValidateHttpRequestSync(req); !ok {
			verrs = append(verrs, errs...)
		}
		req.Body = io.NopCloser(bytes.NewReader(x.ReqBody))
	}
	if ok, errs := v.ValidateHttpResponse(req, res); !ok {
		verrs = append(verrs, errs...)
	}
	if len(verrs) == 0 || undocumentedRefused(x.Status, verrs) {
		return nil
	}
	route := x.Path
	if i := strings.IndexByte(route, '?'); i >= 0 {
		route = route[:i]
	}
	for _, e := range verrs {
		if e.SpecPath != "" {
			route = e.SpecPath
			break
		}
	}
	return fmt.Errorf("openapi: %s %s answered %d, which docs/openapi.yaml does not allow: %s; response body %.300s",
		x.Method, route, x.Status, describe(verrs), x.ResBody)
}

// describe joins the validator's messages, with each schema failure's place.
func describe(errs []*verrors.ValidationError) string {
	var b strings.Builder
	for i, e := range errs {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(e.Message)
		if e.Reason != "" {
			b.WriteString(" (" + e.Reason + ")")
		}
		for _, f := range e.SchemaValidationErrors {
			fmt.Fprintf(&b, " [%s: %s]", f.FieldPath, f.Reason)
		}
	}
	return b.String()
}

// undocumentedRefused reports whether the exchange asked for a route or
// method the document does not have and the server refused it as unknown
// (404 not_found, 405 method_not_allowed): that is the document's promise
// kept, not broken.
func undocumentedRefused(status int, errs []*verrors.ValidationError) bool {
	if status != http.StatusNotFound && status != http.StatusMethodNotAllowed {
		return false
	}
	for _, e := range errs {
		if e.IsPathMissingError() || e.ValidationSubType == helpers.ValidationMissingOperation {
			return true
		}
	}
	return false
}
