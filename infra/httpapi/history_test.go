package httpapi_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"slices"
	"strings"
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

// exporter exports n events of its own making, recording its arguments.
type exporter struct {
	n         int
	from, to  time.Time
	after     uint64
	exportErr error
	// heap, when set, is the live heap after a tenth of the events and
	// after the last but one.
	heap []uint64
}

func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func (x *exporter) Export(ctx context.Context, tenant string, from, to time.Time, after uint64, fn func(events.Envelope) error) error {
	x.from, x.to, x.after = from, to, after
	for i := range x.n {
		pos := after + uint64(i) + 1
		e := events.New(fmt.Sprintf("ev%d", pos), tenant, events.Aggregate{Kind: events.KindProduct, ID: "e5"}, now,
			events.Meta{Actor: "root", CommandID: "c"}, events.LicensesPurchased{ProductID: "e5", Count: i})
		e.Position = pos
		if err := fn(e); err != nil {
			return err
		}
		if x.heap != nil && (i == x.n/10 || i == x.n-2) {
			x.heap = append(x.heap, liveHeap())
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return x.exportErr
}

// newHistoryEnv is newEnv with the license history read model fed by the
// store and served, and as_of answered by past.
func newHistoryEnv(t *testing.T, past ...*pastStates) (*env, *exporter) {
	t.Helper()
	h := projections.NewLicenseHistory()
	x := &exporter{}
	e := newEnv(t, func(c *httpapi.Config, _ *domain.Config) {
		c.History = &httpapi.HistoryConfig{Licenses: h}
		if len(past) > 0 {
			c.History.AsOf = past[0]
		}
		c.History.Export = x
	})
	e.store.apply = append(e.store.apply, h.Apply)
	return e, x
}

func TestHistoryOfALicense(t *testing.T) {
	e, _ := newHistoryEnv(t)
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
	e, _ := newHistoryEnv(t, past)
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
	plain, _ := newHistoryEnv(t)
	plain.do("GET", "/v1/products"+q, plain.admin(), "").problem(t, http.StatusBadRequest, httpapi.CodeValidationFailed)
}

func TestExportHistory(t *testing.T) {
	e, x := newHistoryEnv(t)
	x.n = 1000

	// NDJSON by default: each line an envelope with its position.
	r := e.do("GET", "/v1/history?from=2025-01-01T00:00:00Z&to=2025-03-01T00:00:00Z&after=41", e.admin(), "").mustStatus(t, http.StatusOK)
	if ct := r.header.Get("Content-Type"); ct != "application/x-ndjson" {
		t.Fatalf("content type %q", ct)
	}
	lines := strings.Split(strings.TrimSuffix(string(r.body), "\n"), "\n")
	if len(lines) != 1000 {
		t.Fatalf("got %d lines, want 1000", len(lines))
	}
	for i, l := range lines {
		var got struct {
			Position uint64 `json:"position"`
		}
		if err := json.Unmarshal([]byte(l), &got); err != nil {
			t.Fatalf("line %d: %v in %s", i, err, l)
		}
		// Without its position, the line is the envelope as stored.
		var m map[string]json.RawMessage
		_ = json.Unmarshal([]byte(l), &m)
		delete(m, "position")
		b, _ := json.Marshal(m)
		env, err := events.Default().Decode(b)
		if err != nil {
			t.Fatalf("line %d is not an envelope: %v", i, err)
		}
		if got.Position != uint64(42+i) || env.ID != fmt.Sprintf("ev%d", 42+i) || env.Tenant != tenant {
			t.Fatalf("line %d: %s", i, l)
		}
	}
	if x.after != 41 || !x.from.Equal(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)) || !x.to.Equal(time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("exported from %s to %s after %d", x.from, x.to, x.after)
	}

	// CSV on request.
	r = e.do("GET", "/v1/history", e.admin(), "", "Accept", "text/csv").mustStatus(t, http.StatusOK)
	rows, err := csv.NewReader(bytes.NewReader(r.body)).ReadAll()
	if err != nil || len(rows) != 1001 || !slices.Equal(rows[0], httpapi.ExportCSVHeader) {
		t.Fatalf("csv: %v, %d rows", err, len(rows))
	}
	if row := rows[1]; row[0] != "1" || row[1] != "ev1" || row[2] != "LicensesPurchased" || row[6] != "e5" || row[12] != `{"product_id":"e5","count":0}` {
		t.Fatalf("first row %q", row)
	}

	for _, q := range []string{"from=monday", "to=2025-01-01", "after=-1", "after=x", "from=2025-02-01T00:00:00Z&to=2025-01-01T00:00:00Z"} {
		e.do("GET", "/v1/history?"+q, e.admin(), "").problem(t, http.StatusBadRequest, httpapi.CodeValidationFailed)
	}
	e.do("GET", "/v1/history", e.token("lia", auth.RoleLicenseAdmin), "").problem(t, http.StatusForbidden, httpapi.CodeForbidden)
}

// countingWriter is a ResponseWriter that keeps nothing of the body.
type countingWriter struct {
	header  http.Header
	bytes   int
	flushes int
}

func (w *countingWriter) Header() http.Header         { return w.header }
func (w *countingWriter) WriteHeader(int)             {}
func (w *countingWriter) Write(b []byte) (int, error) { w.bytes += len(b); return len(b), nil }
func (w *countingWriter) Flush()                      { w.flushes++ }

// TestExportHistoryStreams: the handler flushes as it goes and holds a
// bounded buffer: exporting 100,000 events allocates per event, not per
// export.
func TestExportHistoryStreams(t *testing.T) {
	e, x := newHistoryEnv(t)
	x.n = 100_000
	req := httptest.NewRequest("GET", "/v1/history", nil)
	req.Header.Set("Authorization", "Bearer "+e.admin())
	w := &countingWriter{header: http.Header{}}
	x.heap = []uint64{}
	e.srv.ServeHTTP(w, req)
	if w.flushes < x.n/512 || w.bytes < x.n*100 {
		t.Fatalf("%d bytes in %d flushes for %d events", w.bytes, w.flushes, x.n)
	}
	t.Logf("%d bytes written in %d flushes; live heap after %d events %d KiB, after %d events %d KiB",
		w.bytes, w.flushes, x.n/10, x.heap[0]>>10, x.n-1, x.heap[1]>>10)
	// The body is over 20 MB: holding any sizeable part of it would show.
	if x.heap[1] > x.heap[0] && x.heap[1]-x.heap[0] > 1<<20 {
		t.Fatalf("live heap grew by %d bytes while exporting", x.heap[1]-x.heap[0])
	}
}
