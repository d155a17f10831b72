package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/seatflow/seatflow/infra/auth"
	"github.com/seatflow/seatflow/infra/revocation"
)

// tokenCmd prints a bearer token signed with the current key serve uses;
// `token revoke` revokes one token, or every token of a user, on every
// running instance.
func tokenCmd(args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) > 0 && args[0] == "revoke" {
		return tokenRevokeCmd(args[1:], stdout, stderr, getenv)
	}
	var (
		cfg                 Config
		tenant, user, roles string
		ttl                 time.Duration
	)
	f := newFlags("token", stderr, getenv)
	f.string(&cfg.DataDir, "data-dir", "./data", "data directory holding the generated token keys")
	f.tokenFlags(&cfg)
	f.fs.StringVar(&tenant, "tenant", "", "tenant the token is for (required)")
	f.fs.StringVar(&user, "user", "", "user id, the token's subject (required)")
	f.fs.StringVar(&roles, "role", "", "role(s), comma-separated: global-admin, user-admin, license-admin, user, ingest, scim (required)")
	f.fs.DurationVar(&ttl, "ttl", 24*time.Hour, "how long the token is valid (at most --token-max-ttl)")
	if err := f.parse(args); err != nil {
		return err
	}
	errs := cfg.tokenSecretErrors()
	if tenant == "" {
		errs = append(errs, errors.New("--tenant is required"))
	}
	if user == "" {
		errs = append(errs, errors.New("--user is required"))
	}
	if roles == "" {
		errs = append(errs, errors.New("--role is required"))
	}
	if err := errors.Join(errs...); err != nil {
		return &configError{err}
	}
	keys, err := cfg.tokenKeys()
	if err != nil {
		return err
	}
	issuer, err := auth.New(auth.Config{Keys: keys, MaxTTL: cfg.TokenMaxTTL})
	if err != nil {
		return &configError{err}
	}
	now := time.Now()
	tok, err := issuer.Issue(auth.Claims{Tenant: tenant, Subject: user, Roles: splitRoles(roles)}, ttl, now)
	if err != nil {
		return &configError{err}
	}
	// The token's own claims, for the operator's records: its jti is what
	// `token revoke --jti` takes.
	c, err := issuer.Verify(tok, now)
	if err != nil {
		return fmt.Errorf("verify the new token: %w", err)
	}
	if _, err := fmt.Fprintln(stdout, tok); err != nil {
		return err
	}
	_, err = fmt.Fprintf(stderr, "token jti %s for %s/%s, expires %s, key %s\n", c.ID, c.Tenant, c.Subject,
		c.ExpiresAt.Format(time.RFC3339), keys.Current().ID)
	return err
}

// tokenRevokeCmd records a revocation in the SEATFLOW_TOKEN_REVOCATIONS
// bucket, which every running instance watches: the revoked tokens are
// refused (401) within seconds, everywhere, without a restart.
func tokenRevokeCmd(args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var (
		cfg               Config
		jti, tenant, user string
		until             string
		timeout           time.Duration
	)
	f := newFlags("token revoke", stderr, getenv)
	f.natsClientFlags(&cfg)
	f.int(&cfg.Replicas, "replicas", 1, "replicas of the revocation bucket, when this creates it (3 on a cluster)")
	f.duration(&cfg.TokenMaxTTL, "token-max-ttl", auth.DefaultMaxTTL, "longest life of a bearer token, as serve has it: how long a revocation is kept by default")
	f.fs.StringVar(&jti, "jti", "", "id of the token to revoke (printed by `seatflow token`)")
	f.fs.StringVar(&tenant, "tenant", "", "with --user: revoke every token of this user issued until now")
	f.fs.StringVar(&user, "user", "", "with --tenant: the user whose tokens to revoke")
	f.fs.StringVar(&until, "until", "", "RFC 3339 instant until which the revocation is kept: when the revoked token expires (default: now + --token-max-ttl)")
	f.fs.DurationVar(&timeout, "timeout", 10*time.Second, "how long to wait for NATS")
	if err := f.parse(args); err != nil {
		return err
	}
	now := time.Now()
	var errs []error
	switch {
	case jti != "" && (tenant != "" || user != ""):
		errs = append(errs, errors.New("use either --jti or --tenant with --user"))
	case jti == "" && (tenant == "" || user == ""):
		errs = append(errs, errors.New("--jti, or --tenant with --user, is required"))
	}
	if cfg.TokenMaxTTL <= 0 {
		errs = append(errs, errors.New("--token-max-ttl must be positive"))
	}
	end := now.Add(cfg.TokenMaxTTL)
	if until != "" {
		t, err := time.Parse(time.RFC3339, until)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("--until %q: want an RFC 3339 instant such as 2026-12-01T00:00:00Z", until))
		case !t.After(now):
			errs = append(errs, fmt.Errorf("--until %s is not in the future: a token expired by then needs no revocation", until))
		case t.After(end):
			errs = append(errs, fmt.Errorf("--until %s is beyond --token-max-ttl (%s): no token lives that long", until, cfg.TokenMaxTTL))
		default:
			end = t
		}
	}
	errs = append(errs, cfg.NATS.validate(cfg.NATSURL != "")...)
	if err := errors.Join(errs...); err != nil {
		return &configError{err}
	}
	e := revocation.Entry{JTI: jti, Tenant: tenant, Subject: user, RevokedAt: now, Until: end}

	url, err := cfg.natsTarget()
	if err != nil {
		return err
	}
	opts, err := cfg.serviceOptions()
	if err != nil {
		return err
	}
	nc, err := nats.Connect(url, append([]nats.Option{nats.Name("seatflow-token-revoke"), nats.Timeout(timeout)}, opts...)...)
	if err != nil {
		return fmt.Errorf("connect to NATS at %s: %w", redactURL(url), err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	kv, err := revocation.Bind(ctx, js, cfg.Replicas)
	if err != nil {
		return err
	}
	added, err := revocation.Revoke(ctx, kv, e, now)
	if err != nil {
		if errors.Is(err, revocation.ErrInvalid) {
			return &configError{err}
		}
		return err
	}
	what := "token " + jti
	if jti == "" {
		what = fmt.Sprintf("every token of %s/%s issued until %s", tenant, user, now.UTC().Format(time.RFC3339))
	}
	if !added {
		_, err = fmt.Fprintf(stdout, "%s was already revoked\n", what)
		return err
	}
	_, err = fmt.Fprintf(stdout, "revoked %s until %s: every running instance refuses it within seconds\n", what, end.UTC().Format(time.RFC3339))
	return err
}
