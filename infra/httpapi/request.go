package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"regexp"
	"slices"

	"strconv"
	"strings"

	segjson "github.com/segmentio/encoding/json"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/infra/auth"
)

// Header names used by the API.
const (
	HeaderPosition       = "Seatflow-Position"
	HeaderIdempotencyKey = "Idempotency-Key"
	// HeaderCommandID names the command ID of every command answer.
	HeaderCommandID     = "Seatflow-Command-Id"
	HeaderCorrelationID = "X-Correlation-ID"
	HeaderRequestID     = "X-Request-ID"
)

// MaxBodyBytes bounds a request body; larger ones are answered 413.
const MaxBodyBytes = 1 << 20

// keyRE is the shape of Idempotency-Key, X-Correlation-ID and X-Request-ID.
var keyRE = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,128}$`)

// authenticate returns the claims of the request's bearer token or, when
// it has none and the console signs in, of its session cookie.
func (s *Server) authenticate(r *http.Request) (auth.Claims, error) {
	h := r.Header.Values("Authorization")
	if len(h) == 0 {
		if c, ok, err := s.authenticateSession(r); ok {
			return c, err
		}
		return auth.Claims{}, fail(CodeUnauthorized, "a bearer token is required (Authorization: Bearer <token>)")
	}
	scheme, token, ok := strings.Cut(h[0], " ")
	if len(h) != 1 || !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return auth.Claims{}, fail(CodeUnauthorized, "the Authorization header must be one \"Bearer <token>\"")
	}
	c, err := s.cfg.Tokens.Verify(strings.TrimSpace(token), s.cfg.Now())
	if err != nil {
		return auth.Claims{}, &apiError{code: CodeUnauthorized, detail: err.Error(), authErr: true}
	}
	return c, nil
}

// meta builds the event metadata of a command request: the actor is the
// token's subject, the command ID the Idempotency-Key (or a new ID) and the
// correlation ID X-Correlation-ID when given.
func (s *Server) meta(r *http.Request, c auth.Claims) (events.Meta, error) {
	key, err := optionalKey(r, HeaderIdempotencyKey)
	if err != nil {
		return events.Meta{}, err
	}
	corr, err := optionalKey(r, HeaderCorrelationID)
	if err != nil {
		return events.Meta{}, err
	}
	if id, ok := r.Context().Value(commandIDKey{}).(string); ok {
		key = id // the one the answer names (Seatflow-Command-Id)
	}
	if key == "" {
		key = s.cfg.NewID()
	}
	return events.Meta{Actor: c.Subject, CommandID: key, CorrelationID: corr}, nil
}

// checkIdempotencyKey refuses a command whose Idempotency-Key was first used
// with another request (method, path or body): repeating a key must mean
// repeating the request, or a client bug would silently do nothing. The
// body is read here, at most MaxBodyBytes, and handed on unchanged.
func (s *Server) checkIdempotencyKey(w http.ResponseWriter, r *http.Request, c auth.Claims) (*http.Request, error) {
	if s.cfg.Idempotency == nil || r.Method == http.MethodGet || r.Method == http.MethodHead {
		return r, nil
	}
	key, err := optionalKey(r, HeaderIdempotencyKey)
	if err != nil || key == "" {
		return r, nil // a malformed key is refused by the handler; none: nothing to check
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return r, fail(CodeBodyTooLarge, fmt.Sprintf("the request body is larger than %d bytes", MaxBodyBytes))
		}
		return r, &apiError{code: CodeInvalidJSON, detail: "the request body could not be read", cause: err}
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	h := sha256.New()
	fmt.Fprintf(h, "%s %s\n", r.Method, r.URL.Path)
	h.Write(body)
	same, first, err := s.cfg.Idempotency.Remember(r.Context(), c.Tenant, key, hex.EncodeToString(h.Sum(nil)))
	if err != nil {
		return r, fmt.Errorf("%w: %w", domain.ErrUnavailable, err)
	}
	if !same {
		return r, fail(CodeIdempotencyKeyReused, fmt.Sprintf("the Idempotency-Key %q was first used with a different request; use a new key for a new request", key))
	}
	// The domain keeps a short window of command ids in memory; a repeat
	// of a request first seen longer ago is looked up in the store.
	return r.WithContext(domain.WithCommandIssued(r.Context(), first)), nil
}

// optionalKey returns header name's value, "" when absent, or a validation
// error when it is present but not 1-128 of [A-Za-z0-9_.:-] (or repeated).
func optionalKey(r *http.Request, name string) (string, error) {
	vs := r.Header.Values(name)
	switch {
	case len(vs) == 0:
		return "", nil
	case len(vs) == 1 && keyRE.MatchString(vs[0]):
		return vs[0], nil
	default:
		return "", invalidField(name, "must be one value of 1 to 128 letters, digits, '_', '.', ':' or '-'")
	}
}

// pathID returns the path value name after checking it can be an id.
func pathID(r *http.Request, name, field string) (string, error) {
	v := r.PathValue(name)
	if !events.ValidID(v) {
		return "", invalidField(field, fmt.Sprintf("%q is not a valid id: %s", v, idRule))
	}
	return v, nil
}

// waitAfter waits, up to WaitTimeout, until the read models have applied the
// position named by ?after=, if any.
func (s *Server) waitAfter(r *http.Request) error {
	vs, ok := r.URL.Query()["after"]
	if !ok {
		return nil
	}
	if len(vs) != 1 {
		return invalidField("after", "must be given once")
	}
	pos, err := strconv.ParseUint(vs[0], 10, 64)
	if err != nil {
		return invalidField("after", fmt.Sprintf("%q is not a stream position (a non-negative integer)", vs[0]))
	}
	if pos == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.WaitTimeout)
	defer cancel()
	if err := s.cfg.Progress.WaitFor(ctx, pos); err != nil {
		return &apiError{code: CodeUnavailable, cause: err,
			detail: fmt.Sprintf("the read models have not reached position %d within %s; retry", pos, s.cfg.WaitTimeout)}
	}
	return nil
}

// settle waits, up to WaitTimeout, until the read models have applied
// position, so the command's answer, and the client's next read (a SCIM
// filter right after a create), see the write. The error is ctx's when they
// have not.
func (s *Server) settle(ctx context.Context, position uint64) error {
	if position == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.WaitTimeout)
	defer cancel()
	return s.cfg.Progress.WaitFor(ctx, position)
}

// decode reads the request body, at most MaxBodyBytes, as exactly one JSON
// object into dst, a pointer to a struct whose fields all have json tags.
// Keys must match the tags exactly (encoding/json alone would accept
// "Name" for "name"); unknown keys, wrong types, trailing data and an empty
// or non-object body are invalid_json.
func decode(w http.ResponseWriter, r *http.Request, dst any) error {
	body, err := readBody(w, r)
	if err != nil {
		return err
	}
	return decodeBody(body, dst)
}

// decodeBody is decode's work on a body read whole.
func decodeBody(body []byte, dst any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return fail(CodeInvalidJSON, "the request body is empty; it must be a JSON object")
	}
	if err := noDuplicateKeys(body); err != nil {
		return err
	}
	// A well-formed body decodes in one pass, with keys matching the tags
	// exactly. Anything else takes decodeStd, which says in encoding/json's
	// words what is wrong.
	if b := bytes.TrimSpace(body); b[0] == '{' {
		rest, err := segjson.Parse(b, dst, segjson.DisallowUnknownFields|segjson.DontMatchCaseInsensitiveStructFields)
		if err == nil && len(rest) == 0 {
			return nil
		}
	}
	return decodeStd(body, dst)
}

// decodeStd decodes a body without duplicate keys with encoding/json.
func decodeStd(body []byte, dst any) error {
	var keys map[string]json.RawMessage
	if err := strictUnmarshal(body, &keys); err != nil {
		return err
	}
	if keys == nil {
		return fail(CodeInvalidJSON, "the request body must be a JSON object, not null")
	}
	allowed := jsonFields(dst)
	for k := range keys {
		if !allowed[k] {
			return fail(CodeInvalidJSON, fmt.Sprintf("unknown field %q", k))
		}
	}
	return strictUnmarshal(body, dst)
}

// readBody reads the request body, at most MaxBodyBytes.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, fail(CodeBodyTooLarge, fmt.Sprintf("the request body is larger than %d bytes", MaxBodyBytes))
		}
		return nil, &apiError{code: CodeInvalidJSON, detail: "the request body could not be read", cause: err}
	}
	return body, nil
}

// noDuplicateKeys refuses a body in which an object, at any depth, names
// a key twice: encoding/json would silently keep the last, so two readers
// of the same request could disagree on what it asked for.
//
// It reads the body with segmentio/encoding/json's tokenizer, which does
// not allocate per token. A body with escapes (a key could be spelt two
// ways) or one the tokenizer refuses takes encoding/json's token reader,
// which also describes what is malformed.
func noDuplicateKeys(body []byte) error {
	if bytes.IndexByte(body, '\\') >= 0 {
		return noDuplicateKeysSlow(body)
	}
	type frame struct {
		object bool
		keys   []string        // the first keys of an object
		more   map[string]bool // and the rest, once there are many
	}
	var stack []frame
	t := segjson.NewTokenizer(body)
	for t.Next() {
		switch t.Delim {
		case '{', '[':
			stack = append(stack, frame{object: t.Delim == '{'})
			continue
		case '}', ']':
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			continue
		}
		if !t.IsKey || len(stack) == 0 || len(t.Value) < 2 {
			continue
		}
		top := &stack[len(stack)-1]
		key := string(t.Value[1 : len(t.Value)-1])
		if slices.Contains(top.keys, key) || top.more[key] {
			return fail(CodeInvalidJSON, fmt.Sprintf("duplicate key %q", key))
		}
		if len(top.keys) < 16 {
			top.keys = append(top.keys, key)
			continue
		}
		if top.more == nil {
			top.more = map[string]bool{}
		}
		top.more[key] = true
	}
	if t.Err != nil {
		return noDuplicateKeysSlow(body)
	}
	return nil
}

// noDuplicateKeysSlow is noDuplicateKeys with encoding/json's token reader.
func noDuplicateKeysSlow(body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	type frame struct {
		object bool
		keys   map[string]bool
		key    bool // the next string token in this object is a key
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fail(CodeInvalidJSON, describeJSONError(err))
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				if top != nil && top.object {
					top.key = true // the value ends; a key comes next
				}
				stack = append(stack, &frame{object: t == '{', keys: map[string]bool{}, key: t == '{'})
			case '}', ']':
				stack = stack[:len(stack)-1]
			}
		case string:
			if top != nil && top.object && top.key {
				if top.keys[t] {
					return fail(CodeInvalidJSON, fmt.Sprintf("duplicate key %q", t))
				}
				top.keys[t] = true
				top.key = false
				continue
			}
			if top != nil && top.object {
				top.key = true
			}
		default:
			if top != nil && top.object {
				top.key = true
			}
		}
	}
}

// strictUnmarshal decodes exactly one JSON value, rejecting unknown fields
// and trailing data.
func strictUnmarshal(body []byte, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return fail(CodeInvalidJSON, describeJSONError(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fail(CodeInvalidJSON, "unexpected data after the JSON object")
	}
	return nil
}

func describeJSONError(err error) string {
	var (
		syntax *json.SyntaxError
		typ    *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &syntax):
		return fmt.Sprintf("malformed JSON at byte %d: %v", syntax.Offset, syntax)
	case errors.As(err, &typ) && typ.Field != "":
		return fmt.Sprintf("field %q must be %s, not %s", typ.Field, jsonKind(typ.Type), typ.Value)
	case errors.As(err, &typ):
		return fmt.Sprintf("the request body must be a JSON object, not %s", typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "the JSON body ends too early"
	default:
		if msg, ok := strings.CutPrefix(err.Error(), "json: "); ok {
			return msg
		}
		return "malformed JSON"
	}
}

// jsonKind names the JSON type a Go type decodes from.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "an array of " + strings.TrimPrefix(strings.TrimPrefix(jsonKind(t.Elem()), "a "), "an ") + "s"
	default:
		return "an object"
	}
}

// jsonFields returns the json names of the fields of the struct dst points to.
func jsonFields(dst any) map[string]bool {
	t := reflect.TypeOf(dst).Elem()
	out := make(map[string]bool, t.NumField())
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name != "" && name != "-" {
			out[name] = true
		}
	}
	return out
}
