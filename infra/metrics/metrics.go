package metrics

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/projections"
)

// Metrics owns one Prometheus registry and the metrics Seatflow counts
// itself.
type Metrics struct {
	opts      Options
	reg       *prometheus.Registry
	appended  *prometheus.CounterVec
	conflicts prometheus.Counter
	appendErr prometheus.Counter
	httpDur   *prometheus.HistogramVec
}

// Options tune what Metrics exports.
type Options struct {
	// NoTenantLabels drops the tenant, product and policy labels: every
	// family is summed over them, so the number of series stays fixed
	// however many tenants there are.
	NoTenantLabels bool
}

// New returns Metrics with the Go runtime and process collectors
// registered, and per-tenant labels.
func New() *Metrics { return NewWith(Options{}) }

// NewWith returns Metrics tuned by o.
func NewWith(o Options) *Metrics {
	m := &Metrics{
		opts: o,
		reg:  prometheus.NewRegistry(),
		appended: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "seatflow_events_appended_total",
			Help: "Events appended to the event stream by this instance, by event type.",
		}, []string{"type"}),
		conflicts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "seatflow_concurrency_conflicts_total",
			Help: "Appends refused because another writer got there first; each is followed by a retry.",
		}),
		appendErr: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "seatflow_append_errors_total",
			Help: "Appends that failed for a reason other than a concurrency conflict.",
		}),
		httpDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "seatflow_http_request_duration_seconds",
			Help:    "HTTP request durations by method, route pattern and status code.",
			Buckets: prometheus.DefBuckets,
		}, []string{"method", "route", "code"}),
	}
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.appended, m.conflicts, m.appendErr, m.httpDur)
	return m
}

// Registry is where further collectors (watermill's, read models') go.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// ObserveHTTP records one answered request under its route pattern.
func (m *Metrics) ObserveHTTP(method, route string, status int, d time.Duration) {
	if route == "" {
		route = "unmatched"
	}
	m.httpDur.WithLabelValues(method, route, strconv.Itoa(status)).Observe(d.Seconds())
}

// HTTP wraps next, observing each request's duration under the route pattern
// the ServeMux matched (not the raw path, so ids do not explode the label
// set).
func (m *Metrics) HTTP(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		m.ObserveHTTP(r.Method, r.Pattern, sw.status, time.Since(start))
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Store wraps an event store, counting appended events by type and the
// appends refused by the concurrency check.
func (m *Metrics) Store(inner domain.Store) domain.Store { return &countingStore{inner: inner, m: m} }

type countingStore struct {
	inner domain.Store
	m     *Metrics
}

var _ domain.Store = (*countingStore)(nil)

func (s *countingStore) Load(ctx context.Context, tenant string, agg events.Aggregate, after uint64) ([]events.Envelope, error) {
	return s.inner.Load(ctx, tenant, agg, after)
}

// LoadLatest passes on to the inner store's LoadLatest where it has one.
func (s *countingStore) LoadLatest(ctx context.Context, tenant string, agg events.Aggregate, after uint64) ([]events.Envelope, error) {
	if ls, ok := s.inner.(domain.LeaderStore); ok {
		return ls.LoadLatest(ctx, tenant, agg, after)
	}
	return s.inner.Load(ctx, tenant, agg, after)
}

var _ domain.LeaderStore = (*countingStore)(nil)

func (s *countingStore) Append(ctx context.Context, writes ...domain.Write) ([]uint64, error) {
	pos, err := s.inner.Append(ctx, writes...)
	switch {
	case err == nil:
		for _, w := range writes {
			for _, e := range w.Events {
				s.m.appended.WithLabelValues(e.Type).Inc()
			}
		}
	case errors.Is(err, domain.ErrConcurrency):
		s.m.conflicts.Inc()
	default:
		s.m.appendErr.Inc()
	}
	return pos, err
}

// WatchLicenses exports purchased, assigned and available licenses per
// tenant and product from the read model, at scrape time.
func (m *Metrics) WatchLicenses(lc *projections.LicenseCounts) {
	if m.opts.NoTenantLabels {
		desc := prometheus.NewDesc("seatflow_licenses", "Licenses of all products of all tenants by state: purchased, assigned or available.",
			[]string{"state"}, nil)
		m.reg.MustRegister(collectorFunc{desc: desc, collect: func(ch chan<- prometheus.Metric) {
			var purchased, assigned, available int
			for _, t := range lc.Tenants() {
				for _, p := range lc.Products(t) {
					purchased, assigned, available = purchased+p.Purchased, assigned+p.Assigned, available+p.Available
				}
			}
			ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, float64(purchased), "purchased")
			ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, float64(assigned), "assigned")
			ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, float64(available), "available")
		}})
		return
	}
	desc := prometheus.NewDesc("seatflow_licenses", "Licenses of a product by state: purchased, assigned or available.",
		[]string{"tenant", "product", "state"}, nil)
	m.reg.MustRegister(collectorFunc{desc: desc, collect: func(ch chan<- prometheus.Metric) {
		for _, t := range lc.Tenants() {
			for _, p := range lc.Products(t) {
				ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, float64(p.Purchased), t, p.ProductID, "purchased")
				ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, float64(p.Assigned), t, p.ProductID, "assigned")
				ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, float64(p.Available), t, p.ProductID, "available")
			}
		}
	}})
}

// Progress is what WatchProjections needs of the projection runner.
type Progress interface{ Position() uint64 }

// WatchProjections exports how far the read models trail the event stream,
// in events and in seconds (the age of the oldest event not yet applied).
func (m *Metrics) WatchProjections(js jetstream.JetStream, stream string, p Progress) {
	events := prometheus.NewDesc("seatflow_projection_lag_events", "Events in the stream not yet applied to the read models.", nil, nil)
	seconds := prometheus.NewDesc("seatflow_projection_lag_seconds", "Age of the oldest event not yet applied to the read models (0 when caught up).", nil, nil)
	position := prometheus.NewDesc("seatflow_projection_position", "Stream sequence applied to the read models.", nil, nil)
	rejected := prometheus.NewDesc("seatflow_events_rejected_total", "Events never applied because their subject disagrees with their envelope.", nil, nil)
	m.reg.MustRegister(collectorFunc{desc: events, also: []*prometheus.Desc{seconds, position, rejected}, collect: func(ch chan<- prometheus.Metric) {
		pos := p.Position()
		ch <- prometheus.MustNewConstMetric(position, prometheus.GaugeValue, float64(pos))
		if r, ok := p.(interface{ Rejected() uint64 }); ok {
			ch <- prometheus.MustNewConstMetric(rejected, prometheus.CounterValue, float64(r.Rejected()))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		s, err := js.Stream(ctx, stream)
		if err != nil {
			return
		}
		info, err := s.Info(ctx)
		if err != nil {
			return
		}
		lag := float64(0)
		if info.State.LastSeq > pos {
			lag = float64(info.State.LastSeq - pos)
		}
		ch <- prometheus.MustNewConstMetric(events, prometheus.GaugeValue, lag)
		age := float64(0)
		if lag > 0 {
			if msg, err := s.GetMsg(ctx, pos+1); err == nil {
				age = time.Since(msg.Time).Seconds()
			}
		}
		ch <- prometheus.MustNewConstMetric(seconds, prometheus.GaugeValue, age)
	}})
}

// WatchNATS exports the state of the service's NATS connection.
//
// probe, if not nil, decides "up" beyond the connection's own state: a
// connection to a frozen server still says connected until its pings time
// out.
func (m *Metrics) WatchNATS(nc *nats.Conn, probe func(context.Context) error) {
	desc := prometheus.NewDesc("seatflow_nats_connected", "1 when the NATS connection is up and the event stream answers, 0 otherwise.", nil, nil)
	reconnects := prometheus.NewDesc("seatflow_nats_reconnects_total", "Times the NATS connection was re-established.", nil, nil)
	m.reg.MustRegister(collectorFunc{desc: desc, also: []*prometheus.Desc{reconnects}, collect: func(ch chan<- prometheus.Metric) {
		up := 0.0
		if nc.IsConnected() && (probe == nil || probe(context.Background()) == nil) {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, up)
		ch <- prometheus.MustNewConstMetric(reconnects, prometheus.CounterValue, float64(nc.Stats().Reconnects))
	}})
}

// GaugeFunc registers a gauge family computed at scrape time: each call of
// sample yields one value with its label values (in the order of labels).
func (m *Metrics) GaugeFunc(name, help string, labels []string, sample func(emit func(value float64, labelValues ...string))) {
	desc := prometheus.NewDesc(name, help, labels, nil)
	m.reg.MustRegister(collectorFunc{desc: desc, collect: func(ch chan<- prometheus.Metric) {
		sample(func(v float64, lvs ...string) {
			ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, lvs...)
		})
	}})
}

// collectorFunc is a Collector whose metrics are computed by collect.
type collectorFunc struct {
	desc    *prometheus.Desc
	also    []*prometheus.Desc
	collect func(ch chan<- prometheus.Metric)
}

func (c collectorFunc) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.desc
	for _, d := range c.also {
		ch <- d
	}
}

func (c collectorFunc) Collect(ch chan<- prometheus.Metric) { c.collect(ch) }

// WatchAutoClaim exports, per tenant and policy, the licenses ever claimed
// (a counter: claims stay counted when a license is later taken back), the
// users waiting in the queue and the seats available across the policy's
// products.
func (m *Metrics) WatchAutoClaim(pl *projections.PolicyList, cl *projections.Claims) {
	if m.opts.NoTenantLabels {
		claims := prometheus.NewDesc("seatflow_policy_claims", "Licenses claimed under auto-claim policies, ever.", nil, nil)
		queued := prometheus.NewDesc("seatflow_policy_queued", "Users waiting for a seat under auto-claim policies.", nil, nil)
		avail := prometheus.NewDesc("seatflow_policy_available", "Seats available across auto-claim policies' products.", nil, nil)
		m.reg.MustRegister(collectorFunc{desc: claims, also: []*prometheus.Desc{queued, avail}, collect: func(ch chan<- prometheus.Metric) {
			var nClaims, nQueued, nAvail int
			for _, byPolicy := range cl.ClaimCounts() {
				for _, n := range byPolicy {
					nClaims += n
				}
			}
			for _, t := range pl.Tenants() {
				for _, p := range pl.Policies(t) {
					nQueued, nAvail = nQueued+p.Queued, nAvail+p.Available
				}
			}
			ch <- prometheus.MustNewConstMetric(claims, prometheus.CounterValue, float64(nClaims))
			ch <- prometheus.MustNewConstMetric(queued, prometheus.GaugeValue, float64(nQueued))
			ch <- prometheus.MustNewConstMetric(avail, prometheus.GaugeValue, float64(nAvail))
		}})
		return
	}
	claims := prometheus.NewDesc("seatflow_policy_claims", "Licenses claimed under an auto-claim policy, ever.", []string{"tenant", "policy"}, nil)
	queued := prometheus.NewDesc("seatflow_policy_queued", "Users waiting for a seat under an auto-claim policy.", []string{"tenant", "policy"}, nil)
	avail := prometheus.NewDesc("seatflow_policy_available", "Seats available across an auto-claim policy's products.", []string{"tenant", "policy"}, nil)
	m.reg.MustRegister(collectorFunc{desc: claims, also: []*prometheus.Desc{queued, avail}, collect: func(ch chan<- prometheus.Metric) {
		for t, byPolicy := range cl.ClaimCounts() {
			for p, n := range byPolicy {
				ch <- prometheus.MustNewConstMetric(claims, prometheus.CounterValue, float64(n), t, p)
			}
		}
		for _, t := range pl.Tenants() {
			for _, p := range pl.Policies(t) {
				ch <- prometheus.MustNewConstMetric(queued, prometheus.GaugeValue, float64(p.Queued), t, p.PolicyID)
				ch <- prometheus.MustNewConstMetric(avail, prometheus.GaugeValue, float64(p.Available), t, p.PolicyID)
			}
		}
	}})
}

// WatchRequests exports the pending license requests per tenant.
func (m *Metrics) WatchRequests(rq *projections.Requests) {
	if m.opts.NoTenantLabels {
		m.GaugeFunc("seatflow_requests_pending", "License requests waiting for a decision, all tenants.", nil,
			func(emit func(float64, ...string)) {
				total := 0
				for _, n := range rq.PendingCounts() {
					total += n
				}
				emit(float64(total))
			})
		return
	}
	m.GaugeFunc("seatflow_requests_pending", "License requests waiting for a decision.", []string{"tenant"},
		func(emit func(float64, ...string)) {
			for t, n := range rq.PendingCounts() {
				emit(float64(n), t)
			}
		})
}
