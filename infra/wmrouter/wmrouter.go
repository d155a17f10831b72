package wmrouter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wmjs "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/jetstream"
	wmetrics "github.com/ThreeDotsLabs/watermill/components/metrics"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// Config describes one router over one durable consumer.
type Config struct {
	// Conn is the router's own connection: closing the router closes it.
	Conn *nats.Conn
	// Stream, Durable, Description and Filter define the durable consumer.
	Stream, Durable, Description, Filter string
	// AckWait bounds one message's processing; Redelay is the wait before a
	// nacked message is redelivered.
	AckWait, Redelay time.Duration
	// Retries, RetryMin and RetryMax bound the in-place retries of a failed
	// handler, with jittered doubling back-off, before it is nacked.
	Retries            int
	RetryMin, RetryMax time.Duration
	// Unmarshaler turns a JetStream message into a watermill message. It
	// must never fail.
	Unmarshaler wmjs.Unmarshaler
	// Name names the handler; with Metrics set it is also the metrics'
	// subsystem (seatflow_<name>_...).
	Name    string
	Handler message.NoPublishHandlerFunc
	Metrics prometheus.Registerer
	Logger  *slog.Logger
}

// New creates the durable consumer (or updates it) and returns a router
// consuming it, ready to Run.
func New(ctx context.Context, cfg Config) (*message.Router, error) {
	if cfg.Conn == nil || cfg.Unmarshaler == nil || cfg.Handler == nil || cfg.Durable == "" || cfg.Stream == "" {
		return nil, errors.New("wmrouter: Conn, Stream, Durable, Unmarshaler and Handler are required")
	}
	js, err := jetstream.New(cfg.Conn)
	if err != nil {
		return nil, fmt.Errorf("%s: jetstream: %w", cfg.Name, err)
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, cfg.Stream, jetstream.ConsumerConfig{
		Durable:       cfg.Durable,
		Description:   cfg.Description,
		FilterSubject: cfg.Filter,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       cfg.AckWait,
		MaxDeliver:    -1,
		MaxAckPending: 1,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return nil, fmt.Errorf("%s: durable consumer %s on %s: %w", cfg.Name, cfg.Durable, cfg.Stream, err)
	}
	// watermill logs every message at Info: those are Debug here.
	wlog := watermill.NewSlogLoggerWithLevelMapping(cfg.Logger, map[slog.Level]slog.Level{slog.LevelInfo: slog.LevelDebug})
	sub, err := wmjs.NewSubscriber(wmjs.SubscriberConfig{
		Conn:           cfg.Conn,
		Logger:         wlog,
		AckWaitTimeout: cfg.AckWait,
		NakDelay:       wmjs.NewStaticDelay(cfg.Redelay),
		Unmarshaler:    cfg.Unmarshaler,
		ResourceInitializer: func(context.Context, jetstream.JetStream, string) (jetstream.Consumer, func(context.Context, watermill.LoggerAdapter), error) {
			return cons, nil, nil // never deleted: it is durable
		},
	})
	if err != nil {
		return nil, fmt.Errorf("%s: subscriber: %w", cfg.Name, err)
	}
	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: 10 * time.Second}, wlog)
	if err != nil {
		return nil, fmt.Errorf("%s: router: %w", cfg.Name, err)
	}
	if cfg.Metrics != nil {
		wmetrics.NewPrometheusMetricsBuilder(cfg.Metrics, "seatflow", cfg.Name).AddPrometheusRouterMetrics(router)
	}
	router.AddMiddleware(middleware.Recoverer, middleware.Retry{
		MaxRetries: cfg.Retries, InitialInterval: cfg.RetryMin, MaxInterval: cfg.RetryMax,
		Multiplier: 2, RandomizationFactor: 0.5, Logger: wlog,
	}.Middleware)
	router.AddConsumerHandler(cfg.Name, cfg.Filter, sub, cfg.Handler)
	return router, nil
}

// DrainTimeout bounds how long Run waits for in-flight messages when it
// stops.
const DrainTimeout = 20 * time.Second

// Run runs router, which consumes through nc, until ctx ends, then stops it
// in the one order that is safe with watermill-nats: the connection is
// drained first, while the router still reads, so every in-flight message
// is handled and acknowledged and no NATS callback is left running; only
// then is the router closed. Closing it first lets the library close its
// output channel while a NATS callback is still sending on it (a data race,
// and a possible "send on closed channel" panic, at every stop).
func Run(ctx context.Context, router *message.Router, nc *nats.Conn) error {
	runCtx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- router.Run(runCtx) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	closed := make(chan struct{})
	nc.SetClosedHandler(func(*nats.Conn) { close(closed) })
	if err := nc.Drain(); err == nil {
		select {
		case <-closed:
		case <-time.After(DrainTimeout):
		}
	}
	cancel()
	err := <-done
	if cerr := router.Close(); cerr != nil && err == nil {
		err = cerr
	}
	if !nc.IsClosed() {
		nc.Close()
	}
	return err
}
