package reactors

import (
	"context"
	"time"
)

// tickEvery calls tick at once and then every interval until ctx ends.
// A tick that takes longer than interval delays the next one rather than
// piling ticks up.
func tickEvery(ctx context.Context, interval time.Duration, tick func(context.Context)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		tick(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
