package natsjs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/infra/encode"
)

// Header names of the JetStream publish protocol the store relies on.
const (
	hdrMsgID                  = "Nats-Msg-Id"
	hdrExpectedLastSubjectSeq = "Nats-Expected-Last-Subject-Sequence"
	hdrBatchID                = "Nats-Batch-Id"
	hdrBatchSeq               = "Nats-Batch-Sequence"
	hdrBatchCommit            = "Nats-Batch-Commit"
	hdrSequence               = "Nats-Sequence"
	hdrNumPending             = "Nats-Num-Pending"
	hdrStatus                 = "Status"
	hdrDescription            = "Description"
)

// JetStream API error codes the store interprets.
const (
	// errCodeWrongLastSeq (10071): the subject's last sequence is not the
	// expected one.
	errCodeWrongLastSeq jetstream.ErrorCode = 10071
	// errCodeWrongLastSeqConstant (10164): the same, as reported by
	// replicated streams and by batches (including while another check on
	// the subject is in flight).
	errCodeWrongLastSeqConstant jetstream.ErrorCode = 10164
	// errCodeBatchIncomplete (10176): the server did not see the whole
	// batch (e.g. a leader change mid-batch); nothing was stored.
	errCodeBatchIncomplete jetstream.ErrorCode = 10176
	// errCodeInsufficientResources (10023), errCodeStorageExceeded (10047),
	// errCodeMemoryExceeded (10028) and errCodeAccountResources (10002): no
	// room to store the append (disk full, or the account's limit reached).
	errCodeAccountResources      jetstream.ErrorCode = 10002
	errCodeInsufficientResources jetstream.ErrorCode = 10023
	errCodeStorageExceeded       jetstream.ErrorCode = 10047
	errCodeMemoryExceeded        jetstream.ErrorCode = 10028
)

// MaxAppendEvents is the most events one Append can store: the server's
// default limit on an atomic batch.
const MaxAppendEvents = 1000

const (
	// loadBatch is how many messages one direct-get request asks for.
	loadBatch = 1000
	// loadStalls bounds how often Load asks again when a replica answering
	// the direct get has not yet caught up with the last sequence it saw.
	loadStalls = 10
	// batchAttempts bounds how often Append resends an atomic batch that
	// the server reports it did not store.
	batchAttempts = 3
)

// Store is the JetStream event store: one aggregate is one literal subject
// of StreamEvents and an event's position is its stream sequence. It is
// safe for concurrent use.
type Store struct {
	js      jetstream.JetStream
	nc      *nats.Conn
	reg     *events.Registry
	prefix  string // JetStream API prefix, with trailing dot
	timeout time.Duration
	fullAt  atomic.Int64 // unix nanos of the last append refused for storage; 0: none since a success
}

var _ domain.Store = (*Store)(nil)

// NewStore returns a store on js, decoding events with reg. The streams must
// exist (EnsureStreams).
func NewStore(js jetstream.JetStream, reg *events.Registry) *Store {
	opts := js.Options()
	prefix := jetstream.DefaultAPIPrefix
	switch {
	case opts.Domain != "":
		prefix = "$JS." + opts.Domain + ".API."
	case opts.APIPrefix != "":
		prefix = strings.TrimSuffix(opts.APIPrefix, ".") + "."
	}
	timeout := opts.DefaultTimeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	return &Store{js: js, nc: js.Conn(), reg: reg, prefix: prefix, timeout: timeout}
}

// withTimeout gives ctx the store's default deadline if it has none, so no
// request waits forever for a reply.
func (s *Store) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, s.timeout)
}

// Load returns the aggregate's events stored after position after, oldest
// first. It asks for the subject's last message first, so an aggregate
// with nothing new costs one round trip; otherwise it reads the rest with
// batched direct gets.
//
// Direct gets may be answered by any replica of the stream, so on a
// replicated stream Load can trail the leader by a moment; what it returns
// is always a prefix of the aggregate's history. The concurrency check of
// Append, not Load, is what keeps decisions on stale state from landing.
func (s *Store) Load(ctx context.Context, tenant string, agg events.Aggregate, after uint64) ([]events.Envelope, error) {
	evs, err := s.load(ctx, tenant, agg, after, false)
	return evs, unavailable(err)
}

// LoadLatest is Load up to the last sequence the stream's leader holds for
// the aggregate: the head is asked of the leader (a message get, not a
// direct get any replica may answer), then the range is read with direct
// gets, which wait for a replica that has not reached that head yet. The
// domain uses it to confirm a refusal.
func (s *Store) LoadLatest(ctx context.Context, tenant string, agg events.Aggregate, after uint64) ([]events.Envelope, error) {
	evs, err := s.load(ctx, tenant, agg, after, true)
	return evs, unavailable(err)
}

var (
	_ domain.LeaderStore = (*Store)(nil)
	_ domain.TimeStore   = (*Store)(nil)
)

// LoadSince returns the aggregate's events the stream stored at or after
// since, by the stream's own time index (a direct get with start_time finds
// the first; the rest are read as Load reads). The domain looks up a
// command issued longer ago than its memory reaches with it.
func (s *Store) LoadSince(ctx context.Context, tenant string, agg events.Aggregate, since time.Time) ([]events.Envelope, error) {
	if err := events.CheckAggregate(tenant, agg); err != nil {
		return nil, fmt.Errorf("load since: %w", err)
	}
	subj := events.Subject(tenant, agg)
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	last, err := s.lastMsg(ctx, subj)
	if err != nil {
		return nil, unavailable(fmt.Errorf("load %s since %s: %w", subj, since.Format(time.RFC3339), err))
	}
	if last == nil {
		return nil, nil
	}
	req, _ := json.Marshal(struct {
		StartTime time.Time `json:"start_time"`
		NextFor   string    `json:"next_by_subj"`
	}{since.UTC(), subj})
	resp, err := s.nc.RequestWithContext(ctx, s.prefix+"DIRECT.GET."+StreamEvents, req)
	if err != nil {
		return nil, unavailable(fmt.Errorf("load %s since %s: %w", subj, since.Format(time.RFC3339), err))
	}
	switch status := resp.Header.Get(hdrStatus); status {
	case "":
	case "404":
		return nil, nil // nothing stored since
	default:
		return nil, fmt.Errorf("load %s since %s: status %s %s", subj, since.Format(time.RFC3339), status, resp.Header.Get(hdrDescription))
	}
	first, err := strconv.ParseUint(resp.Header.Get(hdrSequence), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("load %s since: bad %s header %q", subj, hdrSequence, resp.Header.Get(hdrSequence))
	}
	if first > last.seq {
		// A replica ahead of the one that told the last: read what we know.
		first = last.seq
	}
	evs, err := s.readRange(ctx, tenant, agg, subj, first, last.seq)
	return evs, unavailable(err)
}

func (s *Store) load(ctx context.Context, tenant string, agg events.Aggregate, after uint64, latest bool) ([]events.Envelope, error) {
	if err := events.CheckAggregate(tenant, agg); err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	subj := events.Subject(tenant, agg)
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()

	lastOf := s.lastMsg
	if latest {
		lastOf = s.leaderLastMsg
	}
	last, err := lastOf(ctx, subj)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", subj, err)
	}
	if last == nil || last.seq <= after {
		return nil, nil
	}
	if last.seq == after+1 {
		env, err := s.decode(tenant, agg, subj, last.seq, last.data)
		if err != nil {
			return nil, err
		}
		return []events.Envelope{env}, nil
	}
	return s.readRange(ctx, tenant, agg, subj, after+1, last.seq)
}

type rawMsg struct {
	seq  uint64
	data []byte
}

// lastMsg returns the last message on subj, or nil if it has none.
func (s *Store) lastMsg(ctx context.Context, subj string) (*rawMsg, error) {
	api := s.prefix + "DIRECT.GET." + StreamEvents + "." + subj
	var (
		resp *nats.Msg
		err  error
	)
	for attempt := 1; ; attempt++ {
		resp, err = s.nc.RequestWithContext(ctx, api, nil)
		if !errors.Is(err, nats.ErrNoResponders) || attempt == 3 {
			break
		}
		// No replica answers direct gets at this instant (start-up or a
		// replica set change): ask again shortly.
		if err := sleepCtx(ctx, time.Duration(attempt)*100*time.Millisecond); err != nil {
			return nil, err
		}
	}
	if err != nil {
		return nil, fmt.Errorf("direct get last: %w", err)
	}
	switch status := resp.Header.Get(hdrStatus); status {
	case "":
	case "404":
		return nil, nil
	default:
		return nil, fmt.Errorf("direct get last: status %s %s", status, resp.Header.Get(hdrDescription))
	}
	seq, err := strconv.ParseUint(resp.Header.Get(hdrSequence), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("direct get last: bad %s header %q", hdrSequence, resp.Header.Get(hdrSequence))
	}
	return &rawMsg{seq: seq, data: resp.Data}, nil
}

// leaderLastMsg returns the last message on subj as the stream's leader
// has it, or nil if it has none.
func (s *Store) leaderLastMsg(ctx context.Context, subj string) (*rawMsg, error) {
	req, _ := json.Marshal(struct {
		LastFor string `json:"last_by_subj"`
	}{subj})
	resp, err := s.nc.RequestWithContext(ctx, s.prefix+"STREAM.MSG.GET."+StreamEvents, req)
	if err != nil {
		return nil, fmt.Errorf("get last from the leader: %w", err)
	}
	var r struct {
		Message *struct {
			Seq  uint64 `json:"seq"`
			Data []byte `json:"data"`
		} `json:"message"`
		Error *jetstream.APIError `json:"error"`
	}
	if err := json.Unmarshal(resp.Data, &r); err != nil {
		return nil, fmt.Errorf("get last from the leader: %w", err)
	}
	switch {
	case r.Error != nil && r.Error.ErrorCode == jetstream.JSErrCodeMessageNotFound:
		return nil, nil
	case r.Error != nil:
		return nil, fmt.Errorf("get last from the leader: %w", r.Error)
	case r.Message == nil:
		return nil, errors.New("get last from the leader: an answer without a message")
	}
	return &rawMsg{seq: r.Message.Seq, data: r.Message.Data}, nil
}

// directGetBatch is the body of a batched direct get request
// (server.JSApiMsgGetRequest).
type directGetBatch struct {
	Seq     uint64 `json:"seq"`
	NextFor string `json:"next_by_subj"`
	Batch   int    `json:"batch"`
}

// readRange returns the events on subj from sequence from on, at least up
// to sequence to unless the replicas answering cannot serve it yet (then a
// shorter prefix).
func (s *Store) readRange(ctx context.Context, tenant string, agg events.Aggregate, subj string, from, to uint64) ([]events.Envelope, error) {
	inbox := s.nc.NewInbox()
	sub, err := s.nc.SubscribeSync(inbox)
	if err != nil {
		return nil, fmt.Errorf("load %s: subscribe: %w", subj, err)
	}
	defer sub.Unsubscribe() //nolint:errcheck // nothing to do about it

	api := s.prefix + "DIRECT.GET." + StreamEvents
	out := make([]events.Envelope, 0, min(to-from+1, 4*loadBatch))
	next := from
	for stalls := 0; next <= to; {
		req, _ := json.Marshal(directGetBatch{Seq: next, NextFor: subj, Batch: loadBatch})
		if err := s.nc.PublishRequest(api, inbox, req); err != nil {
			return nil, fmt.Errorf("load %s: direct get from %d: %w", subj, next, err)
		}
		before := next
		if err := s.readBatch(ctx, sub, tenant, agg, subj, &next, &out); err != nil {
			return nil, err
		}
		if next > before {
			stalls = 0
			continue
		}
		// The replica that answered is behind the one that told us the last
		// sequence: ask again, then settle for the prefix we have.
		if stalls++; stalls > loadStalls {
			break
		}
		if err := sleepCtx(ctx, time.Duration(stalls)*5*time.Millisecond); err != nil {
			return nil, fmt.Errorf("load %s: %w", subj, err)
		}
	}
	return out, nil
}

// readBatch reads one batched direct-get answer: messages, then an
// end-of-batch status (or 404 when there is nothing from *next on).
func (s *Store) readBatch(ctx context.Context, sub *nats.Subscription, tenant string, agg events.Aggregate, subj string,
	next *uint64, out *[]events.Envelope) error {
	for {
		msg, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			return fmt.Errorf("load %s: direct get from %d: %w", subj, *next, err)
		}
		switch status := msg.Header.Get(hdrStatus); status {
		case "":
		case "204": // end of batch
			return nil
		case "404":
			return nil
		case "503":
			return fmt.Errorf("load %s: direct get from %d: %w", subj, *next, nats.ErrNoResponders)
		default:
			return fmt.Errorf("load %s: direct get from %d: status %s %s", subj, *next, status, msg.Header.Get(hdrDescription))
		}
		seq, err := strconv.ParseUint(msg.Header.Get(hdrSequence), 10, 64)
		if err != nil {
			return fmt.Errorf("load %s: bad %s header %q", subj, hdrSequence, msg.Header.Get(hdrSequence))
		}
		if seq < *next { // an answer to an earlier request, already read
			continue
		}
		env, err := s.decode(tenant, agg, subj, seq, msg.Data)
		if err != nil {
			return err
		}
		*out = append(*out, env)
		*next = seq + 1
		if msg.Header.Get(hdrNumPending) == "0" {
			// Nothing more; the end-of-batch status still follows and is
			// skipped by the next read as a status of an older request.
			return s.drainEOB(ctx, sub)
		}
	}
}

// drainEOB reads the end-of-batch status that follows the last message.
func (s *Store) drainEOB(ctx context.Context, sub *nats.Subscription) error {
	for {
		msg, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			return err
		}
		if msg.Header.Get(hdrStatus) != "" {
			return nil
		}
	}
}

// decode turns one stored message into an envelope, checking that it
// belongs to the subject it was stored under.
func (s *Store) decode(tenant string, agg events.Aggregate, subj string, seq uint64, data []byte) (events.Envelope, error) {
	env, err := s.reg.Decode(data)
	if err != nil {
		return events.Envelope{}, fmt.Errorf("load %s: decode sequence %d: %w", subj, seq, err)
	}
	if env.Tenant != tenant || env.Aggregate != agg {
		return events.Envelope{}, fmt.Errorf("load %s: sequence %d holds an event of %s: %w",
			subj, seq, env.Subject(), events.ErrMalformed)
	}
	env.Position = seq
	return env, nil
}

// outgoing is one encoded event ready to publish.
type outgoing struct {
	subj     string
	id       string
	data     []byte
	expected uint64
	check    bool // carries the write's concurrency check (its first event)
}

// prepare validates the writes and encodes their events. Every event is
// decoded again with the registry, so nothing is stored that Load could
// not read back.
func (s *Store) prepare(writes []domain.Write) ([]outgoing, error) {
	enc, err := encode.Writes(s.reg, writes)
	if err != nil {
		return nil, err
	}
	out := make([]outgoing, len(enc))
	for i, e := range enc {
		out[i] = outgoing{subj: e.Subject, id: e.ID, data: e.Data, expected: e.Expected, check: e.First}
	}
	if len(out) > MaxAppendEvents {
		return nil, fmt.Errorf("append: %d events, at most %d fit in one append", len(out), MaxAppendEvents)
	}
	return out, nil
}

// Append stores the writes' events, each write conditional on its
// aggregate's last position being its Expected. One event is one publish;
// anything more is one atomic batch, all or nothing. A failed check returns
// an error wrapping domain.ErrConcurrency and stores nothing.
//
// When NATS cannot be reached or does not answer in time, the error also
// wraps domain.ErrUnavailable; the outcome of such an append is unknown.
func (s *Store) Append(ctx context.Context, writes ...domain.Write) ([]uint64, error) {
	pos, err := s.append(ctx, writes...)
	switch {
	case err == nil:
		s.fullAt.Store(0)
	case errors.Is(err, ErrStorageFull):
		s.fullAt.Store(time.Now().UnixNano())
	case sentUnanswered(err):
		return nil, fmt.Errorf("%w: %w: %w", domain.ErrUnavailable, domain.ErrOutcomeUnknown, err)
	}
	return pos, unavailable(err)
}

// sentUnanswered reports whether an append failed after it may have reached
// the server: it timed out waiting for the acknowledgement, or the
// connection went while waiting. (No responders means nothing stored it.)
func sentUnanswered(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, nats.ErrConnectionClosed) || errors.Is(err, nats.ErrDisconnected) ||
		errors.Is(err, nats.ErrConnectionReconnecting) || errors.Is(err, jetstream.ErrNoStreamResponse)
}

func (s *Store) append(ctx context.Context, writes ...domain.Write) ([]uint64, error) {
	msgs, err := s.prepare(writes)
	if err != nil {
		return nil, err
	}
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	if len(msgs) == 1 {
		seq, err := s.publishOne(ctx, msgs[0])
		if err != nil {
			return nil, err
		}
		return []uint64{seq}, nil
	}
	return s.publishBatch(ctx, msgs)
}

func (s *Store) publishOne(ctx context.Context, m outgoing) (uint64, error) {
	msg := nats.NewMsg(m.subj)
	msg.Data = m.data
	msg.Header.Set(hdrMsgID, m.id)
	// Set by hand: 0 must go out as "0" (the subject has no messages).
	msg.Header.Set(hdrExpectedLastSubjectSeq, strconv.FormatUint(m.expected, 10))
	ack, err := s.js.PublishMsg(ctx, msg)
	if err != nil {
		return 0, appendError(m.subj, err)
	}
	// ack.Duplicate: the event was stored before (a retried publish);
	// ack.Sequence is where.
	return ack.Sequence, nil
}

// batchAck is the reply to an atomic batch commit (server.JSPubAckResponse).
type batchAck struct {
	Error     *jetstream.APIError `json:"error,omitempty"`
	Stream    string              `json:"stream"`
	Sequence  uint64              `json:"seq"`
	Duplicate bool                `json:"duplicate,omitempty"`
	BatchID   string              `json:"batch,omitempty"`
	Count     int                 `json:"count,omitempty"`
}

// publishBatch sends msgs as one atomic batch: every message carries
// Nats-Batch-Id and Nats-Batch-Sequence (1..n), the last one also
// Nats-Batch-Commit: 1 and is sent as a request whose reply acknowledges
// the whole batch with the sequence of its last message. Only the first
// message of each aggregate carries the concurrency check: the server
// rejects (10164) a check on a subject already written earlier in the same
// batch. The batch's messages are stored contiguously.
func (s *Store) publishBatch(ctx context.Context, msgs []outgoing) ([]uint64, error) {
	label := batchLabel(msgs)
	var lastErr error
	for attempt := 1; attempt <= batchAttempts; attempt++ {
		if attempt > 1 {
			if err := sleepCtx(ctx, time.Duration(attempt-1)*100*time.Millisecond); err != nil {
				return nil, fmt.Errorf("append %s: %w (after %w)", label, err, lastErr)
			}
		}
		positions, retry, err := s.sendBatch(ctx, msgs)
		if err == nil {
			return positions, nil
		}
		if !retry {
			return nil, appendError(label, err)
		}
		lastErr = err
	}
	return nil, appendError(label, lastErr)
}

// sendBatch sends one attempt of a batch. retry is true when the server
// certainly stored nothing and a new attempt may succeed.
func (s *Store) sendBatch(ctx context.Context, msgs []outgoing) (positions []uint64, retry bool, err error) {
	id := nuid.Next()
	n := len(msgs)
	batchMsg := func(i int) *nats.Msg {
		m := msgs[i]
		msg := nats.NewMsg(m.subj)
		msg.Data = m.data
		msg.Header.Set(hdrMsgID, m.id)
		if m.check {
			msg.Header.Set(hdrExpectedLastSubjectSeq, strconv.FormatUint(m.expected, 10))
		}
		msg.Header.Set(hdrBatchID, id)
		msg.Header.Set(hdrBatchSeq, strconv.Itoa(i+1))
		return msg
	}
	// Messages of one connection reach the stream in order, so the staged
	// messages need no replies; the server answers the commit for all.
	for i := 0; i < n-1; i++ {
		if err := s.nc.PublishMsg(batchMsg(i)); err != nil {
			return nil, false, fmt.Errorf("batch message %d: %w", i+1, err)
		}
	}
	commit := batchMsg(n - 1)
	commit.Header.Set(hdrBatchCommit, "1")
	resp, err := s.nc.RequestMsgWithContext(ctx, commit)
	if errors.Is(err, nats.ErrNoResponders) {
		// Nobody received the commit: nothing was stored.
		return nil, true, fmt.Errorf("batch commit: %w", err)
	}
	if err != nil {
		return nil, false, fmt.Errorf("batch commit: %w", err)
	}
	var ack batchAck
	if err := json.Unmarshal(resp.Data, &ack); err != nil {
		return nil, false, fmt.Errorf("batch commit: reply %q: %w", resp.Data, err)
	}
	if ack.Error != nil {
		return nil, ack.Error.ErrorCode == errCodeBatchIncomplete, fmt.Errorf("batch commit: %w", ack.Error)
	}
	if ack.BatchID != id || ack.Count != n || ack.Sequence < uint64(n) {
		return nil, false, fmt.Errorf("batch commit: unexpected ack %s", resp.Data)
	}
	return batchPositions(ack.Sequence, n), false, nil
}

func batchPositions(last uint64, n int) []uint64 {
	out := make([]uint64, n)
	for i := range out {
		out[i] = last - uint64(n-1-i)
	}
	return out
}

func batchLabel(msgs []outgoing) string {
	var subjects []string
	seen := map[string]bool{}
	for _, m := range msgs {
		if !seen[m.subj] {
			seen[m.subj] = true
			subjects = append(subjects, m.subj)
		}
	}
	return strings.Join(subjects, ",")
}

// appendError wraps a publish error, adding domain.ErrConcurrency when the
// server refused a concurrency check.
func appendError(what string, err error) error {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode {
		case errCodeWrongLastSeq, errCodeWrongLastSeqConstant:
			return fmt.Errorf("append %s: %w: %w", what, domain.ErrConcurrency, err)
		case errCodeInsufficientResources, errCodeStorageExceeded, errCodeMemoryExceeded, errCodeAccountResources:
			return fmt.Errorf("append %s: %w: %w: %w", what, domain.ErrUnavailable, ErrStorageFull, err)
		}
	}
	return fmt.Errorf("append %s: %w", what, err)
}

// ErrStorageFull means JetStream refused an append for lack of storage
// (disk full, or the account's limit reached). Nothing was stored.
var ErrStorageFull = errors.New("the event store is out of storage")

// StorageFullFor is how long after a refused append for lack of storage the
// store reports itself unhealthy (Health), so load balancers steer away
// while an operator frees space; the next successful append clears it.
const StorageFullFor = 30 * time.Second

// Health reports why the store cannot take writes now: an append was
// refused for lack of storage within StorageFullFor and none succeeded
// since. It returns nil when healthy.
func (s *Store) Health() error {
	at := s.fullAt.Load()
	if at == 0 || time.Since(time.Unix(0, at)) > StorageFullFor {
		return nil
	}
	return fmt.Errorf("%w: an append was refused %s ago", ErrStorageFull, time.Since(time.Unix(0, at)).Round(time.Second))
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// unavailable marks transport failures (no answer, no connection, no
// responders) with domain.ErrUnavailable so callers can say "retry later"
// instead of "internal error".
func unavailable(err error) error {
	switch {
	case err == nil, errors.Is(err, domain.ErrConcurrency):
		return err
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout),
		errors.Is(err, nats.ErrNoResponders), errors.Is(err, nats.ErrConnectionClosed),
		errors.Is(err, nats.ErrDisconnected), errors.Is(err, nats.ErrConnectionReconnecting),
		errors.Is(err, jetstream.ErrNoStreamResponse):
		return fmt.Errorf("%w: %w", domain.ErrUnavailable, err)
	}
	return err
}
