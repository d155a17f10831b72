package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/infra/auth"
	"github.com/seatflow/seatflow/infra/httpapi"
	"github.com/seatflow/seatflow/projections"
)

// newHistoryEnv is newEnv with the license history read model fed by the
// store and served.
func newHistoryEnv(t *testing.T) *env {
	t.Helper()
	h := projections.NewLicenseHistory()
	e := newEnv(t, func(c *httpapi.Config, _ *domain.Config) {
		c.History = &httpapi.HistoryConfig{Licenses: h}
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
