package main

import (
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
	return &httpapi.IdentityConfig{Commands: svc, Hooks: r}, nil
}
