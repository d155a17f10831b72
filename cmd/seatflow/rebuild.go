package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/infra/projector"
	"github.com/seatflow/seatflow/projections"
)

// rebuildCmd replays every projection from the start of the stream and
// reports what it did.
func rebuildCmd(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var cfg Config
	f := newFlags("rebuild", stderr, getenv)
	f.storeFlags(&cfg)
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
	models := []projections.Projection{projections.NewLicenseCounts(), projections.NewUserLicenses()}
	runner, err := projector.New(projector.Config{JS: c.js, Registry: events.Default(), Logger: log, Projections: models})
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
	if err := <-done; err != nil {
		return err
	}
	applied, skipped := runner.Stats()
	rate := float64(applied) / elapsed.Seconds()
	for _, m := range models {
		fmt.Fprintf(stdout, "rebuilt %s\n", m.Name())
	}
	fmt.Fprintf(stdout, "replayed %d events (%d skipped) up to position %d in %s: %.0f events/s\n",
		applied, skipped, runner.Position(), elapsed.Round(time.Millisecond), rate)
	return nil
}
