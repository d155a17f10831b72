// Package retry runs a component that must keep trying while NATS is slow,
// away or refusing, instead of failing and so stopping the service.
package retry

import (
	"context"
	"time"
)

// Forever calls attempt until ctx ends. After each return of attempt
// (before ctx ends) it asks failed about the error, which logs it and says
// whether it is fatal; a fatal error is returned, anything else is tried
// again after a pause that doubles from first up to most. Forever returns nil
// once ctx ends.
func Forever(ctx context.Context, first, most time.Duration, attempt func(context.Context) error,
	failed func(err error, pause time.Duration) (fatal bool)) error {
	pause := first
	for {
		err := attempt(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if failed(err, pause) {
			return err
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		pause = min(2*pause, most)
	}
}
