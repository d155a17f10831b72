package projector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"

	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/infra/retry"
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
	// Checkpoints, if set, is where the runner saves every read model's
	// state with its position, and resumes from on start. Every projection
	// must then be a projections.Snapshotter. A checkpoint whose read models
	// or versions differ from the configured ones is discarded and the read
	// models are rebuilt from the start of the stream.
	Checkpoints Checkpoints
	// Rebuild ignores the saved checkpoint: the read models are built from
	// the start of the stream, and checkpoints are then saved as usual.
	Rebuild bool
	// ReadOnly reads the saved checkpoint (to resume from, or, with
	// Rebuild, for the read models' sizes) and never saves one: for a
	// runner beside another that owns the checkpoints.
	ReadOnly bool
	// Observe, if set, is told of every event applied, after the read
	// models (the command side's cache uses it to keep the states it reads
	// current). It is not checkpointed and must not block.
	Observe func(events.Envelope)
	// CheckpointEvery is how many applied events trigger a checkpoint, at
	// least: the interval grows to half the last checkpoint's position, so
	// that checkpoints (whose cost grows with the read models) cost the
	// same per event however long the stream. Default 50,000. A checkpoint
	// is also saved when Run stops, and once
	// the read models first catch up.
	CheckpointEvery int
}

func (c *Config) setDefaults() {
	if c.Stream == "" {
		c.Stream = "SEATFLOW_EVENTS"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.CheckpointEvery == 0 {
		c.CheckpointEvery = 50_000
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
	if c.Checkpoints != nil {
		for _, p := range c.Projections {
			if _, ok := p.(projections.Snapshotter); !ok {
				errs = append(errs, fmt.Errorf("projector: read model %s cannot be checkpointed (not a projections.Snapshotter)", p.Name()))
			}
		}
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
	resumed  uint64 // position restored from a checkpoint at start
	rejected uint64 // events whose subject disagrees with their envelope

	streamCreated time.Time // identity of the stream being read

	sinceSave int // events applied since the last checkpoint
	saved     uint64
}

// New returns a Runner that starts at the beginning of the stream.
func New(cfg Config) (*Runner, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Runner{cfg: cfg, log: cfg.Logger.With("component", "projector"), changed: make(chan struct{})}, nil
}

// Run feeds the read models until ctx ends, then returns nil. When it
// cannot reach the stream (NATS slow, away or refusing), it logs why and
// tries again, from where it stopped, with a growing pause of up to
// retryMax: a NATS outage leaves the read models behind (readiness and
// seatflow_projection_lag say so), never a stopped service. It returns an
// error only when a checkpoint it chose to resume from cannot be restored.
func (r *Runner) Run(ctx context.Context) error {
	return retry.Forever(ctx, retryMin, retryMax, func(ctx context.Context) error {
		if err := r.run(ctx); err != nil {
			return err
		}
		// The iterator ended by itself (the ordered consumer gave up):
		// read on from the position reached.
		return errors.New("the stream's consumer stopped")
	}, func(err error, pause time.Duration) bool {
		var restore *restoreError
		if errors.As(err, &restore) {
			return true
		}
		r.log.Warn("projections: reading the stream failed; trying again", "err", err,
			"position", r.Position(), "retry_in", pause)
		return false
	})
}

// The pause before the projector tries the stream again after a failure
// grows from retryMin to retryMax.
const (
	retryMin = 100 * time.Millisecond
	retryMax = 5 * time.Second
)

// restoreError is a checkpoint that was chosen but could not be restored:
// trying again would not help.
type restoreError struct{ err error }

func (e *restoreError) Error() string { return e.err.Error() }
func (e *restoreError) Unwrap() error { return e.err }

func (r *Runner) run(ctx context.Context) error {
	stream, err := r.cfg.JS.Stream(ctx, r.cfg.Stream)
	if err != nil {
		return fmt.Errorf("projector: open stream %s: %w", r.cfg.Stream, err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return fmt.Errorf("projector: stream %s info: %w", r.cfg.Stream, err)
	}
	r.streamCreated = info.Created
	if err := r.resume(ctx, info); err != nil {
		return err
	}
	defer r.checkpoint(context.Background(), "stop")
	r.mu.Lock()
	r.target, r.started = info.State.LastSeq, true
	from := r.position + 1
	r.mu.Unlock()
	r.notify()
	r.log.Info("projections starting", "from", from, "head", info.State.LastSeq)
	if from > info.State.LastSeq {
		r.checkpoint(ctx, "caught up")
	}

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

	// Three stages: the reader takes messages off the ordered consumer,
	// the decoder decodes whatever has arrived in parallel, and the
	// appliers apply the decoded events strictly in stream order, each
	// read model on a goroutine of its own.
	in := make(chan jetstream.Msg, 4*decodeChunk)
	go r.read(ctx, it, in)
	chunks := make(chan []decoded, 2)
	go r.decode(in, chunks)
	r.apply(chunks)
	return nil
}

// decodeChunk bounds the events decoded together and applied between two
// position updates.
const decodeChunk = 256

// read feeds in from the iterator until it stops, then closes in.
func (r *Runner) read(ctx context.Context, it jetstream.MessagesContext, in chan<- jetstream.Msg) {
	defer close(in)
	for {
		msg, err := it.Next()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return
			}
			// The ordered consumer recreates itself after a reset; wait a
			// little so a lost connection does not spin.
			r.log.Warn("projections: reading the stream", "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		in <- msg
	}
}

// decoded is one message and what decoding it gave.
type decoded struct {
	subject  string
	seq      uint64
	env      events.Envelope
	err      error
	misfiled bool // the subject disagrees with the envelope
}

// decode turns what has arrived into chunks of decoded events, decoding
// each chunk on every processor, and hands them on in order.
func (r *Runner) decode(in <-chan jetstream.Msg, out chan<- []decoded) {
	defer close(out)
	workers := runtime.GOMAXPROCS(0)
	msgs := make([]jetstream.Msg, 0, decodeChunk)
	for {
		m, ok := <-in
		if !ok {
			return
		}
		msgs = append(msgs[:0], m)
	more:
		for len(msgs) < decodeChunk {
			select {
			case m, ok := <-in:
				if !ok {
					break more
				}
				msgs = append(msgs, m)
			default:
				break more
			}
		}
		chunk := make([]decoded, len(msgs))
		n := min(workers, (len(msgs)+15)/16)
		var wg sync.WaitGroup
		for w := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < len(msgs); i += n {
					chunk[i] = r.decodeOne(msgs[i])
				}
			}()
		}
		wg.Wait()
		out <- chunk
	}
}

func (r *Runner) decodeOne(msg jetstream.Msg) decoded {
	d := decoded{subject: msg.Subject()}
	meta, err := msg.Metadata()
	if err != nil {
		d.err = fmt.Errorf("message without metadata: %w", err)
		return d
	}
	d.seq = meta.Sequence.Stream
	d.env, d.err = r.cfg.Registry.Decode(msg.Data())
	if d.err == nil && !onItsSubject(d.subject, d.env) {
		// Only the service writes sf.evt.>, and it writes each event on
		// its aggregate's subject; anything else is never applied,
		// whoever managed to put it there.
		d.misfiled = true
	}
	d.env.Position = d.seq
	return d
}

// onItsSubject reports whether subject is events.Subject(env.Tenant,
// env.Aggregate), without building it: a decoded envelope's tenant, kind
// and id are valid (so free of dots), which makes this the same as
// parsing the subject and comparing its parts.
func onItsSubject(subject string, env events.Envelope) bool {
	parts := [...]string{events.SubjectPrefix, env.Tenant, string(env.Aggregate.Kind), env.Aggregate.ID}
	for i, part := range parts {
		if !strings.HasPrefix(subject, part) {
			return false
		}
		subject = subject[len(part):]
		if i < len(parts)-1 {
			if subject == "" || subject[0] != '.' {
				return false
			}
			subject = subject[1:]
		}
	}
	return subject == ""
}

// A batch is one decoded chunk's events to apply: every read model
// applies them in order, on its own goroutine, and the position advances
// to last once they all have.
type batch struct {
	envs                       []events.Envelope
	last                       uint64 // the chunk's last stream sequence
	applied, skipped, rejected uint64
	pending                    atomic.Int32  // read models yet to apply envs
	done                       chan struct{} // closed once pending is 0
}

// applyDepth is how many batches may be in flight: dispatched to the read
// models and not yet applied by all of them. A fast read model runs ahead
// of a slow one by up to this many chunks.
const applyDepth = 4

// applyInline is the largest batch applied on the runner's goroutine, one
// read model after the other, when none is in flight: live events come a
// few at a time, and handing them to every read model's goroutine would
// cost more than applying them.
const applyInline = 16

// apply applies the chunks as they come, until chunks is closed and every
// batch is applied. Each read model has a goroutine of its own, fed the
// batches in stream order; the position advances past a batch only once
// every read model has applied it (so WaitFor means what it meant), and a
// checkpoint is taken only when no batch is in flight (so the read models
// agree with its position).
func (r *Runner) apply(chunks <-chan []decoded) {
	feeds := make([]chan *batch, len(r.cfg.Projections))
	var wg sync.WaitGroup
	for i, p := range r.cfg.Projections {
		feeds[i] = make(chan *batch, applyDepth)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range feeds[i] {
				for _, env := range b.envs {
					p.Apply(env)
				}
				if b.pending.Add(-1) == 0 {
					close(b.done)
				}
			}
		}()
	}
	defer func() {
		for _, f := range feeds {
			close(f)
		}
		wg.Wait()
	}()

	var inflight []*batch // oldest first
	finishAll := func() {
		for _, b := range inflight {
			<-b.done
			r.finish(b)
		}
		inflight = inflight[:0]
	}
	r.mu.Lock()
	last := r.position // the last sequence handed on
	r.mu.Unlock()
	for chunks != nil || len(inflight) > 0 {
		var (
			next   <-chan []decoded
			oldest <-chan struct{}
		)
		if len(inflight) < applyDepth {
			next = chunks
		}
		if len(inflight) > 0 {
			oldest = inflight[0].done
		}
		select {
		case chunk, ok := <-next:
			if !ok {
				chunks = nil
				continue
			}
			b := r.batch(chunk, last)
			if b == nil {
				continue
			}
			last = b.last
			switch {
			case len(b.envs) == 0:
				close(b.done)
			case len(inflight) == 0 && len(b.envs) <= applyInline:
				for _, env := range b.envs {
					for _, p := range r.cfg.Projections {
						p.Apply(env)
					}
				}
				close(b.done)
			default:
				b.pending.Store(int32(len(feeds)))
				for _, f := range feeds {
					f <- b
				}
			}
			inflight = append(inflight, b)
		case <-oldest:
			b := inflight[0]
			inflight = inflight[1:]
			if why := r.finish(b); why != "" {
				finishAll()
				r.checkpoint(context.Background(), why)
			}
		}
	}
}

// batch sorts a chunk's events after last into those to apply and those
// to skip, or returns nil when none is after last.
func (r *Runner) batch(chunk []decoded, last uint64) *batch {
	b := &batch{last: last, envs: make([]events.Envelope, 0, len(chunk)), done: make(chan struct{})}
	for _, d := range chunk {
		if d.seq == 0 {
			r.log.Error("projections: skipping a message", "subject", d.subject, "err", d.err)
			continue
		}
		if d.seq <= b.last {
			continue
		}
		b.last = d.seq
		if d.err != nil {
			// A newer writer's event type, or a foreign message on sf.evt.>: read
			// models skip what they do not know, and so does the runner.
			r.log.Warn("projections: skipping an event that does not decode", "seq", d.seq, "subject", d.subject, "err", d.err)
			b.skipped++
			continue
		}
		if d.misfiled {
			r.log.Warn("projections: skipping an event whose subject disagrees with its envelope",
				"seq", d.seq, "subject", d.subject, "envelope_subject", d.env.Subject(), "event_id", d.env.ID)
			b.skipped++
			b.rejected++
			continue
		}
		b.envs = append(b.envs, d.env)
		b.applied++
	}
	if b.last == last {
		return nil
	}
	return b
}

// finish advances the position past a batch every read model has applied,
// tells Observe of its events, and returns why a checkpoint is due, if one
// is.
func (r *Runner) finish(b *batch) (checkpoint string) {
	if r.cfg.Observe != nil {
		for _, env := range b.envs {
			r.cfg.Observe(env)
		}
	}
	r.mu.Lock()
	r.position = b.last
	r.applied += b.applied
	r.skipped += b.skipped
	r.rejected += b.rejected
	target := r.target
	r.mu.Unlock()
	r.notify()
	r.sinceSave += int(b.applied)
	if r.cfg.Checkpoints == nil || r.cfg.ReadOnly {
		return ""
	}
	switch {
	case r.sinceSave >= r.checkpointEvery():
		return "interval"
	case b.last >= target && r.saved < target:
		return "caught up"
	}
	return ""
}

// checkpointEvery is how many events are applied between interval
// checkpoints: CheckpointEvery, or half the position of the last one when
// that is more. A checkpoint costs time in proportion to the read models'
// size, which grows with the stream, so spacing them in proportion keeps
// their cost per event constant (amortized).
func (r *Runner) checkpointEvery() int {
	return max(r.cfg.CheckpointEvery, int(r.saved/2))
}

// checkpointLoadAttempts is how often a checkpoint that could not be read
// (a timeout on a busy server, a leader change) is asked for again before
// the read models are rebuilt from the start instead, which for a long
// stream costs minutes where another attempt costs seconds.
const checkpointLoadAttempts = 4

func (r *Runner) loadCheckpoint(ctx context.Context) (Checkpoint, bool, error) {
	for attempt := 1; ; attempt++ {
		cp, found, err := r.cfg.Checkpoints.Load(ctx)
		// A checkpoint read but undecodable reads the same next time.
		if err == nil || errors.Is(err, ErrBadCheckpoint) || attempt == checkpointLoadAttempts || ctx.Err() != nil {
			return cp, found, err
		}
		wait := time.Duration(attempt) * time.Second
		r.log.Warn("projections: cannot read the checkpoint; asking again", "err", err, "attempt", attempt, "wait", wait.String())
		select {
		case <-ctx.Done():
			return cp, found, ctx.Err()
		case <-time.After(wait):
		}
	}
}

// resume restores the read models from the saved checkpoint if it matches
// them; otherwise they start empty and are rebuilt from the stream.
func (r *Runner) resume(ctx context.Context, stream *jetstream.StreamInfo) error {
	if r.cfg.Checkpoints == nil || r.Position() > 0 {
		return nil
	}
	if r.cfg.Rebuild {
		r.log.Info("projections: rebuilding from the start of the stream")
		// The checkpoint is not resumed from, but its sizes still say how
		// big the read models will grow. One attempt: it is only a hint.
		if cp, found, err := r.cfg.Checkpoints.Load(ctx); err == nil && found && cp.StreamCreated.Equal(stream.Created) {
			r.presize(cp)
		}
		return nil
	}
	cp, found, err := r.loadCheckpoint(ctx)
	if err != nil {
		// A checkpoint is an optimisation: without it, rebuild.
		r.log.Warn("projections: cannot read the checkpoint; rebuilding from the start", "err", err)
		return nil
	}
	if !found {
		r.log.Info("projections: no checkpoint; building from the start")
		return nil
	}
	if !cp.StreamCreated.Equal(stream.Created) {
		r.log.Warn("projections: the checkpoint was taken from another stream (deleted and created again?); rebuilding from the start",
			"checkpoint_stream_created", cp.StreamCreated, "stream_created", stream.Created)
		return nil
	}
	if cp.Position > stream.State.LastSeq {
		r.log.Warn("projections: the checkpoint is past the stream's head; rebuilding from the start",
			"checkpoint_position", cp.Position, "head", stream.State.LastSeq)
		return nil
	}
	for _, p := range r.cfg.Projections {
		sp := p.(projections.Snapshotter)
		ms, ok := cp.Models[p.Name()]
		if !ok || ms.Version != sp.Version() {
			r.log.Info("projections: read model changed since the checkpoint; rebuilding all from the start",
				"model", p.Name(), "checkpoint_version", ms.Version, "version", sp.Version())
			r.presize(cp)
			return nil
		}
	}
	// The models are independent: restore them on every processor.
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for _, p := range r.cfg.Projections {
		g.Go(func() error {
			if err := p.(projections.Snapshotter).Restore(cp.Models[p.Name()].State); err != nil {
				return fmt.Errorf("projector: restore %s from the checkpoint at %d: %w", p.Name(), cp.Position, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return &restoreError{err}
	}
	r.mu.Lock()
	r.position, r.resumed, r.saved = cp.Position, cp.Position, cp.Position
	r.mu.Unlock()
	r.log.Info("projections: resumed from checkpoint", "position", cp.Position)
	return nil
}

// presize gives each read model that takes them the sizes cp saw, before
// the models are built from the start of cp's stream.
func (r *Runner) presize(cp Checkpoint) {
	var sized []string
	for _, p := range r.cfg.Projections {
		if ps, ok := p.(projections.Presizer); ok && len(cp.Sizes[p.Name()]) > 0 {
			ps.Presize(cp.Sizes[p.Name()])
			sized = append(sized, p.Name())
		}
	}
	if len(sized) > 0 {
		r.log.Info("projections: read models sized as at the checkpoint", "position", cp.Position, "models", sized)
	}
}

// checkpoint saves every read model's state at the current position. It runs
// on the runner's goroutine while no batch is in flight (or before the read
// models' goroutines start, or after they stop), so the states agree with
// the position. A failure is logged: the next checkpoint tries again.
func (r *Runner) checkpoint(ctx context.Context, why string) {
	if r.cfg.Checkpoints == nil || r.cfg.ReadOnly {
		return
	}
	pos := r.Position()
	if pos == 0 || pos == r.saved {
		return
	}
	// Nothing is applied meanwhile, so the snapshots, taken on every
	// processor, agree with pos.
	states := make([]ModelState, len(r.cfg.Projections))
	sizes := make([]projections.Sizes, len(r.cfg.Projections))
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, p := range r.cfg.Projections {
		g.Go(func() error {
			sp := p.(projections.Snapshotter)
			b, err := sp.Snapshot()
			if err != nil {
				return fmt.Errorf("snapshot %s: %w", p.Name(), err)
			}
			states[i] = ModelState{Version: sp.Version(), State: b}
			if ps, ok := p.(projections.Presizer); ok {
				sizes[i] = ps.SizeHint()
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		r.log.Error("projections: snapshot failed", "err", err)
		return
	}
	cp := Checkpoint{Position: pos, StreamCreated: r.streamCreated, Models: map[string]ModelState{}, Sizes: map[string]projections.Sizes{}}
	for i, p := range r.cfg.Projections {
		cp.Models[p.Name()] = states[i]
		if sizes[i] != nil {
			cp.Sizes[p.Name()] = sizes[i]
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := r.cfg.Checkpoints.Save(ctx, cp); err != nil {
		r.log.Warn("projections: checkpoint not saved", "position", pos, "err", err)
		return
	}
	r.saved, r.sinceSave = pos, 0
	r.log.Info("projections: checkpoint saved", "position", pos, "why", why)
}

// Resumed is the position restored from a checkpoint when Run started (0
// when the read models were built from the start).
func (r *Runner) Resumed() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.resumed
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

// Rejected reports how many events were skipped because their subject
// disagrees with their envelope's tenant or aggregate.
func (r *Runner) Rejected() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rejected
}

// Stats reports how many events were applied and skipped (undecodable, or
// rejected).
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
