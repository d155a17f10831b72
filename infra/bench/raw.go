package bench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Stream is the baselines' own stream and Subjects what it captures.
const (
	Stream   = "SEATFLOW_BENCH"
	Subjects = "sfbench.>"
)

// hdrExpected is the per-subject concurrency check every baseline append
// carries, as the event store's appends do.
const hdrExpected = "Nats-Expected-Last-Subject-Sequence"

// payload is the body of a baseline append: about the size of a
// LicenseClaimed envelope.
var payload = make([]byte, 420)

// CreateStream (re)creates the baselines' stream like the event stream:
// file storage, the given replicas.
func CreateStream(ctx context.Context, js jetstream.JetStream, replicas int) (jetstream.Stream, error) {
	if err := js.DeleteStream(ctx, Stream); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, fmt.Errorf("delete %s: %w", Stream, err)
	}
	s, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: Stream, Subjects: []string{Subjects},
		Storage: jetstream.FileStorage, Replicas: replicas, AllowAtomicPublish: true, AllowDirect: true})
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", Stream, err)
	}
	return s, nil
}

// DeleteStream removes the baselines' stream.
func DeleteStream(ctx context.Context, js jetstream.JetStream) error {
	if err := js.DeleteStream(ctx, Stream); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("delete %s: %w", Stream, err)
	}
	return nil
}

func conditional(subject string, expected uint64) *nats.Msg {
	m := nats.NewMsg(subject)
	m.Data = payload
	m.Header.Set(hdrExpected, strconv.FormatUint(expected, 10))
	return m
}

// OneSubject appends n messages to one subject, prefix + ".one" (prefix
// under Subjects, and new: its first append expects it empty), one after
// another, each conditional on the previous one's sequence: the fastest a
// single hot aggregate can go one event per round trip. It returns every
// append's latency.
func OneSubject(ctx context.Context, js jetstream.JetStream, prefix string, n int) (Result, []time.Duration, error) {
	lat := make([]time.Duration, 0, n)
	var last uint64
	start := time.Now()
	for i := 0; i < n; i++ {
		t := time.Now()
		ack, err := js.PublishMsg(ctx, conditional(prefix+".one", last))
		if err != nil {
			return Result{}, nil, fmt.Errorf("append %d: %w", i, err)
		}
		lat = append(lat, time.Since(t))
		last = ack.Sequence
	}
	el := time.Since(start)
	return Result{Name: "raw-append-1", What: "conditional appends to one subject, one writer", Count: n, Elapsed: el,
		Unit: "appends", P50: Percentile(lat, 50), P99: Percentile(lat, 99)}, lat, nil
}

// Pipelined appends rounds messages to each of subjects subjects (prefix +
// ".many.<n>", new ones), every one conditional on its subject's last
// sequence, with up to 4,000 appends in flight: the fastest many
// independent aggregates can go.
func Pipelined(ctx context.Context, js jetstream.JetStream, prefix string, subjects, rounds int) (Result, error) {
	last := make([]uint64, subjects)
	start := time.Now()
	for r := 0; r < rounds; r++ {
		futs := make([]jetstream.PubAckFuture, subjects)
		for s := 0; s < subjects; s++ {
			f, err := js.PublishMsgAsync(conditional(prefix+".many."+strconv.Itoa(s), last[s]))
			if err != nil {
				return Result{}, fmt.Errorf("append round %d subject %d: %w", r, s, err)
			}
			futs[s] = f
		}
		for s, f := range futs {
			select {
			case ack := <-f.Ok():
				last[s] = ack.Sequence
			case err := <-f.Err():
				return Result{}, fmt.Errorf("append round %d subject %d: %w", r, s, err)
			case <-ctx.Done():
				return Result{}, ctx.Err()
			}
		}
	}
	el := time.Since(start)
	return Result{Name: "raw-append-pipelined", What: fmt.Sprintf("pipelined conditional appends over %d subjects", subjects),
		Count: subjects * rounds, Elapsed: el, Unit: "appends"}, nil
}

// Replay reads stream from its first message to the last one there was
// when it started with an ordered consumer, doing nothing with them: the
// fastest any rebuild of that stream can go.
func Replay(ctx context.Context, js jetstream.JetStream, stream string) (Result, error) {
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return Result{}, fmt.Errorf("replay %s: %w", stream, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return Result{}, fmt.Errorf("replay %s: %w", stream, err)
	}
	head := info.State.LastSeq
	start := time.Now()
	cons, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return Result{}, fmt.Errorf("replay %s: %w", stream, err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(1000))
	if err != nil {
		return Result{}, fmt.Errorf("replay %s: %w", stream, err)
	}
	defer it.Stop()
	n := 0
	for head > 0 {
		msg, err := it.Next()
		if err != nil {
			return Result{}, fmt.Errorf("replay %s: %w", stream, err)
		}
		n++
		md, err := msg.Metadata()
		if err != nil {
			return Result{}, fmt.Errorf("replay %s: %w", stream, err)
		}
		if md.Sequence.Stream >= head {
			break
		}
	}
	el := time.Since(start)
	return Result{Name: "raw-replay", What: "ordered-consumer replay of " + stream, Count: n, Elapsed: el, Unit: "events"}, nil
}

// Paced appends n messages to subject at rate per second, as a publisher
// of sign-ins does (unconditional, each its own acknowledgement, at most
// 4,096 in flight), and reports the latency from each publish to its
// acknowledgement. Run in the process and at the moment a scenario ran,
// it says how much of that scenario's latency the process and the
// server would have cost any publisher.
func Paced(ctx context.Context, js jetstream.JetStream, subject string, rate float64, n int) (Result, error) {
	if rate <= 0 || n <= 0 {
		return Result{}, fmt.Errorf("paced appends: rate %v and count %d must be positive", rate, n)
	}
	type sent struct {
		at  time.Time
		fut jetstream.PubAckFuture
	}
	inflight := make(chan sent, 4096)
	lat := make([]time.Duration, 0, n)
	acked := make(chan error, 1)
	go func() {
		var first error
		for s := range inflight {
			select {
			case <-s.fut.Ok():
				lat = append(lat, time.Since(s.at))
			case err := <-s.fut.Err():
				first = cmp.Or(first, err)
			case <-ctx.Done():
				first = cmp.Or(first, ctx.Err())
			}
		}
		acked <- first
	}()
	interval := time.Duration(float64(time.Second) / rate)
	start := time.Now()
	var err error
	for i := 0; i < n && err == nil; i++ {
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d)
		}
		m := nats.NewMsg(subject)
		m.Data = payload
		at := time.Now()
		var f jetstream.PubAckFuture
		if f, err = js.PublishMsgAsync(m); err == nil {
			inflight <- sent{at, f}
		}
	}
	close(inflight)
	if e := <-acked; err == nil {
		err = e
	}
	if err != nil {
		return Result{}, fmt.Errorf("paced appends: %w", err)
	}
	el := time.Since(start)
	return Result{Name: "raw-append-paced", What: fmt.Sprintf("appends at %.0f/s, publish to acknowledgement", rate), Count: n,
		Elapsed: el, Unit: "appends", P50: Percentile(lat, 50), P99: Percentile(lat, 99)}, nil
}
