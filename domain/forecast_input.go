package domain

import "time"

// ClaimCounter counts claims (the claims read model).
type ClaimCounter interface {
	// ProductClaims counts the licenses of product claimed after from and
	// not after to.
	ProductClaims(tenant, product string, from, to time.Time) int
}

// QueueCounter counts the users waiting for a seat (the policy list read
// model).
type QueueCounter interface {
	// QueuedFor counts the users waiting under the enabled policies that
	// list product.
	QueuedFor(tenant, product string) int
}

// NewForecastInput is the forecast input of tenant's product with
// available free seats at now: the users queued for it and its claims of
// the 7 and 30 days up to now. GET /v1/products/{id}/forecast and the
// pool.forecast warning both make their input with it, so they agree.
func NewForecastInput(claims ClaimCounter, queues QueueCounter, tenant string, product ProductID, available int, now time.Time) ForecastInput {
	day := 24 * time.Hour
	p := string(product)
	return ForecastInput{ProductID: product, Available: available, Queued: queues.QueuedFor(tenant, p),
		Claims7:  claims.ProductClaims(tenant, p, now.Add(-7*day), now),
		Claims30: claims.ProductClaims(tenant, p, now.Add(-30*day), now)}
}
