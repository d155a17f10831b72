package projector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/projections"
)

// Config configures a Runner.
type Config struct {
	// JS reaches the stream. Required.
	JS jetstream.JetStream
	// Stream is the event stream's name. Default "SEATFLOW_EVENTS".
	Stream string
	// Registry decodes events. Required.
	Registry *events.Registry
	// Projections are the read models to feed, in the order they are fed.
	Projections []projections.Projection
	// Logger receives the runner's logs. Default: discard.
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if c.Stream == "" {
		c.Stream = "SEATFLOW_EVENTS"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate reports every missing setting.
func (c Config) Validate() error {
	var errs []error
	if c.JS == nil {
		errs = append(errs, errors.New("projector: Config.JS is required"))
	}
	if c.Registry == nil {
		errs = append(errs, errors.New("projector: Config.Registry is required"))
	}
	if len(c.Projections) == 0 {
		errs = append(errs, errors.New("projector: Config.Projections is empty"))
	}
	return errors.Join(errs...)
}

// Runner applies the event stream to read models. Create it with New and
// start it with Run.
type Runner struct {
	cfg Config
	log *slog.Logger

	mu       sync.Mutex
	position uint64        // last stream sequence applied
	target   uint64        // stream head seen when Run started; ready once reached
	started  bool          // Run has read the head
	changed  chan struct{} // closed and replaced whenever position advances
	applied  uint64
	skipped  uint64
}

// New returns a Runner that starts at the beginning of the stream.
func New(cfg Config) (*Runner, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Runner{cfg: cfg, log: cfg.Logger.With("component", "projector"), changed: make(chan struct{})}, nil
}

// Run feeds the read models until ctx ends, then returns nil. It returns an
// error only if it cannot start.
func (r *Runner) Run(ctx context.Context) error {
	stream, err := r.cfg.JS.Stream(ctx, r.cfg.Stream)
	if err != nil {
		return fmt.Errorf("projector: open stream %s: %w", r.cfg.Stream, err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return fmt.Errorf("projector: stream %s info: %w", r.cfg.Stream, err)
	}
	r.mu.Lock()
	r.target, r.started = info.State.LastSeq, true
	from := r.position + 1
	r.mu.Unlock()
	r.notify()
	r.log.Info("projections starting", "from", from, "head", info.State.LastSeq)

	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{events.SubjectPrefix + ".>"}}
	if from > 1 {
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, from
	}
	cons, err := stream.OrderedConsumer(ctx, cfg)
	if err != nil {
		return fmt.Errorf("projector: ordered consumer on %s: %w", r.cfg.Stream, err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(1000))
	if err != nil {
		return fmt.Errorf("projector: consume %s: %w", r.cfg.Stream, err)
	}
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	defer it.Stop()
	for {
		msg, err := it.Next()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return nil
			}
			// The ordered consumer recreates itself after a reset; wait a
			// little so a lost connection does not spin.
			r.log.Warn("projections: reading the stream", "err", err)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		r.handle(msg)
	}
}

func (r *Runner) handle(msg jetstream.Msg) {
	meta, err := msg.Metadata()
	if err != nil {
		r.log.Error("projections: message without metadata", "subject", msg.Subject(), "err", err)
		return
	}
	seq := meta.Sequence.Stream
	r.mu.Lock()
	already := seq <= r.position
	r.mu.Unlock()
	if already {
		return
	}
	env, err := r.cfg.Registry.Decode(msg.Data())
	if err != nil {
		// A newer writer's event type, or a foreign message on sf.evt.>: read
		// models skip what they do not know, and so does the runner.
		r.log.Warn("projections: skipping an event that does not decode", "seq", seq, "subject", msg.Subject(), "err", err)
		r.advance(seq, false)
		return
	}
	env.Position = seq
	for _, p := range r.cfg.Projections {
		p.Apply(env)
	}
	r.advance(seq, true)
}

func (r *Runner) advance(seq uint64, applied bool) {
	r.mu.Lock()
	r.position = seq
	if applied {
		r.applied++
	} else {
		r.skipped++
	}
	r.mu.Unlock()
	r.notify()
}

func (r *Runner) notify() {
	r.mu.Lock()
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
}

// Position is the last stream sequence applied to the read models.
func (r *Runner) Position() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.position
}

// Stats reports how many events were applied and skipped (undecodable).
func (r *Runner) Stats() (applied, skipped uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.applied, r.skipped
}

// Ready reports whether the read models have caught up with the stream head
// seen when Run started.
func (r *Runner) Ready() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.started && r.position >= r.target
}

// WaitFor returns once position has been applied, or ctx's error.
func (r *Runner) WaitFor(ctx context.Context, position uint64) error {
	return r.wait(ctx, func() bool { return r.position >= position })
}

// WaitReady returns once Ready is true, or ctx's error.
func (r *Runner) WaitReady(ctx context.Context) error {
	return r.wait(ctx, func() bool { return r.started && r.position >= r.target })
}

func (r *Runner) wait(ctx context.Context, done func() bool) error {
	for {
		r.mu.Lock()
		ok, ch := done(), r.changed
		r.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}
