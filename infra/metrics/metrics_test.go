package metrics_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/infra/metrics"
	"github.com/seatflow/seatflow/infra/natsjs"
	"github.com/seatflow/seatflow/infra/natstest"
	"github.com/seatflow/seatflow/infra/projector"
	"github.com/seatflow/seatflow/projections"
)

func scrape(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("scrape: %d", rec.Code)
	}
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

func wantLine(t *testing.T, out, line string) {
	t.Helper()
	if !strings.Contains(out, line+"\n") {
		t.Fatalf("metrics lack %q; got:\n%s", line, grep(out, strings.SplitN(line, "{", 2)[0]))
	}
}

func grep(out, prefix string) string {
	var b strings.Builder
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, prefix) {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

func TestMetricsFromARealStream(t *testing.T) {
	srv := natstest.RunJetStream(t)
	nc, js := natstest.Connect(t, srv.ClientURL())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := natsjs.EnsureStreams(ctx, js, 1); err != nil {
		t.Fatal(err)
	}
	m := metrics.New()
	newSvc := func() *domain.Service {
		svc, err := domain.NewService(m.Store(natsjs.NewStore(js, events.Default())),
			domain.Config{Now: time.Now, NewID: func() string { return ulid.Make().String() }})
		if err != nil {
			t.Fatal(err)
		}
		return svc
	}
	a, b := newSvc(), newSvc()
	if _, _, err := a.Product(ctx, "contoso", "e5", events.Meta{}, domain.AddProduct{Name: "E5", Licenses: 40, SelfService: "blocked"}); err != nil {
		t.Fatal(err)
	}
	// Two services (two caches) take turns on one product: each turn finds
	// its cache one write behind, so every append after the first two is
	// refused once, counted, and retried.
	for i := range 30 {
		svc := a
		if i%2 == 1 {
			svc = b
		}
		if _, _, err := svc.Product(ctx, "contoso", "e5", events.Meta{}, domain.AssignLicense{UserID: domain.UserID(fmt.Sprintf("u%d", i)), Source: events.Source{Kind: "manual"}}); err != nil {
			t.Fatal(err)
		}
	}

	lc := projections.NewLicenseCounts()
	r, err := projector.New(projector.Config{JS: js, Registry: events.Default(), Projections: []projections.Projection{lc}})
	if err != nil {
		t.Fatal(err)
	}
	m.WatchLicenses(lc)
	m.WatchProjections(js, natsjs.StreamEvents, r)
	m.WatchNATS(nc, nil)

	// Before the runner starts, the read models trail by every event.
	out := scrape(t, m)
	wantLine(t, out, "seatflow_projection_lag_events 31")
	if grep(out, "seatflow_projection_lag_seconds ") == "seatflow_projection_lag_seconds 0\n" {
		t.Fatalf("lag seconds is 0 while 31 events are unapplied")
	}

	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(runCtx) }()
	defer func() { stop(); <-done }()
	if err := r.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	out = scrape(t, m)
	wantLine(t, out, `seatflow_licenses{product="e5",state="assigned",tenant="contoso"} 30`)
	wantLine(t, out, `seatflow_licenses{product="e5",state="available",tenant="contoso"} 10`)
	wantLine(t, out, `seatflow_licenses{product="e5",state="purchased",tenant="contoso"} 40`)
	wantLine(t, out, `seatflow_events_appended_total{type="LicenseAssigned"} 30`)
	wantLine(t, out, `seatflow_events_appended_total{type="ProductAdded"} 1`)
	wantLine(t, out, "seatflow_projection_lag_events 0")
	wantLine(t, out, "seatflow_projection_lag_seconds 0")
	wantLine(t, out, "seatflow_projection_position 31")
	wantLine(t, out, "seatflow_nats_connected 1")
	wantLine(t, out, "seatflow_concurrency_conflicts_total 28")
}

func TestHTTPDurationsUseTheRoutePattern(t *testing.T) {
	m := metrics.New()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/users/{id}/licenses", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	h := m.HTTP(mux)
	for _, id := range []string{"a", "b", "c"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/v1/users/"+id+"/licenses", nil))
	}
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/nope", nil))
	out := scrape(t, m)
	wantLine(t, out, `seatflow_http_request_duration_seconds_count{code="204",method="GET",route="GET /v1/users/{id}/licenses"} 3`)
	wantLine(t, out, `seatflow_http_request_duration_seconds_count{code="404",method="GET",route="unmatched"} 1`)
}
