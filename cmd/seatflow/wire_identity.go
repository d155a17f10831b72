package main

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/infra/httpapi"
	"github.com/seatflow/seatflow/infra/idphook"
	"github.com/seatflow/seatflow/infra/signin"
	"github.com/seatflow/seatflow/projections"
)

// identityHooks is the identity-provider part of the HTTP API: the
// identity-app mapping and the Okta and Entra ID sign-in hooks, whose
// sign-ins are published on sf.signin.<tenant> for the sign-in router,
// exactly as an upstream system's are.
func identityHooks(c *conn, svc *domain.Service, directory *projections.Directory, reg prometheus.Registerer, now func() time.Time) (*httpapi.IdentityConfig, error) {
	r, err := idphook.New(idphook.Config{Apps: svc, Directory: directory, Publisher: signin.NewPublisher(c.js),
		Metrics: reg, Now: now})
	if err != nil {
		return nil, err
	}
	return &httpapi.IdentityConfig{Commands: svc, Hooks: hookReceiver{r}}, nil
}

// hookReceiver gives the HTTP API the identity-provider edge's receiver
// in the API's terms: one edge does not import another.
type hookReceiver struct{ r *idphook.Receiver }

var _ httpapi.IdentityHooks = hookReceiver{}

// Receive implements httpapi.IdentityHooks.
func (h hookReceiver) Receive(ctx context.Context, tenant, provider string, body []byte) (httpapi.HookSummary, error) {
	sum, err := h.r.Receive(ctx, tenant, provider, body)
	var m *idphook.MalformedError
	if errors.As(err, &m) {
		return httpapi.HookSummary{}, &httpapi.MalformedHookError{Field: m.Field, Reason: m.Reason, JSON: m.JSON}
	}
	return httpapi.HookSummary{Received: sum.Received, Accepted: sum.Accepted, Duplicates: sum.Duplicates,
		Ignored: httpapi.HookIgnored{OtherEvent: sum.Ignored.OtherEvent, Failed: sum.Ignored.Failed,
			UnmappedApp: sum.Ignored.UnmappedApp, UnknownUser: sum.Ignored.UnknownUser}}, err
}
