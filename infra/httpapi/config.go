package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/infra/auth"
	"github.com/seatflow/seatflow/projections"
)

// Commands runs commands on aggregates.
type Commands interface {
	// Product runs cmd on a product's license pool and answers with the
	// product's counts afterwards. Errors: *domain.ValidationError,
	// *domain.NotFoundError, domain.ErrAlreadyExists, ErrAlreadyAssigned,
	// ErrNoLicensesAvailable, ErrBelowAssigned, ErrConcurrency (retries
	// exhausted), or a store error.
	Product(ctx context.Context, tenant domain.TenantID, id domain.ProductID, meta events.Meta,
		cmd domain.ProductCommand) (domain.ProductSummary, domain.Result, error)
}

var _ Commands = (*domain.Service)(nil)

// ProductQueries answers from the license-count read model.
type ProductQueries interface {
	// Products lists a tenant's products.
	Products(tenant string) []projections.ProductCount
	// Product returns one product, or false when the tenant has none by id.
	Product(tenant, id string) (projections.ProductCount, bool)
}

var _ ProductQueries = (*projections.LicenseCounts)(nil)

// LicenseQueries answers from the per-user license read model.
type LicenseQueries interface {
	// Licenses lists the licenses a user holds.
	Licenses(tenant, user string) []projections.UserLicense
	// Holders lists the users holding a license of product.
	Holders(tenant, product string) []projections.ProductHolder
}

var _ LicenseQueries = (*projections.UserLicenses)(nil)

// IdempotencyKeys remembers a fingerprint of the request each key was
// first used with (natsjs.IdempotencyKeys).
type IdempotencyKeys interface {
	// Remember records fingerprint the first time tenant's key is used and
	// reports whether it matches the one recorded before, and when the key
	// was first seen.
	Remember(ctx context.Context, tenant, key, fingerprint string) (same bool, first time.Time, err error)
}

// Progress is how far the read models have applied the event stream.
type Progress interface {
	// WaitFor returns nil once the read models have applied position, or
	// ctx's error.
	WaitFor(ctx context.Context, position uint64) error
	// Ready reports whether the read models have caught up with the stream.
	Ready() bool
}

// Config is what the Server needs.
type Config struct {
	// Commands runs commands. Required.
	Commands Commands
	// Products answers product queries. Required.
	Products ProductQueries
	// Licenses answers per-user license queries. Required.
	Licenses LicenseQueries
	// Progress gates reads on ?after= and /readyz. Required.
	Progress Progress
	// Idempotency, if set, remembers which request each Idempotency-Key was
	// first used with: the same key with another request is 422
	// idempotency_key_reused.
	Idempotency IdempotencyKeys
	// Health, if set, also gates /readyz: a non-nil error (e.g. the event
	// store refusing writes for lack of storage) makes the service unready.
	Health func() error
	// Tokens verifies bearer tokens. Required.
	Tokens *auth.Issuer
	// Logger gets 5xx errors, recovered panics, and (at Debug) one line per
	// request. Default: discard.
	Logger *slog.Logger
	// Now is the clock used to check token expiry. Default time.Now.
	Now func() time.Time
	// NewID makes command IDs for requests without an Idempotency-Key and
	// request IDs (ULIDs). Required.
	NewID func() string
	// WaitTimeout bounds how long a query with ?after= waits for the read
	// models before answering 503. Default 5s.
	WaitTimeout time.Duration
	// Metrics, if set, is served at GET /metrics without authentication.
	Metrics http.Handler
	// Observe, if set, is told of every request once answered, with the
	// route pattern it matched (empty when none), for metrics.
	Observe func(method, route string, status int, d time.Duration)
	// AutoClaim serves the auto-claim settings, policies, claim reports and
	// POST /v1/signins (see policies.go). nil: those routes are not served.
	AutoClaim *AutoClaimConfig
	// Requests serves the directory, request-process and license-request
	// routes (see requests.go). nil: those routes are not served.
	Requests *RequestsConfig
	// History serves a license's history, the as_of queries and the event
	// export (see history.go). nil: those routes are not served.
	History *HistoryConfig
	// SCIM serves the SCIM 2.0 service provider under /scim/v2 (see
	// scim.go). nil: those routes are not served.
	SCIM *SCIMConfig
	// Identity serves the identity-app mapping and the Okta and Entra ID
	// sign-in hooks (see hooks.go). nil: those routes are not served.
	Identity *IdentityConfig
	// Console turns on the console's organisation sign-in and its session
	// cookie (see session.go). nil: neither exists, and the console asks
	// for a bearer token.
	Console *ConsoleConfig
}

// DefaultWaitTimeout is Config.WaitTimeout's default.
const DefaultWaitTimeout = 5 * time.Second

func (c *Config) setDefaults() {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.WaitTimeout == 0 {
		c.WaitTimeout = DefaultWaitTimeout
	}
}

// Validate reports every missing or invalid setting.
func (c Config) Validate() error {
	var errs []error
	if c.Commands == nil {
		errs = append(errs, errors.New("httpapi: Config.Commands is required"))
	}
	if c.Products == nil {
		errs = append(errs, errors.New("httpapi: Config.Products is required"))
	}
	if c.Licenses == nil {
		errs = append(errs, errors.New("httpapi: Config.Licenses is required"))
	}
	if c.Progress == nil {
		errs = append(errs, errors.New("httpapi: Config.Progress is required"))
	}
	if c.Tokens == nil {
		errs = append(errs, errors.New("httpapi: Config.Tokens is required"))
	}
	if c.NewID == nil {
		errs = append(errs, errors.New("httpapi: Config.NewID is required"))
	}
	if c.History != nil && c.History.Licenses == nil {
		errs = append(errs, errors.New("httpapi: Config.History.Licenses is required"))
	}
	if f := c.History; f != nil && f.Foresight != nil && (f.Foresight.Claims == nil || f.Foresight.Queues == nil || f.Foresight.Simulate == nil) {
		errs = append(errs, errors.New("httpapi: Config.History.Foresight needs Claims, Queues and Simulate"))
	}
	if i := c.Identity; i != nil && (i.Commands == nil || i.Hooks == nil) {
		errs = append(errs, errors.New("httpapi: Config.Identity needs Commands and Hooks"))
	}
	if c.WaitTimeout < 0 {
		errs = append(errs, errors.New("httpapi: Config.WaitTimeout must not be negative"))
	}
	return errors.Join(errs...)
}
