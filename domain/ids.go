package domain

import "github.com/seatflow/seatflow/events"

// Typed identifiers. They are made at the edge (infra) and validated here.
type (
	TenantID  string
	ProductID string
	UserID    string
	PolicyID  string
	RequestID string
	GroupID   string
)

func checkID(field, id string) error {
	if !events.ValidID(id) {
		return invalid(field, "%q is not a valid id (1-128 letters, digits, '_', '-' or '@')", id)
	}
	return nil
}

func checkTenant(t TenantID) error {
	if !events.ValidTenant(string(t)) {
		return invalid("tenant", "%q is not a valid tenant (1-63 lower-case letters, digits and '-')", t)
	}
	return nil
}
