package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/infra/encode"
	"github.com/seatflow/seatflow/infra/metrics"
	"github.com/seatflow/seatflow/infra/natsjs"
	"github.com/seatflow/seatflow/infra/projector"
)

// rebuildCmd replays every read model serve keeps from the start of the
// stream, saves the result as the checkpoint the next start resumes from,
// and reports what it did.
func rebuildCmd(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var cfg Config
	f := newFlags("rebuild", stderr, getenv)
	serveFlags(f, &cfg) // the same flags as serve, so the read models are configured alike
	if err := f.parse(args); err != nil {
		return err
	}
	if cfg.NATSURL == "" {
		// Never collide with a running serve's listener: the replay needs no
		// clients of its own.
		cfg.NATSListen = "127.0.0.1:0"
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	log := newLogger(stderr, cfg.LogLevel)
	c, err := open(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer c.close()
	reg := encode.Registry()
	svc, err := domain.NewService(natsjs.NewStore(c.js, reg), domain.Config{Now: time.Now, NewID: newID})
	if err != nil {
		return err
	}
	_, _, _, _, models, err := readModels(c, svc, cfg, metrics.New(), log)
	if err != nil {
		return err
	}
	cps, err := checkpoints(ctx, c, cfg, models, log)
	if err != nil {
		return err
	}
	runner, err := projector.New(projector.Config{JS: c.js, Registry: reg, Logger: log, Projections: models,
		Checkpoints: cps, Rebuild: true})
	if err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- runner.Run(runCtx) }()
	if err := runner.WaitReady(ctx); err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	elapsed := time.Since(start)
	cancel()
	if err := <-done; err != nil { // Run saves the checkpoint as it stops
		return err
	}
	applied, skipped := runner.Stats()
	for _, m := range models {
		fmt.Fprintf(stdout, "rebuilt %s\n", m.Name())
	}
	fmt.Fprintf(stdout, "replayed %d events (%d skipped) up to position %d in %s: %.0f events/s\n",
		applied, skipped, runner.Position(), elapsed.Round(time.Millisecond), float64(applied)/elapsed.Seconds())
	if cps != nil {
		fmt.Fprintf(stdout, "saved the checkpoint at position %d\n", runner.Position())
	}
	return nil
}
