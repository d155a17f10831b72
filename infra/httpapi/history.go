package httpapi

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/infra/auth"
	"github.com/seatflow/seatflow/projections"
)

// HistoryQueries answers from the license history read model.
type HistoryQueries interface {
	// History lists the events that touched user's license of product,
	// oldest first; false when there are none.
	History(tenant, user, product string) ([]projections.HistoryEntry, bool)
}

var _ HistoryQueries = (*projections.LicenseHistory)(nil)

// AsOfQueries answers what the read models answered at a past instant
// (history.Reader). Errors: store errors, ctx's.
type AsOfQueries interface {
	// ProductsAt lists tenant's products as they stood at t.
	ProductsAt(ctx context.Context, tenant string, t time.Time) ([]projections.ProductCount, error)
	// PolicyAt returns a policy as it stood at t; false when it did not
	// exist then.
	PolicyAt(ctx context.Context, tenant, id string, t time.Time) (projections.PolicyListItem, bool, error)
	// LicensesAt lists the licenses user held at t.
	LicensesAt(ctx context.Context, tenant, user string, t time.Time) ([]projections.UserLicense, error)
}

// HistoryConfig is what the history routes need; Config.History holds it
// (nil: the routes are not served).
type HistoryConfig struct {
	// Licenses answers a license's history. Required.
	Licenses HistoryQueries
	// AsOf answers ?as_of= on the user's licenses, the products and a
	// policy. nil: as_of is refused with 400.
	AsOf AsOfQueries
	// Export streams the tenant's events for GET /v1/history. nil: the
	// route is not served.
	Export Exporter
	// Foresight serves the run-out forecast and the policy simulation
	// (see foresight.go). nil: those routes are not served.
	Foresight *ForesightConfig
}

// Exporter streams a tenant's events (history.Reader).
type Exporter interface {
	// Export calls fn with tenant's events in stream order: those after
	// position after (all when 0) stored from from to to (either unbounded
	// when zero), up to the stream's head when it started; fn's error stops
	// it and is returned. Errors: store errors, ctx's.
	Export(ctx context.Context, tenant string, from, to time.Time, after uint64, fn func(events.Envelope) error) error
}

// asOf reads ?as_of=, an RFC 3339 instant; false when it is absent.
func (s *Server) asOf(r *http.Request) (time.Time, bool, error) {
	vs, ok := r.URL.Query()["as_of"]
	if !ok {
		return time.Time{}, false, nil
	}
	if len(vs) != 1 {
		return time.Time{}, false, invalidField("as_of", "must be given once")
	}
	t, err := time.Parse(time.RFC3339Nano, vs[0])
	if err != nil {
		return time.Time{}, false, invalidField("as_of", fmt.Sprintf("%q is not an RFC 3339 instant (e.g. 2026-11-30T17:00:00Z)", vs[0]))
	}
	if s.cfg.History == nil || s.cfg.History.AsOf == nil {
		return time.Time{}, false, invalidField("as_of", "this server keeps no past states")
	}
	return t, true, nil
}

// historyRoutes registers the history routes, when configured.
func (s *Server) historyRoutes() {
	if s.cfg.History == nil {
		return
	}
	s.handle("GET /v1/users/{id}/licenses/{product_id}/history", access{
		roles: auth.AdminRoles,
		self:  "id",
		why:   "only admins or the user themself may read the history of a user's licenses",
	}, s.licenseHistory)
	if s.cfg.History.Export != nil {
		s.handle("GET /v1/history", globalAdmin, s.exportHistory)
	}
}

// GET /v1/users/{id}/licenses/{product_id}/history
func (s *Server) licenseHistory(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	user, err := pathID(r, "id", "id")
	if err != nil {
		return err
	}
	product, err := pathID(r, "product_id", "product_id")
	if err != nil {
		return err
	}
	if err := s.waitAfter(r); err != nil {
		return err
	}
	h, ok := s.cfg.History.Licenses.History(c.Tenant, user, product)
	if !ok {
		return &domain.NotFoundError{Kind: "license history", ID: fmt.Sprintf("%s/%s", user, product)}
	}
	return writeJSON(w, http.StatusOK, h)
}

// instant reads the RFC 3339 query parameter name; zero when absent.
func instant(r *http.Request, name string) (time.Time, error) {
	vs, ok := r.URL.Query()[name]
	if !ok {
		return time.Time{}, nil
	}
	if len(vs) != 1 {
		return time.Time{}, invalidField(name, "must be given once")
	}
	t, err := time.Parse(time.RFC3339Nano, vs[0])
	if err != nil {
		return time.Time{}, invalidField(name, fmt.Sprintf("%q is not an RFC 3339 instant (e.g. 2026-11-30T17:00:00Z)", vs[0]))
	}
	return t, nil
}

// ExportCSVHeader is the header row of the event export's CSV form.
var ExportCSVHeader = []string{"position", "id", "type", "version", "tenant", "aggregate_kind", "aggregate_id", "occurred_at",
	"actor", "command_id", "correlation_id", "causation_id", "data"}

// exportFlushEvery is how many events the export writes between flushes.
const exportFlushEvery = 256

// exportStall is how long an export may go without its client taking a
// flush: the server's write timeout bounds a whole answer, so a long export
// moves its deadline on as it makes progress instead.
const exportStall = time.Minute

// GET /v1/history?from=T1&to=T2[&after=position]: the tenant's events in
// stream order as NDJSON (one envelope per line with its position) or,
// with Accept: text/csv, CSV; streamed as read, so memory does not grow
// with the number of events. after resumes an interrupted export after the
// last position received.
func (s *Server) exportHistory(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	from, err := instant(r, "from")
	if err != nil {
		return err
	}
	to, err := instant(r, "to")
	if err != nil {
		return err
	}
	if !from.IsZero() && !to.IsZero() && to.Before(from) {
		return invalidField("to", "must not be before from")
	}
	var after uint64
	if vs, ok := r.URL.Query()["after"]; ok {
		if len(vs) != 1 {
			return invalidField("after", "must be given once")
		}
		if after, err = strconv.ParseUint(vs[0], 10, 64); err != nil {
			return invalidField("after", fmt.Sprintf("%q is not a stream position (a non-negative integer)", vs[0]))
		}
	}
	rc := http.NewResponseController(w)
	bw := bufio.NewWriterSize(w, 32<<10)
	var write func(events.Envelope) error
	flush := bw.Flush
	if wantsCSV(r) {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="history.csv"`)
		cw := csv.NewWriter(bw)
		_ = cw.Write(ExportCSVHeader)
		row := make([]string, len(ExportCSVHeader))
		flush = func() error {
			if cw.Flush(); cw.Error() != nil {
				return cw.Error()
			}
			return bw.Flush()
		}
		write = func(e events.Envelope) error {
			data, err := json.Marshal(e.Data)
			if err != nil {
				return fmt.Errorf("encode event %d: %w", e.Position, err)
			}
			row[0], row[1], row[2], row[3] = strconv.FormatUint(e.Position, 10), e.ID, e.Type, strconv.Itoa(e.Version)
			row[4], row[5], row[6], row[7] = e.Tenant, string(e.Aggregate.Kind), e.Aggregate.ID, e.OccurredAt.UTC().Format(time.RFC3339Nano)
			row[8], row[9], row[10], row[11], row[12] = e.Actor, e.CommandID, e.CorrelationID, e.CausationID, string(data)
			_ = cw.Write(row)
			return cw.Error()
		}
	} else {
		w.Header().Set("Content-Type", "application/x-ndjson")
		write = func(e events.Envelope) error {
			b, err := json.Marshal(e)
			if err != nil {
				return fmt.Errorf("encode event %d: %w", e.Position, err)
			}
			// The envelope with its position first: {"position":N,"id":...}.
			_, _ = bw.WriteString(`{"position":`)
			_, _ = bw.WriteString(strconv.FormatUint(e.Position, 10))
			_ = bw.WriteByte(',')
			_, _ = bw.Write(b[1:])
			return bw.WriteByte('\n')
		}
	}
	_ = rc.SetWriteDeadline(time.Now().Add(exportStall))
	w.WriteHeader(http.StatusOK)
	n := 0
	err = s.cfg.History.Export.Export(r.Context(), c.Tenant, from, to, after, func(e events.Envelope) error {
		if err := write(e); err != nil {
			return err
		}
		if n++; n%exportFlushEvery == 0 {
			if err := flush(); err != nil {
				return err
			}
			_ = rc.Flush()
			_ = rc.SetWriteDeadline(time.Now().Add(exportStall))
		}
		return nil
	})
	if ferr := flush(); err == nil {
		err = ferr
	}
	_ = rc.Flush()
	if err != nil && r.Context().Err() == nil {
		// The status is out: the client sees the export end early and
		// resumes with after= the last position it received.
		s.log.Error("history export stopped", "request_id", requestID(r.Context()), "err", err)
	}
	return nil
}
