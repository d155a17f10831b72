package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/seatflow/seatflow/infra/natsauth"
)

// credsCmd prints NATS credentials for a tenant's upstream publisher or
// downstream reader, signed with the identity in the data dir; `creds
// revoke` revokes every credential issued under a name on the running
// servers; `creds cluster` writes what a deployment on its own NATS cluster
// needs (the servers' operator configuration, the service's credentials).
func credsCmd(args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) > 0 {
		switch args[0] {
		case "revoke":
			return credsRevokeCmd(args[1:], stdout, stderr, getenv)
		case "cluster":
			return credsClusterCmd(args[1:], stdout, stderr, getenv)
		}
	}
	var (
		dataDir      string
		tenant, role string
		name         string
		ttl          time.Duration
	)
	f := newFlags("creds", stderr, getenv)
	f.string(&dataDir, "data-dir", "./data", "data directory holding the NATS identity")
	f.fs.StringVar(&tenant, "tenant", "", "tenant the credential is for (required)")
	f.fs.StringVar(&role, "role", "", "publisher (publishes sf.signin.<tenant>) or reader (reads the tenant's events, notifications and dead letters) (required)")
	f.fs.StringVar(&name, "name", "", "name to revoke it by, letters, digits and '_' (default: the role); a reader's durable consumers are named <tenant>-<name>")
	f.fs.DurationVar(&ttl, "ttl", 0, "how long the credential is valid (0: until revoked)")
	if err := f.parse(args); err != nil {
		return err
	}
	var errs []error
	if tenant == "" {
		errs = append(errs, errors.New("--tenant is required"))
	}
	if role == "" {
		errs = append(errs, errors.New("--role is required"))
	}
	if err := errors.Join(errs...); err != nil {
		return &configError{err}
	}
	id, err := natsauth.LoadOrCreate(dataDir)
	if err != nil {
		return fmt.Errorf("NATS identity: %w", err)
	}
	now := time.Now()
	g := natsauth.Grant{Tenant: tenant, Role: natsauth.Role(role), Name: name, TTL: ttl}
	creds, user, err := id.Issue(g, now)
	if err != nil {
		if errors.Is(err, natsauth.ErrInvalidGrant) {
			return &configError{errors.Unwrap(err)}
		}
		return err
	}
	if name == "" {
		name = role
	}
	e := natsauth.Issued{Tenant: tenant, Role: g.Role, Name: name, User: user, IssuedAt: now.UTC()}
	if ttl > 0 {
		exp := now.Add(ttl).UTC()
		e.ExpiresAt = &exp
	}
	if err := natsauth.OpenRegistry(dataDir).Record(e); err != nil {
		return err
	}
	_, err = stdout.Write(creds)
	return err
}

// credsRevokeCmd revokes every credential issued under --tenant and --name:
// it records the revocation in the data dir (so a restarted embedded server
// keeps it) and pushes it to the running server or cluster, which closes
// those connections and refuses them from then on.
func credsRevokeCmd(args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var (
		cfg          Config
		tenant, name string
		timeout      time.Duration
	)
	f := newFlags("creds revoke", stderr, getenv)
	f.string(&cfg.DataDir, "data-dir", "./data", "data directory holding the NATS identity and the issued credentials")
	f.string(&cfg.NATSURL, "nats-url", "", "the NATS server or cluster to push the revocation to (default: the embedded server at --nats-listen)")
	f.string(&cfg.NATSListen, "nats-listen", "127.0.0.1:4222", "the embedded server's listen address")
	f.string(&cfg.NATS.CA, "nats-tls-ca", "", "CA certificate file to verify the servers (enables TLS)")
	f.string(&cfg.NATS.Cert, "nats-tls-cert", "", "client certificate file for mutual TLS")
	f.string(&cfg.NATS.Key, "nats-tls-key", "", "client key file for mutual TLS")
	f.fs.StringVar(&tenant, "tenant", "", "tenant of the credentials (required)")
	f.fs.StringVar(&name, "name", "", "name the credentials were issued under (required)")
	f.fs.DurationVar(&timeout, "timeout", 5*time.Second, "how long to wait for the servers")
	if err := f.parse(args); err != nil {
		return err
	}
	var errs []error
	if tenant == "" {
		errs = append(errs, errors.New("--tenant is required"))
	}
	if name == "" {
		errs = append(errs, errors.New("--name is required"))
	}
	if err := errors.Join(errs...); err != nil {
		return &configError{err}
	}
	id, err := natsauth.Load(cfg.DataDir)
	if err != nil {
		return fmt.Errorf("NATS identity: %w", err)
	}
	reg := natsauth.OpenRegistry(cfg.DataDir)
	users, err := reg.Revoke(tenant, name, time.Now())
	if err != nil {
		if errors.Is(err, natsauth.ErrNoSuchCredential) {
			return &configError{err}
		}
		return err
	}
	revoked, err := reg.Revocations()
	if err != nil {
		return err
	}
	url, err := cfg.natsTarget()
	if err != nil {
		return err
	}
	sysCreds, err := id.SystemUserCreds()
	if err != nil {
		return err
	}
	opt, err := natsauth.CredsOption(sysCreds)
	if err != nil {
		return err
	}
	nc, err := nats.Connect(url, append([]nats.Option{opt, nats.Name("seatflow-creds-revoke"), nats.Timeout(timeout)}, cfg.NATS.options()...)...)
	if err != nil {
		return fmt.Errorf("revoked %d credential(s) of %s/%s in %s, but NATS at %s is not reachable (%v): they are refused from the embedded server's next start; run this again to revoke them on a running server", len(users), tenant, name, cfg.DataDir, redactURL(url), err)
	}
	defer nc.Close()
	if err := id.PushRevocations(nc, revoked, timeout); err != nil {
		return fmt.Errorf("revoked %d credential(s) of %s/%s in %s, but pushing to NATS failed: %w", len(users), tenant, name, cfg.DataDir, err)
	}
	_, err = fmt.Fprintf(stdout, "revoked %d credential(s) of %s/%s: connections using them are closed and refused\n", len(users), tenant, name)
	return err
}

// credsClusterCmd writes what a deployment on its own NATS cluster needs,
// from the identity in the data dir: auth.conf, the include that puts every
// nats-server in operator mode (operator, system account, full resolver
// preloaded with both accounts and the revocations so far), and
// service.creds, the service's own credentials for --nats-creds (0600).
func credsClusterCmd(args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var dataDir, out, resolverDir string
	owner := -1
	f := newFlags("creds cluster", stderr, getenv)
	f.fs.IntVar(&owner, "owner", -1, "user id to own service.creds (e.g. the uid serve runs as, when this runs as root)")
	f.string(&dataDir, "data-dir", "./data", "data directory holding the NATS identity (created when missing)")
	f.fs.StringVar(&out, "out", "", "directory to write auth.conf and service.creds into (required)")
	f.fs.StringVar(&resolverDir, "resolver-dir", "/data/accounts", "where each nats-server's account resolver stores account JWTs")
	if err := f.parse(args); err != nil {
		return err
	}
	if out == "" {
		return &configError{errors.New("--out is required")}
	}
	id, err := natsauth.LoadOrCreate(dataDir)
	if err != nil {
		return fmt.Errorf("NATS identity: %w", err)
	}
	revoked, err := natsauth.OpenRegistry(dataDir).Revocations()
	if err != nil {
		return err
	}
	conf, err := id.ServerConfigFile(resolverDir, revoked)
	if err != nil {
		return err
	}
	svc, err := id.ServiceCreds()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	// auth.conf holds only public JWTs and keys: servers running as any
	// user read it.
	if err := os.WriteFile(filepath.Join(out, "auth.conf"), conf, 0o644); err != nil {
		return fmt.Errorf("write auth.conf: %w", err)
	}
	if err := natsauth.WriteCreds(filepath.Join(out, "service.creds"), svc); err != nil {
		return err
	}
	if owner >= 0 {
		if err := os.Chown(filepath.Join(out, "service.creds"), owner, -1); err != nil {
			return fmt.Errorf("--owner %d: %w", owner, err)
		}
	}
	_, err = fmt.Fprintf(stdout, "wrote %s and %s for operator %s\n", filepath.Join(out, "auth.conf"), filepath.Join(out, "service.creds"), id.OperatorPublicKey())
	return err
}

// redactURL drops credentials from NATS URLs before they are shown.
func redactURL(urls string) string {
	parts := strings.Split(urls, ",")
	for i, u := range parts {
		if at := strings.LastIndex(u, "@"); at >= 0 {
			if scheme := strings.Index(u, "://"); scheme >= 0 && scheme < at {
				parts[i] = u[:scheme+3] + "REDACTED" + u[at:]
			}
		}
	}
	return strings.Join(parts, ",")
}
