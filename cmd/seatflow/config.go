package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/seatflow/seatflow/infra/auth"
	"github.com/seatflow/seatflow/infra/natsauth"
	"github.com/seatflow/seatflow/infra/natsjs"
)

// configError is bad configuration: reported on one line, exit code 2.
type configError struct{ err error }

// Error is one line, however many problems it joins.
func (e *configError) Error() string { return strings.ReplaceAll(e.err.Error(), "\n", "; ") }
func (e *configError) Unwrap() error { return e.err }

// Config is everything `serve` (and the commands sharing its flags) reads
// from flags and SEATFLOW_* variables.
type Config struct {
	DataDir    string
	HTTP       string
	NATSListen string
	NATSURL    string
	NATS       natsAuth
	// TokenSecret, when set, is the current token key (hex); otherwise the
	// keys come from the data dir's token-secret file.
	TokenSecret string
	// TokenPreviousSecrets are keys (hex, comma-separated) that still
	// verify but no longer sign.
	TokenPreviousSecrets string
	// TokenMaxTTL is the longest life a bearer token may have.
	TokenMaxTTL time.Duration
	Demo        bool
	Sync        string
	Replicas    int
	LogLevel    string
	ShutdownTTL time.Duration
	AutoClaim   autoClaimFlags
	Requests    requestFlags
	// Streams bounds the sign-in, notification and dead-letter streams.
	Streams natsjs.Limits
	// HTTPServer bounds what one HTTP client may cost.
	HTTPServer httpFlags
	// MetricsListen, when set, serves /metrics there instead of on --http.
	MetricsListen string
	// MetricsTenantLabels labels metrics by tenant, product and policy.
	MetricsTenantLabels bool
	// Pprof serves net/http/pprof on the metrics listener.
	Pprof bool
	// OIDC is the console's organisation sign-in (off without an issuer).
	OIDC oidcFlags

	// Clock is the service's one clock (no flag sets it; nil: time.Now):
	// commands, reactors, read-model queries and the checks of bearer
	// tokens, sessions and share links read it, so a test that moves it
	// moves all of them. Only timestamps other systems make are compared
	// with the wall clock: the age of a notification by JetStream's store
	// time, an identity provider's ID token.
	Clock func() time.Time
}

// clock is c.Clock, or time.Now.
func (c Config) clock() func() time.Time {
	if c.Clock != nil {
		return c.Clock
	}
	return time.Now
}

// flags binds the shared flags to fs. Each flag's default comes from the
// environment variable SEATFLOW_<NAME> when set, so a flag on the command
// line wins over the environment, which wins over the built-in default.
type flags struct {
	fs     *flag.FlagSet
	getenv func(string) string
	errs   []error
}

func newFlags(name string, stderr io.Writer, getenv func(string) string) *flags {
	fs := flag.NewFlagSet("seatflow "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return &flags{fs: fs, getenv: getenv}
}

func envName(flagName string) string {
	return "SEATFLOW_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func (f *flags) string(p *string, name, def, help string) {
	if v := f.getenv(envName(name)); v != "" {
		def = v
	}
	f.fs.StringVar(p, name, def, help+" (env "+envName(name)+")")
}

func (f *flags) bool(p *bool, name string, def bool, help string) {
	if v := f.getenv(envName(name)); v != "" {
		switch strings.ToLower(v) {
		case "1", "true", "yes", "on":
			def = true
		case "0", "false", "no", "off":
			def = false
		default:
			f.errs = append(f.errs, fmt.Errorf("%s=%q is not a boolean", envName(name), v))
		}
	}
	f.fs.BoolVar(p, name, def, help+" (env "+envName(name)+")")
}

func (f *flags) int(p *int, name string, def int, help string) {
	if v := f.getenv(envName(name)); v != "" {
		if _, err := fmt.Sscanf(v, "%d", &def); err != nil {
			f.errs = append(f.errs, fmt.Errorf("%s=%q is not a whole number", envName(name), v))
		}
	}
	f.fs.IntVar(p, name, def, help+" (env "+envName(name)+")")
}

func (f *flags) float(p *float64, name string, def float64, help string) {
	if v := f.getenv(envName(name)); v != "" {
		if _, err := fmt.Sscanf(v, "%g", &def); err != nil {
			f.errs = append(f.errs, fmt.Errorf("%s=%q is not a number", envName(name), v))
		}
	}
	f.fs.Float64Var(p, name, def, help+" (env "+envName(name)+")")
}

func (f *flags) duration(p *time.Duration, name string, def time.Duration, help string) {
	if v := f.getenv(envName(name)); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			f.errs = append(f.errs, fmt.Errorf("%s=%q is not a duration", envName(name), v))
		}
		def = d
	}
	f.fs.DurationVar(p, name, def, help+" (env "+envName(name)+")")
}

// size binds a byte size: a whole number of bytes, or with a KiB, MiB or
// GiB suffix.
func (f *flags) size(p *int64, name string, def int64, help string) {
	if v := f.getenv(envName(name)); v != "" {
		n, err := parseSize(v)
		if err != nil {
			f.errs = append(f.errs, fmt.Errorf("%s=%q: %v", envName(name), v, err))
		}
		def = n
	}
	*p = def
	f.fs.Func(name, fmt.Sprintf("%s (default %s, env %s)", help, formatSize(def), envName(name)), func(v string) error {
		n, err := parseSize(v)
		if err != nil {
			return err
		}
		*p = n
		return nil
	})
}

func parseSize(v string) (int64, error) {
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if strings.HasSuffix(v, u.suffix) {
			v, mult = strings.TrimSuffix(v, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n <= 0 || n > math.MaxInt64/mult {
		return 0, errors.New("want a positive size such as 1073741824, 512MiB or 1GiB")
	}
	return n * mult, nil
}

func formatSize(n int64) string {
	switch {
	case n%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", n>>30)
	case n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return strconv.FormatInt(n, 10)
}

// parse parses args; a parse error has already been printed with usage.
func (f *flags) parse(args []string) error {
	if err := f.fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if f.fs.NArg() > 0 {
		return &configError{fmt.Errorf("unexpected argument %q", f.fs.Arg(0))}
	}
	if len(f.errs) > 0 {
		return &configError{errors.Join(f.errs...)}
	}
	return nil
}

// storeFlags are the flags every command that opens the data needs.
func (f *flags) storeFlags(c *Config) {
	f.natsClientFlags(c)
	f.int(&c.Replicas, "replicas", 1, "stream replicas (3 on a cluster)")
	f.string(&c.LogLevel, "log-level", "info", "log level: debug, info, warn or error")
	f.size(&c.Streams.SigninsMaxBytes, "signins-max-bytes", natsjs.DefaultLimits.SigninsMaxBytes, "most bytes of unprocessed sign-ins kept; beyond, publishers are refused")
	f.size(&c.Streams.NotifyMaxBytes, "notify-max-bytes", natsjs.DefaultLimits.NotifyMaxBytes, "most bytes of unsent notifications kept; beyond, the notifier waits")
	f.size(&c.Streams.DLQMaxBytes, "dlq-max-bytes", natsjs.DefaultLimits.DLQMaxBytes, "most bytes of dead letters kept; beyond, the oldest are dropped")
}

// natsClientFlags are the flags that say where the data and NATS are and
// how to authenticate to NATS: those of every command that connects
// beside (or as) serve.
func (f *flags) natsClientFlags(c *Config) {
	f.string(&c.DataDir, "data-dir", "./data", "directory for JetStream storage and the token secret")
	f.string(&c.NATSURL, "nats-url", "", "use this NATS server or cluster instead of the embedded one (comma-separated URLs)")
	f.string(&c.NATSListen, "nats-listen", "127.0.0.1:4222", "embedded NATS server listen address (port 0: any free port)")
	f.string(&c.NATS.Creds, "nats-creds", "", "with --nats-url: a NATS credentials file (JWT and nkey seed)")
	f.string(&c.NATS.User, "nats-user", "", "with --nats-url: user name")
	f.string(&c.NATS.Password, "nats-password", "", "with --nats-url: password")
	f.string(&c.NATS.Token, "nats-token", "", "with --nats-url: authentication token")
	f.string(&c.NATS.CA, "nats-tls-ca", "", "with --nats-url: CA certificate file to verify the servers (enables TLS)")
	f.string(&c.NATS.Cert, "nats-tls-cert", "", "with --nats-url: client certificate file for mutual TLS")
	f.string(&c.NATS.Key, "nats-tls-key", "", "with --nats-url: client key file for mutual TLS")
}

func serveFlags(f *flags, c *Config) {
	f.storeFlags(c)
	f.string(&c.HTTP, "http", "127.0.0.1:8080", "HTTP listen address for the API and console")
	f.tokenFlags(c)
	f.bool(&c.Demo, "demo", false, "load the demo tenant 'demo' (idempotent)")
	f.string(&c.Sync, "sync", "default", "embedded JetStream fsync: 'always', 'default' (every 2m) or an interval such as 10s")
	f.duration(&c.ShutdownTTL, "shutdown-timeout", 20*time.Second, "how long a stop may take to drain in-flight work")
	bindAutoClaimFlags(f, &c.AutoClaim)
	bindRequestFlags(f, &c.Requests)
	bindHTTPFlags(f, &c.HTTPServer)
	bindOIDCFlags(f, &c.OIDC)
	f.string(&c.MetricsListen, "metrics-listen", "", "serve /metrics on this address instead of on --http")
	f.bool(&c.MetricsTenantLabels, "metrics-tenant-labels", true, "label metrics by tenant, product and policy (off: sums, a fixed number of series)")
	f.bool(&c.Pprof, "pprof", false, "also serve Go's /debug/pprof/ profiles on --metrics-listen (which it requires)")
}

// tokenFlags binds the bearer-token key and lifetime flags, shared by serve
// and token.
func (f *flags) tokenFlags(c *Config) {
	f.string(&c.TokenSecret, "token-secret", "", "current key signing bearer tokens and share links, hex, at least 64 digits (default: the keys in <data-dir>/token-secret, generated once)")
	f.string(&c.TokenPreviousSecrets, "token-previous-secrets", "", "comma-separated keys (hex) that still verify tokens and share links but no longer sign them, for rotation")
	f.duration(&c.TokenMaxTTL, "token-max-ttl", auth.DefaultMaxTTL, "longest life of a bearer token: longer ones are neither issued nor accepted")
}

// tokenSecretErrors checks the token key flags.
func (c Config) tokenSecretErrors() []error {
	var errs []error
	if c.TokenSecret != "" {
		if _, err := auth.ParseSecret(c.TokenSecret); err != nil {
			errs = append(errs, fmt.Errorf("--token-secret: %v", err))
		}
	}
	for i, s := range splitList(c.TokenPreviousSecrets) {
		if _, err := auth.ParseSecret(s); err != nil {
			errs = append(errs, fmt.Errorf("--token-previous-secrets key %d: %v", i+1, err))
		}
	}
	if c.TokenMaxTTL <= 0 {
		errs = append(errs, errors.New("--token-max-ttl must be positive"))
	}
	return errs
}

// tokenKeys returns the bearer-token keys: --token-secret (or else the keys
// in the data dir's token-secret file, creating it when there is none),
// then --token-previous-secrets.
func (c Config) tokenKeys() (auth.Keys, error) {
	var secrets [][]byte
	if c.TokenSecret != "" {
		s, err := auth.ParseSecret(c.TokenSecret)
		if err != nil {
			return auth.Keys{}, &configError{fmt.Errorf("--token-secret: %w", err)}
		}
		secrets = append(secrets, s)
	} else {
		var err error
		if secrets, err = auth.LoadOrCreateSecrets(c.DataDir); err != nil {
			return auth.Keys{}, fmt.Errorf("token secret: %w", err)
		}
	}
	for i, v := range splitList(c.TokenPreviousSecrets) {
		s, err := auth.ParseSecret(v)
		if err != nil {
			return auth.Keys{}, &configError{fmt.Errorf("--token-previous-secrets key %d: %w", i+1, err)}
		}
		secrets = append(secrets, s)
	}
	keys, err := auth.NewKeys(secrets...)
	if err != nil {
		return auth.Keys{}, &configError{fmt.Errorf("token keys: %w", err)}
	}
	return keys, nil
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// Validate reports every invalid setting.
func (c Config) Validate() error {
	var errs []error
	if c.DataDir == "" {
		errs = append(errs, errors.New("--data-dir is empty"))
	}
	if c.HTTP != "" {
		if _, _, err := net.SplitHostPort(c.HTTP); err != nil {
			errs = append(errs, fmt.Errorf("--http %q: %v", c.HTTP, err))
		}
	}
	if c.NATSURL == "" {
		if _, _, err := net.SplitHostPort(c.NATSListen); err != nil {
			errs = append(errs, fmt.Errorf("--nats-listen %q: %v", c.NATSListen, err))
		}
	}
	errs = append(errs, c.NATS.validate(c.NATSURL != "")...)
	if c.Replicas < 1 || c.Replicas > 5 {
		errs = append(errs, fmt.Errorf("--replicas %d: must be 1 to 5", c.Replicas))
	}
	if c.NATSURL == "" && c.Replicas != 1 {
		errs = append(errs, errors.New("--replicas above 1 needs --nats-url (the embedded server is a single node)"))
	}
	if _, _, err := c.syncPolicy(); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, c.tokenSecretErrors()...)
	if _, err := parseLevel(c.LogLevel); err != nil {
		errs = append(errs, err)
	}
	if c.ShutdownTTL < 0 {
		errs = append(errs, errors.New("--shutdown-timeout must not be negative"))
	}
	if err := c.AutoClaim.validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Requests.validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.HTTPServer.validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.OIDC.validate(c.Requests.PublicURL, c.HTTP, c.TokenMaxTTL); err != nil {
		errs = append(errs, err)
	}
	if c.MetricsListen != "" {
		if _, _, err := net.SplitHostPort(c.MetricsListen); err != nil {
			errs = append(errs, fmt.Errorf("--metrics-listen %q: %v", c.MetricsListen, err))
		}
	}
	if c.Pprof && c.MetricsListen == "" {
		// Profiles name code paths and hold heap contents: never on the
		// API's listener, only on the one operators keep private.
		errs = append(errs, errors.New("--pprof needs --metrics-listen (profiles are served only on that listener)"))
	}
	if err := errors.Join(errs...); err != nil {
		return &configError{err}
	}
	return nil
}

func (c Config) syncPolicy() (always bool, interval time.Duration, err error) {
	switch c.Sync {
	case "", "default":
		return false, 0, nil
	case "always":
		return true, 0, nil
	}
	d, err := time.ParseDuration(c.Sync)
	if err != nil || d <= 0 {
		return false, 0, fmt.Errorf("--sync %q: want 'always', 'default' or a positive duration", c.Sync)
	}
	return false, d, nil
}

// natsAuth is how seatflow authenticates to an external NATS (--nats-url).
type natsAuth struct {
	Creds, User, Password, Token string
	CA, Cert, Key                string
}

func (a natsAuth) set() bool { return a != natsAuth{} }

func (a natsAuth) validate(external bool) []error {
	var errs []error
	if a.set() && !external {
		errs = append(errs, errors.New("--nats-creds, --nats-user, --nats-token and --nats-tls-* need --nats-url (the embedded server listens on loopback without them)"))
	}
	for flag, file := range map[string]string{"--nats-creds": a.Creds, "--nats-tls-ca": a.CA, "--nats-tls-cert": a.Cert, "--nats-tls-key": a.Key} {
		if file == "" {
			continue
		}
		if _, err := os.Stat(file); err != nil {
			errs = append(errs, fmt.Errorf("%s %s: %v", flag, file, err))
		}
	}
	if (a.Cert == "") != (a.Key == "") {
		errs = append(errs, errors.New("--nats-tls-cert and --nats-tls-key go together"))
	}
	if a.Password != "" && a.User == "" {
		errs = append(errs, errors.New("--nats-password needs --nats-user"))
	}
	n := 0
	for _, v := range []string{a.Creds, a.User, a.Token} {
		if v != "" {
			n++
		}
	}
	if n > 1 {
		errs = append(errs, errors.New("use one of --nats-creds, --nats-user or --nats-token"))
	}
	return errs
}

// natsTarget is the NATS a command run beside serve connects to:
// --nats-url, or else the embedded server at --nats-listen.
func (c Config) natsTarget() (string, error) {
	if c.NATSURL != "" {
		return c.NATSURL, nil
	}
	host, port, err := net.SplitHostPort(c.NATSListen)
	if err != nil {
		return "", &configError{fmt.Errorf("--nats-listen %q: %v", c.NATSListen, err)}
	}
	return "nats://" + net.JoinHostPort(host, port), nil
}

// serviceOptions are the options a command run beside serve connects to
// NATS with as the service: on the embedded server the service identity in
// the data dir, on --nats-url the --nats-* credentials.
func (c Config) serviceOptions() ([]nats.Option, error) {
	opts := c.NATS.options()
	if c.NATSURL != "" {
		return opts, nil
	}
	id, err := natsauth.Load(c.DataDir)
	if err != nil {
		return nil, fmt.Errorf("NATS identity: %w", err)
	}
	svc, err := id.ServiceOption()
	if err != nil {
		return nil, fmt.Errorf("NATS identity: %w", err)
	}
	return append(opts, svc), nil
}

// options turns the settings into NATS connection options, used by every
// connection the service opens.
func (a natsAuth) options() []nats.Option {
	var o []nats.Option
	if a.Creds != "" {
		o = append(o, nats.UserCredentials(a.Creds))
	}
	if a.User != "" {
		o = append(o, nats.UserInfo(a.User, a.Password))
	}
	if a.Token != "" {
		o = append(o, nats.Token(a.Token))
	}
	if a.CA != "" {
		o = append(o, nats.RootCAs(a.CA))
	}
	if a.Cert != "" {
		o = append(o, nats.ClientCert(a.Cert, a.Key))
	}
	return o
}
