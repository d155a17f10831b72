package oidc

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/seatflow/seatflow/infra/auth"
)

// DefaultScopes are the scopes asked for when Config.Scopes is empty. They
// are standard on every provider; Okta needs "groups" added for a groups
// claim, Entra ID puts groups and app roles in the ID token by its app
// registration, not by scope.
var DefaultScopes = []string{gooidc.ScopeOpenID, "profile", "email"}

// DefaultHTTPTimeout bounds each call to the provider (discovery, keys,
// code redemption) when Config.HTTPClient is not set.
const DefaultHTTPTimeout = 15 * time.Second

// Config configures a Client.
type Config struct {
	// Issuer is the provider's issuer URL, as its ID tokens name it and
	// under which /.well-known/openid-configuration is served. https,
	// except on a loopback host. Required.
	Issuer string
	// ClientID is the application's client id at the provider. Required.
	ClientID string
	// ClientSecret is the application's secret; empty for a public client
	// (PKCE alone).
	ClientSecret string
	// RedirectURL is where the provider sends the browser back: the
	// service's public URL + /console/callback, registered at the
	// provider. Required.
	RedirectURL string
	// Scopes asked for; must include openid. Default DefaultScopes.
	Scopes []string
	// Mapping turns the verified claims into a principal.
	Mapping Mapping
	// Directory resolves e-mail addresses to directory user ids. Optional.
	Directory Directory
	// HTTPClient calls the provider. Default: one with DefaultHTTPTimeout.
	HTTPClient *http.Client
	// Now is the clock ID tokens' expiry is checked against. Default
	// time.Now.
	Now func() time.Time
}

func (c *Config) setDefaults() {
	if len(c.Scopes) == 0 {
		c.Scopes = DefaultScopes
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: DefaultHTTPTimeout}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Validate reports every missing or invalid setting.
func (c Config) Validate() error {
	var errs []error
	if err := checkURL(c.Issuer, true); err != nil {
		errs = append(errs, fmt.Errorf("issuer: %w", err))
	}
	if c.ClientID == "" {
		errs = append(errs, errors.New("the client id is required"))
	}
	if err := checkURL(c.RedirectURL, false); err != nil {
		errs = append(errs, fmt.Errorf("redirect URL: %w", err))
	}
	if len(c.Scopes) > 0 && !slices.Contains(c.Scopes, gooidc.ScopeOpenID) {
		errs = append(errs, fmt.Errorf("scopes %s lack %q", strings.Join(c.Scopes, ","), gooidc.ScopeOpenID))
	}
	if err := c.Mapping.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// checkURL accepts an absolute http(s) URL without query or fragment;
// secure demands https unless the host is a loopback address or localhost.
func checkURL(s string, secure bool) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%q is not an absolute http(s) URL without query", s)
	}
	if secure && u.Scheme == "http" && !IsLoopback(u.Hostname()) {
		return fmt.Errorf("%q must be https (plain http only on a loopback host)", s)
	}
	return nil
}

// IsLoopback reports whether host (without port) is localhost or a
// loopback address, where plain http cannot be overheard.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Client runs the console's sign-in with one provider. It is safe for
// concurrent use.
type Client struct {
	cfg Config

	mu sync.Mutex
	d  *discovered // nil until discovery succeeded
}

// discovered is what the provider's discovery document gave.
type discovered struct {
	oauth    oauth2.Config
	verifier *gooidc.IDTokenVerifier
}

// New returns a Client for cfg after filling its defaults and validating
// it. It does not reach the provider (Discover does).
func New(cfg Config) (*Client, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Client{cfg: cfg}, nil
}

// ctx carries the client's HTTP client to go-oidc and oauth2.
func (c *Client) ctx(ctx context.Context) context.Context {
	return context.WithValue(gooidc.ClientContext(ctx, c.cfg.HTTPClient), oauth2.HTTPClient, c.cfg.HTTPClient)
}

// Discover fetches the provider's discovery document once; after a
// success it returns at once. Its error says why the provider could not be
// used (unreachable, or an issuer that does not match).
func (c *Client) Discover(ctx context.Context) error {
	_, err := c.discover(ctx)
	return err
}

func (c *Client) discover(ctx context.Context) (*discovered, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.d != nil {
		return c.d, nil
	}
	p, err := gooidc.NewProvider(c.ctx(ctx), c.cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("discover %s: %w", c.cfg.Issuer, err)
	}
	c.d = &discovered{
		oauth: oauth2.Config{ClientID: c.cfg.ClientID, ClientSecret: c.cfg.ClientSecret, Endpoint: p.Endpoint(),
			RedirectURL: c.cfg.RedirectURL, Scopes: c.cfg.Scopes},
		// The verifier's context only carries the HTTP client for key
		// fetches; go-oidc ignores its cancellation.
		verifier: p.VerifierContext(c.ctx(context.Background()), &gooidc.Config{ClientID: c.cfg.ClientID, Now: c.cfg.Now}),
	}
	return c.d, nil
}

// Begin starts a sign-in: it returns the provider's authorization URL to
// send the browser to and the state to keep until the browser returns (a
// random state and nonce, and a PKCE verifier whose S256 challenge the URL
// carries).
func (c *Client) Begin(ctx context.Context) (string, auth.LoginState, error) {
	d, err := c.discover(ctx)
	if err != nil {
		return "", auth.LoginState{}, err
	}
	st := auth.LoginState{State: rand.Text(), Nonce: rand.Text(), Verifier: oauth2.GenerateVerifier()}
	return d.oauth.AuthCodeURL(st.State, gooidc.Nonce(st.Nonce), oauth2.S256ChallengeOption(st.Verifier)), st, nil
}

// Finish ends a sign-in: it redeems code with the PKCE verifier, verifies
// the ID token (signature, issuer, audience, expiry) and that it carries
// st's nonce, and maps its claims to a principal. The caller has checked
// that the browser returned st's state. An error wrapping auth.ErrUnmapped
// means the provider vouched for someone who is no Seatflow user; any other
// error, that the exchange or the token failed.
func (c *Client) Finish(ctx context.Context, code string, st auth.LoginState) (auth.Claims, error) {
	d, err := c.discover(ctx)
	if err != nil {
		return auth.Claims{}, err
	}
	ctx = c.ctx(ctx)
	tok, err := d.oauth.Exchange(ctx, code, oauth2.VerifierOption(st.Verifier))
	if err != nil {
		return auth.Claims{}, fmt.Errorf("redeem the code: %w", err)
	}
	raw, ok := tok.Extra("id_token").(string)
	if !ok || raw == "" {
		return auth.Claims{}, errors.New("the token response has no id_token (is the openid scope allowed?)")
	}
	idt, err := d.verifier.Verify(ctx, raw)
	if err != nil {
		return auth.Claims{}, fmt.Errorf("verify the ID token: %w", err)
	}
	if idt.Nonce != st.Nonce {
		return auth.Claims{}, errors.New("the ID token's nonce is not this sign-in's")
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return auth.Claims{}, fmt.Errorf("read the ID token's claims: %w", err)
	}
	return c.cfg.Mapping.Principal(claims, c.cfg.Directory)
}
