package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/seatflow/seatflow/infra/auth"
)

// Server is the HTTP API. It implements http.Handler.
type Server struct {
	cfg      Config
	log      *slog.Logger
	mux      *http.ServeMux
	patterns []string
	// console is the organisation sign-in; nil when Config.Console is.
	console *console
}

var _ http.Handler = (*Server)(nil)

// New returns a Server for cfg after filling its defaults and validating it.
func New(cfg Config) (*Server, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: cfg.Logger.With("component", "httpapi"), mux: http.NewServeMux()}
	if cfg.Console != nil {
		c, err := newConsole(*cfg.Console, cfg.Tokens.MaxTTL())
		if err != nil {
			return nil, err
		}
		s.console = c
	}
	s.routes()
	if err := s.scimRoutes(); err != nil {
		return nil, err
	}
	return s, nil
}

// Who may call a route.
var (
	licenseAdmins = roles(auth.RoleGlobalAdmin, auth.RoleLicenseAdmin)
	assigners     = roles(auth.RoleGlobalAdmin, auth.RoleLicenseAdmin, auth.RoleUserAdmin)
	anyAdmin      = roles(auth.AdminRoles...)
)

func (s *Server) routes() {
	s.route("GET /healthz", http.HandlerFunc(s.healthz))
	s.route("GET /readyz", http.HandlerFunc(s.readyz))
	if s.cfg.Metrics != nil {
		s.route("GET /metrics", s.cfg.Metrics)
	}

	s.handle("POST /v1/products", licenseAdmins, s.addProduct)
	s.handle("GET /v1/products", anyAdmin, s.listProducts)
	s.handle("GET /v1/products/{id}", anyAdmin, s.getProduct)
	s.handle("POST /v1/products/{id}/licenses", licenseAdmins, s.changeLicenses)
	s.handle("PUT /v1/products/{id}/self-service", licenseAdmins, s.setSelfService)
	s.handle("POST /v1/products/{id}/assignments", assigners, s.assign)
	s.handle("GET /v1/products/{id}/assignments", anyAdmin, s.productHolders)
	s.handle("DELETE /v1/products/{id}/assignments/{user}", assigners, s.unassign)
	s.handle("GET /v1/users/{id}/licenses", access{
		roles: auth.AdminRoles,
		self:  "id",
		why:   "only admins or the user themself may read a user's licenses",
	}, s.userLicenses)
	s.autoClaimRoutes()
	s.requestRoutes()
	s.historyRoutes()
	s.foresightRoutes()
	s.identityRoutes()
	s.consoleRoutes()
	s.sessionRoutes()
}

// access says who may call a route: holders of any of roles, or, when self
// names a path value, a token with role user whose subject equals it.
type access struct {
	roles []string
	self  string
	why   string
}

func roles(rs ...string) access {
	return access{roles: rs, why: "this needs one of the roles " + strings.Join(rs, ", ")}
}

func (a access) allows(c auth.Claims, r *http.Request) bool {
	if c.HasRole(a.roles...) {
		return true
	}
	return a.self != "" && c.HasRole(auth.RoleUser) && c.Subject == r.PathValue(a.self)
}

// handlerFunc serves an authenticated, authorised request. A returned error
// is answered by writeError; a handler that returns nil has answered.
type handlerFunc func(w http.ResponseWriter, r *http.Request, c auth.Claims) error

// handle registers h under pattern behind authentication and the access
// rule.
func (s *Server) handle(pattern string, a access, h handlerFunc) {
	s.route(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = s.withCommandID(w, r)
		c, err := s.authenticate(r)
		if err == nil && !a.allows(c, r) {
			err = fail(CodeForbidden, a.why)
		}
		if err == nil {
			r, err = s.checkIdempotencyKey(w, r, c)
		}
		if err == nil {
			err = h(w, r, c)
		}
		if err != nil {
			s.writeError(w, r, err)
		}
	}))
}

// withCommandID gives a command (any method but GET and HEAD) its command
// ID, the Idempotency-Key or a new one, and names it in the answer, success
// or error, so a client that got no clear answer can retry safely.
func (s *Server) withCommandID(w http.ResponseWriter, r *http.Request) *http.Request {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return r
	}
	id, err := optionalKey(r, HeaderIdempotencyKey)
	if err != nil || id == "" {
		id = s.cfg.NewID()
	}
	w.Header().Set(HeaderCommandID, id)
	return r.WithContext(context.WithValue(r.Context(), commandIDKey{}, id))
}

// route registers h under pattern and remembers the pattern for Routes,
// written as OpenAPI writes paths ("GET /{$}" is "GET /").
func (s *Server) route(pattern string, h http.Handler) {
	s.patterns = append(s.patterns, strings.TrimSuffix(pattern, "{$}"))
	s.mux.Handle(pattern, h)
}

// Routes lists every registered route pattern ("METHOD /path/{param}"), in
// registration order. docs/openapi.yaml is checked against it.
func (s *Server) Routes() []string { return slices.Clone(s.patterns) }

// ServeHTTP implements http.Handler: it sets the common headers, gives the
// request an id, recovers panics, logs the request at Debug, and routes it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rid, err := optionalKey(r, HeaderRequestID)
	if err != nil || rid == "" {
		rid = s.cfg.NewID()
	}
	r = r.WithContext(context.WithValue(r.Context(), requestIDKey{}, rid))
	sw := &statusWriter{ResponseWriter: w}
	sw.Header().Set("X-Content-Type-Options", "nosniff")
	sw.Header().Set(HeaderRequestID, rid)

	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.LogAttrs(r.Context(), slog.LevelError, "handler panicked",
				slog.String("request_id", rid), slog.String("method", r.Method), slog.String("path", logPath(r)),
				slog.Any("panic", v))
			if sw.status == 0 {
				s.writeError(sw, r, fmt.Errorf("panic: %v", v))
			}
		}
		if s.cfg.Observe != nil {
			status := sw.status
			if status == 0 {
				status = http.StatusOK
			}
			s.cfg.Observe(r.Method, r.Pattern, status, time.Since(start))
		}
		if s.log.Enabled(r.Context(), slog.LevelDebug) {
			s.log.LogAttrs(r.Context(), slog.LevelDebug, "http request",
				slog.String("request_id", rid), slog.String("method", r.Method), slog.String("path", logPath(r)),
				slog.Int("status", sw.status), slog.Int64("bytes", sw.bytes), slog.Duration("duration", time.Since(start)))
		}
	}()

	if h, pattern := s.mux.Handler(r); pattern == "" {
		s.noRoute(sw, r, h)
		return
	}
	s.mux.ServeHTTP(sw, r)
}

// noRoute answers a request no pattern matches. The mux's own handler knows
// whether the path exists for another method (405, with Allow) or not at all
// (404); it is run into a recorder and its answer restated as a problem.
func (s *Server) noRoute(w http.ResponseWriter, r *http.Request, h http.Handler) {
	rec := &recorder{header: http.Header{}}
	h.ServeHTTP(rec, r)
	if rec.status == http.StatusMethodNotAllowed {
		s.writeError(w, r, &apiError{code: CodeMethodNotAllowed, allow: rec.header.Get("Allow"),
			detail: fmt.Sprintf("%s is not allowed on %s (allowed: %s)", r.Method, logPath(r), rec.header.Get("Allow"))})
		return
	}
	s.writeError(w, r, fail(CodeNotFound, fmt.Sprintf("no route %s %s", r.Method, logPath(r))))
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if !s.cfg.Progress.Ready() {
		s.writeError(w, r, fail(CodeUnavailable, "the read models are catching up with the event stream"))
		return
	}
	if s.cfg.Health != nil {
		if err := s.cfg.Health(); err != nil {
			s.writeError(w, r, fail(CodeUnavailable, err.Error()))
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// writeJSON answers v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
	return nil
}

// writePositioned answers a command's result: v with status, and position in
// the Seatflow-Position header.
func writePositioned(w http.ResponseWriter, status int, position uint64, v any) error {
	w.Header().Set(HeaderPosition, strconv.FormatUint(position, 10))
	return writeJSON(w, status, v)
}

type requestIDKey struct{}

// commandIDKey holds the command ID a command route gave its request.
type commandIDKey struct{}

func requestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// statusWriter records what was answered, for the request log and so a
// panic after the header went out is not answered twice.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// recorder captures the mux's not-found or method-not-allowed answer.
type recorder struct {
	header http.Header
	status int
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(b []byte) (int, error) { return len(b), nil }
func (r *recorder) WriteHeader(status int)      { r.status = status }
