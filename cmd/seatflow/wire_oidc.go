package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/seatflow/seatflow/infra/auth"
	"github.com/seatflow/seatflow/infra/httpapi"
	"github.com/seatflow/seatflow/infra/oidc"
	"github.com/seatflow/seatflow/infra/revocation"
	"github.com/seatflow/seatflow/projections"
)

// oidcFlags are serve's organisation sign-in settings for the console.
type oidcFlags struct {
	Issuer       string
	ClientID     string
	ClientSecret string
	Scopes       string
	Tenant       string
	TenantClaim  string
	UserClaim    string
	RolesClaim   string
	RoleMap      string
	SessionTTL   time.Duration
}

// bindOIDCFlags adds the organisation sign-in flags to serve's flag set.
func bindOIDCFlags(f *flags, c *oidcFlags) {
	f.string(&c.Issuer, "oidc-issuer", "", "OpenID Connect issuer URL of the organisation's identity provider: turns on \"Sign in with your organisation\" in the console")
	f.string(&c.ClientID, "oidc-client-id", "", "with --oidc-issuer: the application's client id at the provider")
	f.string(&c.ClientSecret, "oidc-client-secret", "", "with --oidc-issuer: the application's client secret (empty for a public client; prefer the environment variable)")
	f.string(&c.Scopes, "oidc-scopes", strings.Join(oidc.DefaultScopes, ","), "with --oidc-issuer: comma-separated scopes, openid among them (Okta: add groups)")
	f.string(&c.Tenant, "oidc-tenant", "", "with --oidc-issuer: the tenant everyone who signs in belongs to")
	f.string(&c.TenantClaim, "oidc-tenant-claim", "", "with --oidc-issuer, instead of --oidc-tenant: the ID token claim naming the tenant")
	f.string(&c.UserClaim, "oidc-user-claim", oidc.DefaultUserClaim, "with --oidc-issuer: the ID token claim holding the user id (an e-mail address is looked up in the directory)")
	f.string(&c.RolesClaim, "oidc-roles-claim", oidc.DefaultRolesClaim, "with --oidc-issuer: the ID token claim listing groups or app roles")
	f.string(&c.RoleMap, "oidc-role-map", "", "with --oidc-issuer: value=role,... mapping values of the roles claim to global-admin, user-admin or license-admin (everyone is a user)")
	f.duration(&c.SessionTTL, "oidc-session-ttl", httpapi.DefaultSessionTTL, "with --oidc-issuer: how long a console session lasts (at most --token-max-ttl)")
}

// on reports whether organisation sign-in is configured.
func (c oidcFlags) on() bool { return c.Issuer != "" }

// publicBase is the base URL browsers reach the service at: --public-url,
// or else http://<the HTTP listener's address>.
func publicBase(publicURL, httpAddr string) string {
	if publicURL != "" {
		return strings.TrimSuffix(publicURL, "/")
	}
	return "http://" + httpAddr
}

// client builds the OIDC client for the service reached at base.
func (c oidcFlags) client(base string, dir oidc.Directory) (*oidc.Client, error) {
	m := oidc.Mapping{Tenant: c.Tenant, TenantClaim: c.TenantClaim, UserClaim: c.UserClaim, RolesClaim: c.RolesClaim}
	var errs []error
	if c.RoleMap != "" {
		rm, err := oidc.ParseRoleMap(c.RoleMap)
		if err != nil {
			errs = append(errs, fmt.Errorf("--oidc-role-map: %w", err))
		}
		m.RoleMap = rm
	}
	cl, err := oidc.New(oidc.Config{Issuer: c.Issuer, ClientID: c.ClientID, ClientSecret: c.ClientSecret,
		RedirectURL: base + "/console/callback", Scopes: splitList(c.Scopes), Mapping: m, Directory: dir})
	if err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("--oidc-*: %s", strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	return cl, nil
}

// validate checks the sign-in settings against the service's public URL
// (--public-url, else --http) and the tokens' maximum ttl.
func (c oidcFlags) validate(publicURL, httpAddr string, maxTTL time.Duration) error {
	if !c.on() {
		if c.ClientID != "" || c.ClientSecret != "" || c.Tenant != "" || c.TenantClaim != "" || c.RoleMap != "" {
			return errors.New("--oidc-client-id, --oidc-client-secret, --oidc-tenant, --oidc-tenant-claim and --oidc-role-map need --oidc-issuer")
		}
		return nil
	}
	var errs []error
	if _, err := c.client(publicBase(publicURL, httpAddr), nil); err != nil {
		errs = append(errs, err)
	}
	if c.SessionTTL <= 0 || c.SessionTTL > maxTTL {
		errs = append(errs, fmt.Errorf("--oidc-session-ttl %v must be positive and at most --token-max-ttl (%v)", c.SessionTTL, maxTTL))
	}
	// Session cookies cross the network only over https: plain http is
	// for a service browsers reach on loopback.
	if publicURL != "" {
		u, err := url.Parse(publicURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			errs = append(errs, fmt.Errorf("--public-url %q: want an absolute http(s) URL", publicURL))
		} else if u.Scheme == "http" && !oidc.IsLoopback(u.Hostname()) {
			errs = append(errs, fmt.Errorf("--oidc-issuer needs an https --public-url (plain http only on loopback), not %q: the session cookie would cross the network in the clear", publicURL))
		}
	} else if host, _, err := net.SplitHostPort(httpAddr); err != nil || !oidc.IsLoopback(host) {
		errs = append(errs, fmt.Errorf("--oidc-issuer needs --public-url (the https address browsers reach, whose /console/callback the provider redirects to) when --http %q is not a loopback address", httpAddr))
	}
	return errors.Join(errs...)
}

// console is the HTTP API's sign-in configuration for the service reached
// at base: sessions signed with the token keys, sign-out revoked through
// the revocation bucket at the service's clock now, e-mail addresses
// resolved by the directory.
func (c oidcFlags) console(ctx context.Context, base string, dir *projections.Directory, revoked *revocation.Set,
	kv jetstream.KeyValue, now func() time.Time, log *slog.Logger) (*httpapi.ConsoleConfig, error) {
	cl, err := c.client(base, func(tenant, email string) (string, bool) {
		u, ok := dir.UserByEmail(tenant, email)
		return u.UserID, ok
	})
	if err != nil {
		return nil, &configError{err}
	}
	// The provider is asked now only to say in the log whether it answers;
	// sign-in asks again until it does.
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := cl.Discover(dctx); err != nil {
		log.Warn("organisation sign-in: the identity provider does not answer yet; sign-in will retry", "issuer", c.Issuer, "err", err)
	} else {
		log.Info("organisation sign-in", "issuer", c.Issuer, "redirect_uri", base+"/console/callback", "session_ttl", c.SessionTTL.String())
	}
	cc := &httpapi.ConsoleConfig{SignIn: cl, SessionTTL: c.SessionTTL, Secure: strings.HasPrefix(base, "https://"),
		Revoke: func(ctx context.Context, s auth.Claims) error {
			ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			at := now()
			e := revocation.Entry{JTI: s.ID, RevokedAt: at, Until: s.ExpiresAt}
			if _, err := revocation.Revoke(ctx, kv, e, at); err != nil {
				return err
			}
			return revoked.WaitRevoked(ctx, s)
		}}
	if u, err := url.Parse(base); err == nil {
		cc.TrustedOrigins = []string{u.Scheme + "://" + u.Host}
	}
	return cc, nil
}
