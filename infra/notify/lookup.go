package notify

import (
	"github.com/seatflow/seatflow/infra/sharelink"
	"github.com/seatflow/seatflow/projections"
)

// ReadModels is a Lookup on the read models.
type ReadModels struct {
	Directory *projections.Directory
	Products  *projections.LicenseCounts
	Requests  *projections.Requests
	// Link builds share links (see LinkBase).
	Link func(sharelink.Claims) (string, error)
}

var _ Lookup = ReadModels{}

// User implements Lookup.
func (r ReadModels) User(tenant, id string) (projections.DirectoryUser, bool) {
	return r.Directory.User(tenant, id)
}

// Admins implements Lookup.
func (r ReadModels) Admins(tenant string) []projections.DirectoryUser {
	return r.Directory.Admins(tenant)
}

// ProductName implements Lookup.
func (r ReadModels) ProductName(tenant, id string) string {
	if p, ok := r.Products.Product(tenant, id); ok {
		return p.Name
	}
	return id
}

// Request implements Lookup.
func (r ReadModels) Request(tenant, id string) (projections.RequestDetails, bool) {
	return r.Requests.Details(tenant, id)
}

// ShareLink implements Lookup.
func (r ReadModels) ShareLink(c sharelink.Claims) (string, error) { return r.Link(c) }
