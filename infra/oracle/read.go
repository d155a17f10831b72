package oracle

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/infra/natsjs"
)

// Message is one message of the event stream as stored.
type Message struct {
	Seq     uint64          // its stream sequence
	Subject string          // the subject it is stored on
	MsgID   string          // its Nats-Msg-Id header
	Env     events.Envelope // its data, decoded; Env.Position is Seq
}

// Read returns, in stream order, every message of the event stream or,
// given tenants, every message on their subjects (sf.evt.<tenant>.>), up
// to at least the stream's last sequence when Read was called. A message
// that does not decode is an error. Right after a leader change the
// stream may not answer yet: callers that can wait retry the whole Read.
func Read(ctx context.Context, js jetstream.JetStream, tenants ...string) ([]Message, error) {
	filters := make([]string, len(tenants))
	for i, t := range tenants {
		filters[i] = events.TenantSubjects(t)
	}
	raw, err := ReadRaw(ctx, js, natsjs.StreamEvents, filters...)
	if err != nil {
		return nil, err
	}
	reg := events.Default()
	out := make([]Message, len(raw))
	for i, m := range raw {
		env, err := reg.Decode(m.Data)
		if err != nil {
			return nil, fmt.Errorf("%s sequence %d: %w", natsjs.StreamEvents, m.Sequence, err)
		}
		env.Position = m.Sequence
		out[i] = Message{Seq: m.Sequence, Subject: m.Subject, MsgID: m.Header.Get(jetstream.MsgIDHeader), Env: env}
	}
	return out, nil
}

// ReadRaw returns, in stream order, every message of stream on the filter
// subjects (all of them without filters), up to at least the stream's
// last sequence when ReadRaw was called. It reads with an ordered
// consumer: messages and gaps come as stored, nothing is acknowledged.
func ReadRaw(ctx context.Context, js jetstream.JetStream, stream string, filters ...string) ([]*jetstream.RawStreamMsg, error) {
	st, err := js.Stream(ctx, stream)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", stream, err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", stream, err)
	}
	last := info.State.LastSeq
	if info.State.Msgs == 0 {
		return nil, nil
	}
	cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: filters})
	if err != nil {
		return nil, fmt.Errorf("stream %s: ordered consumer: %w", stream, err)
	}
	var out []*jetstream.RawStreamMsg
	for first := true; ; first = false {
		// The first fetch does not wait: when the filters match nothing,
		// it comes back empty at once.
		var batch jetstream.MessageBatch
		if first {
			batch, err = cons.FetchNoWait(500)
		} else {
			batch, err = cons.Fetch(500, jetstream.FetchMaxWait(time.Second))
		}
		if err != nil {
			return nil, fmt.Errorf("stream %s: fetch: %w", stream, err)
		}
		n := 0
		for m := range batch.Messages() {
			md, err := m.Metadata()
			if err != nil {
				return nil, fmt.Errorf("stream %s: %w", stream, err)
			}
			n++
			out = append(out, &jetstream.RawStreamMsg{Subject: m.Subject(), Sequence: md.Sequence.Stream, Header: m.Headers(),
				Data: m.Data(), Time: md.Timestamp})
			// Past the head when the read began, or nothing more on the
			// filters when the server sent this one: all is read (without
			// waiting for the fetch to expire).
			if md.Sequence.Stream >= last || md.NumPending == 0 {
				return out, nil
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) && !errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("stream %s: fetch: %w", stream, err)
		}
		if n == 0 {
			// Nothing came: either the filters match nothing more (then
			// the consumer has nothing pending) or the server is slow.
			ci, err := cons.Info(ctx)
			if err == nil && ci.NumPending == 0 {
				return out, nil
			}
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("stream %s: read %d messages, not yet up to sequence %d: %w", stream, len(out), last, err)
		}
	}
}
