package retry_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/seatflow/seatflow/infra/retry"
)

func TestForever(t *testing.T) {
	t.Run("tries again with doubling pauses until ctx ends", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var pauses []time.Duration
		err := retry.Forever(ctx, time.Millisecond, 4*time.Millisecond, func(context.Context) error {
			if len(pauses) == 5 {
				cancel()
			}
			return errors.New("unreachable")
		}, func(_ error, pause time.Duration) bool {
			pauses = append(pauses, pause)
			return false
		})
		if err != nil {
			t.Fatalf("got %v, want nil once ctx ended", err)
		}
		want := []time.Duration{time.Millisecond, 2 * time.Millisecond, 4 * time.Millisecond, 4 * time.Millisecond, 4 * time.Millisecond}
		if len(pauses) != len(want) {
			t.Fatalf("pauses %v, want %v", pauses, want)
		}
		for i := range want {
			if pauses[i] != want[i] {
				t.Fatalf("pauses %v, want %v", pauses, want)
			}
		}
	})
	t.Run("returns a fatal error at once", func(t *testing.T) {
		fatal := errors.New("fatal")
		calls := 0
		err := retry.Forever(context.Background(), time.Millisecond, time.Millisecond, func(context.Context) error {
			calls++
			return fatal
		}, func(error, time.Duration) bool { return true })
		if !errors.Is(err, fatal) || calls != 1 {
			t.Fatalf("got %v after %d calls, want the fatal error after 1", err, calls)
		}
	})
}
