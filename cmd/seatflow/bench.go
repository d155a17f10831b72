package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/infra/auth"
	"github.com/seatflow/seatflow/infra/bench"
	"github.com/seatflow/seatflow/infra/encode"
	"github.com/seatflow/seatflow/infra/metrics"
	"github.com/seatflow/seatflow/infra/natsauth"
	"github.com/seatflow/seatflow/infra/natsjs"
	"github.com/seatflow/seatflow/infra/oracle"
	"github.com/seatflow/seatflow/infra/projector"
	"github.com/seatflow/seatflow/projections"
)

// Bench scenarios, in the order they run.
const (
	scSigninNATS1    = "signin-nats-1"
	scSigninNATS100  = "signin-nats-100"
	scSigninCapped   = "signin-nats-capped"
	scSigninHTTP1    = "signin-http-1"
	scSigninHTTP100  = "signin-http-100"
	scResignin       = "resignin"
	scAssignHTTP1    = "assign-http-1"
	scAssignHTTP1000 = "assign-http-1000"
	scLatency        = "latency"
	scRebuild        = "rebuild"
	scRestart        = "restart"
	scExport         = "export"
	// scRestartLong restarts once the export's million events are in the
	// stream, against scRebuildLong, a rebuild of that whole stream.
	scRebuildLong     = "rebuild-long"
	scRestartLong     = "restart-long"
	benchTenantPrefix = "bench-"
)

var benchScenarios = []string{scSigninNATS1, scSigninNATS100, scSigninCapped, scSigninHTTP1, scSigninHTTP100, scResignin,
	scAssignHTTP1, scAssignHTTP1000, scLatency, scRebuild, scRestart, scExport, scRestartLong}

// benchConfig is what `seatflow bench` reads from its flags.
type benchConfig struct {
	Scenarios   string
	NATSURL     string
	NATSCreds   string // the service's credentials on --nats-url
	Users       int    // users signing in for the one-tenant scenario
	Tenants     int    // tenants of the many-tenant scenarios
	HTTPSignins int    // sign-ins of each HTTP scenario
	Clients     int    // concurrent HTTP clients
	Assignments int    // assignments of each assignment scenario
	Products    int    // products of the many-product assignment scenario
	Appends     int    // appends of the one-subject baseline
	Rounds      int    // rounds of each baseline and of the rebuild; the median counts
	Subjects    int    // subjects of the pipelined baseline
	LatencyFor  time.Duration
	// ExportEvents is how many events the export scenario writes to one
	// tenant and exports.
	ExportEvents int
	LogLevel     string
	CPUProfile   string
	MemProfile   string
	Soak         soakConfig
}

func benchCmd(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var bc benchConfig
	f := newFlags("bench", stderr, getenv)
	f.string(&bc.Scenarios, "scenarios", strings.Join(benchScenarios, ","), "comma-separated scenarios to run (the raw baselines always run)")
	f.string(&bc.NATSURL, "nats-url", "", "benchmark against this NATS server or cluster instead of an embedded one")
	f.string(&bc.NATSCreds, "nats-creds", "", "with --nats-url: the service's credentials file (seatflow creds cluster writes one)")
	f.int(&bc.Users, "users", 20_000, "users signing in to the one-tenant scenarios")
	f.int(&bc.Tenants, "tenants", 100, "tenants of the many-tenant scenarios")
	f.int(&bc.HTTPSignins, "http-signins", 5_000, "sign-ins of each HTTP sign-in scenario")
	f.int(&bc.Clients, "clients", 32, "concurrent HTTP clients")
	f.int(&bc.Assignments, "assignments", 5_000, "assignments of each assignment scenario")
	f.int(&bc.Products, "products", 1_000, "products of the many-product assignment scenario")
	f.int(&bc.Appends, "appends", 3_000, "appends of the one-subject baseline")
	f.int(&bc.Rounds, "rounds", 5, "how often the baselines and the rebuild are measured: the table shows each one's median round")
	f.int(&bc.Subjects, "subjects", 10_000, "subjects of the pipelined baseline")
	f.duration(&bc.LatencyFor, "latency-for", 4*time.Second, "how long the latency scenario publishes at half the peak rate")
	f.int(&bc.ExportEvents, "export-events", 1_000_000, "events the export scenario writes to one tenant and exports")
	f.string(&bc.LogLevel, "log-level", "error", "log level of the service under test")
	f.string(&bc.CPUProfile, "cpuprofile", "", "write a CPU profile of the whole run to this file")
	f.string(&bc.MemProfile, "memprofile", "", "write heap profiles to this file (when the memory per claimed user is measured) and to this file with .base appended (before the baselines and the first scenario): go tool pprof -base FILE.base FILE shows what the claims hold")
	f.duration(&bc.Soak.Duration, "soak", 0, "instead of the benchmark, a soak of this duration: mixed load on two serve processes over a 3-node cluster, with an instance SIGKILLed and a NATS node restarted, then the invariants, every acknowledged command and memory checked")
	f.float(&bc.Soak.Rate, "soak-rate", 30, "with --soak: commands per second offered to both instances together")
	f.int(&bc.Soak.Tenants, "soak-tenants", 3, "with --soak: tenants the load is spread over")
	f.int(&bc.Soak.Workers, "soak-workers", 16, "with --soak: commands in flight at most")
	f.float(&bc.Soak.Tolerance, "soak-rss-tolerance", 0.10, "with --soak: how much the mean anonymous memory (RssAnon) of the last third of an instance's life may exceed the middle third's (0.10 = 10%)")
	f.string(&bc.Soak.Profile, "soak-profile", "", "with --soak: write the instances' heap profiles to this directory every sixth of the run (compare with go tool pprof -top -base A B)")
	if err := f.parse(args); err != nil {
		return err
	}
	if bc.Soak.Duration > 0 {
		bc.Soak.LogLevel = "info"
		return runSoak(ctx, bc.Soak, stdout, newLogger(stderr, bc.LogLevel))
	}
	selected := map[string]bool{}
	for _, s := range strings.Split(bc.Scenarios, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		if !slices.Contains(benchScenarios, s) {
			return &configError{fmt.Errorf("--scenarios: unknown scenario %q (known: %s)", s, strings.Join(benchScenarios, ", "))}
		}
		selected[s] = true
	}
	if bc.Users < 10 || bc.Tenants < 1 || bc.Clients < 1 || bc.Products < 1 || bc.Rounds < 1 || bc.Appends < 10 || bc.Subjects < 1 ||
		bc.HTTPSignins < bc.Tenants || bc.Assignments < bc.Products || bc.Users < bc.Tenants || bc.ExportEvents < 1 {
		return &configError{errors.New("bench sizes must be positive, with --users, --http-signins and --assignments at least --tenants (and --products)")}
	}
	if bc.MemProfile != "" {
		finerHeapProfiles()
	}
	if bc.CPUProfile != "" {
		f, err := os.Create(bc.CPUProfile)
		if err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	b := &benchRun{cfg: bc, on: selected, out: stdout, log: newLogger(stderr, bc.LogLevel)}
	return b.run(ctx)
}

// benchRun is one `seatflow bench` run.
type benchRun struct {
	cfg     benchConfig
	on      map[string]bool
	out     io.Writer
	log     *slog.Logger
	dataDir string
	url     string
	creds   string // the service user's credentials file
	nc      *nats.Conn
	js      jetstream.JetStream
	svcCfg  Config
	issuer  *auth.Issuer
	client  *http.Client

	// the running service
	base    string
	runner  *projector.Runner
	stopSvc func() error

	results []bench.Result
	byName  map[string]bench.Result
	rawP99  time.Duration
	// expected claims per tenant, checked against the fold
	wantClaims map[string]int
	claimed    int // claims made by the sign-in scenarios the memory figure covers
	peak       float64
	memNote    string
}

func (b *benchRun) add(r bench.Result, baseline string) bench.Result {
	if base, ok := b.byName[baseline]; ok && base.Rate() > 0 {
		r.Baseline, r.Ratio = baseline, r.Rate()/base.Rate()
	}
	b.results = append(b.results, r)
	b.byName[r.Name] = r
	fmt.Fprintf(b.out, "%-20s %7d %-8s %9.0f/s  %s\n", r.Name, r.Count, r.Unit, r.Rate(), r.What)
	return r
}

func (b *benchRun) run(ctx context.Context) error {
	b.byName, b.wantClaims = map[string]bench.Result{}, map[string]int{}
	dir, err := os.MkdirTemp("", "seatflow-bench-")
	if err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	defer os.RemoveAll(dir)
	b.dataDir = dir
	b.url, b.creds = b.cfg.NATSURL, b.cfg.NATSCreds
	if b.url == "" {
		// An embedded server in operator mode, as serve runs it; the
		// bench and the service under test connect as the service user.
		id, err := natsauth.LoadOrCreate(dir)
		if err != nil {
			return fmt.Errorf("NATS identity: %w", err)
		}
		srv, err := natsjs.StartServer(natsjs.ServerConfig{StoreDir: filepath.Join(dir, "jetstream"), Listen: "127.0.0.1:0",
			ServerName: "seatflow-bench", Logger: b.log.With("component", "nats-server"), Identity: id})
		if err != nil {
			return fmt.Errorf("embedded NATS: %w", err)
		}
		defer func() { srv.Shutdown(); srv.WaitForShutdown() }()
		b.url = srv.ClientURL()
		creds, err := id.ServiceCreds()
		if err != nil {
			return err
		}
		b.creds = filepath.Join(dir, "service.creds")
		if err := natsauth.WriteCreds(b.creds, creds); err != nil {
			return err
		}
	}
	var opts []nats.Option
	if b.creds != "" {
		opts = append(opts, nats.UserCredentials(b.creds))
	}
	if b.nc, err = nats.Connect(b.url, append(opts, nats.Name("seatflow-bench"))...); err != nil {
		return fmt.Errorf("connect to %s: %w", b.url, err)
	}
	defer b.nc.Close()
	if b.js, err = jetstream.New(b.nc, jetstream.WithPublishAsyncMaxPending(1<<16)); err != nil {
		return err
	}
	fmt.Fprintf(b.out, "seatflow bench: NATS %s, %d CPUs, GOMAXPROCS %d\n", b.url, runtime.NumCPU(), runtime.GOMAXPROCS(0))
	start := time.Now()
	if err := b.startService(ctx); err != nil {
		return err
	}
	defer func() {
		if b.stopSvc != nil {
			_ = b.stopSvc()
		}
	}()
	// The live heap the claims are measured against is taken before the
	// baselines: nats-server frees a deleted stream's subject index some
	// time later, and counted in the heap before the claims it would
	// vanish from their share (9 MB for the five rounds' 50,000 subjects,
	// about 225 B per claimed user).
	heap0 := liveHeap()
	if err := b.writeHeapProfile(".base"); err != nil {
		return err
	}
	if err := b.baselines(ctx); err != nil {
		return err
	}
	steps := []struct {
		name string
		run  func(context.Context) error
	}{
		{scSigninNATS1, b.signinNATS1}, {scSigninNATS100, b.signinNATS100}, {scSigninCapped, b.signinCapped},
		{scSigninHTTP1, b.signinHTTP1}, {scSigninHTTP100, b.signinHTTP100},
		{scResignin, b.resignin}, {scAssignHTTP1, b.assignHTTP1}, {scAssignHTTP1000, b.assignHTTP1000},
		{scLatency, b.latency},
	}
	for _, s := range steps {
		if !b.on[s.name] {
			continue
		}
		if err := b.settle(ctx); err != nil {
			return fmt.Errorf("before %s: %w", s.name, err)
		}
		if err := s.run(ctx); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		if s.name == scSigninNATS100 && b.claimed > 0 {
			// Live heap of the whole process (service and, when embedded,
			// the NATS server) per user the sign-in scenarios claimed for.
			per := float64(liveHeap()-heap0) / float64(b.claimed)
			b.memNote = fmt.Sprintf("process live heap %.0f B per claimed user", per)
			if err := b.writeHeapProfile(""); err != nil {
				return err
			}
		}
	}
	fold, err := b.check(ctx)
	if err != nil {
		return err
	}
	if err := b.settle(ctx); err != nil {
		return fmt.Errorf("before %s: %w", scRebuild, err)
	}
	if b.on[scRebuild] {
		if err := b.rebuild(ctx, fold); err != nil {
			return fmt.Errorf("%s: %w", scRebuild, err)
		}
	}
	if b.on[scRestart] {
		if err := b.restart(ctx); err != nil {
			return fmt.Errorf("%s: %w", scRestart, err)
		}
	}
	if b.on[scExport] {
		if err := b.export(ctx); err != nil {
			return fmt.Errorf("%s: %w", scExport, err)
		}
	}
	if b.on[scRestartLong] {
		if !b.on[scExport] {
			return fmt.Errorf("%s needs %s", scRestartLong, scExport)
		}
		if err := b.restartLong(ctx); err != nil {
			return fmt.Errorf("%s: %w", scRestartLong, err)
		}
	}
	fmt.Fprintf(b.out, "\ninvariants: ok (%d events folded: no product over-assigned, no user with two licenses of a product, no user claiming twice under a policy, claims and read-model counts as expected)\n", fold.Events)
	if b.memNote != "" {
		fmt.Fprintf(b.out, "memory: %s\n", b.memNote)
	}
	fmt.Fprintf(b.out, "whole run: %s\n\n", time.Since(start).Round(time.Second))
	return bench.WriteTable(b.out, b.results)
}

// writeHeapProfile writes the heap profile to --memprofile plus suffix,
// when asked.
func (b *benchRun) writeHeapProfile(suffix string) error {
	if b.cfg.MemProfile == "" {
		return nil
	}
	f, err := os.Create(b.cfg.MemProfile + suffix)
	if err != nil {
		return fmt.Errorf("--memprofile: %w", err)
	}
	defer f.Close()
	runtime.GC()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		return fmt.Errorf("--memprofile: %w", err)
	}
	return f.Close()
}

func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// baselines measures raw JetStream on the same server.
func (b *benchRun) baselines(ctx context.Context) error {
	if _, err := bench.CreateStream(ctx, b.js, 1); err != nil {
		return err
	}
	defer func() { _ = bench.DeleteStream(context.Background(), b.js) }()
	var ones, manys []bench.Result
	for round := range b.cfg.Rounds {
		// Subjects of its own each round, so every round starts alike.
		prefix := "sfbench.r" + strconv.Itoa(round)
		one, _, err := bench.OneSubject(ctx, b.js, prefix, b.cfg.Appends)
		if err != nil {
			return fmt.Errorf("baseline: %w", err)
		}
		many, err := bench.Pipelined(ctx, b.js, prefix, b.cfg.Subjects, 3)
		if err != nil {
			return fmt.Errorf("baseline: %w", err)
		}
		ones, manys = append(ones, one), append(manys, many)
	}
	one := bench.Median(ones)
	b.rawP99 = one.P99
	b.add(one, "")
	b.add(bench.Median(manys), "")
	return nil
}

// startService runs `seatflow serve` in-process against the bench's NATS.
func (b *benchRun) startService(ctx context.Context) error {
	secret := make([]byte, auth.MinSecretLen)
	_, _ = rand.Read(secret)
	var cfg Config
	f := newFlags("serve", io.Discard, func(string) string { return "" })
	serveFlags(f, &cfg)
	args := []string{"--data-dir", b.dataDir, "--http", "127.0.0.1:0", "--nats-url", b.url,
		"--token-secret", hex.EncodeToString(secret), "--log-level", b.cfg.LogLevel}
	if b.creds != "" {
		args = append(args, "--nats-creds", b.creds)
	}
	if err := f.parse(args); err != nil {
		return err
	}
	b.svcCfg = cfg
	keys, err := cfg.tokenKeys()
	if err != nil {
		return err
	}
	iss, err := auth.New(auth.Config{Keys: keys, MaxTTL: cfg.TokenMaxTTL})
	if err != nil {
		return err
	}
	b.issuer = iss
	b.client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 2 * b.cfg.Clients}}
	return b.serve(ctx)
}

func (b *benchRun) serve(ctx context.Context) error {
	app, err := NewApp(ctx, b.svcCfg, b.log)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	svcCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- app.Run(svcCtx) }()
	stop := func() error {
		cancel()
		err := <-done
		app.Close()
		return err
	}
	select {
	case <-app.Ready():
	case err := <-done:
		cancel()
		app.Close()
		if err == nil {
			err = errors.New("stopped before serving")
		}
		return fmt.Errorf("serve: %w", err)
	case <-time.After(60 * time.Second):
		_ = stop()
		return errors.New("serve did not start within 60s")
	}
	b.base, b.runner = "http://"+app.Addr(), app.runner
	b.stopSvc = func() error {
		b.stopSvc = nil
		return stop()
	}
	wctx, wcancel := context.WithTimeout(ctx, 120*time.Second)
	defer wcancel()
	return b.runner.WaitReady(wctx)
}

// --- HTTP helpers -----------------------------------------------------------

func (b *benchRun) token(tenant string, roles ...string) string {
	tok, err := b.issuer.Issue(auth.Claims{Tenant: tenant, Subject: "bench", Roles: roles}, 2*time.Hour, time.Now())
	if err != nil {
		panic(err) // a fixed, valid claim set: cannot fail
	}
	return tok
}

// do sends one request and checks its status. A command answered 503
// outcome_unknown is sent again with the answer's Seatflow-Command-Id as
// Idempotency-Key, as any client should: it is applied at most once.
func (b *benchRun) do(ctx context.Context, method, path, tok string, body any, want int) ([]byte, error) {
	var payload []byte
	if body != nil {
		payload, _ = json.Marshal(body)
	}
	key := ""
	for attempt := 1; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, method, b.base+path, bytes.NewReader(payload))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		if key != "" {
			req.Header.Set("Idempotency-Key", key)
		}
		resp, err := b.client.Do(req)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", method, path, err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable && attempt < 5 && bytes.Contains(data, []byte(`"outcome_unknown"`)) {
			key = resp.Header.Get("Seatflow-Command-Id")
			continue
		}
		if resp.StatusCode != want {
			return data, fmt.Errorf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, want, data)
		}
		return data, nil
	}
}

type benchProduct struct {
	id    string
	seats int
}

// setupTenant adds products, a policy for app "bench" listing policy (in
// order), and turns auto-claim on.
func (b *benchRun) setupTenant(ctx context.Context, tenant string, products []benchProduct, policy []string) error {
	return b.setupCappedTenant(ctx, tenant, products, policy, 0)
}

// setupCappedTenant is setupTenant with a daily cap on the policy (none
// when dailyCap is 0).
func (b *benchRun) setupCappedTenant(ctx context.Context, tenant string, products []benchProduct, policy []string, dailyCap int) error {
	admin := b.token(tenant, "global-admin")
	for _, p := range products {
		if _, err := b.do(ctx, "POST", "/v1/products", admin, map[string]any{"product_id": p.id, "name": "Bench " + p.id,
			"services": []string{"mail", "chat"}, "licenses": p.seats, "self_service": "blocked"}, 201); err != nil {
			return err
		}
	}
	if len(policy) == 0 {
		return nil
	}
	var pp []map[string]any
	for _, id := range policy {
		pp = append(pp, map[string]any{"product_id": id})
	}
	body := map[string]any{"name": "Bench", "app": "bench", "products": pp}
	if dailyCap > 0 {
		body["daily_cap"] = dailyCap
	}
	if _, err := b.do(ctx, "POST", "/v1/policies", admin, body, 201); err != nil {
		return err
	}
	_, err := b.do(ctx, "PUT", "/v1/settings/auto-claim", admin, map[string]any{"enabled": true}, 200)
	return err
}

// parallel runs n jobs on the bench's HTTP clients.
func (b *benchRun) parallel(ctx context.Context, n int, job func(ctx context.Context, i int) error) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, b.cfg.Clients)
	for range b.cfg.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := job(ctx, i); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// --- sign-in helpers --------------------------------------------------------

type benchSignin struct {
	ID     string    `json:"id"`
	UserID string    `json:"user_id"`
	App    string    `json:"app"`
	At     time.Time `json:"at"`
}

// claimWatch counts the LicenseClaimed events of some tenants as they are
// appended, with the time each sign-in's claim was seen.
type claimWatch struct {
	sub   *nats.Subscription
	mu    sync.Mutex
	n     int
	seen  map[string]time.Time
	event chan struct{}
}

var (
	claimedType  = []byte(`"type":"` + events.TypeLicenseClaimed + `"`)
	claimedTypes = []byte(`"type":"` + events.TypeLicensesClaimed + `"`)
	// signinIDKey precedes the sign-in id of a LicenseClaimed event and of
	// each claim of a LicensesClaimed event (bench ids need no escaping).
	signinIDKey = []byte(`"signin_id":"`)
)

func (b *benchRun) watchClaims(subject string) (*claimWatch, error) {
	w := &claimWatch{seen: map[string]time.Time{}, event: make(chan struct{}, 1)}
	sub, err := b.nc.Subscribe(subject, func(m *nats.Msg) {
		if !bytes.Contains(m.Data, claimedType) && !bytes.Contains(m.Data, claimedTypes) {
			return
		}
		// The sign-in ids are read straight from the bytes: decoding every
		// event would make the harness, not the service, the heap's churn.
		now := time.Now()
		w.mu.Lock()
		for rest := m.Data; ; {
			i := bytes.Index(rest, signinIDKey)
			if i < 0 {
				break
			}
			rest = rest[i+len(signinIDKey):]
			j := bytes.IndexByte(rest, '"')
			if j < 0 {
				break
			}
			w.n++
			w.seen[string(rest[:j])] = now
			rest = rest[j:]
		}
		w.mu.Unlock()
		select {
		case w.event <- struct{}{}:
		default:
		}
	})
	if err != nil {
		return nil, err
	}
	_ = sub.SetPendingLimits(-1, -1)
	w.sub = sub
	return w, b.nc.Flush()
}

func (w *claimWatch) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n
}

// wait returns once n claims were seen, or an error after timeout without
// progress.
func (w *claimWatch) wait(ctx context.Context, n int, idle time.Duration) error {
	last, lastAt := -1, time.Now()
	for {
		c := w.count()
		if c >= n {
			return nil
		}
		if c != last {
			last, lastAt = c, time.Now()
		}
		if time.Since(lastAt) > idle {
			return fmt.Errorf("%d of %d claims after %s without progress", c, n, idle)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-w.event:
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (w *claimWatch) stop() { _ = w.sub.Unsubscribe() }

// publishSignins publishes sign-ins as fast as JetStream acknowledges them.
func (b *benchRun) publishSignins(ctx context.Context, tenantOf func(i int) string, n int, user func(i int) string, idp string) error {
	futs := make([]jetstream.PubAckFuture, 0, 2048)
	flush := func() error {
		for _, f := range futs {
			select {
			case <-f.Ok():
			case err := <-f.Err():
				return fmt.Errorf("publish sign-in: %w", err)
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		futs = futs[:0]
		return nil
	}
	now := time.Now().UTC()
	for i := range n {
		s := benchSignin{ID: idp + "-" + strconv.Itoa(i), UserID: user(i), App: "bench", At: now}
		data, _ := json.Marshal(s)
		f, err := b.js.PublishAsync("sf.signin."+tenantOf(i), data, jetstream.WithMsgID(s.ID))
		if err != nil {
			return fmt.Errorf("publish sign-in: %w", err)
		}
		if futs = append(futs, f); len(futs) == cap(futs) {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// settle waits until the previous scenario's work is done everywhere:
// every sign-in acknowledged, the read models and every durable consumer of
// the event stream (the notifier) caught up; each scenario then starts on
// a quiet service.
func (b *benchRun) settle(ctx context.Context) error {
	if err := b.signinsDrained(ctx, 60*time.Second); err != nil {
		return err
	}
	s, err := b.js.Stream(ctx, natsjs.StreamEvents)
	if err != nil {
		return err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 120*time.Second)
	defer cancel()
	if err := b.runner.WaitFor(wctx, info.State.LastSeq); err != nil {
		return fmt.Errorf("read models: %w", err)
	}
	for {
		left := uint64(0)
		names := s.ListConsumers(wctx)
		for ci := range names.Info() {
			left += ci.NumPending + uint64(ci.NumAckPending)
		}
		if err := names.Err(); err != nil {
			return err
		}
		if left == 0 {
			return nil
		}
		select {
		case <-wctx.Done():
			return fmt.Errorf("event consumers: %d events pending", left)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// signinsDrained waits until every sign-in consumer has acknowledged
// everything on the sign-in stream.
func (b *benchRun) signinsDrained(ctx context.Context, idle time.Duration) error {
	s, err := b.js.Stream(ctx, natsjs.StreamSignins)
	if err != nil {
		return err
	}
	var lastLeft uint64 = 1 << 62
	lastAt := time.Now()
	for {
		left := uint64(0)
		names := s.ListConsumers(ctx)
		for ci := range names.Info() {
			left += ci.NumPending + uint64(ci.NumAckPending)
		}
		if err := names.Err(); err != nil {
			return err
		}
		if left == 0 {
			return nil
		}
		if left < lastLeft {
			lastLeft, lastAt = left, time.Now()
		}
		if time.Since(lastAt) > idle {
			return fmt.Errorf("%d sign-ins unacknowledged after %s without progress", left, idle)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func userName(prefix string, i int) string { return fmt.Sprintf("%s%06d", prefix, i) }

func tenantName(kind string, i int) string {
	return fmt.Sprintf("%s%s%03d", benchTenantPrefix, kind, i)
}

// --- scenarios --------------------------------------------------------------

const oneTenant = benchTenantPrefix + "one"

func (b *benchRun) setupOne(ctx context.Context) error {
	if _, ok := b.wantClaims[oneTenant]; ok {
		return nil
	}
	b.wantClaims[oneTenant] = 0
	n := b.cfg.Users
	// The primary fills up part-way, so claims move on to the backup.
	return b.setupTenant(ctx, oneTenant, []benchProduct{{"P", n * 3 / 4}, {"B", n + b.cfg.HTTPSignins}}, []string{"P", "B"})
}

func (b *benchRun) setupMany(ctx context.Context) error {
	if _, ok := b.wantClaims[tenantName("t", 0)]; ok {
		return nil
	}
	per := b.cfg.Users / b.cfg.Tenants
	httpPer := b.cfg.HTTPSignins / b.cfg.Tenants
	return b.parallel(ctx, b.cfg.Tenants, func(ctx context.Context, i int) error {
		return b.setupTenant(ctx, tenantName("t", i), []benchProduct{{"P", per * 3 / 4}, {"B", per + httpPer}}, []string{"P", "B"})
	})
}

func (b *benchRun) claimsDone(tenant string, n int) { b.wantClaims[tenant] += n }

func (b *benchRun) signinNATS1(ctx context.Context) error {
	if err := b.setupOne(ctx); err != nil {
		return err
	}
	n := b.cfg.Users
	w, err := b.watchClaims("sf.evt." + oneTenant + ".product.>")
	if err != nil {
		return err
	}
	defer w.stop()
	start := time.Now()
	if err := b.publishSignins(ctx, func(int) string { return oneTenant }, n, func(i int) string { return userName("u", i) }, "n1"); err != nil {
		return err
	}
	if err := w.wait(ctx, n, 30*time.Second); err != nil {
		return err
	}
	el := time.Since(start)
	b.claimsDone(oneTenant, n)
	b.claimed += n
	r := b.add(bench.Result{Name: scSigninNATS1, What: fmt.Sprintf("NATS sign-ins, one tenant, %d users, all claimed", n),
		Count: n, Elapsed: el, Unit: "claims", Target: 1.0, Higher: true}, "raw-append-1")
	b.peak = r.Rate()
	return nil
}

func (b *benchRun) signinNATS100(ctx context.Context) error {
	if err := b.setupMany(ctx); err != nil {
		return err
	}
	r, err := b.manyTenants(ctx, "t", "n100")
	if err != nil {
		return err
	}
	b.claimed += r.Count
	r.Name, r.What, r.Target, r.Higher = scSigninNATS100, r.What+", all claimed", 0.25, true
	b.add(r, "raw-append-pipelined")
	return nil
}

// signinCapped is signin-nats-100 under capped policies: each tenant's
// policy has a daily cap its sign-ins stay under, so every claim also
// counts against the cap on the policy aggregate.
func (b *benchRun) signinCapped(ctx context.Context) error {
	per := b.cfg.Users / b.cfg.Tenants
	if err := b.parallel(ctx, b.cfg.Tenants, func(ctx context.Context, i int) error {
		return b.setupCappedTenant(ctx, tenantName("c", i), []benchProduct{{"P", per * 3 / 4}, {"B", per}}, []string{"P", "B"}, per+1)
	}); err != nil {
		return err
	}
	r, err := b.manyTenants(ctx, "c", "cap")
	if err != nil {
		return err
	}
	r.Name, r.What = scSigninCapped, r.What+", all claimed under a daily cap"
	b.add(r, "raw-append-pipelined")
	return nil
}

// manyTenants publishes --users sign-ins spread over the --tenants
// tenants of kind (set up with policies that claim for all of them), the
// tenants taking turns, and times them until every one is claimed.
func (b *benchRun) manyTenants(ctx context.Context, kind, idp string) (bench.Result, error) {
	t, per := b.cfg.Tenants, b.cfg.Users/b.cfg.Tenants
	n := t * per
	w, err := b.watchClaims("sf.evt.*.product.>")
	if err != nil {
		return bench.Result{}, err
	}
	defer w.stop()
	start := time.Now()
	if err := b.publishSignins(ctx, func(i int) string { return tenantName(kind, i%t) }, n,
		func(i int) string { return userName("u", i/t) }, idp); err != nil {
		return bench.Result{}, err
	}
	if err := w.wait(ctx, n, 30*time.Second); err != nil {
		return bench.Result{}, err
	}
	el := time.Since(start)
	for i := range t {
		b.claimsDone(tenantName(kind, i), per)
	}
	return bench.Result{What: fmt.Sprintf("NATS sign-ins, %d tenants, %d users each", t, per), Count: n, Elapsed: el, Unit: "claims"}, nil
}

func (b *benchRun) httpSignins(ctx context.Context, name, what string, tenantOf func(i int) string, n int, user func(i int) string, baseline string) error {
	toks := map[string]string{}
	for i := range n {
		if t := tenantOf(i); toks[t] == "" {
			toks[t] = b.token(t, "ingest")
		}
	}
	now := time.Now().UTC()
	start := time.Now()
	err := b.parallel(ctx, n, func(ctx context.Context, i int) error {
		t := tenantOf(i)
		data, err := b.do(ctx, "POST", "/v1/signins", toks[t], benchSignin{ID: name + "-" + strconv.Itoa(i), UserID: user(i), App: "bench", At: now}, 200)
		if err != nil {
			return err
		}
		if !bytes.Contains(data, []byte(`"status":"claimed"`)) {
			return fmt.Errorf("sign-in %d of %s: %s, want claimed", i, t, data)
		}
		return nil
	})
	if err != nil {
		return err
	}
	el := time.Since(start)
	for i := range n {
		b.claimsDone(tenantOf(i), 1)
	}
	b.add(bench.Result{Name: name, What: what, Count: n, Elapsed: el, Unit: "claims"}, baseline)
	return nil
}

func (b *benchRun) signinHTTP1(ctx context.Context) error {
	if err := b.setupOne(ctx); err != nil {
		return err
	}
	n := b.cfg.HTTPSignins
	return b.httpSignins(ctx, scSigninHTTP1, fmt.Sprintf("HTTP sign-ins, one tenant, %d clients", b.cfg.Clients),
		func(int) string { return oneTenant }, n, func(i int) string { return userName("h", i) }, "raw-append-1")
}

func (b *benchRun) signinHTTP100(ctx context.Context) error {
	if err := b.setupMany(ctx); err != nil {
		return err
	}
	t := b.cfg.Tenants
	n := t * (b.cfg.HTTPSignins / t)
	return b.httpSignins(ctx, scSigninHTTP100, fmt.Sprintf("HTTP sign-ins, %d tenants, %d clients", t, b.cfg.Clients),
		func(i int) string { return tenantName("t", i%t) }, n, func(i int) string { return userName("h", i/t) }, "raw-append-pipelined")
}

// resignin signs the one-tenant scenario's users in again: each already
// holds a license, so nothing is appended.
func (b *benchRun) resignin(ctx context.Context) error {
	if !b.on[scSigninNATS1] {
		return errors.New("needs " + scSigninNATS1)
	}
	n := b.cfg.Users
	if err := b.signinsDrained(ctx, 30*time.Second); err != nil {
		return err
	}
	start := time.Now()
	if err := b.publishSignins(ctx, func(int) string { return oneTenant }, n, func(i int) string { return userName("u", i) }, "re"); err != nil {
		return err
	}
	if err := b.signinsDrained(ctx, 30*time.Second); err != nil {
		return err
	}
	el := time.Since(start)
	b.add(bench.Result{Name: scResignin, What: fmt.Sprintf("NATS re-sign-ins of %d licensed users (no append)", n),
		Count: n, Elapsed: el, Unit: "signins", Target: 0.5, Higher: true}, "raw-append-pipelined")
	return nil
}

func (b *benchRun) assign(ctx context.Context, name, what, tenant string, n int, product func(i int) string, baseline string, target float64) error {
	admin := b.token(tenant, "license-admin")
	start := time.Now()
	err := b.parallel(ctx, n, func(ctx context.Context, i int) error {
		_, err := b.do(ctx, "POST", "/v1/products/"+product(i)+"/assignments", admin,
			map[string]any{"user_id": userName("a", i), "disabled_services": []string{}}, 201)
		return err
	})
	if err != nil {
		return err
	}
	b.add(bench.Result{Name: name, What: what, Count: n, Elapsed: time.Since(start), Unit: "assigns", Target: target, Higher: true}, baseline)
	return nil
}

func (b *benchRun) assignHTTP1(ctx context.Context) error {
	tenant := benchTenantPrefix + "assign"
	n := b.cfg.Assignments
	if err := b.setupTenant(ctx, tenant, []benchProduct{{"A", n}}, nil); err != nil {
		return err
	}
	return b.assign(ctx, scAssignHTTP1, fmt.Sprintf("HTTP assignments, one product, %d clients", b.cfg.Clients), tenant, n,
		func(int) string { return "A" }, "raw-append-1", 1.0)
}

func (b *benchRun) assignHTTP1000(ctx context.Context) error {
	tenant := benchTenantPrefix + "assign-many"
	n, p := b.cfg.Assignments, b.cfg.Products
	admin := b.token(tenant, "license-admin")
	err := b.parallel(ctx, p, func(ctx context.Context, i int) error {
		_, err := b.do(ctx, "POST", "/v1/products", admin, map[string]any{"product_id": "M" + strconv.Itoa(i), "name": "Bench",
			"services": []string{}, "licenses": n/p + 1, "self_service": "blocked"}, 201)
		return err
	})
	if err != nil {
		return err
	}
	return b.assign(ctx, scAssignHTTP1000, fmt.Sprintf("HTTP assignments, %d products, %d clients", p, b.cfg.Clients), tenant, n,
		func(i int) string { return "M" + strconv.Itoa(i%p) }, "raw-append-pipelined", 0)
}

// latency publishes sign-ins at half the peak claim rate and measures the
// time from each publish to its LicenseClaimed event being appended.
func (b *benchRun) latency(ctx context.Context) error {
	tenant := benchTenantPrefix + "latency"
	rate := b.peak / 2
	if rate <= 0 {
		rate = b.byName["raw-append-1"].Rate() / 2
	}
	n := max(int(rate*b.cfg.LatencyFor.Seconds()), 10)
	if err := b.setupTenant(ctx, tenant, []benchProduct{{"P", n}}, []string{"P"}); err != nil {
		return err
	}
	w, err := b.watchClaims("sf.evt." + tenant + ".product.>")
	if err != nil {
		return err
	}
	defer w.stop()
	sent := make([]time.Time, n)
	interval := time.Duration(float64(time.Second) / rate)
	start := time.Now()
	// Acknowledgements are checked as they come, so the harness holds
	// only the publishes in flight, not one future per sign-in.
	futs := make(chan jetstream.PubAckFuture, 1024)
	pubErr := make(chan error, 1)
	go func() {
		var first error
		for f := range futs {
			select {
			case <-f.Ok():
			case err := <-f.Err():
				first = cmp.Or(first, err)
			}
		}
		pubErr <- first
	}()
	for i := range n {
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d)
		}
		s := benchSignin{ID: "lat-" + strconv.Itoa(i), UserID: userName("l", i), App: "bench", At: time.Now().UTC()}
		data, _ := json.Marshal(s)
		sent[i] = time.Now()
		f, err := b.js.PublishAsync("sf.signin."+tenant, data, jetstream.WithMsgID(s.ID))
		if err != nil {
			close(futs)
			<-pubErr
			return err
		}
		futs <- f
	}
	close(futs)
	if err := <-pubErr; err != nil {
		return err
	}
	if err := w.wait(ctx, n, 30*time.Second); err != nil {
		return err
	}
	el := time.Since(start)
	b.claimsDone(tenant, n)
	lat := make([]time.Duration, n)
	w.mu.Lock()
	for i := range n {
		lat[i] = w.seen["lat-"+strconv.Itoa(i)].Sub(sent[i])
	}
	w.mu.Unlock()
	if os.Getenv("SEATFLOW_BENCH_DEBUG") != "" {
		for from := 0; from < n; from += n / 10 {
			to := min(from+n/10, n)
			fmt.Fprintf(b.out, "  latency %d..%d: p50 %s p99 %s max %s\n", from, to, bench.Percentile(lat[from:to], 50), bench.Percentile(lat[from:to], 99), bench.Percentile(lat[from:to], 100))
		}
	}
	r := bench.Result{Name: scLatency, What: fmt.Sprintf("sign-in -> LicenseClaimed at %.0f/s (half the peak)", rate),
		Count: n, Elapsed: el, Unit: "claims", P50: bench.Percentile(lat, 50), P99: bench.Percentile(lat, 99),
		Baseline: "raw-append-1 p99", Target: 10, Higher: false}
	if b.rawP99 > 0 {
		r.Ratio = float64(r.P99) / float64(b.rawP99)
	}
	// Raw appends at the same rate, in the same process and heap, right
	// after: what the moment costs any publisher, the service aside.
	paced, err := b.pacedAppends(ctx, rate, n)
	if err != nil {
		return err
	}
	r.Note = fmt.Sprintf("raw appends paced alike just after: p50 %s, p99 %s (%.1f times that p99)",
		paced.P50.Round(10*time.Microsecond), paced.P99.Round(10*time.Microsecond), float64(r.P99)/float64(max(paced.P99, 1)))
	b.results = append(b.results, r)
	b.byName[r.Name] = r
	fmt.Fprintf(b.out, "%-20s %7d %-8s p50 %s p99 %s  %s\n", r.Name, r.Count, r.Unit, r.P50, r.P99, r.What)
	b.results = append(b.results, paced)
	b.byName[paced.Name] = paced
	fmt.Fprintf(b.out, "%-20s %7d %-8s p50 %s p99 %s  %s\n", paced.Name, paced.Count, paced.Unit, paced.P50, paced.P99, paced.What)
	return nil
}

// pacedAppends appends n messages to the baselines' stream (made again
// for it, and removed after) at rate per second.
func (b *benchRun) pacedAppends(ctx context.Context, rate float64, n int) (bench.Result, error) {
	if _, err := bench.CreateStream(ctx, b.js, 1); err != nil {
		return bench.Result{}, err
	}
	defer func() { _ = bench.DeleteStream(context.Background(), b.js) }()
	return bench.Paced(ctx, b.js, "sfbench.paced", rate, n)
}

// check folds every event of the bench's tenants and checks the
// invariants, the claims each scenario made and the read model's counts.
func (b *benchRun) check(ctx context.Context) (oracle.Summary, error) {
	if err := b.signinsDrained(ctx, 30*time.Second); err != nil {
		return oracle.Summary{}, err
	}
	msgs, err := oracle.Read(ctx, b.js)
	if err != nil {
		return oracle.Summary{}, err
	}
	c := oracle.New()
	var last uint64
	for _, m := range msgs {
		if strings.HasPrefix(m.Subject, events.SubjectPrefix+"."+benchTenantPrefix) {
			c.Apply(m)
		}
		last = m.Seq
	}
	fold := c.Summary()
	if err := c.Err(); err != nil {
		return fold, fmt.Errorf("invariants violated:\n%w", err)
	}
	var errs []error
	for t, want := range b.wantClaims {
		if got := fold.Claims[t]; got != want {
			errs = append(errs, fmt.Errorf("tenant %s: %d claims, want %d", t, got, want))
		}
		if q := fold.Queued[t]; q != 0 {
			errs = append(errs, fmt.Errorf("tenant %s: %d users queued, want none", t, q))
		}
	}
	// The read model must count what the fold counts.
	if err := b.runner.WaitFor(ctx, last); err != nil {
		return fold, err
	}
	tenants := map[string]bool{}
	for k := range fold.Assigned {
		tenants[k[0]] = true
	}
	for t := range tenants {
		data, err := b.do(ctx, "GET", "/v1/products", b.token(t, "global-admin"), nil, 200)
		if err != nil {
			return fold, err
		}
		var ps []domain.ProductSummary
		if err := json.Unmarshal(data, &ps); err != nil {
			return fold, err
		}
		for _, p := range ps {
			k := [2]string{t, string(p.ProductID)}
			if p.Assigned != fold.Assigned[k] || p.Purchased != fold.Purchased[k] {
				errs = append(errs, fmt.Errorf("tenant %s product %s: read model %d/%d assigned/purchased, events %d/%d",
					t, p.ProductID, p.Assigned, p.Purchased, fold.Assigned[k], fold.Purchased[k]))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fold, fmt.Errorf("counts differ:\n%w", err)
	}
	return fold, nil
}

// rebuild replays the event stream raw, then into fresh read models (as
// `seatflow rebuild` does), measuring the read models' live heap per
// claimed user.
func (b *benchRun) rebuild(ctx context.Context, fold oracle.Summary) error {
	// Raw replays and rebuilds take turns, so both see the machine alike;
	// each figure is the median of its rounds.
	var raws, rebuilds []bench.Result
	note := ""
	for range b.cfg.Rounds {
		raw, err := bench.Replay(ctx, b.js, natsjs.StreamEvents)
		if err != nil {
			return err
		}
		raws = append(raws, raw)
		before := liveHeap()
		applied, el, models, err := b.replayModels(ctx)
		if err != nil {
			return err
		}
		claimed := 0
		for _, n := range fold.Claims {
			claimed += n
		}
		after := liveHeap()
		runtime.KeepAlive(models)
		if claimed > 0 {
			note = fmt.Sprintf("read models %.0f B live heap per claimed user", float64(after-before)/float64(claimed))
		}
		rebuilds = append(rebuilds, bench.Result{Name: scRebuild, What: "replay into fresh read models (seatflow rebuild)",
			Count: int(applied), Elapsed: el, Unit: "events", Target: 0.5, Higher: true})
	}
	b.add(bench.Median(raws), "")
	r := bench.Median(rebuilds)
	r.Note = strings.TrimPrefix(r.Note+"; "+note, "; ")
	b.add(r, "raw-replay")
	return nil
}

// replayModels replays the whole event stream into fresh read models, as
// `seatflow rebuild` does (sized from the service's last checkpoint, when
// there is one), and returns how many events they applied, how
// long it took, and the models.
func (b *benchRun) replayModels(ctx context.Context) (uint64, time.Duration, []projections.Projection, error) {
	cfg := b.svcCfg
	c, err := open(ctx, cfg, b.log)
	if err != nil {
		return 0, 0, nil, err
	}
	defer c.close()
	reg := encode.Registry()
	svc, err := domain.NewService(natsjs.NewStore(c.js, reg), domain.Config{Now: time.Now, NewID: newID})
	if err != nil {
		return 0, 0, nil, err
	}
	_, _, _, _, models, err := readModels(c, svc, cfg, metrics.New(), b.log)
	if err != nil {
		return 0, 0, nil, err
	}
	// As seatflow rebuild, the runner reads the service's checkpoint, if
	// there is one, for the read models' sizes; unlike it, it saves none,
	// so the service's checkpoint stays the service's.
	cps, err := checkpoints(ctx, c, cfg, models, b.log)
	if err != nil {
		return 0, 0, nil, err
	}
	pcfg := projector.Config{JS: c.js, Registry: reg, Projections: models, Rebuild: true, Logger: b.log}
	if cps != nil {
		pcfg.Checkpoints, pcfg.ReadOnly = cps, true
	}
	runner, err := projector.New(pcfg)
	if err != nil {
		return 0, 0, nil, err
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- runner.Run(runCtx) }()
	if err := runner.WaitReady(ctx); err != nil {
		cancel()
		<-done
		return 0, 0, nil, err
	}
	el := time.Since(start)
	cancel()
	if err := <-done; err != nil {
		return 0, 0, nil, err
	}
	applied, _ := runner.Stats()
	return applied, el, models, nil
}

// restartLong measures what checkpoints are for: once the export's million
// small events are in the stream (a state that is small for its length), a
// rebuild replays all of them, and a restart resumes from the checkpoint.
func (b *benchRun) restartLong(ctx context.Context) error {
	raw, err := bench.Replay(ctx, b.js, natsjs.StreamEvents)
	if err != nil {
		return err
	}
	raw.Name = "raw-replay-long"
	b.add(raw, "")
	applied, el, _, err := b.replayModels(ctx)
	if err != nil {
		return err
	}
	b.add(bench.Result{Name: scRebuildLong, What: "replay the whole stream, export included, into fresh read models", Count: int(applied),
		Elapsed: el, Unit: "events"}, raw.Name)
	return b.restartAs(ctx, scRestartLong, scRebuildLong)
}

// restart stops the service and starts it again: the read models resume
// from the checkpoint instead of replaying the stream.
func (b *benchRun) restart(ctx context.Context) error { return b.restartAs(ctx, scRestart, scRebuild) }

// restartAs stops the service and starts it again, reporting the restart
// as name against the rebuild named rebuild.
func (b *benchRun) restartAs(ctx context.Context, name, rebuild string) error {
	if b.stopSvc != nil {
		if err := b.stopSvc(); err != nil {
			return err
		}
	}
	start := time.Now()
	if err := b.serve(ctx); err != nil {
		return err
	}
	el := time.Since(start)
	n := int(b.runner.Position())
	b.add(bench.Result{Name: name, What: "serve restarts and its read models are ready", Count: n, Elapsed: el, Unit: "events"}, rebuild)
	if rb, ok := b.byName[rebuild]; ok && rb.Elapsed > 0 {
		b.results[len(b.results)-1].Note = fmt.Sprintf("resumed from position %d in %s (%.0f%% of the rebuild's time)",
			b.runner.Resumed(), el.Round(time.Millisecond), 100*el.Seconds()/rb.Elapsed.Seconds())
	}
	return nil
}
