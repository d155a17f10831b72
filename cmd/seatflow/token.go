package main

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/seatflow/seatflow/infra/auth"
)

// tokenCmd prints a bearer token signed with the same secret serve uses.
func tokenCmd(args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var (
		cfg                 Config
		tenant, user, roles string
		ttl                 time.Duration
	)
	f := newFlags("token", stderr, getenv)
	f.string(&cfg.DataDir, "data-dir", "./data", "data directory holding the generated token secret")
	f.string(&cfg.TokenSecret, "token-secret", "", "secret for signing bearer tokens (default: the one in the data dir)")
	f.fs.StringVar(&tenant, "tenant", "", "tenant the token is for (required)")
	f.fs.StringVar(&user, "user", "", "user id, the token's subject (required)")
	f.fs.StringVar(&roles, "role", "", "role(s), comma-separated: global-admin, user-admin, license-admin, user, ingest (required)")
	f.fs.DurationVar(&ttl, "ttl", 24*time.Hour, "how long the token is valid")
	if err := f.parse(args); err != nil {
		return err
	}
	var errs []error
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
	secret := []byte(cfg.TokenSecret)
	if len(secret) == 0 {
		var err error
		if secret, err = auth.LoadOrCreateSecret(cfg.DataDir); err != nil {
			return fmt.Errorf("token secret: %w", err)
		}
	}
	issuer, err := auth.NewIssuer(secret)
	if err != nil {
		return &configError{err}
	}
	tok, err := issuer.Issue(auth.Claims{Tenant: tenant, Subject: user, Roles: splitRoles(roles)}, ttl, time.Now())
	if err != nil {
		return &configError{err}
	}
	_, err = fmt.Fprintln(stdout, tok)
	return err
}
