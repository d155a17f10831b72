package signin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/seatflow/seatflow/infra/wmrouter"
)

// Defaults of Config.
const (
	DefaultStream   = "SEATFLOW_SIGNINS"
	DefaultDurable  = "seatflow-signins"
	DefaultAckWait  = 30 * time.Second
	DefaultRedelay  = 2 * time.Second
	DefaultRetries  = 5
	DefaultRetryMin = 20 * time.Millisecond
	DefaultRetryMax = time.Second

	DefaultMaxDeliveries = 30
)

// Config configures a Router.
type Config struct {
	// URL is the NATS server or cluster (comma-separated URLs). The router
	// opens its own connection: watermill closes it on Close. Required.
	URL string
	// Options are extra connection options (credentials, TLS), the same
	// the service\'s own connection uses.
	Options []nats.Option
	// Metrics, if set, receives watermill\'s router metrics.
	Metrics prometheus.Registerer
	// Handler processes sign-ins. Required.
	Handler *Handler
	// Stream and Durable name the sign-in stream and the durable consumer.
	Stream, Durable string
	// AckWait is how long a delivered message may take before JetStream
	// redelivers it.
	AckWait time.Duration
	// Retries, RetryMin and RetryMax bound the in-place retries of a
	// transient failure; after them the message is redelivered after
	// Redelay.
	Retries            int
	RetryMin, RetryMax time.Duration
	Redelay            time.Duration
	// MaxDeliveries is how many deliveries a message failing for reasons
	// that look transient gets before it is dead-lettered as
	// retries_exhausted, so that a message hitting a bug cannot hold up the
	// others for ever (0: no limit). Default 30: with the defaults, a
	// few minutes of failures.
	MaxDeliveries int
	// Logger receives the router's logs (watermill's per-message logs at
	// Debug). Default: discard.
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if c.Stream == "" {
		c.Stream = DefaultStream
	}
	if c.Durable == "" {
		c.Durable = DefaultDurable
	}
	if c.AckWait == 0 {
		c.AckWait = DefaultAckWait
	}
	if c.Retries == 0 {
		c.Retries = DefaultRetries
	}
	if c.RetryMin == 0 {
		c.RetryMin = DefaultRetryMin
	}
	if c.RetryMax == 0 {
		c.RetryMax = DefaultRetryMax
	}
	if c.Redelay == 0 {
		c.Redelay = DefaultRedelay
	}
	if c.MaxDeliveries == 0 {
		c.MaxDeliveries = DefaultMaxDeliveries
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate reports every missing or invalid setting.
func (c Config) Validate() error {
	var errs []error
	if c.URL == "" {
		errs = append(errs, errors.New("signin: Config.URL is required"))
	}
	if c.Handler == nil {
		errs = append(errs, errors.New("signin: Config.Handler is required"))
	}
	if c.Retries < 0 || c.AckWait < 0 || c.Redelay < 0 || c.MaxDeliveries < 0 {
		errs = append(errs, errors.New("signin: Config durations and retries must not be negative"))
	}
	return errors.Join(errs...)
}

// Router consumes sign-ins from JetStream with watermill.
type Router struct {
	cfg    Config
	log    *slog.Logger
	nc     *nats.Conn
	js     jetstream.JetStream
	router *message.Router
}

// New connects, creates the durable consumer and builds the router. Start
// it with Run.
func New(ctx context.Context, cfg Config) (*Router, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger.With("component", "signin")
	nc, err := nats.Connect(cfg.URL, append([]nats.Option{nats.Name("seatflow-signins"), nats.MaxReconnects(-1)}, cfg.Options...)...)
	if err != nil {
		return nil, fmt.Errorf("signin: connect to %s: %w", cfg.URL, err)
	}
	r := &Router{cfg: cfg, log: log, nc: nc}
	if err := r.setup(ctx); err != nil {
		nc.Close()
		return nil, err
	}
	return r, nil
}

func (r *Router) setup(ctx context.Context) error {
	js, err := jetstream.New(r.nc)
	if err != nil {
		return fmt.Errorf("signin: jetstream: %w", err)
	}
	r.js = js
	router, err := wmrouter.New(ctx, wmrouter.Config{
		Conn: r.nc, Stream: r.cfg.Stream, Durable: r.cfg.Durable,
		Description: "Seatflow sign-in ingestion (auto-claim)", Filter: SubjectPrefix + ">",
		AckWait: r.cfg.AckWait, Redelay: r.cfg.Redelay,
		Retries: r.cfg.Retries, RetryMin: r.cfg.RetryMin, RetryMax: r.cfg.RetryMax,
		Unmarshaler: tolerantUnmarshaler{}, Name: "signin", Handler: r.handle,
		Metrics: r.cfg.Metrics, Logger: r.log,
	})
	if err != nil {
		return err
	}
	r.router = router
	return nil
}

// Run consumes until ctx ends, then closes the router (and its connection).
func (r *Router) Run(ctx context.Context) error {
	return wmrouter.Run(ctx, r.router, r.nc)
}

// Running is closed once the router consumes.
func (r *Router) Running() chan struct{} { return r.router.Running() }

// handle processes one sign-in message. A rejection is dead-lettered and
// acknowledged; any other error is returned for the retry middleware.
func (r *Router) handle(msg *message.Message) (err error) {
	subject := msg.Metadata.Get(metaSubject)
	tenant := strings.TrimPrefix(subject, SubjectPrefix)
	defer func() {
		// A message that makes the handler panic would do so on every
		// delivery and hold up all the others behind it.
		if v := recover(); v != nil {
			r.log.Error("sign-in handler panicked", "subject", subject, "seq", msg.Metadata.Get(metaSeq), "panic", v)
			err = r.deadLetter(msg, tenant, reject(ReasonInternal, "the handler failed: %v", v))
		}
	}()
	p, err := Parse(msg.Payload)
	if err == nil {
		var out any
		out, _, err = r.cfg.Handler.Handle(msg.Context(), tenant, p)
		if err == nil {
			r.log.Debug("sign-in handled", "tenant", tenant, "id", p.ID, "user", p.UserID, "outcome", out)
			return nil
		}
	}
	var rej *RejectedError
	if !errors.As(err, &rej) {
		n, _ := strconv.Atoi(msg.Metadata.Get(metaDelivered))
		if r.cfg.MaxDeliveries < 1 || n < r.cfg.MaxDeliveries {
			r.log.Warn("sign-in failed; retrying", "subject", subject, "seq", msg.Metadata.Get(metaSeq), "delivery", n, "err", err)
			return err
		}
		rej = reject(ReasonRetriesExhausted, "failed on %d deliveries, last: %v", n, err)
	}
	return r.deadLetter(msg, tenant, rej)
}

func (r *Router) deadLetter(msg *message.Message, tenant string, rej *RejectedError) error {
	if tenant == "" {
		tenant = "_"
	}
	dlq := &nats.Msg{Subject: DLQSubjectPrefix + tenant, Data: msg.Payload, Header: nats.Header{}}
	dlq.Header.Set(HeaderError, rej.Error())
	dlq.Header.Set("Seatflow-Subject", msg.Metadata.Get(metaSubject))
	dlq.Header.Set("Seatflow-Sequence", msg.Metadata.Get(metaSeq))
	// A redelivered poison message is dead-lettered once.
	dlq.Header.Set(jetstream.MsgIDHeader, "signin-"+msg.Metadata.Get(metaSeq))
	ctx, cancel := context.WithTimeout(msg.Context(), 10*time.Second)
	defer cancel()
	if _, err := r.js.PublishMsg(ctx, dlq); err != nil {
		return fmt.Errorf("dead-letter to %s: %w", dlq.Subject, err)
	}
	r.log.Warn("sign-in dead-lettered", "subject", msg.Metadata.Get(metaSubject), "seq", msg.Metadata.Get(metaSeq), "reason", rej.Error())
	return nil
}

// Metadata keys the unmarshaler sets.
const (
	metaSubject   = "subject"
	metaSeq       = "stream_seq"
	metaDelivered = "delivered"
)

// tolerantUnmarshaler never fails: watermill-nats crashes on an unmarshal
// error, and judging the payload is the handler's job.
type tolerantUnmarshaler struct{}

func (tolerantUnmarshaler) Unmarshal(m jetstream.Msg) (*message.Message, error) {
	var seq, delivered uint64
	if md, err := m.Metadata(); err == nil {
		seq, delivered = md.Sequence.Stream, md.NumDelivered
	}
	id := m.Headers().Get(jetstream.MsgIDHeader)
	if id == "" {
		id = "seq-" + strconv.FormatUint(seq, 10)
	}
	wm := message.NewMessage(id, m.Data())
	wm.Metadata.Set(metaSubject, m.Subject())
	wm.Metadata.Set(metaSeq, strconv.FormatUint(seq, 10))
	wm.Metadata.Set(metaDelivered, strconv.FormatUint(delivered, 10))
	return wm, nil
}
