package signin

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/seatflow/seatflow/domain"
)

// Publisher publishes sign-ins on sf.signin.<tenant> exactly as an upstream
// system does, for the Router to claim: each with Nats-Msg-Id set to its id,
// so the stream keeps one of each within its duplicate window, and the
// claim's command id (the sign-in id) keeps a later redelivery from
// claiming again. The identity-provider hooks use it to hand over the
// sign-ins they translate.
type Publisher struct {
	js jetstream.JetStream
}

// NewPublisher returns a Publisher on js.
func NewPublisher(js jetstream.JetStream) *Publisher { return &Publisher{js: js} }

// Publish publishes ps, all of tenant, and returns once the stream has
// acknowledged every one, with how many it already held (duplicates). A
// payload that does not pass Validate is refused before anything is
// published (a *domain.SignInRejectedError). Other errors wrap domain.ErrUnavailable:
// some sign-ins may be stored, and publishing them all again is safe.
func (p *Publisher) Publish(ctx context.Context, tenant string, ps []domain.SignInMessage) (duplicates int, err error) {
	msgs := make([][]byte, len(ps))
	for i, pl := range ps {
		if err := pl.Validate(); err != nil {
			return 0, err
		}
		if msgs[i], err = json.Marshal(pl); err != nil {
			return 0, fmt.Errorf("encode sign-in %s: %w", pl.ID, err)
		}
	}
	futs := make([]jetstream.PubAckFuture, 0, len(ps))
	for i, pl := range ps {
		f, err := p.js.PublishAsync(SubjectPrefix+tenant, msgs[i], jetstream.WithMsgID(pl.ID))
		if err != nil {
			return 0, fmt.Errorf("publish sign-in %s: %w: %w", pl.ID, domain.ErrUnavailable, err)
		}
		futs = append(futs, f)
	}
	for i, f := range futs {
		select {
		case ack := <-f.Ok():
			if ack.Duplicate {
				duplicates++
			}
		case err := <-f.Err():
			return 0, fmt.Errorf("publish sign-in %s: %w: %w", ps[i].ID, domain.ErrUnavailable, err)
		case <-ctx.Done():
			return 0, fmt.Errorf("publish sign-in %s: %w: %w", ps[i].ID, domain.ErrUnavailable, ctx.Err())
		}
	}
	return duplicates, nil
}
