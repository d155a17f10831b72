package signin

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/seatflow/seatflow/domain"
)

// HeaderReply names where the partition that handles a sign-in sends what
// it did: a subject of the service's own inbox, set by the Submitter. The
// Router ignores any other value, so a publisher cannot make the service
// publish elsewhere.
const HeaderReply = "Seatflow-Reply"

// DefaultSubmitWait is how long Submitter.Handle waits for a sign-in's
// outcome once the stream has stored it.
const DefaultSubmitWait = 10 * time.Second

// ErrOutcomePending means a sign-in was stored on the sign-in stream, so it
// will be handled, but its outcome did not arrive in time. Submitting it
// again with the same id is safe and answers the outcome: the sign-in id is
// the claim's command id. It wraps domain.ErrOutcomeUnknown.
var ErrOutcomePending = fmt.Errorf("%w: the sign-in is stored and will be handled, but its outcome did not arrive in time", domain.ErrOutcomeUnknown)

// reply is what a partition sends to HeaderReply: the outcome of one
// sign-in, or why it can never succeed (Reason and Detail of a
// *domain.SignInRejectedError).
type reply struct {
	Tenant   string               `json:"tenant"`
	ID       string               `json:"id"`
	Outcome  *domain.ClaimOutcome `json:"outcome,omitempty"`
	Position uint64               `json:"position,omitempty"`
	Reason   string               `json:"reason,omitempty"`
	Detail   string               `json:"detail,omitempty"`
}

// Submitter hands sign-ins posted over HTTP to the partition that owns
// their tenant, whichever instance runs it: it publishes each on
// sf.signin.<tenant>, as an upstream system does, with HeaderReply set,
// and waits for the partition's answer. So every sign-in of a tenant, over
// NATS or HTTP and on any instance, is decided by one process in arrival
// order, in the partition's group commit: two instances can never decide
// the same user's claims under a policy at once (invariant 3), and a
// policy's queue is in arrival order whatever the sign-ins came by.
type Submitter struct {
	nc      *nats.Conn
	js      jetstream.JetStream
	tenants Tenants
	wait    time.Duration
	inbox   string
	sub     *nats.Subscription

	mu      sync.Mutex
	waiting map[string]chan reply
}

// NewSubmitter returns a Submitter publishing on nc, whose replies arrive
// on a subscription of nc's inbox; wait bounds how long Handle waits for
// an outcome once the sign-in is stored (0: DefaultSubmitWait).
func NewSubmitter(nc *nats.Conn, tenants Tenants, wait time.Duration) (*Submitter, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("signin: jetstream: %w", err)
	}
	if wait <= 0 {
		wait = DefaultSubmitWait
	}
	s := &Submitter{nc: nc, js: js, tenants: tenants, wait: wait, inbox: nc.NewInbox(), waiting: map[string]chan reply{}}
	if s.sub, err = nc.Subscribe(s.inbox+".*", s.receive); err != nil {
		return nil, fmt.Errorf("signin: subscribe to sign-in outcomes: %w", err)
	}
	return s, nil
}

// Close stops receiving outcomes.
func (s *Submitter) Close() { _ = s.sub.Unsubscribe() }

func (s *Submitter) receive(m *nats.Msg) {
	token := m.Subject[strings.LastIndexByte(m.Subject, '.')+1:]
	var r reply
	if err := json.Unmarshal(m.Data, &r); err != nil {
		return
	}
	s.mu.Lock()
	ch := s.waiting[token]
	s.mu.Unlock()
	if ch != nil {
		select {
		case ch <- r:
		default:
		}
	}
}

// Handle submits one sign-in of tenant and returns what it did. A sign-in
// that can never succeed gets a *domain.SignInRejectedError (nothing is
// published for one that fails Validate or names an unknown tenant);
// errors wrapping domain.ErrUnavailable mean it may not be stored, and
// ErrOutcomePending that it is stored but its outcome is not known yet.
// Submitting the same sign-in again is safe in every case.
func (s *Submitter) Handle(ctx context.Context, tenant string, p domain.SignInMessage) (domain.ClaimOutcome, domain.Result, error) {
	if err := p.Validate(); err != nil {
		return domain.ClaimOutcome{}, domain.Result{}, err
	}
	if err := checkTenant(ctx, s.tenants, tenant); err != nil {
		return domain.ClaimOutcome{}, domain.Result{}, err
	}
	body, err := json.Marshal(p)
	if err != nil {
		return domain.ClaimOutcome{}, domain.Result{}, fmt.Errorf("encode sign-in %s: %w", p.ID, err)
	}
	token := nuid.Next()
	ch := make(chan reply, 1)
	s.mu.Lock()
	s.waiting[token] = ch
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.waiting, token)
		s.mu.Unlock()
	}()
	msg := &nats.Msg{Subject: SubjectPrefix + tenant, Data: body, Header: nats.Header{}}
	msg.Header.Set(HeaderReply, s.inbox+"."+token)
	ack, err := s.js.PublishMsg(ctx, msg, jetstream.WithMsgID(p.ID))
	if err == nil && ack.Duplicate {
		// The stream already holds this sign-in (from upstream, or an
		// earlier post whose answer was lost); the partition answered it,
		// if at all, to somebody else. Store it once more under a message
		// id of its own: the partition handles it in order like any other,
		// and since the sign-in id is the claim's command id, it answers
		// what the first one did instead of claiming again.
		ack, err = s.js.PublishMsg(ctx, msg, jetstream.WithMsgID(p.ID+"#"+token))
	}
	if err != nil {
		return domain.ClaimOutcome{}, domain.Result{}, fmt.Errorf("publish sign-in %s: %w: %w", p.ID, domain.ErrUnavailable, err)
	}
	t := time.NewTimer(s.wait)
	defer t.Stop()
	select {
	case r := <-ch:
		switch {
		case r.Tenant != tenant || r.ID != p.ID:
			return domain.ClaimOutcome{}, domain.Result{}, fmt.Errorf("sign-in %s of %s: answered about %s of %s", p.ID, tenant, r.ID, r.Tenant)
		case r.Reason != "":
			return domain.ClaimOutcome{}, domain.Result{}, &domain.SignInRejectedError{Reason: r.Reason, Detail: r.Detail}
		case r.Outcome == nil:
			return domain.ClaimOutcome{}, domain.Result{}, fmt.Errorf("sign-in %s: answered without an outcome", p.ID)
		}
		return *r.Outcome, domain.Result{Position: r.Position}, nil
	case <-t.C:
		return domain.ClaimOutcome{}, domain.Result{}, fmt.Errorf("sign-in %s (sign-in stream position %d): %w within %s", p.ID, ack.Sequence, ErrOutcomePending, s.wait)
	case <-ctx.Done():
		return domain.ClaimOutcome{}, domain.Result{}, fmt.Errorf("sign-in %s (sign-in stream position %d): %w: %w", p.ID, ack.Sequence, ErrOutcomePending, ctx.Err())
	}
}

// replyTo is where a sign-in's outcome goes: its HeaderReply when that is
// a plain subject of the service's inbox (prefix), else nowhere.
func replyTo(h nats.Header, prefix string) string {
	to := h.Get(HeaderReply)
	if !strings.HasPrefix(to, prefix+".") || strings.ContainsAny(to, "*> \t\r\n") || strings.Contains(to, "..") || strings.HasSuffix(to, ".") {
		return ""
	}
	return to
}
