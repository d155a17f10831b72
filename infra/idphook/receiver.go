package idphook

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/projections"
)

// Apps reads an organisation's identity-app mapping (domain.Service).
type Apps interface {
	// IdentityApps returns the mapping, caught up with the store. Errors
	// are store errors.
	IdentityApps(ctx context.Context, tenant domain.TenantID) ([]events.IdentityApp, domain.Result, error)
}

var _ Apps = (*domain.Service)(nil)

// Directory finds the user a sign-in event names (projections.Directory).
type Directory interface {
	UserByLogin(tenant, login, externalID string) (projections.DirectoryUser, bool)
}

var _ Directory = (*projections.Directory)(nil)

// Publisher hands sign-ins over to the sign-in router (signin.Publisher).
type Publisher interface {
	// Publish returns once every sign-in is stored, with how many were
	// stored already. Errors wrap domain.ErrUnavailable (transient; some
	// may be stored) or are a *domain.SignInRejectedError (a bug here).
	Publish(ctx context.Context, tenant string, ps []domain.SignInMessage) (duplicates int, err error)
}

// Config is what a Receiver needs.
type Config struct {
	Apps      Apps      // required
	Directory Directory // required
	Publisher Publisher // required
	// Metrics, if set, gets seatflow_identity_events_total and
	// seatflow_identity_payloads_refused_total.
	Metrics prometheus.Registerer
	// Logger gets one Debug line per payload. Default: discard.
	Logger *slog.Logger
	// Now is the clock sign-in times are checked against. Default
	// time.Now.
	Now func() time.Time
}

func (c *Config) setDefaults() {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Validate reports every missing setting.
func (c Config) Validate() error {
	var errs []error
	if c.Apps == nil {
		errs = append(errs, errors.New("idphook: Config.Apps is required"))
	}
	if c.Directory == nil {
		errs = append(errs, errors.New("idphook: Config.Directory is required"))
	}
	if c.Publisher == nil {
		errs = append(errs, errors.New("idphook: Config.Publisher is required"))
	}
	return errors.Join(errs...)
}

// Receiver turns a provider's payload into published sign-ins.
type Receiver struct {
	cfg     Config
	log     *slog.Logger
	events  *prometheus.CounterVec
	refused *prometheus.CounterVec
}

// New returns a Receiver for cfg after filling its defaults and validating
// it.
func New(cfg Config) (*Receiver, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := &Receiver{
		cfg: cfg,
		log: cfg.Logger.With("component", "idphook"),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "seatflow_identity_events_total",
			Help: "Identity-provider events received on the sign-in hooks, by provider and result: accepted (published as a sign-in), " +
				"duplicate (accepted before), other_event, failed, unmapped_app, unknown_user (ignored).",
		}, []string{"provider", "result"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "seatflow_identity_payloads_refused_total",
			Help: "Identity-provider payloads refused whole because they could not be read (answered 400), by provider.",
		}, []string{"provider"}),
	}
	if cfg.Metrics != nil {
		for _, c := range []prometheus.Collector{r.events, r.refused} {
			if err := cfg.Metrics.Register(c); err != nil {
				return nil, fmt.Errorf("idphook metrics: %w", err)
			}
		}
	}
	return r, nil
}

// Receive reads provider's payload for tenant and publishes the sign-ins it
// holds. It returns a *MalformedError when the payload cannot be read
// (nothing is published then); other errors are transient (wrapping
// domain.ErrUnavailable or a store error), and the whole payload may be
// sent again.
func (r *Receiver) Receive(ctx context.Context, tenant, provider string, body []byte) (Summary, error) {
	var (
		evs []Event
		err error
	)
	switch provider {
	case events.ProviderOkta:
		evs, err = ParseOkta(body, r.cfg.Now())
	case events.ProviderEntra:
		evs, err = ParseEntra(body, r.cfg.Now())
	default:
		return Summary{}, fmt.Errorf("idphook: no provider %q", provider)
	}
	if err != nil {
		r.refused.WithLabelValues(provider).Inc()
		return Summary{}, err
	}
	var apps []events.IdentityApp
	for _, e := range evs {
		if e.Ignored == "" { // only then is the mapping needed
			if apps, _, err = r.cfg.Apps.IdentityApps(ctx, domain.TenantID(tenant)); err != nil {
				return Summary{}, err
			}
			break
		}
	}
	ps, sum := SignIns(evs, apps, func(login, providerUserID string) (string, bool) {
		u, ok := r.cfg.Directory.UserByLogin(tenant, login, providerUserID)
		return u.UserID, ok
	})
	if len(ps) > 0 {
		if sum.Duplicates, err = r.cfg.Publisher.Publish(ctx, tenant, ps); err != nil {
			return Summary{}, err
		}
	}
	for result, n := range map[string]int{
		ResultAccepted: sum.Accepted - sum.Duplicates, ResultDuplicate: sum.Duplicates,
		IgnoredOtherEvent: sum.Ignored.OtherEvent, IgnoredFailed: sum.Ignored.Failed,
		IgnoredUnmappedApp: sum.Ignored.UnmappedApp, IgnoredUnknownUser: sum.Ignored.UnknownUser,
	} {
		if n > 0 {
			r.events.WithLabelValues(provider, result).Add(float64(n))
		}
	}
	r.log.LogAttrs(ctx, slog.LevelDebug, "identity-provider payload", slog.String("tenant", tenant), slog.String("provider", provider),
		slog.Int("received", sum.Received), slog.Int("accepted", sum.Accepted), slog.Int("duplicates", sum.Duplicates),
		slog.Int("failed", sum.Ignored.Failed), slog.Int("other_event", sum.Ignored.OtherEvent),
		slog.Int("unmapped_app", sum.Ignored.UnmappedApp), slog.Int("unknown_user", sum.Ignored.UnknownUser))
	return sum, nil
}
