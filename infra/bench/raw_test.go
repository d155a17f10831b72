package bench_test

import (
	"context"
	"testing"
	"time"

	"github.com/seatflow/seatflow/infra/bench"
	"github.com/seatflow/seatflow/infra/natstest"
)

// TestRawBaselines: each baseline appends what it says, against a real
// embedded server, and reports its count and latencies; paced appends
// refuse a rate or count that is not positive.
func TestRawBaselines(t *testing.T) {
	srv := natstest.RunJetStream(t)
	_, js := natstest.Connect(t, srv.ClientURL())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := bench.CreateStream(ctx, js, 1)
	if err != nil {
		t.Fatal(err)
	}
	one, lat, err := bench.OneSubject(ctx, js, "sfbench.t", 50)
	if err != nil {
		t.Fatal(err)
	}
	if one.Count != 50 || len(lat) != 50 || one.P50 <= 0 || one.P99 < one.P50 {
		t.Fatalf("one subject: %+v, %d latencies", one, len(lat))
	}
	many, err := bench.Pipelined(ctx, js, "sfbench.t", 20, 3)
	if err != nil || many.Count != 60 {
		t.Fatalf("pipelined: %+v, %v", many, err)
	}
	paced, err := bench.Paced(ctx, js, "sfbench.paced", 2000, 400)
	if err != nil {
		t.Fatal(err)
	}
	// 400 appends at 2,000/s take 200 ms at least.
	if paced.Count != 400 || paced.Elapsed < 199*time.Millisecond || paced.P50 <= 0 || paced.P99 < paced.P50 {
		t.Fatalf("paced: %+v", paced)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 50+60+400 {
		t.Fatalf("the stream holds %d messages, want %d", info.State.Msgs, 50+60+400)
	}
	for _, bad := range [][2]float64{{0, 10}, {100, 0}, {-1, 10}} {
		if _, err := bench.Paced(ctx, js, "sfbench.paced", bad[0], int(bad[1])); err == nil {
			t.Errorf("paced at %v/s, %v appends: no error", bad[0], bad[1])
		}
	}
	if err := bench.DeleteStream(ctx, js); err != nil {
		t.Fatal(err)
	}
}
