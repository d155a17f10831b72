package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/infra/auth"
	"github.com/seatflow/seatflow/infra/encode"
	"github.com/seatflow/seatflow/infra/httpapi"
	"github.com/seatflow/seatflow/infra/notify"
	"github.com/seatflow/seatflow/infra/reactors"
	"github.com/seatflow/seatflow/infra/sharelink"
	"github.com/seatflow/seatflow/projections"
)

// requestFlags are serve's license-request and notification settings.
type requestFlags struct {
	Retention    time.Duration
	PendingFor   time.Duration
	WarnBefore   time.Duration
	ShareTTL     time.Duration
	ExpiryEvery  time.Duration
	PublicURL    string
	SMTPAddr     string
	SMTPFrom     string
	SMTPUser     string
	SMTPPassword string
	SMTPTLS      string
	SMTPMaxAge   time.Duration
}

// bindRequestFlags adds the license-request flags to serve's flag set.
func bindRequestFlags(f *flags, c *requestFlags) {
	f.duration(&c.Retention, "request-retention", projections.DefaultRetention, "how long a decided or expired request stays in the Requests list and in memory (its events stay in the stream)")
	f.duration(&c.PendingFor, "request-deadline", domain.DefaultPendingFor, "how long a request may stay pending before it expires")
	f.duration(&c.WarnBefore, "request-warn-before", reactors.DefaultWarnBefore, "how long before a request's deadline its users are warned (negative: never)")
	f.duration(&c.ShareTTL, "share-link-ttl", domain.DefaultShareTTL, "how long a shared request's e-mailed link stays valid (at most until the request's deadline)")
	f.duration(&c.ExpiryEvery, "expiry-interval", reactors.DefaultExpiryInterval, "how often pending requests are checked against their deadline")
	f.string(&c.PublicURL, "public-url", "", "base URL of the API as e-mail recipients reach it, for share links (default: http://<--http>)")
	f.string(&c.SMTPAddr, "smtp-addr", "", "SMTP server host:port; notifications are e-mailed only when set")
	f.string(&c.SMTPFrom, "smtp-from", "seatflow@localhost", "sender address of notification e-mails")
	f.string(&c.SMTPUser, "smtp-username", "", "SMTP user name (PLAIN auth when set)")
	f.string(&c.SMTPPassword, "smtp-password", "", "SMTP password")
	f.string(&c.SMTPTLS, "smtp-tls", notify.TLSOpportunistic, "SMTP TLS: none, opportunistic, mandatory or implicit")
	f.duration(&c.SMTPMaxAge, "smtp-max-age", notify.DefaultMaxAge, "notifications older than this when the sender reaches them are logged and counted, not mailed")
}

func (c requestFlags) validate() error {
	var errs []error
	if c.Retention <= 0 {
		errs = append(errs, errors.New("--request-retention must be positive"))
	}
	if c.PendingFor < time.Second {
		errs = append(errs, errors.New("--request-deadline must be at least 1s"))
	}
	if c.ShareTTL <= 0 {
		errs = append(errs, errors.New("--share-link-ttl must be positive"))
	}
	if c.ExpiryEvery <= 0 {
		errs = append(errs, errors.New("--expiry-interval must be positive"))
	}
	switch c.SMTPTLS {
	case notify.TLSNone, notify.TLSOpportunistic, notify.TLSMandatory, notify.TLSImplicit:
	default:
		errs = append(errs, fmt.Errorf("--smtp-tls %q: want none, opportunistic, mandatory or implicit", c.SMTPTLS))
	}
	return errors.Join(errs...)
}

// requests is the license-request part of serve: its read models, the
// notifier, the expiry reactor and the optional SMTP sender.
type requests struct {
	c         *conn
	svc       *domain.Service
	flags     requestFlags
	now       func() time.Time
	counts    *projections.LicenseCounts
	directory *projections.Directory
	list      *projections.Requests
	links     *sharelink.Signer
	metrics   prometheus.Registerer // watermill's router metrics; nil: none
	log       *slog.Logger
}

func wireRequests(c *conn, svc *domain.Service, counts *projections.LicenseCounts, flags requestFlags, now func() time.Time, log *slog.Logger) *requests {
	return &requests{c: c, svc: svc, flags: flags, now: now, counts: counts, directory: projections.NewDirectory(),
		list: projections.NewRequestsRetaining(flags.Retention), log: log}
}

// projections are the read models the runner feeds for requests.
func (q *requests) projections() []projections.Projection {
	return []projections.Projection{q.directory, q.list}
}

// http is the HTTP API's request configuration; share links are signed
// with keys derived from the bearer-token keys.
func (q *requests) http(keys auth.Keys) (*httpapi.RequestsConfig, error) {
	links, err := sharelink.New(keys)
	if err != nil {
		return nil, err
	}
	q.links = links
	return &httpapi.RequestsConfig{Commands: q.svc, Requests: q.list, Directory: q.directory, Links: links,
		PendingFor: q.flags.PendingFor, Retention: q.flags.Retention, ShareTTL: q.flags.ShareTTL, Now: q.now}, nil
}

// scim is the HTTP API's SCIM 2.0 configuration: provisioning writes the
// same directory events as /v1/users and /v1/groups.
func (q *requests) scim() *httpapi.SCIMConfig {
	return &httpapi.SCIMConfig{Commands: q.svc, Directory: q.directory}
}

// components are the request parts that run beside the read models: the
// notifier, the expiry reactor and, when configured, the SMTP sender.
// publicBase is the base URL of share links. Call after http.
func (q *requests) components(ctx context.Context, progress notify.Progress, publicBase string) ([]component, error) {
	expiry, err := reactors.NewExpiry(reactors.ExpiryConfig{Commands: q.svc, Due: q.list, Now: q.now, WarnBefore: q.flags.WarnBefore,
		Interval: q.flags.ExpiryEvery, Logger: q.log})
	if err != nil {
		return nil, err
	}
	cs := []component{{name: "expiry", run: always(expiry.Run)}}
	if q.flags.SMTPAddr != "" {
		// The sender measures a notification's age by JetStream's store
		// time: with the wall clock, not the service's.
		sender, err := notify.NewSender(notify.SenderConfig{JS: q.c.js, Addr: q.flags.SMTPAddr, From: q.flags.SMTPFrom,
			Username: q.flags.SMTPUser, Password: q.flags.SMTPPassword, TLS: q.flags.SMTPTLS, Logger: q.log,
			MaxAge: q.flags.SMTPMaxAge, Metrics: q.metrics})
		if err != nil {
			return nil, &configError{err}
		}
		cs = append(cs, component{name: "smtp sender", run: sender.Run})
	}
	n, err := notify.NewNotifier(ctx, notify.NotifierConfig{
		URL: q.c.url, Options: q.c.opts, Metrics: q.metrics, Registry: encode.Registry(), Rules: notify.DefaultRules(), Progress: progress, Logger: q.log,
		Lookup: notify.ReadModels{Directory: q.directory, Products: q.counts, Requests: q.list, Link: notify.LinkBase(publicBase, q.links)},
	})
	if err != nil {
		return nil, err
	}
	return append(cs, component{name: "notifier", run: n.Run, running: n.Running(), close: n.Close}), nil
}

// loadRequestDemo adds the demo tenant's directory and license requests:
// admin alice, users bob, carol and dave, a pending request from bob for
// E5 and an approved one from dave for E3. Every command has a fixed ID,
// so loading twice changes nothing. It runs after loadDemo (the products).
func loadRequestDemo(ctx context.Context, svc *domain.Service) error {
	meta := func(id string) events.Meta { return events.Meta{Actor: "seatflow-demo", CommandID: id} }
	users := []struct {
		id, name string
		roles    []string
	}{
		{"alice", "Alice Admin", []string{domain.RoleGlobalAdmin}},
		{"bob", "Bob Builder", nil}, {"carol", "Carol Chen", nil}, {"dave", "Dave Diaz", nil},
	}
	for _, u := range users {
		if _, _, err := svc.RegisterUser(ctx, demoTenant, domain.UserID(u.id), meta("demo-user-"+u.id),
			domain.RegisterUser{Email: u.id + "@demo.example.com", DisplayName: u.name, Roles: u.roles, ByGlobalAdmin: true}); err != nil {
			return fmt.Errorf("demo user %s: %w", u.id, err)
		}
	}
	_, err := svc.SubmitRequest(ctx, demoTenant, "demo-request-1", meta("demo-request-1"), domain.SubmitRequest{
		ProductID: "e5", Requester: "bob", Users: []domain.UserID{"carol"}, Justification: "Teams webinars for the launch"})
	if err != nil && !errors.Is(err, domain.ErrAlreadyExists) {
		return fmt.Errorf("demo request 1: %w", err)
	}
	_, err = svc.SubmitRequest(ctx, demoTenant, "demo-request-2", meta("demo-request-2"), domain.SubmitRequest{
		ProductID: "e3", Requester: "dave", Justification: "New hire"})
	if err != nil && !errors.Is(err, domain.ErrAlreadyExists) {
		return fmt.Errorf("demo request 2: %w", err)
	}
	_, err = svc.DecideRequest(ctx, demoTenant, "demo-request-2", meta("demo-decide-2"), domain.Decide{
		Approve: []domain.UserID{"dave"}, DisabledServices: []string{"sharepoint"}, Message: "Welcome aboard"})
	if err != nil && !errors.Is(err, domain.ErrAlreadyDecided) {
		return fmt.Errorf("demo decision 2: %w", err)
	}
	return nil
}
