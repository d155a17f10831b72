package bench_test

import (
	"testing"
	"time"

	"github.com/seatflow/seatflow/infra/bench"
)

func TestPercentile(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	if got := bench.Percentile(ds, 50); got != 50*time.Millisecond {
		t.Errorf("p50 = %s, want 50ms", got)
	}
	if got := bench.Percentile(ds, 99); got != 99*time.Millisecond {
		t.Errorf("p99 = %s, want 99ms", got)
	}
}

func TestMedian(t *testing.T) {
	round := func(n int, ms int, p99 time.Duration) bench.Result {
		return bench.Result{Name: "raw-append-1", Count: n, Elapsed: time.Duration(ms) * time.Millisecond, Unit: "appends",
			P50: p99 / 10, P99: p99, Note: "x"}
	}
	// Rates 1000, 3000, 2000, 500 and 4000 per second.
	got := bench.Median([]bench.Result{round(100, 100, 5), round(300, 100, 1), round(200, 100, 9), round(50, 100, 7), round(400, 100, 3)})
	if got.Rate() != 2000 || got.P99 != 5 || got.Name != "raw-append-1" {
		t.Errorf("median of five: rate %.0f p99 %s name %q, want 2000, 5ns, raw-append-1", got.Rate(), got.P99, got.Name)
	}
	if want := "median of 5 rounds (500-4000/s); x"; got.Note != want {
		t.Errorf("note %q, want %q", got.Note, want)
	}
	// An even count takes the lower middle round.
	if got := bench.Median([]bench.Result{round(300, 100, 1), round(100, 100, 2)}); got.Rate() != 1000 {
		t.Errorf("median of two: rate %.0f, want 1000", got.Rate())
	}
	if got := bench.Median([]bench.Result{round(300, 100, 1)}); got.Note != "x" {
		t.Errorf("one round: note %q, want it unchanged", got.Note)
	}
	if got := bench.Median(nil); got.Rate() != 0 {
		t.Errorf("no rounds: rate %.0f, want 0", got.Rate())
	}
}
