package httpapi

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/infra/auth"
)

// The console's organisation sign-in (Config.Console): GET /console/login
// sends the browser to the identity provider, GET /console/callback takes
// it back and sets the session cookie, GET /console/session tells the
// console who is signed in (and its CSRF token), POST /console/logout ends
// the session. A session authenticates any API request a bearer token
// could, with the same principal (tenant, user, roles); a request that
// changes anything with it must carry the session's CSRF token in
// Seatflow-CSRF-Token and, from a browser, come from this origin. Without
// Config.Console none of this exists: the routes answer 404 and a cookie
// is no credential.

// SignIn runs an organisation sign-in with an identity provider
// (oidc.Client).
type SignIn interface {
	// Begin returns the provider's authorization URL and the state to keep
	// until the browser returns.
	Begin(ctx context.Context) (authURL string, st auth.LoginState, err error)
	// Finish redeems code and returns the signed-in principal. Errors wrap
	// auth.ErrUnmapped when the provider vouched for someone who is no
	// Seatflow user.
	Finish(ctx context.Context, code string, st auth.LoginState) (auth.Claims, error)
}

// ConsoleConfig turns on the console's organisation sign-in.
type ConsoleConfig struct {
	// SignIn talks to the identity provider. Required.
	SignIn SignIn
	// SessionTTL is how long a session lasts; it is not extended by use.
	// Default DefaultSessionTTL; at most the tokens' maximum ttl.
	SessionTTL time.Duration
	// Secure marks the cookies Secure and names the session cookie with
	// the __Host- prefix. Set it when browsers reach the service over
	// https (its public URL is https), also behind a proxy that ends TLS.
	Secure bool
	// Revoke, if set, records a signed-out session's jti with the revoked
	// tokens and returns once this instance refuses it; without it,
	// signing out only clears the cookie and the session stays valid until
	// its expiry for whoever copied it.
	Revoke func(ctx context.Context, c auth.Claims) error
	// TrustedOrigins are origins (scheme://host[:port]) besides the
	// request's own Host from which a browser may send cookie-authenticated
	// writes: the public URL's, when a proxy rewrites Host.
	TrustedOrigins []string
}

// DefaultSessionTTL is ConsoleConfig.SessionTTL's default: a working day.
const DefaultSessionTTL = 8 * time.Hour

// LoginTTL bounds a sign-in in progress: the time from the click to the
// provider's return.
const LoginTTL = 10 * time.Minute

// HeaderCSRFToken carries the session's CSRF token on cookie-authenticated
// writes.
const HeaderCSRFToken = "Seatflow-CSRF-Token"

// Cookie names. Over https the session cookie has the __Host- prefix (the
// browser then keeps it only when Secure, for this host, on path /), and
// the sign-in state the __Secure- prefix.
const (
	SessionCookie       = "seatflow-session"
	SecureSessionCookie = "__Host-seatflow-session"
	LoginCookie         = "seatflow-login"
	SecureLoginCookie   = "__Secure-seatflow-login"
)

// Reasons a sign-in failed, in /console?signin_error=<reason>; the console
// explains each, the log has the details.
const (
	SignInDenied      = "denied"      // the provider answered with an error (the person cancelled, or is not assigned the app)
	SignInExpired     = "expired"     // no, an expired or a foreign sign-in state: start again
	SignInProvider    = "provider"    // the code exchange or the ID token failed
	SignInNotMapped   = "not_mapped"  // the provider vouched for someone who is no Seatflow user
	SignInUnavailable = "unavailable" // the provider could not be reached
)

const callbackPath = "/console/callback"

// sessionInfo is GET /console/session's answer.
type sessionInfo struct {
	SignedIn  bool       `json:"signed_in"`
	LoginURL  string     `json:"login_url"`
	Tenant    string     `json:"tenant,omitempty"`
	UserID    string     `json:"user_id,omitempty"`
	Roles     []string   `json:"roles,omitempty"`
	CSRFToken string     `json:"csrf_token,omitempty"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// console is the sign-in's own state, made once in New.
type console struct {
	cfg         ConsoleConfig
	crossOrigin *http.CrossOriginProtection
	sessionName string
	loginName   string
}

func newConsole(cfg ConsoleConfig, maxTTL time.Duration) (*console, error) {
	if cfg.SignIn == nil {
		return nil, errors.New("httpapi: Config.Console.SignIn is required")
	}
	if cfg.SessionTTL == 0 {
		cfg.SessionTTL = DefaultSessionTTL
	}
	if cfg.SessionTTL < 0 || cfg.SessionTTL > maxTTL {
		return nil, fmt.Errorf("httpapi: Config.Console.SessionTTL %v must be positive and at most the tokens' maximum ttl %v", cfg.SessionTTL, maxTTL)
	}
	cop := http.NewCrossOriginProtection()
	for _, o := range cfg.TrustedOrigins {
		if err := cop.AddTrustedOrigin(o); err != nil {
			return nil, fmt.Errorf("httpapi: Config.Console.TrustedOrigins: %w", err)
		}
	}
	c := &console{cfg: cfg, crossOrigin: cop, sessionName: SessionCookie, loginName: LoginCookie}
	if cfg.Secure {
		c.sessionName, c.loginName = SecureSessionCookie, SecureLoginCookie
	}
	return c, nil
}

// sessionRoutes registers the sign-in routes when the console has one.
func (s *Server) sessionRoutes() {
	if s.console == nil {
		return
	}
	s.route("GET /console/login", http.HandlerFunc(s.consoleLogin))
	s.route("GET "+callbackPath, http.HandlerFunc(s.consoleCallback))
	s.route("GET /console/session", http.HandlerFunc(s.consoleSession))
	s.route("POST /console/logout", http.HandlerFunc(s.consoleLogout))
}

// cookie makes one of the console's cookies; maxAge 0 deletes it.
func (c *console) cookie(name, value, path string, maxAge time.Duration, sameSite http.SameSite) *http.Cookie {
	ck := &http.Cookie{Name: name, Value: value, Path: path, HttpOnly: true, Secure: c.cfg.Secure, SameSite: sameSite,
		MaxAge: int(maxAge / time.Second)}
	if maxAge <= 0 {
		ck.MaxAge = -1
	}
	return ck
}

// sessionCookie sets (maxAge > 0) or deletes the session cookie. It is
// SameSite=Strict: no other site can make the browser send it, not even by
// a link; the console reads its data with fetch from its own page, which
// always sends it.
func (c *console) sessionCookie(w http.ResponseWriter, value string, maxAge time.Duration) {
	http.SetCookie(w, c.cookie(c.sessionName, value, "/", maxAge, http.SameSiteStrictMode))
}

// loginCookie sets or deletes the sign-in state. It is SameSite=Lax: the
// provider's redirect back is a cross-site top-level GET, which Lax
// cookies survive.
func (c *console) loginCookie(w http.ResponseWriter, value string, maxAge time.Duration) {
	http.SetCookie(w, c.cookie(c.loginName, value, callbackPath, maxAge, http.SameSiteLaxMode))
}

// signInFailed sends the browser back to the console with the reason, and
// logs the details.
func (s *Server) signInFailed(w http.ResponseWriter, r *http.Request, reason string, err error) {
	level := slog.LevelInfo
	if reason == SignInUnavailable || reason == SignInProvider {
		level = slog.LevelWarn
	}
	s.log.LogAttrs(r.Context(), level, "console sign-in failed", slog.String("request_id", requestID(r.Context())),
		slog.String("reason", reason), slog.Any("error", err))
	http.Redirect(w, r, "/console?signin_error="+reason, http.StatusSeeOther)
}

// consoleLogin sends the browser to the identity provider, keeping the
// sign-in's state, nonce and PKCE verifier in a signed cookie.
func (s *Server) consoleLogin(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	authURL, st, err := s.console.cfg.SignIn.Begin(r.Context())
	if err != nil {
		s.signInFailed(w, r, SignInUnavailable, err)
		return
	}
	tok, err := s.cfg.Tokens.IssueLogin(st, LoginTTL, s.cfg.Now())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.console.loginCookie(w, tok, LoginTTL)
	http.Redirect(w, r, authURL, http.StatusSeeOther)
}

// consoleCallback ends the sign-in: the state the provider echoes must be
// the one this browser's cookie holds, the code is redeemed with its
// verifier and the ID token must carry its nonce; then the session cookie
// is set and the browser goes to the console.
func (s *Server) consoleCallback(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	s.console.loginCookie(w, "", 0) // one use, whatever happens
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		s.signInFailed(w, r, SignInDenied, fmt.Errorf("the identity provider answered %.100q: %.300q", e, q.Get("error_description")))
		return
	}
	ck, err := r.Cookie(s.console.loginName)
	if err != nil {
		s.signInFailed(w, r, SignInExpired, errors.New("no sign-in state cookie: the sign-in was not started in this browser, or took longer than 10 minutes"))
		return
	}
	st, err := s.cfg.Tokens.VerifyLogin(ck.Value, s.cfg.Now())
	if err != nil {
		s.signInFailed(w, r, SignInExpired, err)
		return
	}
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(st.State)) != 1 {
		s.signInFailed(w, r, SignInExpired, errors.New("the state the provider returned is not this browser's sign-in's"))
		return
	}
	code := q.Get("code")
	if code == "" {
		s.signInFailed(w, r, SignInProvider, errors.New("the provider returned no code"))
		return
	}
	c, err := s.console.cfg.SignIn.Finish(r.Context(), code, st)
	if err != nil {
		reason := SignInProvider
		if errors.Is(err, auth.ErrUnmapped) {
			reason = SignInNotMapped
		}
		s.signInFailed(w, r, reason, err)
		return
	}
	tok, sess, err := s.cfg.Tokens.IssueSession(c, s.console.cfg.SessionTTL, s.cfg.Now())
	if err != nil {
		s.signInFailed(w, r, SignInNotMapped, err)
		return
	}
	s.console.sessionCookie(w, tok, s.console.cfg.SessionTTL)
	s.log.LogAttrs(r.Context(), slog.LevelInfo, "console sign-in", slog.String("tenant", sess.Tenant),
		slog.String("user", sess.Subject), slog.Any("roles", sess.Roles), slog.String("jti", sess.ID),
		slog.Time("expires_at", sess.ExpiresAt))
	http.Redirect(w, r, "/console", http.StatusSeeOther)
}

// session returns the request's session, ok false when it has no session
// cookie. A cookie that does not verify is an unauthorized error.
func (s *Server) session(r *http.Request) (auth.Session, bool, error) {
	ck, err := r.Cookie(s.console.sessionName)
	if err != nil {
		return auth.Session{}, false, nil
	}
	sess, err := s.cfg.Tokens.VerifySession(ck.Value, s.cfg.Now())
	if err != nil {
		return auth.Session{}, true, &apiError{code: CodeUnauthorized, authErr: true,
			detail: "the session cookie is not valid (" + err.Error() + "); sign in again"}
	}
	return sess, true, nil
}

// authenticateSession authenticates r by its session cookie, when the
// console signs in and the request has one: for a write, only with the
// session's CSRF token and not from a page of another origin.
func (s *Server) authenticateSession(r *http.Request) (auth.Claims, bool, error) {
	if s.console == nil {
		return auth.Claims{}, false, nil
	}
	sess, ok, err := s.session(r)
	if !ok || err != nil {
		return auth.Claims{}, ok, err
	}
	if err := s.console.checkWrite(r, sess); err != nil {
		return auth.Claims{}, true, err
	}
	return sess.Claims, true, nil
}

// checkWrite refuses a cookie-authenticated write that lacks the session's
// CSRF token or that a browser sent from a page of another origin
// (net/http's CrossOriginProtection, by Sec-Fetch-Site or Origin). Reads
// pass: they change nothing, and SameSite=Strict keeps the cookie off
// other sites' requests.
func (c *console) checkWrite(r *http.Request, sess auth.Session) error {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return nil
	}
	if err := c.crossOrigin.Check(r); err != nil {
		return fail(CodeInvalidCSRFToken, "a write with the session cookie must come from this origin's pages: "+err.Error())
	}
	if err := sess.CheckCSRF(r.Header.Get(HeaderCSRFToken)); err != nil {
		return fail(CodeInvalidCSRFToken, "a write with the session cookie must carry the session's CSRF token in "+HeaderCSRFToken+
			" (GET /console/session gives it)")
	}
	return nil
}

// consoleSession answers who the session cookie signs in: the console's
// first call, which also tells it that organisation sign-in is on.
func (s *Server) consoleSession(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	sess, ok, err := s.session(r)
	if err != nil {
		s.console.sessionCookie(w, "", 0)
		s.writeError(w, r, err)
		return
	}
	info := sessionInfo{SignedIn: ok, LoginURL: "/console/login"}
	if ok {
		exp := sess.ExpiresAt
		info.Tenant, info.UserID, info.Roles, info.CSRFToken, info.ExpiresAt = sess.Tenant, sess.Subject, sess.Roles, sess.CSRF, &exp
	}
	_ = writeJSON(w, http.StatusOK, info)
}

// consoleLogout ends the session: its jti is revoked (every instance
// refuses it from then on) and the cookie is cleared. Without a valid
// session there is nothing to revoke; the cookie is cleared all the same.
func (s *Server) consoleLogout(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	sess, ok, err := s.session(r)
	if ok && err == nil {
		if err := s.console.checkWrite(r, sess); err != nil {
			s.writeError(w, r, err)
			return
		}
		if s.console.cfg.Revoke != nil {
			// When the revocation is not stored the cookie stays, so
			// that signing out again can retry it.
			if err := s.console.cfg.Revoke(r.Context(), sess.Claims); err != nil {
				s.writeError(w, r, fmt.Errorf("%w: revoke session %s: %w", domain.ErrUnavailable, sess.ID, err))
				return
			}
		}
		s.log.LogAttrs(r.Context(), slog.LevelInfo, "console sign-out", slog.String("tenant", sess.Tenant),
			slog.String("user", sess.Subject), slog.String("jti", sess.ID))
	}
	s.console.sessionCookie(w, "", 0)
	w.WriteHeader(http.StatusNoContent)
}
