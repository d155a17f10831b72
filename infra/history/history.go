// Package history reads the event stream's past: the stream position at
// an instant (from JetStream's own time index), a tenant's products,
// policies and a user's licenses as they stood then, and the tenant's
// events between two instants, streamed.
//
// As of an instant T, the state is the fold of every event the stream
// stored at or before T: the stream's timestamps, not the envelopes'
// occurred_at (which writers set), decide what "before" means, so the
// answer is the same from any instance. Products and policies come from
// the as-of index's last mark at or before that position brought forward
// by at most one mark's span of the tenant's product and policy events,
// read from the stream; a user's licenses come from the license history,
// whose entries say what each event did to each license.
package history

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/projections"
)

// Progress is how far the runner has applied the stream to the read
// models (projector.Runner).
type Progress interface {
	// WaitFor returns once position has been applied, or ctx's error.
	WaitFor(ctx context.Context, position uint64) error
}

// Config is what a Reader needs.
type Config struct {
	// JS reaches the event stream. Required.
	JS jetstream.JetStream
	// Stream is the event stream's name. Default "SEATFLOW_EVENTS".
	Stream string
	// Registry decodes events. Required.
	Registry *events.Registry
	// Index holds the marks of products and policies. Required.
	Index *projections.AsOfIndex
	// Licenses is the license history read model. Required.
	Licenses *projections.LicenseHistory
	// Progress says when the read models have reached a position. Required.
	Progress Progress
	// Timeout bounds one as-of answer (not an export). Default 30s.
	Timeout time.Duration
}

func (c *Config) setDefaults() {
	if c.Stream == "" {
		c.Stream = "SEATFLOW_EVENTS"
	}
	if c.Timeout == 0 {
		c.Timeout = 30 * time.Second
	}
}

// Validate reports every missing setting.
func (c Config) Validate() error {
	var errs []error
	if c.JS == nil {
		errs = append(errs, errors.New("history: Config.JS is required"))
	}
	if c.Registry == nil {
		errs = append(errs, errors.New("history: Config.Registry is required"))
	}
	if c.Index == nil {
		errs = append(errs, errors.New("history: Config.Index is required"))
	}
	if c.Licenses == nil {
		errs = append(errs, errors.New("history: Config.Licenses is required"))
	}
	if c.Progress == nil {
		errs = append(errs, errors.New("history: Config.Progress is required"))
	}
	return errors.Join(errs...)
}

// Reader answers questions about the stream's past.
type Reader struct {
	cfg Config
	// directGet is the subject of the event stream's direct gets, under
	// the JetStream API prefix (or domain) js was made with.
	directGet string
}

// New returns a Reader for cfg after filling its defaults and validating
// it.
func New(cfg Config) (*Reader, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	opts := cfg.JS.Options()
	prefix := jetstream.DefaultAPIPrefix
	switch {
	case opts.Domain != "":
		prefix = "$JS." + opts.Domain + ".API."
	case opts.APIPrefix != "":
		prefix = strings.TrimSuffix(opts.APIPrefix, ".") + "."
	}
	return &Reader{cfg: cfg, directGet: prefix + "DIRECT.GET." + cfg.Stream}, nil
}

// directGet is the body of a direct get by time (server.JSApiMsgGetRequest).
type directGet struct {
	StartTime time.Time `json:"start_time"`
}

// PositionAt is the last stream position stored at or before t (0 when
// none was): the message before the first one stored after t, which the
// stream's time index finds with one direct get.
//
// Any replica may answer a direct get; one that trails the leader may have
// nothing after t yet. The stream's last position counts only when its
// last message was stored at or before t; otherwise the question is asked
// again.
func (r *Reader) PositionAt(ctx context.Context, t time.Time) (uint64, error) {
	nc := r.cfg.JS.Conn()
	req, _ := json.Marshal(directGet{StartTime: t.Add(time.Nanosecond).UTC()})
	for attempt := 1; ; attempt++ {
		resp, err := nc.RequestWithContext(ctx, r.directGet, req)
		if err != nil {
			return 0, fmt.Errorf("position at %s: %w", t.Format(time.RFC3339Nano), err)
		}
		switch status := resp.Header.Get("Status"); status {
		case "":
			seq, err := strconv.ParseUint(resp.Header.Get(jetstream.SequenceHeader), 10, 64)
			if err != nil || seq == 0 {
				return 0, fmt.Errorf("position at %s: bad %s header %q", t.Format(time.RFC3339Nano), jetstream.SequenceHeader,
					resp.Header.Get(jetstream.SequenceHeader))
			}
			return seq - 1, nil
		case "404":
			s, err := r.cfg.JS.Stream(ctx, r.cfg.Stream)
			if err != nil {
				return 0, fmt.Errorf("position at %s: %w", t.Format(time.RFC3339Nano), err)
			}
			state := s.CachedInfo().State
			if !state.LastTime.After(t) || attempt == 5 {
				// Nothing was stored after t: everything there is counts.
				// (After five answers from trailing replicas, the leader's
				// last position is the best there is.)
				return state.LastSeq, nil
			}
			select {
			case <-ctx.Done():
				return 0, fmt.Errorf("position at %s: %w", t.Format(time.RFC3339Nano), ctx.Err())
			case <-time.After(time.Duration(attempt) * 10 * time.Millisecond):
			}
		default:
			return 0, fmt.Errorf("position at %s: direct get status %s %s", t.Format(time.RFC3339Nano), status,
				resp.Header.Get("Description"))
		}
	}
}

// ProductsAt lists tenant's products as they stood at t.
func (r *Reader) ProductsAt(ctx context.Context, tenant string, t time.Time) ([]projections.ProductCount, error) {
	s, err := r.stateAt(ctx, tenant, t)
	if err != nil {
		return nil, err
	}
	return s.Counts.Products(tenant), nil
}

// PolicyAt returns tenant's policy id as it stood at t, or false when it
// did not exist then.
func (r *Reader) PolicyAt(ctx context.Context, tenant, id string, t time.Time) (projections.PolicyListItem, bool, error) {
	s, err := r.stateAt(ctx, tenant, t)
	if err != nil {
		return projections.PolicyListItem{}, false, err
	}
	p, ok := s.Policies.Policy(tenant, id)
	return p, ok, nil
}

// LicensesAt lists the licenses user held at t.
func (r *Reader) LicensesAt(ctx context.Context, tenant, user string, t time.Time) ([]projections.UserLicense, error) {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	pos, err := r.PositionAt(ctx, t)
	if err != nil {
		return nil, err
	}
	if err := r.cfg.Progress.WaitFor(ctx, pos); err != nil {
		return nil, fmt.Errorf("licenses at %d: %w", pos, err)
	}
	return r.cfg.Licenses.LicensesAt(tenant, user, pos), nil
}

// stateAt is tenant's products and policies at t: the index's last mark
// before it, brought forward from the stream.
func (r *Reader) stateAt(ctx context.Context, tenant string, t time.Time) (*projections.AsOfState, error) {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	pos, err := r.PositionAt(ctx, t)
	if err != nil {
		return nil, err
	}
	s, err := r.cfg.Index.Base(tenant, pos)
	if err != nil {
		return nil, err
	}
	if s.Position >= pos {
		return s, nil
	}
	filters := make([]string, len(projections.AsOfKinds))
	for i, k := range projections.AsOfKinds {
		filters[i] = events.SubjectPrefix + "." + tenant + "." + string(k) + ".>"
	}
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: filters,
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: s.Position + 1}
	err = r.scan(ctx, cfg, func(env events.Envelope, _ time.Time) bool {
		if env.Position > pos {
			return false
		}
		s.Apply(env)
		return env.Position < pos
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Export calls fn with tenant's events in stream order: those after
// position after (all when 0), stored at or after from (when not zero) and
// at or before to (when not zero), up to the stream's head when the export
// started. It holds one pull batch at a time, however many events there
// are. fn's error stops the export and is returned.
func (r *Reader) Export(ctx context.Context, tenant string, from, to time.Time, after uint64, fn func(events.Envelope) error) error {
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{events.TenantSubjects(tenant)}}
	switch {
	case after > 0:
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, after+1
	case !from.IsZero():
		f := from.UTC()
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &f
	}
	// The export ends at the stream's head when it starts, however fast
	// the tenant keeps writing.
	stream, err := r.cfg.JS.Stream(ctx, r.cfg.Stream)
	if err != nil {
		return fmt.Errorf("open stream %s: %w", r.cfg.Stream, err)
	}
	head := stream.CachedInfo().State.LastSeq
	var ferr error
	err = r.scan(ctx, cfg, func(env events.Envelope, stored time.Time) bool {
		if env.Position > head || !to.IsZero() && stored.After(to) {
			return false
		}
		if !from.IsZero() && stored.Before(from) {
			return true
		}
		if ferr = fn(env); ferr != nil {
			return false
		}
		return true
	})
	if ferr != nil {
		return ferr
	}
	return err
}

// scanBatch is how many messages a scan asks for at a time: the most it
// holds.
const scanBatch = 256

// scan reads the stream through an ordered consumer made with cfg and
// calls fn with each event in order, with the time the stream stored it,
// until fn returns false or the consumer has nothing more pending.
// Messages that do not decode, or whose subject disagrees with their
// envelope, are skipped, as the projection runner skips them.
func (r *Reader) scan(ctx context.Context, cfg jetstream.OrderedConsumerConfig, fn func(events.Envelope, time.Time) bool) error {
	stream, err := r.cfg.JS.Stream(ctx, r.cfg.Stream)
	if err != nil {
		return fmt.Errorf("open stream %s: %w", r.cfg.Stream, err)
	}
	cons, err := stream.OrderedConsumer(ctx, cfg)
	if err != nil {
		return fmt.Errorf("ordered consumer on %s: %w", r.cfg.Stream, err)
	}
	if info := cons.CachedInfo(); info != nil && info.NumPending == 0 {
		return nil
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(scanBatch))
	if err != nil {
		return fmt.Errorf("read %s: %w", r.cfg.Stream, err)
	}
	defer it.Stop()
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	for {
		msg, err := it.Next()
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("read %s: %w", r.cfg.Stream, ctx.Err())
			}
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return nil
			}
			return fmt.Errorf("read %s: %w", r.cfg.Stream, err)
		}
		meta, err := msg.Metadata()
		if err != nil {
			return fmt.Errorf("read %s: %w", r.cfg.Stream, err)
		}
		if env, ok := r.decode(msg, meta.Sequence.Stream); ok && !fn(env, meta.Timestamp) {
			return nil
		}
		if meta.NumPending == 0 {
			return nil
		}
	}
}

func (r *Reader) decode(msg jetstream.Msg, seq uint64) (events.Envelope, bool) {
	env, err := r.cfg.Registry.Decode(msg.Data())
	if err != nil {
		return events.Envelope{}, false
	}
	tenant, agg, err := events.ParseSubject(msg.Subject())
	if err != nil || tenant != env.Tenant || agg != env.Aggregate {
		return events.Envelope{}, false
	}
	env.Position = seq
	return env, true
}
