package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/infra/bench"
	"github.com/seatflow/seatflow/infra/natsjs"
	"github.com/seatflow/seatflow/infra/oracle"
)

// soakAllowedRefusals are the refusals the load can cause: anything else
// answered to a command is a failure.
var soakAllowedRefusals = map[string][]string{
	skAssign:   {"already_assigned", "no_licenses_available"},
	skUnassign: {"not_found"},
	skRemove:   {"below_assigned"},
}

// soakWant is the one event each kind of acknowledged command leaves, by
// type (sign-ins are checked by their outcome).
var soakWant = map[string][]string{
	skProduct:  {events.TypeProductAdded},
	skRegister: {events.TypeUserRegistered},
	skPolicy:   {events.TypePolicyCreated},
	skSwitch:   {events.TypeAutoClaimSettingChanged},
	skAssign:   {events.TypeLicenseAssigned},
	skUnassign: {events.TypeLicenseUnassigned},
	skPurchase: {events.TypeLicensesPurchased},
	skRemove:   {events.TypeLicensesRemoved},
	skSubmit:   {events.TypeRequestSubmitted},
	skDecide:   {events.TypeRequestApproved, events.TypeRequestDenied},
}

// soakCheckCommands checks every command against the fold: each answered
// with success left exactly its one event (a sign-in: what its answer
// says, see oracle.Fold.CheckSignIn), each refused left nothing, and each
// got a definite answer. It returns the problems, at most limit.
func soakCheckCommands(cmds []*soakCmd, f *oracle.Fold, limit int) (acked, refused int, problems []string) {
	add := func(format string, args ...any) {
		if len(problems) < limit {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}
	for _, c := range cmds {
		switch {
		case c.status == 0:
			add("%s %s: no definite answer after %d retries", c.kind, c.key, c.retries)
			continue
		case !c.ok():
			refused++
		default:
			acked++
		}
		var err error
		switch {
		case !c.ok():
			err = f.Check(oracle.Command{Tenant: c.tenant, ID: c.key})
		case c.kind == skSignin:
			// Every policy has a product with a million seats: nobody
			// waits, nobody is turned away.
			status := domain.ClaimStatus(c.outcome)
			if !slices.Contains([]domain.ClaimStatus{domain.ClaimClaimed, domain.ClaimQueued, domain.ClaimAlreadyLicensed}, status) {
				err = fmt.Errorf("unexpected outcome %q", c.outcome)
				break
			}
			err = f.CheckSignIn(c.tenant, c.key, c.user, domain.ClaimOutcome{Status: status})
		default:
			// A command on a product leaves exactly its one event; a
			// decision also assigns, a policy also binds its app.
			onProduct := c.kind == skAssign || c.kind == skUnassign || c.kind == skPurchase || c.kind == skRemove
			err = f.Check(oracle.Command{Tenant: c.tenant, ID: c.key, Acked: true, Want: soakWant[c.kind], Only: onProduct})
		}
		if err != nil {
			add("%s %s (answered %d %s): %v", c.kind, c.key, c.status, c.code, err)
		}
	}
	return acked, refused, problems
}

// soakCheckRefusals reports the refusals the load cannot cause: every
// command it sends is valid and names only things acknowledged before, so
// only contention refuses (an assignment of a held seat or of the last
// one, an unassignment of a license not held, a removal below the
// assigned count). Anything else, e.g. a request refused 404 for a
// requester whose registration was acknowledged, is a failure.
func soakCheckRefusals(cmds []*soakCmd, limit int) (problems []string) {
	n := 0
	for _, c := range cmds {
		if c.status == 0 || c.ok() {
			continue
		}
		if c.status/100 != 4 || !slices.Contains(soakAllowedRefusals[c.kind], c.code) {
			if n++; len(problems) < limit {
				problems = append(problems, fmt.Sprintf("%s %s (user %s): refused %d %s", c.kind, c.key, c.user, c.status, c.code))
			}
		}
	}
	if n > len(problems) {
		problems = append(problems, fmt.Sprintf("and %d more", n-len(problems)))
	}
	return problems
}

// soakMemory is the flatness verdict of one instance's anonymous memory
// (RssAnon).
type soakMemory struct {
	inst         int
	samples      int
	early, late  float64 // mean KiB of the two compared parts
	growth       float64 // late/early - 1
	ok           bool
	why          string
	lifeFrom     time.Duration
	minKB, maxKB int64
}

// soakMemoryFlat judges the RssAnon samples of instance inst's last process:
// the first third of its life is warm-up; the mean of the last third may
// exceed the mean of the middle third by at most tolerance.
func soakMemoryFlat(samples []soakSample, inst int, tolerance float64) soakMemory {
	m := soakMemory{inst: inst}
	var life []soakSample
	pid := 0
	for _, s := range samples {
		if s.inst == inst {
			if s.pid != pid {
				life, pid = nil, s.pid
			}
			life = append(life, s)
		}
	}
	m.samples = len(life)
	if len(life) < 6 {
		m.why = fmt.Sprintf("%d samples of its last process, want at least 6", len(life))
		return m
	}
	m.lifeFrom = life[0].at
	m.minKB, m.maxKB = life[0].kb, life[0].kb
	for _, s := range life {
		m.minKB, m.maxKB = min(m.minKB, s.kb), max(m.maxKB, s.kb)
	}
	third := len(life) / 3
	mean := func(ss []soakSample) float64 {
		var sum float64
		for _, s := range ss {
			sum += float64(s.kb)
		}
		return sum / float64(len(ss))
	}
	m.early, m.late = mean(life[third:2*third]), mean(life[len(life)-third:])
	m.growth = m.late/m.early - 1
	m.ok = m.growth <= tolerance
	if !m.ok {
		m.why = fmt.Sprintf("anonymous memory: last third %.1f MiB is %.0f%% above the middle third's %.1f MiB (tolerance %.0f%%)",
			m.late/1024, 100*m.growth, m.early/1024, 100*tolerance)
	}
	return m
}

// --- the end of a run ---------------------------------------------------------

type soakCheck struct {
	name   string
	ok     bool
	detail string
}

// finish settles the run, folds the stream, runs every check and prints
// the report. It returns an error if any check failed.
func (s *soak) finish(ctx context.Context, ran time.Duration) error {
	last, err := s.settle(ctx)
	if err != nil {
		return err
	}
	f, err := s.fold(ctx, last)
	if err != nil {
		return err
	}
	var checks []soakCheck
	check := func(name string, problems []string, detail string) {
		c := soakCheck{name: name, ok: len(problems) == 0, detail: detail}
		if !c.ok {
			c.detail = strings.Join(problems, "\n      ")
		}
		checks = append(checks, c)
	}
	var inv, stored []string
	for _, v := range f.Violations() {
		if v.Invariant == 4 {
			stored = append(stored, v.String())
		} else {
			inv = append(inv, v.String())
		}
	}
	if n := f.Count() - len(f.Violations()); n > 0 {
		inv = append(inv, fmt.Sprintf("and %d more violations", n))
	}
	fold := f.Summary()
	check("invariants 1-3 at every position of the stream (and the queue and request rules)", inv,
		fmt.Sprintf("%d events folded", fold.Events))
	views := s.compareViews(ctx, last, fold)
	check("invariant 4: no event stored twice, misfiled or missing; both instances' read models equal the fold", append(stored, views...),
		fmt.Sprintf("event ids unique, on their subjects, at contiguous positions; %d products compared on 2 instances at position %d",
			len(fold.Purchased), last))
	s.mu.Lock()
	cmds := slices.Clone(s.cmds)
	samples := slices.Clone(s.samples)
	s.mu.Unlock()
	acked, refused, cmdProblems := soakCheckCommands(cmds, f, 20)
	check("every acknowledged command stands exactly once, every refused one not at all", cmdProblems,
		fmt.Sprintf("%d acknowledged, %d refused (by rule), all in the stream as answered", acked, refused))
	check("no refusal but those contention causes (nothing acknowledged is refused as unknown)", soakCheckRefusals(cmds, 10), "")
	var ids []string
	if n := s.faults.idMismatch.Load(); n > 0 {
		ids = append(ids, fmt.Sprintf("%d answers named another command id than the Idempotency-Key sent", n))
	}
	check("every answer names its command id (Seatflow-Command-Id)", ids, "")
	var faults []string
	s.mu.Lock()
	if len(s.events) < 4 {
		faults = append(faults, fmt.Sprintf("only %d of 4 fault steps happened", len(s.events)))
	}
	s.mu.Unlock()
	check("faults injected and recovered (SIGKILL + restart, NATS node restart)", faults, "")
	for i := range s.insts {
		m := soakMemoryFlat(samples, i, s.cfg.Tolerance)
		var p []string
		if !m.ok {
			p = []string{m.why}
		}
		check(fmt.Sprintf("instance %d memory flat after warm-up", i+1), p,
			fmt.Sprintf("anonymous memory (RssAnon) mean %.1f -> %.1f MiB (%+.1f%%, tolerance %.0f%%) over its last life from %s",
				m.early/1024, m.late/1024, 100*m.growth, 100*s.cfg.Tolerance, m.lifeFrom.Round(time.Second)))
	}
	s.report(cmds, samples, ran, checks)
	var failed []string
	for _, c := range checks {
		if !c.ok {
			failed = append(failed, c.name)
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("soak: %d checks failed: %s", len(failed), strings.Join(failed, "; "))
	}
	return nil
}

// settle waits until the event stream is quiet and both instances' read
// models are at its head; it returns the head.
func (s *soak) settle(ctx context.Context) (uint64, error) {
	deadline := time.Now().Add(2 * time.Minute)
	var last uint64
	for stable := 0; stable < 3; {
		seq, err := s.lastSeq(ctx)
		if err != nil && time.Now().After(deadline) {
			return 0, err
		}
		if err == nil && seq == last {
			stable++
		} else {
			stable, last = 0, seq
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("the event stream did not go quiet within 2 minutes (at %d)", last)
		}
		time.Sleep(500 * time.Millisecond)
	}
	for i, in := range s.insts {
		for _, t := range s.tenants {
			for {
				r, err := s.call(ctx, in.url(), "GET", fmt.Sprintf("/v1/products?after=%d", last), s.token(t.name, "soak-admin", "global-admin"), "", nil)
				if err == nil && r.status == 200 {
					break
				}
				if time.Now().After(deadline) {
					return 0, fmt.Errorf("instance %d did not reach position %d within 2 minutes: %v %d", i+1, last, err, r.status)
				}
				time.Sleep(200 * time.Millisecond)
			}
		}
	}
	return last, nil
}

func (s *soak) lastSeq(ctx context.Context) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	st, err := s.js.Stream(ctx, natsjs.StreamEvents)
	if err != nil {
		return 0, err
	}
	info, err := st.Info(ctx)
	if err != nil {
		return 0, err
	}
	return info.State.LastSeq, nil
}

// fold reads the whole event stream raw, up to at least last, and folds it.
func (s *soak) fold(ctx context.Context, last uint64) (*oracle.Fold, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	// Reading is idempotent, and a cluster whose node came back minutes
	// ago may still refuse a request now and then (a fetch once found no
	// responders for its new consumer): read again before failing.
	var (
		msgs []oracle.Message
		err  error
	)
	for attempt := 1; attempt <= 5; attempt++ {
		if msgs, err = oracle.Read(ctx, s.js); err == nil {
			break
		}
		fmt.Fprintf(s.out, "fold: read attempt %d: %v\n", attempt, err)
		select {
		case <-ctx.Done():
		case <-time.After(2 * time.Second):
		}
	}
	if err != nil {
		return nil, fmt.Errorf("fold: %w", err)
	}
	if n := len(msgs); n == 0 || msgs[n-1].Seq < last {
		return nil, fmt.Errorf("fold: read %d messages, not up to %d", n, last)
	}
	return oracle.FoldAll(msgs, true), nil
}

// compareViews asks both instances for every tenant's product counts and
// compares them with the fold: an event lost or applied twice by a read
// model shows here.
func (s *soak) compareViews(ctx context.Context, last uint64, fold oracle.Summary) []string {
	var out []string
	for i, in := range s.insts {
		for _, t := range s.tenants {
			r, err := s.get(ctx, in.url(), fmt.Sprintf("/v1/products?after=%d", last), s.token(t.name, "soak-admin", "global-admin"))
			if err != nil {
				out = append(out, fmt.Sprintf("instance %d tenant %s: %v", i+1, t.name, err))
				continue
			}
			var ps []domain.ProductSummary
			if err := json.Unmarshal(r, &ps); err != nil {
				out = append(out, fmt.Sprintf("instance %d tenant %s: products: %v", i+1, t.name, err))
				continue
			}
			for _, p := range ps {
				k := [2]string{t.name, string(p.ProductID)}
				if p.Assigned != fold.Assigned[k] || p.Purchased != fold.Purchased[k] {
					out = append(out, fmt.Sprintf("instance %d tenant %s product %s: read model %d/%d assigned/purchased, stream %d/%d",
						i+1, t.name, p.ProductID, p.Assigned, p.Purchased, fold.Assigned[k], fold.Purchased[k]))
				}
			}
			if len(ps) != 5 {
				out = append(out, fmt.Sprintf("instance %d tenant %s: %d products, want 5", i+1, t.name, len(ps)))
			}
		}
	}
	return out
}

func (s *soak) get(ctx context.Context, base, path, tok string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", base+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	if res.StatusCode != 200 {
		return nil, fmt.Errorf("GET %s: %d %s", path, res.StatusCode, data)
	}
	return data, nil
}

// report prints what the run held, what it survived, RSS over time and
// the checks.
func (s *soak) report(cmds []*soakCmd, samples []soakSample, ran time.Duration, checks []soakCheck) {
	w := s.out
	secs := ran.Seconds()
	fmt.Fprintf(w, "\nload held over %s (offered %g/s to 2 instances, %d tenants):\n", ran.Round(time.Second), s.cfg.Rate, s.cfg.Tenants)
	fmt.Fprintf(w, "  %-10s %8s %8s %8s %9s %8s %9s %9s\n", "kind", "acked", "refused", "no-answ", "acked/s", "retries", "p50", "p99")
	type row struct {
		acked, refused, none, retries int
		took                          []time.Duration
	}
	rows := map[string]*row{}
	var tot row
	for _, c := range cmds {
		if !c.at.After(s.began) {
			continue // setup
		}
		r := rows[c.kind]
		if r == nil {
			r = &row{}
			rows[c.kind] = r
		}
		switch {
		case c.status == 0:
			r.none++
		case c.ok():
			r.acked++
		default:
			r.refused++
		}
		r.retries += c.retries
		r.took = append(r.took, c.took)
	}
	for _, k := range soakReported {
		r := rows[k]
		if r == nil {
			r = &row{}
		}
		tot.acked, tot.refused, tot.none, tot.retries = tot.acked+r.acked, tot.refused+r.refused, tot.none+r.none, tot.retries+r.retries
		tot.took = append(tot.took, r.took...)
		fmt.Fprintf(w, "  %-10s %8d %8d %8d %9.1f %8d %9s %9s\n", k, r.acked, r.refused, r.none, float64(r.acked)/secs, r.retries,
			soakMS(bench.Percentile(r.took, 50)), soakMS(bench.Percentile(r.took, 99)))
	}
	fmt.Fprintf(w, "  %-10s %8d %8d %8d %9.1f %8d %9s %9s\n", "total", tot.acked, tot.refused, tot.none, float64(tot.acked)/secs, tot.retries,
		soakMS(bench.Percentile(tot.took, 50)), soakMS(bench.Percentile(tot.took, 99)))
	fmt.Fprintf(w, "  (p50/p99: from a command's first attempt to its final answer, retries included)\n")
	fmt.Fprintf(w, "  load ticks dropped (every worker busy): %d of %.0f offered\n", s.faults.missed.Load(), s.cfg.Rate*secs)

	fmt.Fprintf(w, "\nfaults injected:\n")
	s.mu.Lock()
	for _, e := range s.events {
		fmt.Fprintf(w, "  %s\n", e)
	}
	s.mu.Unlock()
	r1, d1 := s.insts[0].counts()
	r2, d2 := s.insts[1].counts()
	fmt.Fprintf(w, "faults survived by the clients: %d outcome_unknown retried with Seatflow-Command-Id, %d other 5xx, %d 409 conflict, %d without answer (retried on the other instance)\n",
		s.faults.outcomeUnknown.Load(), s.faults.unavailable.Load(), s.faults.conflict.Load(), s.faults.transport.Load())
	fmt.Fprintf(w, "NATS reconnects: instance 1 %d (disconnects %d), instance 2 %d (disconnects %d), soak client %d\n",
		r1, d1, r2, d2, s.nc.Stats().Reconnects)

	fmt.Fprintf(w, "\nCPU: %s\n", soakCPU(samples, ran))
	fmt.Fprintf(w, "\nMemory over time (MiB, max in each slice; anonymous / whole RSS):\n  %8s %14s %14s\n", "t", "instance 1", "instance 2")
	const slices = 10
	width := ran / slices
	for i := range slices {
		from, to := time.Duration(i)*width, time.Duration(i+1)*width
		cell := [2]string{"-", "-"}
		var mx, rss [2]int64
		for _, sm := range samples {
			if sm.at >= from && (sm.at < to || i == slices-1) {
				mx[sm.inst] = max(mx[sm.inst], sm.kb)
				rss[sm.inst] = max(rss[sm.inst], sm.rssKB)
			}
		}
		for j := range mx {
			if mx[j] > 0 {
				cell[j] = fmt.Sprintf("%.1f / %.1f", float64(mx[j])/1024, float64(rss[j])/1024)
			}
		}
		fmt.Fprintf(w, "  %8s %14s %14s\n", to.Round(time.Second), cell[0], cell[1])
	}

	fmt.Fprintf(w, "\nchecks:\n")
	for _, c := range checks {
		v := "PASS"
		if !c.ok {
			v = "FAIL"
		}
		fmt.Fprintf(w, "  %s  %s\n", v, c.name)
		if c.detail != "" {
			fmt.Fprintf(w, "      %s\n", c.detail)
		}
	}
}

func soakMS(d time.Duration) string {
	return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
}

// soakCPU sums each instance's CPU time over its processes (the last
// sample of each) and the soak's own (the NATS cluster and the clients),
// as a share of one core over the run.
func soakCPU(samples []soakSample, ran time.Duration) string {
	var used [2]time.Duration
	lastOf := map[[2]int]time.Duration{}
	for _, s := range samples {
		lastOf[[2]int{s.inst, s.pid}] = s.cpu
	}
	for k, cpu := range lastOf {
		used[k[0]] += cpu
	}
	own, err := cpuTime(os.Getpid())
	self := "unknown"
	if err == nil {
		self = fmt.Sprintf("%.0f%%", 100*own.Seconds()/ran.Seconds())
	}
	return fmt.Sprintf("instance 1 %.0f%%, instance 2 %.0f%% of one core over the run; the soak process (3 NATS servers and the clients) %s since it started",
		100*used[0].Seconds()/ran.Seconds(), 100*used[1].Seconds()/ran.Seconds(), self)
}
