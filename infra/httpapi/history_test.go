package httpapi_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/infra/auth"
	"github.com/seatflow/seatflow/infra/httpapi"
	"github.com/seatflow/seatflow/projections"
)

// pastStates answers as_of queries with what it was given, and records
// the instants asked for.
type pastStates struct {
	asked    []time.Time
	products []projections.ProductCount
	policy   *projections.PolicyListItem
	licenses []projections.UserLicense
}

func (p *pastStates) ProductsAt(_ context.Context, _ string, t time.Time) ([]projections.ProductCount, error) {
	p.asked = append(p.asked, t)
	return p.products, nil
}

func (p *pastStates) PolicyAt(_ context.Context, _, _ string, t time.Time) (projections.PolicyListItem, bool, error) {
	p.asked = append(p.asked, t)
	if p.policy == nil {
		return projections.PolicyListItem{}, false, nil
	}
	return *p.policy, true, nil
}

func (p *pastStates) LicensesAt(_ context.Context, _, _ string, t time.Time) ([]projections.UserLicense, error) {
	p.asked = append(p.asked, t)
	return p.licenses, nil
}

// newHistoryEnv is newEnv with the license history read model fed by the
// store and served, and as_of answered by past.
func newHistoryEnv(t *testing.T, past ...*pastStates) *env {
	t.Helper()
	h := projections.NewLicenseHistory()
	e := newEnv(t, func(c *httpapi.Config, _ *domain.Config) {
		c.History = &httpapi.HistoryConfig{Licenses: h}
		if len(past) > 0 {
			c.History.AsOf = past[0]
		}
	})
	e.store.apply = append(e.store.apply, h.Apply)
	return e
}

func TestHistoryOfALicense(t *testing.T) {
	e := newHistoryEnv(t)
	e.seed("e5", 3)
	e.do("POST", "/v1/products/e5/assignments", e.admin(), `{"user_id":"bob"}`).mustStatus(t, http.StatusCreated)
	e.do("DELETE", "/v1/products/e5/assignments/bob", e.admin(), "").mustStatus(t, http.StatusOK)

	var got []projections.HistoryEntry
	bob := e.token("bob", auth.RoleUser)
	e.do("GET", "/v1/users/bob/licenses/e5/history", bob, "").mustStatus(t, http.StatusOK).decode(t, &got)
	if len(got) != 2 || got[0].Type != "LicenseAssigned" || got[1].Type != "LicenseUnassigned" ||
		got[0].Origin.Kind != "manual" || got[0].Actor != "root" || got[0].CommandID == "" || got[0].Position >= got[1].Position {
		t.Fatalf("got %+v, want an assignment by root then an unassignment", got)
	}
	if got[0].Origin.Detail != "manually assigned by root" || got[1].Origin.Detail != "manually unassigned by root" {
		t.Errorf("details %q, %q", got[0].Origin.Detail, got[1].Origin.Detail)
	}

	e.do("GET", "/v1/users/bob/licenses/e5/history", e.token("cat", auth.RoleUser), "").problem(t, http.StatusForbidden, httpapi.CodeForbidden)
	e.do("GET", "/v1/users/cat/licenses/e5/history", e.admin(), "").problem(t, http.StatusNotFound, httpapi.CodeNotFound)
	e.do("GET", "/v1/users/bob/licenses/e.5/history", e.admin(), "").problem(t, http.StatusBadRequest, httpapi.CodeValidationFailed)
	e.do("GET", "/v1/users/bob/licenses/e5/history", "", "").problem(t, http.StatusUnauthorized, httpapi.CodeUnauthorized)
}

func TestAsOfQueries(t *testing.T) {
	past := &pastStates{
		products: []projections.ProductCount{{ProductID: "e5", Name: "E5", Services: []string{}, Purchased: 2, Assigned: 1, Available: 1, SelfService: "blocked"}},
		licenses: []projections.UserLicense{{ProductID: "e5", DisabledServices: []string{}, Source: events.Source{Kind: "manual"}, AssignedAt: now}},
	}
	e := newHistoryEnv(t, past)
	e.seed("e5", 9)
	at := "2025-02-01T10:00:00.5+01:00"
	q := "?as_of=" + url.QueryEscape(at)

	var ps []projections.ProductCount
	e.do("GET", "/v1/products"+q, e.admin(), "").mustStatus(t, http.StatusOK).decode(t, &ps)
	if len(ps) != 1 || ps[0].Purchased != 2 {
		t.Fatalf("products as of %s: got %+v, want the past state", at, ps)
	}
	var ls []projections.UserLicense
	e.do("GET", "/v1/users/bob/licenses"+q, e.token("bob", auth.RoleUser), "").mustStatus(t, http.StatusOK).decode(t, &ls)
	if len(ls) != 1 || ls[0].ProductID != "e5" {
		t.Fatalf("licenses as of %s: got %+v", at, ls)
	}
	want, _ := time.Parse(time.RFC3339Nano, at)
	if len(past.asked) != 2 || !past.asked[0].Equal(want) || !past.asked[1].Equal(want) {
		t.Fatalf("asked for %v, want %s twice", past.asked, want)
	}

	// Without as_of, the present.
	e.do("GET", "/v1/products", e.admin(), "").mustStatus(t, http.StatusOK).decode(t, &ps)
	if len(ps) != 1 || ps[0].Purchased != 9 {
		t.Fatalf("products now: got %+v", ps)
	}
	for _, bad := range []string{"yesterday", "2025-02-01", "2025-02-01T10:00:00", ""} {
		e.do("GET", "/v1/products?as_of="+url.QueryEscape(bad), e.admin(), "").problem(t, http.StatusBadRequest, httpapi.CodeValidationFailed)
	}
	e.do("GET", "/v1/products"+q+"&as_of=2025-01-01T00:00:00Z", e.admin(), "").problem(t, http.StatusBadRequest, httpapi.CodeValidationFailed)
	e.do("GET", "/v1/users/bob/licenses"+q, e.token("cat", auth.RoleUser), "").problem(t, http.StatusForbidden, httpapi.CodeForbidden)

	// A server that keeps no past states says so.
	plain := newHistoryEnv(t)
	plain.do("GET", "/v1/products"+q, plain.admin(), "").problem(t, http.StatusBadRequest, httpapi.CodeValidationFailed)
}
