package signin

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/seatflow/seatflow/domain"
)

// Defaults of Config.
const (
	DefaultStream        = "SEATFLOW_SIGNINS"
	DefaultDurable       = "seatflow-signins"
	DefaultMembers       = "SEATFLOW_SIGNIN_MEMBERS"
	DefaultAckWait       = 30 * time.Second
	DefaultPinnedTTL     = 4 * time.Second
	DefaultMemberTTL     = 3 * time.Second
	DefaultRetries       = 5
	DefaultRetryMin      = 20 * time.Millisecond
	DefaultRetryMax      = 300 * time.Millisecond
	DefaultMaxDeliveries = 30
	// PriorityGroup is the priority group every partition consumer pins
	// one client of.
	PriorityGroup = "signins"
)

// Config configures a Router.
type Config struct {
	// URL is the NATS server or cluster (comma-separated URLs). The router
	// opens its own connection. Required.
	URL string
	// Options are extra connection options (credentials, TLS), the same
	// the service's own connection uses.
	Options []nats.Option
	// Metrics, if set, receives the router's metrics.
	Metrics prometheus.Registerer
	// Handler processes sign-ins. Required.
	Handler *Handler
	// Stream names the sign-in stream, Durable the prefix of the partition
	// consumers (<Durable>-<n>) and Members the key-value bucket where
	// running instances announce themselves.
	Stream, Durable, Members string
	// Replicas is the members bucket's replicas (as the streams'). Default 1.
	Replicas int
	// Partitions is how many partitions the stream's subject transform
	// spreads tenants over (natsjs.SigninPartitions). Required.
	Partitions int
	// BatchSize bounds the sign-ins of one partition decided and appended
	// together. Default domain.MaxClaimBatch.
	BatchSize int
	// AckWait is how long a delivered message may stay unacknowledged
	// before JetStream redelivers it.
	AckWait time.Duration
	// PinnedTTL is how long a partition stays pinned to an instance that
	// stopped asking for messages; MemberTTL how long an instance that
	// stopped announcing itself still counts. Together they bound how
	// soon a partition of a vanished instance is taken over.
	PinnedTTL, MemberTTL time.Duration
	// Retries, RetryMin and RetryMax bound the retries of a sign-in whose
	// failure is not the store being unavailable, before it is
	// dead-lettered as retries_exhausted: its partition waits for it only
	// briefly. A store that cannot be reached is waited for without
	// dead-lettering (every sign-in would fail alike).
	Retries            int
	RetryMin, RetryMax time.Duration
	// MaxDeliveries dead-letters a message delivered this many times (an
	// instance crashing on it) as retries_exhausted (0: no limit).
	MaxDeliveries int
	// Fresh, if set, is called before a partition is taken and returns once
	// the state the process decides on includes every event stored so far
	// (the projection runner has applied them), so a new owner decides on
	// what the previous owner wrote. On an error it is asked again.
	Fresh func(ctx context.Context) error
	// Logger receives the router's logs. Default: discard.
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if c.Stream == "" {
		c.Stream = DefaultStream
	}
	if c.Durable == "" {
		c.Durable = DefaultDurable
	}
	if c.Members == "" {
		c.Members = DefaultMembers
	}
	if c.BatchSize == 0 {
		c.BatchSize = domain.MaxClaimBatch
	}
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.AckWait == 0 {
		c.AckWait = DefaultAckWait
	}
	if c.PinnedTTL == 0 {
		c.PinnedTTL = DefaultPinnedTTL
	}
	if c.MemberTTL == 0 {
		c.MemberTTL = DefaultMemberTTL
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
	if c.Partitions < 1 {
		errs = append(errs, errors.New("signin: Config.Partitions must be positive"))
	}
	if c.BatchSize < 1 || c.BatchSize > domain.MaxClaimBatch {
		errs = append(errs, fmt.Errorf("signin: Config.BatchSize must be 1 to %d", domain.MaxClaimBatch))
	}
	if c.Retries < 0 || c.AckWait < 0 || c.MaxDeliveries < 0 || c.PinnedTTL < time.Second || c.MemberTTL < time.Second {
		errs = append(errs, errors.New("signin: Config durations and retries must not be negative, the TTLs at least 1s"))
	}
	return errors.Join(errs...)
}

// Router consumes sign-ins: one durable, pinned consumer per partition,
// each partition processed in order, in batches, by the instance it is
// pinned to.
type Router struct {
	cfg     Config
	log     *slog.Logger
	nc      *nats.Conn
	js      jetstream.JetStream
	stream  jetstream.Stream
	members *members
	id      string
	met     *routerMetrics
	inbox   string // the service's inbox prefix: sign-ins' outcomes go only there

	running chan struct{}

	mu    sync.Mutex
	owned map[int]*partition
	prev  []string // the instances of the last rebalance
}

// New connects and creates the partition consumers and the members
// bucket. Start it with Run.
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
	r := &Router{cfg: cfg, log: log, nc: nc, id: nuid.Next(), running: make(chan struct{}), owned: map[int]*partition{},
		met: newRouterMetrics(cfg.Metrics), inbox: inboxPrefix(nc)}
	if err := r.setup(ctx); err != nil {
		nc.Close()
		return nil, err
	}
	return r, nil
}

// rewind sends a partition taken from an instance that vanished back to
// its first unacknowledged sign-in (a consumer reset to its ack floor), so
// the sign-ins the lost instance held are delivered again now and in
// order, instead of after AckWait behind newer ones. A server too old for
// consumer resets leaves them to AckWait.
func (r *Router) rewind(ctx context.Context, cons jetstream.Consumer, n int) {
	name := ConsumerName(r.cfg.Durable, n)
	info, err := cons.Info(ctx)
	if err != nil || info.NumAckPending == 0 {
		return
	}
	if _, err := r.js.ResetConsumer(ctx, r.cfg.Stream, name); err != nil {
		r.log.Warn("sign-in partition not rewound; what the lost instance held comes back after AckWait", "partition", n, "held", info.NumAckPending, "err", err)
		return
	}
	r.log.Info("sign-in partition rewound to what the lost instance held", "partition", n, "held", info.NumAckPending, "from", info.AckFloor.Stream+1)
}

// inboxPrefix is the prefix of nc's inboxes (nats.go's default, or
// nats.CustomInboxPrefix).
func inboxPrefix(nc *nats.Conn) string {
	if p := nc.Opts.InboxPrefix; p != "" {
		return p
	}
	return strings.TrimSuffix(nats.InboxPrefix, ".")
}

// ConsumerName is the durable consumer of partition n.
func ConsumerName(durable string, n int) string { return durable + "-" + strconv.Itoa(n) }

// PartitionFilter is the subject filter of partition n: the stream's
// subject transform stores sf.signin.<tenant> as sf.signin.<tenant>.<n>.
func PartitionFilter(n int) string { return SubjectPrefix + "*." + strconv.Itoa(n) }

func (r *Router) setup(ctx context.Context) error {
	js, err := jetstream.New(r.nc)
	if err != nil {
		return fmt.Errorf("signin: jetstream: %w", err)
	}
	r.js = js
	if r.stream, err = js.Stream(ctx, r.cfg.Stream); err != nil {
		return fmt.Errorf("signin: stream %s: %w", r.cfg.Stream, err)
	}
	// One API call per partition, concurrently: start-up waits for the
	// slowest, not for the sum.
	errs := make([]error, r.cfg.Partitions)
	var wg sync.WaitGroup
	for n := range r.cfg.Partitions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := r.stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
				Durable:        ConsumerName(r.cfg.Durable, n),
				Description:    fmt.Sprintf("Seatflow sign-ins, partition %d of %d", n, r.cfg.Partitions),
				FilterSubject:  PartitionFilter(n),
				DeliverPolicy:  jetstream.DeliverAllPolicy,
				AckPolicy:      jetstream.AckAllPolicy,
				AckWait:        r.cfg.AckWait,
				MaxAckPending:  4 * r.cfg.BatchSize,
				MaxDeliver:     -1,
				PriorityPolicy: jetstream.PriorityPolicyPinned,
				PriorityGroups: []string{PriorityGroup},
				PinnedTTL:      r.cfg.PinnedTTL,
			})
			if err != nil {
				errs[n] = fmt.Errorf("signin: consumer %s: %w", ConsumerName(r.cfg.Durable, n), err)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	m, err := newMembers(ctx, js, r.cfg.Members, r.id, r.cfg.MemberTTL, r.cfg.Replicas)
	if err != nil {
		return err
	}
	r.members = m
	return nil
}

// Run consumes until ctx ends: it announces the instance, takes the
// partitions that fall to it among the running instances, and gives them
// up (finishing the batch in hand) when another instance joins or when it
// stops.
func (r *Router) Run(ctx context.Context) error {
	defer r.nc.Close()
	tick := time.NewTicker(r.cfg.MemberTTL / 3)
	defer tick.Stop()
	first := true
	for {
		ids, err := r.members.beat(ctx)
		if err != nil && ctx.Err() == nil {
			r.log.Warn("sign-in members", "err", err)
		}
		if err == nil {
			r.rebalance(ctx, ids)
		}
		if first {
			first = false
			close(r.running)
		}
		select {
		case <-ctx.Done():
			r.stopAll()
			leaveCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			r.members.leave(leaveCtx)
			cancel()
			return nil
		case <-tick.C:
		}
	}
}

// Running is closed once the router has taken its first partitions.
func (r *Router) Running() chan struct{} { return r.running }

// Close closes the connection New opened, for a Router that does not run;
// Run closes it itself, after which Close does nothing.
func (r *Router) Close() { r.nc.Close() }

// Owned lists the partitions this instance consumes.
func (r *Router) Owned() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []int
	for n := range r.owned {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// share returns the partitions instance id takes among ids (sorted): every
// k-th partition, k the number of instances.
func share(ids []string, id string, partitions int) map[int]bool {
	rank := slices.Index(ids, id)
	out := map[int]bool{}
	if rank < 0 {
		return out
	}
	for n := rank; n < partitions; n += len(ids) {
		out[n] = true
	}
	return out
}

func (r *Router) rebalance(ctx context.Context, ids []string) {
	want := share(ids, r.id, r.cfg.Partitions)
	r.mu.Lock()
	defer r.mu.Unlock()
	for n, p := range r.owned {
		if !want[n] {
			p.stop()
			delete(r.owned, n)
			r.unpin(n)
			r.log.Info("sign-in partition handed over", "partition", n, "instances", len(ids))
		}
	}
	for n := range want {
		if _, ok := r.owned[n]; ok {
			continue
		}
		p, err := r.start(ctx, n, r.lostOwner(n, ids))
		if err != nil {
			r.log.Warn("sign-in partition not started", "partition", n, "err", err)
			continue
		}
		r.owned[n] = p
		r.log.Info("sign-in partition taken", "partition", n, "instances", len(ids))
	}
	r.prev = ids
}

// lostOwner reports whether partition n comes from an instance that went
// away without handing it over: its owner among the instances of the last
// rebalance is no longer listed (or, at start, this instance is alone, so
// whatever the partition holds was held by a process that is gone, this
// one's previous life included). An instance that hands a partition over
// first handles all it was delivered; one that vanishes leaves the
// sign-ins it held unacknowledged, and the server would deliver them only
// after AckWait, after newer ones.
func (r *Router) lostOwner(n int, ids []string) bool {
	if len(r.prev) == 0 {
		return len(ids) == 1
	}
	return !slices.Contains(ids, r.prev[n%len(r.prev)])
}

func (r *Router) stopAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for n, p := range r.owned {
		p.stop()
		r.unpin(n)
		delete(r.owned, n)
	}
}

// unpin lets the partition's next client be pinned at once instead of
// after PinnedTTL.
func (r *Router) unpin(n int) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := r.stream.UnpinConsumer(ctx, ConsumerName(r.cfg.Durable, n), PriorityGroup); err != nil {
		r.log.Debug("unpin sign-in partition", "partition", n, "err", err)
	}
}

// partition is one partition this instance consumes.
type partition struct {
	n    int
	msgs chan jetstream.Msg
	quit chan struct{}
	done chan struct{}
	once sync.Once

	mu   sync.Mutex
	left []jetstream.Msg // delivered once the partition was stopping
}

func (p *partition) leftOver(m jetstream.Msg) {
	p.mu.Lock()
	p.left = append(p.left, m)
	p.mu.Unlock()
}

// deliver takes a sign-in the consumer delivered: onto the partition's
// queue, or, once the partition is stopping, into left. Stopping is
// checked first: a select choosing at random between a closed quit and a
// queue with room would split the deliveries between the two, and the
// loop would handle a later sign-in from the queue before an earlier one
// left over (seen: 91, 93, 95, ... then 92, 94, 96, ...). So the queue
// gets the deliveries up to the stop, left all those after it.
func (p *partition) deliver(m jetstream.Msg) {
	select {
	case <-p.quit:
		p.leftOver(m)
		return
	default:
	}
	select {
	case p.msgs <- m:
	case <-p.quit:
		p.leftOver(m)
	}
}

func (p *partition) stop() {
	p.once.Do(func() { close(p.quit) })
	<-p.done
}

// start takes partition n: once the process's state is fresh it consumes
// the partition's consumer and processes its batches until stopped.
func (r *Router) start(ctx context.Context, n int, lost bool) (*partition, error) {
	p := &partition{n: n, msgs: make(chan jetstream.Msg, 4*r.cfg.BatchSize), quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		if r.cfg.Fresh != nil {
			fctx, cancel := context.WithCancel(context.Background())
			stop := context.AfterFunc(ctx, cancel)
			go func() {
				select {
				case <-p.quit:
					cancel()
				case <-fctx.Done():
				}
			}()
			for attempt := 1; ; attempt++ {
				err := r.cfg.Fresh(fctx)
				if err == nil {
					break
				}
				if fctx.Err() != nil {
					stop()
					return
				}
				r.log.Warn("sign-in partition waits for fresh state", "partition", n, "err", err)
				if sleep(fctx, r.backoff(attempt, time.Second)) != nil {
					stop()
					return
				}
			}
			stop()
			cancel()
		}
		cons, err := r.stream.Consumer(ctx, ConsumerName(r.cfg.Durable, n))
		if err != nil {
			r.log.Warn("sign-in partition not consumed", "partition", n, "err", err)
			<-p.quit
			return
		}
		if lost {
			r.rewind(ctx, cons, n)
		}
		cc, err := cons.Consume(p.deliver, jetstream.PullPriorityGroup(PriorityGroup), jetstream.PullMaxMessages(2*r.cfg.BatchSize),
			jetstream.PullExpiry(max(r.cfg.PinnedTTL/2, time.Second)))
		if err != nil {
			r.log.Warn("sign-in partition not consumed", "partition", n, "err", err)
			<-p.quit
			return
		}
		r.loop(p, cons, cc)
	}()
	return p, nil
}

// rest returns, in stream order, the sign-ins a stopping partition was
// delivered but has not handled: it stops asking for more (Drain passes
// what the client still buffers to the callback, which keeps them once the
// partition is stopped) and adds those waiting in the partition's queue.
// The partition handles them before it lets go, so its next owner is sent
// only newer sign-ins and a tenant's order holds across the hand-over.
// (Giving them back with negative acknowledgements would be quicker, but
// the server may redeliver the first of them after the others.)
func (r *Router) rest(p *partition, cc jetstream.ConsumeContext) []jetstream.Msg {
	cc.Drain()
	select {
	case <-cc.Closed():
	case <-time.After(2 * time.Second):
		cc.Stop()
	}
	// Drain unsubscribed from the pull requests' inbox; once the server
	// has that, it delivers nothing more to a request still waiting.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	_ = r.nc.FlushWithContext(ctx)
	cancel()
	var left []jetstream.Msg
	for more := true; more; {
		select {
		case m := <-p.msgs:
			left = append(left, m)
		default:
			more = false
		}
	}
	p.mu.Lock()
	left = append(left, p.left...)
	p.left = nil
	p.mu.Unlock()
	seq := func(m jetstream.Msg) uint64 {
		if md, err := m.Metadata(); err == nil {
			return md.Sequence.Stream
		}
		return 0
	}
	slices.SortStableFunc(left, func(a, b jetstream.Msg) int { return cmp.Compare(seq(a), seq(b)) })
	return left
}

// loop takes whatever arrived since the last batch (at most BatchSize) and
// processes it as one batch: the partition's group commit.
func (r *Router) loop(p *partition, cons jetstream.Consumer, cc jetstream.ConsumeContext) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		// The batch in hand is finished unless it waits for long (an
		// unavailable store): then it is left for the next owner.
		<-p.quit
		t := time.NewTimer(5 * time.Second)
		defer t.Stop()
		select {
		case <-t.C:
			cancel()
		case <-ctx.Done():
		}
	}()
	batch := make([]jetstream.Msg, 0, r.cfg.BatchSize)
	// acked is the last message acknowledged without confirmation; the
	// partition confirms it when it stops.
	var acked jetstream.Msg
	defer func() {
		if acked == nil {
			return
		}
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := confirmAcked(actx, cons, acked); err != nil {
			r.log.Warn("sign-in partition's last acknowledgement", "partition", p.n, "err", err)
		}
	}()
	handle := func(batch []jetstream.Msg) bool {
		if !r.process(ctx, p.n, batch) {
			return false
		}
		// Every message of the batch is settled (claimed or
		// dead-lettered): one acknowledgement covers them all (AckAll). It
		// is sent without waiting for the server, so the next batch starts
		// at once; the last one is confirmed when the partition stops, so
		// a hand-over does not deliver them again. An acknowledgement lost
		// meanwhile only means a redelivery, which the claims recognise by
		// sign-in id.
		last := batch[len(batch)-1]
		if err := last.Ack(); err != nil {
			r.log.Warn("sign-in batch acknowledgement", "partition", p.n, "err", err)
		}
		acked = last
		return true
	}
	for {
		m, ok := p.next()
		if !ok {
			rest := r.rest(p, cc)
			for len(rest) > 0 && ctx.Err() == nil {
				n := min(len(rest), r.cfg.BatchSize)
				if !handle(rest[:n]) {
					break
				}
				rest = rest[n:]
			}
			if len(rest) > 0 {
				r.log.Warn("sign-in partition stopped with sign-ins it did not handle; redelivered after AckWait", "partition", p.n, "count", len(rest))
			}
			return
		}
		batch = append(batch[:0], m)
	more:
		for len(batch) < r.cfg.BatchSize {
			select {
			case m := <-p.msgs:
				batch = append(batch, m)
			default:
				break more
			}
		}
		handle(batch)
	}
}

// next waits for the first sign-in of the next batch; false once the
// partition is stopping, even if its queue holds sign-ins too (a select
// would pick at random between the two): rest hands those over in order.
func (p *partition) next() (jetstream.Msg, bool) {
	select {
	case <-p.quit:
		return nil, false
	default:
	}
	select {
	case <-p.quit:
		return nil, false
	case m := <-p.msgs:
		return m, true
	}
}

// confirmAcked returns once the consumer's acknowledgement floor has
// reached m (AckAll: everything up to m is acknowledged), asking the server
// until ctx ends. The message itself cannot tell: it was acknowledged
// without waiting, and nats.go refuses to acknowledge it again.
func confirmAcked(ctx context.Context, cons jetstream.Consumer, m jetstream.Msg) error {
	md, err := m.Metadata()
	if err != nil {
		return err
	}
	for wait := 5 * time.Millisecond; ; wait = min(2*wait, 200*time.Millisecond) {
		info, err := cons.Info(ctx)
		if err == nil && info.AckFloor.Stream >= md.Sequence.Stream {
			return nil
		}
		if err == nil {
			err = fmt.Errorf("acknowledged up to %d of %d", info.AckFloor.Stream, md.Sequence.Stream)
		}
		if sleep(ctx, wait) != nil {
			return fmt.Errorf("not confirmed: %w", err)
		}
	}
}

// inbound is one delivered sign-in on its way through a batch.
type inbound struct {
	msg    jetstream.Msg
	tenant string
	seq    string
	p      domain.SignInMessage
	// reply is where its outcome goes (HeaderReply), if anywhere.
	reply string
}

// process handles one batch of a partition: rejects what can never
// succeed, then claims per tenant in arrival order. It reports whether
// every sign-in of the batch is settled (its events stored, or
// dead-lettered), so that the batch may be acknowledged.
func (r *Router) process(ctx context.Context, part int, msgs []jetstream.Msg) bool {
	start := time.Now()
	var lag time.Duration
	if md, err := msgs[0].Metadata(); err == nil {
		lag = start.Sub(md.Timestamp)
	}
	var (
		all     = make([]inbound, 0, len(msgs)) // in arrival order
		count   = map[string]int{}
		tenants []string
	)
	for _, m := range msgs {
		in := inbound{msg: m, tenant: tenantOf(m.Subject()), reply: replyTo(m.Headers(), r.inbox)}
		md, err := m.Metadata()
		if err == nil {
			in.seq = strconv.FormatUint(md.Sequence.Stream, 10)
			if r.cfg.MaxDeliveries > 0 && md.NumDelivered >= uint64(r.cfg.MaxDeliveries) {
				r.deadLetter(ctx, in, domain.RejectSignIn(domain.RejectRetriesExhausted, "delivered %d times", md.NumDelivered))
				continue
			}
		}
		if in.p, err = Parse(m.Data()); err != nil {
			r.fail(ctx, in, err)
			continue
		}
		if count[in.tenant] == 0 {
			tenants = append(tenants, in.tenant)
		}
		count[in.tenant]++
		all = append(all, in)
	}
	// Each tenant's sign-ins, in arrival order, as a part of one array.
	byTenant := make(map[string][]inbound, len(tenants))
	if len(tenants) == 1 {
		byTenant[tenants[0]] = all
	} else {
		grouped, from := make([]inbound, len(all)), 0
		for _, t := range tenants {
			byTenant[t] = grouped[from : from : from+count[t]]
			from += count[t]
		}
		for _, in := range all {
			byTenant[in.tenant] = append(byTenant[in.tenant], in)
		}
	}
	// Tenants are independent: their sign-ins are claimed in parallel,
	// each tenant's in arrival order.
	var wg sync.WaitGroup
	for _, t := range tenants {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.claimTenant(ctx, t, byTenant[t])
		}()
	}
	wg.Wait()
	r.met.batch(part, len(msgs), time.Since(start))
	r.log.Debug("sign-in batch", "partition", part, "count", len(msgs), "tenants", len(tenants), "took", time.Since(start), "lag", lag)
	return ctx.Err() == nil
}

func tenantOf(subject string) string {
	rest := strings.TrimPrefix(subject, SubjectPrefix)
	t, _, _ := strings.Cut(rest, ".")
	return t
}

// claimTenant claims a tenant's sign-ins of one batch together. When the
// whole batch fails for a reason other than an unavailable store, each
// sign-in is tried alone, so only the one at fault is dead-lettered.
func (r *Router) claimTenant(ctx context.Context, tenant string, ins []inbound) {
	for attempt := 1; ; attempt++ {
		err := r.claim(ctx, tenant, ins)
		switch {
		case err == nil:
			return
		case ctx.Err() != nil:
			return // handed over: the next owner gets them again
		case errors.Is(err, domain.ErrUnavailable):
			// Not the sign-ins' fault: keep them, and their place.
			r.log.Warn("sign-ins waiting for the event store", "tenant", tenant, "count", len(ins), "attempt", attempt, "err", err)
			for _, in := range ins {
				_ = in.msg.InProgress()
			}
			if sleep(ctx, r.backoff(attempt, time.Second)) != nil {
				return
			}
		case len(ins) > 1:
			r.log.Warn("sign-in batch failed; trying each alone", "tenant", tenant, "count", len(ins), "err", err)
			for _, in := range ins {
				r.claimTenant(ctx, tenant, []inbound{in})
			}
			return
		default:
			var rej *domain.SignInRejectedError
			if errors.As(err, &rej) {
				r.deadLetter(ctx, ins[0], rej)
				return
			}
			if attempt > r.cfg.Retries {
				r.deadLetter(ctx, ins[0], domain.RejectSignIn(domain.RejectRetriesExhausted, "failed %d times, last: %v", attempt, err))
				return
			}
			r.log.Warn("sign-in failed; retrying", "tenant", tenant, "seq", ins[0].seq, "attempt", attempt, "err", err)
			if sleep(ctx, r.backoff(attempt, r.cfg.RetryMax)) != nil {
				return
			}
		}
	}
}

func (r *Router) backoff(attempt int, ceiling time.Duration) time.Duration {
	d := r.cfg.RetryMin << min(attempt-1, 16)
	if d > ceiling || d <= 0 {
		d = ceiling
	}
	return d/2 + rand.N(d/2+1)
}

// claim runs one attempt for a tenant's sign-ins: every rejected sign-in
// is dead-lettered, the others acknowledged after their events are stored.
// A panic is the sign-ins' fault (a bug they trigger): reported as a
// rejection when there is one sign-in.
func (r *Router) claim(ctx context.Context, tenant string, ins []inbound) (err error) {
	defer func() {
		if v := recover(); v != nil {
			r.log.Error("sign-in handler panicked", "tenant", tenant, "count", len(ins), "panic", v)
			if len(ins) == 1 {
				err = domain.RejectSignIn(domain.RejectInternal, "the handler failed: %v", v)
			} else {
				err = fmt.Errorf("the handler failed: %v", v)
			}
		}
	}()
	ps := make([]domain.SignInMessage, len(ins))
	for i, in := range ins {
		ps[i] = in.p
	}
	outs, err := r.cfg.Handler.HandleBatch(ctx, tenant, ps)
	if err != nil {
		return err
	}
	for i := range outs {
		o := &outs[i]
		if o.Err != nil {
			r.fail(ctx, ins[i], o.Err)
			continue
		}
		r.answer(ins[i], reply{Outcome: &o.ClaimOutcome, Position: o.Position})
	}
	r.met.signins(len(ins))
	return nil
}

// fail dead-letters a sign-in that can never succeed.
func (r *Router) fail(ctx context.Context, in inbound, err error) {
	var rej *domain.SignInRejectedError
	if !errors.As(err, &rej) {
		rej = domain.RejectSignIn(domain.RejectInternal, "%v", err)
	}
	r.deadLetter(ctx, in, rej)
}

// deadLetter copies the message to sf.dlq.signin.<tenant> with the reason;
// the batch's acknowledgement then covers it. If the copy cannot be stored
// it is tried again, the partition waiting, as the claims wait for an
// unavailable store.
func (r *Router) deadLetter(ctx context.Context, in inbound, rej *domain.SignInRejectedError) {
	tenant := in.tenant
	if tenant == "" {
		tenant = "_"
	}
	dlq := &nats.Msg{Subject: DLQSubjectPrefix + tenant, Data: in.msg.Data(), Header: nats.Header{}}
	dlq.Header.Set(HeaderError, rej.Error())
	dlq.Header.Set("Seatflow-Subject", SubjectPrefix+tenant)
	dlq.Header.Set("Seatflow-Sequence", in.seq)
	// A redelivered poison message is dead-lettered once.
	dlq.Header.Set(jetstream.MsgIDHeader, "signin-"+in.seq)
	for attempt := 1; ; attempt++ {
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err := r.js.PublishMsg(pctx, dlq)
		cancel()
		if err == nil {
			break
		}
		r.log.Error("dead-letter a sign-in", "subject", dlq.Subject, "seq", in.seq, "err", err)
		if sleep(ctx, r.backoff(attempt, time.Second)) != nil {
			return
		}
	}
	r.met.deadLetter()
	r.log.Warn("sign-in dead-lettered", "tenant", tenant, "seq", in.seq, "reason", rej.Error())
	r.answer(in, reply{Reason: rej.Reason, Detail: rej.Detail})
}

// answer tells whoever submitted in over HTTP (see Submitter) what it did,
// once its events are stored or it is dead-lettered. It does not wait: an
// answer lost only makes the submitter answer ErrOutcomePending.
func (r *Router) answer(in inbound, rp reply) {
	if in.reply == "" {
		return
	}
	rp.Tenant, rp.ID = in.tenant, in.p.ID
	data, err := json.Marshal(rp)
	if err == nil {
		err = r.nc.Publish(in.reply, data)
	}
	if err != nil {
		r.log.Warn("answer a sign-in", "tenant", in.tenant, "seq", in.seq, "err", err)
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// routerMetrics are the router's Prometheus metrics (nil-safe).
type routerMetrics struct {
	batches *prometheus.HistogramVec
	handled prometheus.Counter
	dlq     prometheus.Counter
}

func newRouterMetrics(reg prometheus.Registerer) *routerMetrics {
	m := &routerMetrics{
		batches: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "seatflow_signin_batch_seconds",
			Help: "Time to decide, append and acknowledge one batch of a sign-in partition.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)},
			[]string{"partition"}),
		handled: prometheus.NewCounter(prometheus.CounterOpts{Name: "seatflow_signins_handled_total", Help: "Sign-ins decided and acknowledged."}),
		dlq:     prometheus.NewCounter(prometheus.CounterOpts{Name: "seatflow_signins_dead_lettered_total", Help: "Sign-ins dead-lettered."}),
	}
	if reg == nil {
		return m
	}
	m.batches = register(reg, m.batches)
	m.handled = register(reg, m.handled)
	m.dlq = register(reg, m.dlq)
	return m
}

// register registers c, or returns the collector already registered under
// its name (a router restarted in the same process).
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if old, ok := are.ExistingCollector.(C); ok {
				return old
			}
		}
	}
	return c
}

func (m *routerMetrics) batch(part, n int, d time.Duration) {
	if n > 0 {
		m.batches.WithLabelValues(strconv.Itoa(part)).Observe(d.Seconds())
	}
}

func (m *routerMetrics) signins(n int) { m.handled.Add(float64(n)) }

func (m *routerMetrics) deadLetter() { m.dlq.Inc() }
