package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/infra/bench"
	"github.com/seatflow/seatflow/infra/natsjs"
)

// exportTenant is the tenant whose events the export scenario writes and
// exports.
const exportTenant = benchTenantPrefix + "export"

// exportUsers is how many directory users the export scenario's events
// update, each in its own chain of conditional appends.
const exportUsers = 1000

// exportEvents writes n events to the export tenant: directory updates of
// exportUsers users (UserRegistered, which the directory folds into one
// entry per user, so the read models do not grow with n), each user's
// updates appended one after another conditional on the previous one's
// sequence, the users in parallel.
func (b *benchRun) exportEvents(ctx context.Context, n int) error {
	users := min(exportUsers, n)
	var (
		wg    sync.WaitGroup
		next  atomic.Int64
		first error
		mu    sync.Mutex
	)
	for u := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := userName("export", u)
			agg := events.Aggregate{Kind: events.KindUser, ID: id}
			var last uint64
			for i := int(next.Add(1)); i <= n; i = int(next.Add(1)) {
				env := events.New(fmt.Sprintf("export-%08d", i), exportTenant, agg, time.Now(), events.Meta{Actor: "bench", CommandID: fmt.Sprintf("export-%08d", i)},
					events.UserRegistered{UserID: id, Email: id + "@example.com", DisplayName: "Export user " + strconv.Itoa(i), Roles: []string{}})
				data, err := events.Encode(env)
				if err == nil {
					msg := nats.NewMsg(env.Subject())
					msg.Data = data
					msg.Header.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(last, 10))
					var ack *jetstream.PubAck
					if ack, err = b.js.PublishMsg(ctx, msg); err == nil {
						last = ack.Sequence
						continue
					}
				}
				mu.Lock()
				if first == nil {
					first = fmt.Errorf("append export event %d: %w", i, err)
				}
				mu.Unlock()
				return
			}
		}()
	}
	wg.Wait()
	return first
}

// export measures GET /v1/history over n events of one tenant: the rate of
// the NDJSON export read by a client, and the process's live heap after a
// tenth of the lines and after the last, which stay flat however many
// events are exported.
func (b *benchRun) export(ctx context.Context) error {
	n := b.cfg.ExportEvents
	if err := b.exportEvents(ctx, n); err != nil {
		return err
	}
	// The read models catch up first, so the heap measured is the
	// export's; the notifier may still be reading the events meanwhile.
	s, err := b.js.Stream(ctx, natsjs.StreamEvents)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	if err := b.runner.WaitFor(wctx, s.CachedInfo().State.LastSeq); err != nil {
		return fmt.Errorf("read models: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, "GET", b.base+"/v1/history", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+b.token(exportTenant, "global-admin"))
	before := liveHeap()
	start := time.Now()
	resp, err := (&http.Client{}).Do(req)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("export: status %d", resp.StatusCode)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	lines := 0
	var tenth, end uint64
	for sc.Scan() {
		if lines++; lines == max(n/10, 1) {
			tenth = liveHeap()
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("export: after %d lines: %w", lines, err)
	}
	el := time.Since(start)
	end = liveHeap()
	if lines != n {
		return fmt.Errorf("export: %d lines, want %d", lines, n)
	}
	b.add(bench.Result{Name: scExport, What: "GET /v1/history streams one tenant's events as NDJSON", Count: lines, Elapsed: el,
		Unit: "events"}, "raw-replay")
	b.results[len(b.results)-1].Note = fmt.Sprintf("live heap %.1f MiB before, %.1f MiB after %d lines, %.1f MiB after %d",
		mib(before), mib(tenth), max(n/10, 1), mib(end), lines)
	return nil
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }
