package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/infra/wmrouter"
)

// Defaults of NotifierConfig.
const (
	DefaultEventStream = "SEATFLOW_EVENTS"
	DefaultNotifierDur = "seatflow-notifier"
	DefaultAckWait     = 30 * time.Second
	DefaultRedelay     = 2 * time.Second
	DefaultWaitRead    = 30 * time.Second
)

// Progress is how far the read models the Lookup answers from have come.
type Progress interface {
	// WaitFor returns nil once position has been applied, or ctx's error.
	WaitFor(ctx context.Context, position uint64) error
}

// NotifierConfig configures a Notifier.
type NotifierConfig struct {
	// URL is the NATS server or cluster. The notifier opens its own
	// connection, because watermill's router closes it. Required.
	URL string
	// Options are extra connection options (credentials, TLS), the same
	// the service\'s own connection uses.
	Options []nats.Option
	// Metrics, if set, receives watermill\'s router metrics.
	Metrics prometheus.Registerer
	// Registry decodes events. Required.
	Registry *events.Registry
	// Rules map events to notifications. Required.
	Rules Rules
	// Lookup addresses and words them. Required.
	Lookup Lookup
	// Progress, when set, is waited for up to each event's position before
	// the event is mapped, so the directory knows its recipients.
	Progress Progress
	// Stream and Durable name the event stream and the durable consumer.
	Stream, Durable string
	// AckWait and Redelay bound a message's processing and the wait before
	// a failed one is redelivered.
	AckWait, Redelay time.Duration
	// Logger receives the notifier's logs. Default: discard.
	Logger *slog.Logger
}

func (c *NotifierConfig) setDefaults() {
	if c.Stream == "" {
		c.Stream = DefaultEventStream
	}
	if c.Durable == "" {
		c.Durable = DefaultNotifierDur
	}
	if c.AckWait == 0 {
		c.AckWait = DefaultAckWait
	}
	if c.Redelay == 0 {
		c.Redelay = DefaultRedelay
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate reports every missing setting.
func (c NotifierConfig) Validate() error {
	var errs []error
	if c.URL == "" {
		errs = append(errs, errors.New("notify: NotifierConfig.URL is required"))
	}
	if c.Registry == nil {
		errs = append(errs, errors.New("notify: NotifierConfig.Registry is required"))
	}
	if c.Rules == nil {
		errs = append(errs, errors.New("notify: NotifierConfig.Rules is required"))
	}
	if c.Lookup == nil {
		errs = append(errs, errors.New("notify: NotifierConfig.Lookup is required"))
	}
	return errors.Join(errs...)
}

// Notifier turns events into notifications (see the package comment).
type Notifier struct {
	cfg    NotifierConfig
	log    *slog.Logger
	nc     *nats.Conn
	js     jetstream.JetStream
	router *message.Router
	// stopped is closed when Run's context ends, so a handler waiting for
	// the read models lets go at once.
	stopped chan struct{}
}

// NewNotifier connects, creates the durable consumer and builds the router.
// Start it with Run.
func NewNotifier(ctx context.Context, cfg NotifierConfig) (*Notifier, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	nc, err := nats.Connect(cfg.URL, append([]nats.Option{nats.Name("seatflow-notifier"), nats.MaxReconnects(-1)}, cfg.Options...)...)
	if err != nil {
		return nil, fmt.Errorf("notify: connect to %s: %w", cfg.URL, err)
	}
	n := &Notifier{cfg: cfg, log: cfg.Logger.With("component", "notifier"), nc: nc, stopped: make(chan struct{})}
	if err := n.setup(ctx); err != nil {
		nc.Close()
		return nil, err
	}
	return n, nil
}

func (n *Notifier) setup(ctx context.Context) error {
	js, err := jetstream.New(n.nc)
	if err != nil {
		return fmt.Errorf("notify: jetstream: %w", err)
	}
	n.js = js
	router, err := wmrouter.New(ctx, wmrouter.Config{
		Conn: n.nc, Stream: n.cfg.Stream, Durable: n.cfg.Durable,
		Description: "Seatflow notifier: events to e-mail notifications", Filter: events.SubjectPrefix + ".>",
		AckWait: n.cfg.AckWait, Redelay: n.cfg.Redelay,
		Retries: 3, RetryMin: 20 * time.Millisecond, RetryMax: time.Second,
		Unmarshaler: tolerantUnmarshaler{}, Name: "notify", Handler: n.handle,
		Metrics: n.cfg.Metrics, Logger: n.log,
	})
	if err != nil {
		return err
	}
	n.router = router
	return nil
}

// Run consumes until ctx ends, then closes the router and its connection.
func (n *Notifier) Run(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { close(n.stopped) })
	defer stop()
	return wmrouter.Run(ctx, n.router, n.nc)
}

// Running is closed once the router consumes.
func (n *Notifier) Running() chan struct{} { return n.router.Running() }

// Close closes the connection NewNotifier opened, for a Notifier that does
// not run (its router subscribes only in Run; closing a router that never
// ran waits for its close timeout). Run closes both itself, after which
// Close does nothing.
func (n *Notifier) Close() { n.nc.Close() }

func (n *Notifier) handle(msg *message.Message) error {
	seq, _ := strconv.ParseUint(msg.Metadata.Get(metaSeq), 10, 64)
	env, err := n.cfg.Registry.Decode(msg.Payload)
	if err != nil {
		n.log.Warn("skipping an event that does not decode", "seq", seq, "subject", msg.Metadata.Get(metaSubject), "err", err)
		return nil
	}
	rule := n.cfg.Rules[env.Type]
	if rule == nil {
		return nil
	}
	env.Position = seq
	if n.cfg.Progress != nil {
		ctx, cancel := context.WithTimeout(msg.Context(), DefaultWaitRead)
		go func() {
			select {
			case <-n.stopped:
				cancel()
			case <-ctx.Done():
			}
		}()
		err := n.cfg.Progress.WaitFor(ctx, seq)
		cancel()
		if err != nil {
			return fmt.Errorf("wait for the read models to reach %d: %w", seq, err)
		}
	}
	drafts, err := rule(n.cfg.Lookup, env)
	if err != nil {
		return fmt.Errorf("%s %s: %w", env.Type, env.ID, err)
	}
	out, skipped := Address(n.cfg.Lookup, env, drafts)
	if len(skipped) > 0 {
		n.log.Debug("recipients without a directory address", "event", env.ID, "type", env.Type, "users", skipped)
	}
	for _, nt := range out {
		if err := n.publish(msg.Context(), env.Tenant, nt); err != nil {
			return err
		}
	}
	return nil
}

func (n *Notifier) publish(ctx context.Context, tenant string, nt Notification) error {
	b, err := json.Marshal(nt)
	if err != nil {
		return err
	}
	m := &nats.Msg{Subject: Subject(tenant), Data: b, Header: nats.Header{}}
	m.Header.Set(jetstream.MsgIDHeader, nt.ID)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := n.js.PublishMsg(ctx, m); err != nil {
		return fmt.Errorf("publish %s to %s: %w", nt.ID, m.Subject, err)
	}
	n.log.Debug("notification published", "id", nt.ID, "kind", nt.Kind)
	return nil
}

// Metadata keys the unmarshaler sets.
const (
	metaSubject = "subject"
	metaSeq     = "stream_seq"
)

// tolerantUnmarshaler never fails: watermill-nats crashes the process on an
// unmarshal error, and judging the payload is the handler's job.
type tolerantUnmarshaler struct{}

func (tolerantUnmarshaler) Unmarshal(m jetstream.Msg) (*message.Message, error) {
	var seq uint64
	if md, err := m.Metadata(); err == nil {
		seq = md.Sequence.Stream
	}
	wm := message.NewMessage("seq-"+strconv.FormatUint(seq, 10), m.Data())
	wm.Metadata.Set(metaSubject, m.Subject())
	wm.Metadata.Set(metaSeq, strconv.FormatUint(seq, 10))
	return wm, nil
}
