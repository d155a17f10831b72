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

// OrgID is the id of a tenant's one org aggregate (sf.evt.<tenant>.org.org).
const OrgID = "org"

// The aggregates, each one subject (sf.evt.<tenant>.<kind>.<id>).
var orgAgg = events.Aggregate{Kind: events.KindOrg, ID: OrgID}

func productAgg(id ProductID) events.Aggregate {
	return events.Aggregate{Kind: events.KindProduct, ID: string(id)}
}

func policyAgg(id PolicyID) events.Aggregate {
	return events.Aggregate{Kind: events.KindPolicy, ID: string(id)}
}

func userAgg(id UserID) events.Aggregate {
	return events.Aggregate{Kind: events.KindUser, ID: string(id)}
}

func groupAgg(id GroupID) events.Aggregate {
	return events.Aggregate{Kind: events.KindGroup, ID: string(id)}
}

func requestAgg(id RequestID) events.Aggregate {
	return events.Aggregate{Kind: events.KindRequest, ID: string(id)}
}

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
