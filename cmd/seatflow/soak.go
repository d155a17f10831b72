package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/seatflow/seatflow/infra/auth"
	"github.com/seatflow/seatflow/infra/natsauth"
	"github.com/seatflow/seatflow/infra/natsjs"
)

// soakConfig is what `seatflow bench --soak DURATION` reads from its flags.
type soakConfig struct {
	Duration time.Duration
	// Rate is the commands per second offered to both instances together.
	Rate    float64
	Tenants int
	// Workers bounds the commands in flight.
	Workers int
	// Sample is how often the instances' memory is read.
	Sample time.Duration
	// Tolerance is how much the mean anonymous memory (RssAnon) of the
	// last third of an instance's life may exceed that of the middle third
	// (0.10: 10%). The load's state levels off after warm-up (a fixed
	// population, requests kept for soakRequestRetention); memory that
	// grows with every event (e.g. every command id kept) exceeds it.
	Tolerance float64
	// Profile, when set, is a directory the instances' heap profiles (after
	// a GC) are written to every sixth of the run, for `go tool pprof -base`.
	Profile string
	// Binary is the seatflow executable run as `serve` (default: this one).
	Binary   string
	LogLevel string
}

func (c *soakConfig) setDefaults() {
	if c.Rate == 0 {
		c.Rate = 30
	}
	if c.Tenants == 0 {
		c.Tenants = 3
	}
	if c.Workers == 0 {
		c.Workers = 16
	}
	if c.Sample == 0 {
		c.Sample = max(time.Second, min(5*time.Second, c.Duration/60))
	}
	if c.Tolerance == 0 {
		c.Tolerance = 0.10
	}
	if c.LogLevel == "" {
		c.LogLevel = "info"
	}
}

// Validate reports every unusable setting.
func (c soakConfig) Validate() error {
	var errs []error
	if c.Duration < 15*time.Second {
		errs = append(errs, fmt.Errorf("--soak %s: at least 15s (the faults need room)", c.Duration))
	}
	if c.Rate <= 0 || c.Rate > 2000 {
		errs = append(errs, fmt.Errorf("--soak-rate %g: must be above 0 and at most 2000", c.Rate))
	}
	if c.Tenants < 1 || c.Workers < 1 {
		errs = append(errs, errors.New("--soak-tenants and --soak-workers must be positive"))
	}
	if c.Tolerance <= 0 {
		errs = append(errs, fmt.Errorf("--soak-rss-tolerance %g: must be positive", c.Tolerance))
	}
	return errors.Join(errs...)
}

// Command kinds of the soak's load, and of its setup.
const (
	skSignin   = "signin"
	skAssign   = "assign"
	skUnassign = "unassign"
	skSubmit   = "submit"
	skDecide   = "decide"
	skPurchase = "purchase"
	skRemove   = "remove"
	skProduct  = "setup-product"
	skPolicy   = "setup-policy"
	skSwitch   = "setup-switch"
	skRegister = "register"
)

var soakKinds = []string{skSignin, skAssign, skUnassign, skSubmit, skDecide, skPurchase, skRemove}

// soakReported are the kinds the load table lists: the load's, and the
// directory registration each submit starts with.
var soakReported = append(slices.Clone(soakKinds), skRegister)

// soakWeights is the mix of the load, in parts per 100.
var soakWeights = map[string]int{skSignin: 36, skAssign: 15, skUnassign: 10, skSubmit: 15, skDecide: 15, skPurchase: 5, skRemove: 4}

// Each tenant's products: P then B under the policy of app "teams" (P
// runs out, claims move to B), Q under the policy of app "crm", A for
// direct assignments among a pool bigger than its seats, E for requests.
//
// The people are a fixed population per tenant, so that after warm-up the
// load changes state without growing it (but for the requests, which the
// request list keeps for 12 months): the first sign-ins bring new users
// in until soakSigninPool have signed in, later ones are returning users;
// the first submits register new requesters until soakRequesterPool.
const (
	soakSigninPool    = 250
	soakRequesterPool = 50
	soakSeatsP        = 40
	soakSeatsA        = 30
	soakPoolA         = 45
	soakSeatsMany     = 1_000_000
	// soakRequestRetention is the instances' --request-retention.
	soakRequestRetention = 2 * time.Minute
)

// soakCmd is one command the soak sent and what finally came of it.
type soakCmd struct {
	kind    string
	tenant  string
	key     string // the command id: Idempotency-Key (and sign-in id)
	status  int    // final HTTP status; 0: no definite answer before the deadline
	code    string // problem code of a refusal
	outcome string // a sign-in's status
	user    string
	product string
	request string // submit: the created request; decide: the decided one
	retries int
	at      time.Time     // when it was answered
	took    time.Duration // from the first attempt to the answer
}

func (c *soakCmd) ok() bool { return c.status >= 200 && c.status < 300 }

// soakFaults counts what went wrong on the way and was survived.
type soakFaults struct {
	outcomeUnknown atomic.Int64 // 503 outcome_unknown, retried with the answer's command id
	unavailable    atomic.Int64 // other 5xx, retried with the same key
	conflict       atomic.Int64 // 409 conflict (others kept writing), retried
	transport      atomic.Int64 // no answer (instance killed, connection cut), retried on the other instance
	missed         atomic.Int64 // load ticks dropped because every worker was busy
	idMismatch     atomic.Int64 // answers naming another command id than the key sent
}

// soakSample is one memory reading of an instance.
type soakSample struct {
	at    time.Duration // since the load began
	inst  int
	pid   int
	kb    int64         // RssAnon: what the verdict judges
	rssKB int64         // VmRSS, for the report
	cpu   time.Duration // CPU time the process has used so far
}

type soakTenant struct {
	name string

	mu       sync.Mutex
	nextUser int
	signedIn []string
	pending  [][2]string // submitted requests not yet decided: id, requester
	nextReq  int
	// requesters are the registered requesters, each registered by the
	// first submit that picked it.
	requesters []string
}

// soak is one `seatflow bench --soak` run.
type soak struct {
	cfg    soakConfig
	out    io.Writer
	log    *slog.Logger
	dir    string
	issuer *auth.Issuer
	client *http.Client

	cluster *soakCluster
	insts   [2]*soakInstance
	nc      *nats.Conn
	js      jetstream.JetStream
	tenants []*soakTenant

	rr      atomic.Uint64
	seq     atomic.Uint64
	faults  soakFaults
	began   time.Time
	mu      sync.Mutex
	cmds    []*soakCmd
	samples []soakSample
	events  []string // faults injected, in order
}

func runSoak(ctx context.Context, cfg soakConfig, out io.Writer, log *slog.Logger) (err error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return &configError{err}
	}
	if cfg.Binary == "" {
		if cfg.Binary, err = os.Executable(); err != nil {
			return fmt.Errorf("soak: own executable: %w", err)
		}
	}
	if _, err := os.Stat("/proc/self/status"); err != nil {
		return fmt.Errorf("soak: reads RSS from /proc: %w", err)
	}
	s := &soak{cfg: cfg, out: out, log: log}
	s.dir, err = os.MkdirTemp("", "seatflow-soak-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(s.dir)
	defer s.stopAll() // kills the children on every exit path
	return s.run(ctx)
}

func (s *soak) stopAll() {
	for _, in := range s.insts {
		if in != nil {
			in.stop()
		}
	}
	if s.nc != nil {
		s.nc.Close()
	}
	if s.cluster != nil {
		s.cluster.Shutdown()
	}
}

func (s *soak) run(ctx context.Context) error {
	id, err := natsauth.Generate()
	if err != nil {
		return err
	}
	fmt.Fprintf(s.out, "seatflow soak: %s, %g commands/s offered to 2 instances on a 3-node cluster, %d tenants\n",
		s.cfg.Duration, s.cfg.Rate, s.cfg.Tenants)
	if s.cluster, err = startSoakCluster(id, filepath.Join(s.dir, "nats"), 3, s.log.With("component", "nats-server")); err != nil {
		return err
	}
	credsData, err := id.ServiceCreds()
	if err != nil {
		return err
	}
	creds := filepath.Join(s.dir, "service.creds")
	if err := natsauth.WriteCreds(creds, credsData); err != nil {
		return err
	}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	if s.issuer, err = auth.NewIssuer(secret); err != nil {
		return err
	}
	opt, err := id.ServiceOption()
	if err != nil {
		return err
	}
	if s.nc, err = nats.Connect(s.cluster.URLs(), opt, nats.Name("seatflow-soak"), nats.MaxReconnects(-1),
		nats.ReconnectWait(100*time.Millisecond)); err != nil {
		return fmt.Errorf("connect to the cluster: %w", err)
	}
	if s.js, err = jetstream.New(s.nc); err != nil {
		return err
	}
	s.client = &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 2 * s.cfg.Workers}}
	for i := range s.insts {
		s.insts[i] = &soakInstance{idx: i, bin: s.cfg.Binary, dir: filepath.Join(s.dir, fmt.Sprintf("instance-%d", i+1)),
			args: []string{"--nats-url", s.cluster.URLs(), "--nats-creds", creds, "--replicas", "3",
				"--token-secret", hex.EncodeToString(secret), "--log-level", s.cfg.LogLevel,
				// The request list keeps a decided request for the retention
				// (12 months by default): with a short one its size, like the
				// rest of the state, levels off within the run.
				"--request-retention", soakRequestRetention.String()}}
		if s.cfg.Profile != "" {
			s.insts[i].args = append(s.insts[i].args, "--metrics-listen", "127.0.0.1:0", "--pprof")
		}
		if err := s.insts[i].start(ctx); err != nil {
			return err
		}
	}
	if err := s.cluster.WaitStreamCurrent(natsjs.StreamEvents, 60*time.Second); err != nil {
		return err
	}
	for i := range s.cfg.Tenants {
		s.tenants = append(s.tenants, &soakTenant{name: fmt.Sprintf("soak-%02d", i+1)})
	}
	for _, t := range s.tenants {
		if err := s.setup(ctx, t); err != nil {
			return fmt.Errorf("setup %s: %w", t.name, err)
		}
	}

	// The run: load for the whole duration, RSS sampled throughout, an
	// instance killed at a third and a NATS node restarted at two thirds.
	s.began = time.Now()
	loadCtx, stopLoad := context.WithTimeout(ctx, s.cfg.Duration)
	defer stopLoad()
	var bg sync.WaitGroup
	bg.Go(func() { s.sample(loadCtx) })
	if s.cfg.Profile != "" {
		bg.Go(func() { s.profiles(loadCtx) })
	}
	loadDone := make(chan struct{})
	go func() { defer close(loadDone); s.load(loadCtx) }()
	faultErr := s.faultsRun(loadCtx)
	<-loadDone
	bg.Wait()
	stopLoad()
	if faultErr != nil {
		return faultErr
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	ran := time.Since(s.began)
	fmt.Fprintf(s.out, "load stopped after %s; settling\n", ran.Round(time.Second))
	return s.finish(ctx, ran)
}

// --- instances ----------------------------------------------------------------

var (
	soakServingRE = regexp.MustCompile(`"msg":"serving","http":"([^"]+)"`)
	soakMetricsRE = regexp.MustCompile(`"msg":"serving metrics","metrics":"([^"]+)"`)
)

// soakInstance is one `seatflow serve` child process, restartable on its
// data dir.
type soakInstance struct {
	idx  int
	bin  string
	dir  string
	args []string

	mu     sync.Mutex
	cmd    *exec.Cmd
	base   string
	logs   *soakLog
	exited chan struct{}
	starts int
	// reconnects counts "NATS reconnected" over every life of the process.
	reconnects, disconnects int
}

func (in *soakInstance) url() string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.base
}

func (in *soakInstance) pid() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.cmd == nil || in.cmd.Process == nil {
		return 0
	}
	select {
	case <-in.exited:
		return 0
	default:
		return in.cmd.Process.Pid
	}
}

// start runs serve and waits until it answers /readyz with 200.
func (in *soakInstance) start(ctx context.Context) error {
	logs := &soakLog{serving: make(chan string, 1)}
	cmd := exec.Command(in.bin, append([]string{"serve", "--data-dir", in.dir, "--http", "127.0.0.1:0"}, in.args...)...)
	cmd.Env = slices.DeleteFunc(os.Environ(), func(e string) bool { return strings.HasPrefix(e, "SEATFLOW_") })
	cmd.Stdout, cmd.Stderr = io.Discard, logs
	cmd.SysProcAttr = soakProcAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("instance %d: %w", in.idx+1, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	in.mu.Lock()
	if in.logs != nil {
		in.reconnects, in.disconnects = in.reconnects+int(in.logs.reconnects.Load()), in.disconnects+int(in.logs.disconnects.Load())
	}
	in.cmd, in.logs, in.exited, in.base = cmd, logs, exited, ""
	in.starts++
	in.mu.Unlock()
	fail := func(why string) error {
		_ = cmd.Process.Kill()
		<-exited
		return fmt.Errorf("instance %d %s; last log lines:\n%s", in.idx+1, why, logs.tail())
	}
	var addr string
	select {
	case addr = <-logs.serving:
	case <-exited:
		return fail("exited before serving")
	case <-time.After(90 * time.Second):
		return fail("did not serve within 90s")
	case <-ctx.Done():
		return fail("not started: " + ctx.Err().Error())
	}
	in.mu.Lock()
	in.base = "http://" + addr
	in.mu.Unlock()
	deadline := time.Now().Add(120 * time.Second)
	for {
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/readyz", nil)
		if res, err := http.DefaultClient.Do(req); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fail("not ready within 120s")
		}
		select {
		case <-exited:
			return fail("exited before ready")
		case <-ctx.Done():
			return fail("not ready: " + ctx.Err().Error())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (in *soakInstance) kill() {
	in.mu.Lock()
	cmd, exited := in.cmd, in.exited
	in.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-exited
}

// stop asks the process to drain (SIGTERM) and kills it after 20s.
func (in *soakInstance) stop() {
	in.mu.Lock()
	cmd, exited := in.cmd, in.exited
	in.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}
}

func (in *soakInstance) counts() (reconnects, disconnects int) {
	in.mu.Lock()
	defer in.mu.Unlock()
	r, d := in.reconnects, in.disconnects
	if in.logs != nil {
		r, d = r+int(in.logs.reconnects.Load()), d+int(in.logs.disconnects.Load())
	}
	return r, d
}

// soakLog reads a child's JSON log: it finds the serving line, counts NATS
// reconnects and keeps the last lines for error reports, and nothing
// more, so ten minutes of logs cost no memory.
type soakLog struct {
	mu      sync.Mutex
	partial []byte
	last    []string
	serving chan string
	metrics string // the metrics listener's address, when it has one

	reconnects, disconnects atomic.Int64
}

func (l *soakLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		line := string(l.partial[:i])
		l.partial = l.partial[i+1:]
		switch {
		case strings.Contains(line, `"msg":"NATS reconnected"`):
			l.reconnects.Add(1)
		case strings.Contains(line, `"msg":"NATS disconnected"`):
			l.disconnects.Add(1)
		}
		if m := soakMetricsRE.FindStringSubmatch(line); m != nil {
			l.metrics = m[1]
		}
		if m := soakServingRE.FindStringSubmatch(line); m != nil {
			select {
			case l.serving <- m[1]:
			default:
			}
		}
		if l.last = append(l.last, line); len(l.last) > 40 {
			l.last = l.last[1:]
		}
	}
	if len(l.partial) > 64<<10 {
		l.partial = l.partial[:0]
	}
	return len(p), nil
}

func (l *soakLog) tail() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.last, "\n")
}

// procMemKB reads VmRSS and RssAnon of pid from /proc/<pid>/status.
// RssAnon is the memory the process itself owns (heap, stacks, the Go
// runtime); the rest of VmRSS is file-backed, mostly the executable's code
// pages, which the kernel shares and drops at will and which grow as code
// first runs (the fault paths do, a third and two thirds in).
func procMemKB(pid int) (rss, anon int64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	field := func(line, name string) (int64, bool) {
		v, ok := strings.CutPrefix(line, name+":")
		if !ok {
			return 0, false
		}
		n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
		return n, err == nil
	}
	var got int
	sc := bufio.NewScanner(f)
	for sc.Scan() && got < 2 {
		if n, ok := field(sc.Text(), "VmRSS"); ok {
			rss, got = n, got+1
		} else if n, ok := field(sc.Text(), "RssAnon"); ok {
			anon, got = n, got+1
		}
	}
	if got < 2 {
		return 0, 0, fmt.Errorf("no VmRSS and RssAnon in /proc/%d/status", pid)
	}
	return rss, anon, nil
}

// cpuTime reads the user and system CPU time pid has used from
// /proc/<pid>/stat (fields 14 and 15, in clock ticks of 1/100 s, the value
// of USER_HZ on every Linux platform Go supports).
func cpuTime(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name, field 2, is in parentheses and may hold spaces.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	var ticks int64
	for _, v := range f[11:13] { // utime, stime
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond, nil
}

// profiles writes each running instance's heap profile to the profile
// directory every sixth of the run, and once more as the load ends.
func (s *soak) profiles(ctx context.Context) {
	if err := os.MkdirAll(s.cfg.Profile, 0o755); err != nil {
		s.note("profiles: %v", err)
		return
	}
	t := time.NewTicker(s.cfg.Duration / 6)
	defer t.Stop()
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-t.C:
		}
		at := time.Since(s.began).Round(time.Second)
		for i, in := range s.insts {
			in.mu.Lock()
			addr := ""
			if in.logs != nil {
				in.logs.mu.Lock()
				addr = in.logs.metrics
				in.logs.mu.Unlock()
			}
			in.mu.Unlock()
			if addr == "" || in.pid() == 0 {
				continue
			}
			name := filepath.Join(s.cfg.Profile, fmt.Sprintf("instance-%d-%04ds.heap.pb.gz", i+1, int(at.Seconds())))
			if err := fetchFile(s.client, "http://"+addr+"/debug/pprof/heap?gc=1", name); err != nil {
				s.note("instance %d heap profile: %v", i+1, err)
			}
		}
	}
}

func fetchFile(c *http.Client, url, name string) error {
	res, err := c.Get(url)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		return fmt.Errorf("GET %s: %s", url, res.Status)
	}
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	return os.WriteFile(name, b, 0o644)
}

func (s *soak) sample(ctx context.Context) {
	t := time.NewTicker(s.cfg.Sample)
	defer t.Stop()
	for {
		for i, in := range s.insts {
			if pid := in.pid(); pid != 0 {
				if rss, anon, err := procMemKB(pid); err == nil {
					cpu, _ := cpuTime(pid)
					s.mu.Lock()
					s.samples = append(s.samples, soakSample{at: time.Since(s.began), inst: i, pid: pid, kb: anon, rssKB: rss, cpu: cpu})
					s.mu.Unlock()
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// --- faults -------------------------------------------------------------------

func (s *soak) note(format string, args ...any) {
	msg := fmt.Sprintf("%6s  ", time.Since(s.began).Round(time.Second)) + fmt.Sprintf(format, args...)
	s.mu.Lock()
	s.events = append(s.events, msg)
	s.mu.Unlock()
	fmt.Fprintln(s.out, msg)
}

// faultsRun SIGKILLs instance 2 at a third of the run and starts it again
// on its data dir; at two thirds it shuts down the node leading the event
// stream and starts it again on its store. It returns when the load's
// context ends, or early with an error if a fault could not be recovered.
func (s *soak) faultsRun(ctx context.Context) error {
	wait := func(frac float64) bool {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(time.Until(s.began.Add(time.Duration(frac * float64(s.cfg.Duration))))):
			return true
		}
	}
	if !wait(1.0 / 3) {
		return errors.New("soak: ended before the SIGKILL")
	}
	in := s.insts[1]
	s.note("SIGKILL instance 2 (pid %d)", in.pid())
	in.kill()
	t0 := time.Now()
	if err := in.start(ctx); err != nil {
		return fmt.Errorf("restart instance 2 after SIGKILL: %w", err)
	}
	s.note("instance 2 ready again after %s (pid %d, same data dir)", time.Since(t0).Round(100*time.Millisecond), in.pid())
	if !wait(2.0 / 3) {
		return errors.New("soak: ended before the NATS restart")
	}
	node := s.cluster.StreamLeader(natsjs.StreamEvents)
	leader := node >= 0
	if !leader {
		node = 0
	}
	s.note("shut down NATS node %s (leader of %s: %v)", s.cluster.nodes[node].name, natsjs.StreamEvents, leader)
	s.cluster.Stop(node)
	select {
	case <-ctx.Done():
	case <-time.After(min(10*time.Second, s.cfg.Duration/20)):
	}
	t0 = time.Now()
	if err := s.cluster.Start(node); err != nil {
		return fmt.Errorf("restart NATS node: %w", err)
	}
	if err := s.cluster.WaitReady(90 * time.Second); err != nil {
		return err
	}
	s.note("NATS node %s back (same store) and cluster current after %s", s.cluster.nodes[node].name, time.Since(t0).Round(100*time.Millisecond))
	<-ctx.Done()
	return nil
}

// --- commands -----------------------------------------------------------------

type soakReply struct {
	status int
	code   string
	cmdID  string
	body   map[string]any
}

func (s *soak) call(ctx context.Context, base, method, path, tok, key string, body any) (soakReply, error) {
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return soakReply{}, err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
	if err != nil {
		return soakReply{}, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	res, err := s.client.Do(req)
	if err != nil {
		return soakReply{}, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return soakReply{}, err
	}
	r := soakReply{status: res.StatusCode, cmdID: res.Header.Get("Seatflow-Command-Id")}
	if len(raw) > 0 && raw[0] == '{' {
		_ = json.Unmarshal(raw, &r.body)
		r.code, _ = r.body["code"].(string)
	}
	return r, nil
}

// command sends c until it gets a definite answer, as a client of the
// contract does: no answer or a 5xx is retried (through the other
// instance), a 503 outcome_unknown with the answer's Seatflow-Command-Id as
// Idempotency-Key, a 409 conflict likewise. It gives up after 2 minutes
// (status 0), which fails the soak. Every command is recorded.
func (s *soak) command(ctx context.Context, c *soakCmd, method, path, tok string, body any) soakReply {
	start := time.Now()
	defer func() {
		c.at = time.Now()
		c.took = c.at.Sub(start)
		s.mu.Lock()
		s.cmds = append(s.cmds, c)
		s.mu.Unlock()
	}()
	first := int(s.rr.Add(1))
	deadline := time.Now().Add(2 * time.Minute)
	for attempt := 0; ; attempt++ {
		// Never cut a command short when the load stops: its answer is
		// what the checks compare with the stream.
		rep, err := s.call(context.WithoutCancel(ctx), s.insts[(first+attempt)%2].url(), method, path, tok, c.key, body)
		switch {
		case err != nil:
			s.faults.transport.Add(1)
		case rep.cmdID != c.key:
			s.faults.idMismatch.Add(1)
			c.status, c.code = rep.status, rep.code
			return rep
		case rep.status == http.StatusServiceUnavailable && rep.code == "outcome_unknown":
			// Safe by contract: the key is the answer's command id.
			s.faults.outcomeUnknown.Add(1)
		case rep.status >= 500:
			s.faults.unavailable.Add(1)
		case rep.status == http.StatusConflict && rep.code == "conflict":
			s.faults.conflict.Add(1)
		default:
			c.status, c.code = rep.status, rep.code
			return rep
		}
		c.retries++
		if time.Now().After(deadline) {
			return soakReply{}
		}
		time.Sleep(time.Duration(100+mrand.IntN(300)) * time.Millisecond)
	}
}

func (s *soak) token(tenant, user string, roles ...string) string {
	tok, err := s.issuer.Issue(auth.Claims{Tenant: tenant, Subject: user, Roles: roles}, time.Hour, time.Now())
	if err != nil {
		panic(err) // fixed, valid claims: cannot fail
	}
	return tok
}

func (s *soak) key(kind string) string { return fmt.Sprintf("soak-%s-%d", kind, s.seq.Add(1)) }

// setup adds the tenant's products and policies and turns auto-claim on.
func (s *soak) setup(ctx context.Context, t *soakTenant) error {
	admin := s.token(t.name, "soak-admin", "global-admin")
	run := func(kind, method, path string, body any, want int) (soakReply, error) {
		c := &soakCmd{kind: kind, tenant: t.name, key: s.key(kind)}
		r := s.command(ctx, c, method, path, admin, body)
		if c.status != want {
			return r, fmt.Errorf("%s %s: %d %s, want %d", method, path, c.status, c.code, want)
		}
		return r, nil
	}
	for _, p := range []struct {
		id    string
		seats int
	}{{"P", soakSeatsP}, {"B", soakSeatsMany}, {"Q", soakSeatsMany}, {"A", soakSeatsA}, {"E", soakSeatsMany}} {
		if _, err := run(skProduct, "POST", "/v1/products", map[string]any{"product_id": p.id, "name": "Soak " + p.id,
			"services": []string{"mail", "chat"}, "licenses": p.seats, "self_service": "blocked"}, 201); err != nil {
			return err
		}
	}
	for _, p := range []struct {
		app      string
		products []string
	}{{"teams", []string{"P", "B"}}, {"crm", []string{"Q"}}} {
		var pp []map[string]any
		for _, id := range p.products {
			pp = append(pp, map[string]any{"product_id": id})
		}
		if _, err := run(skPolicy, "POST", "/v1/policies", map[string]any{"name": "Soak " + p.app, "app": p.app, "products": pp}, 201); err != nil {
			return err
		}
	}
	_, err := run(skSwitch, "PUT", "/v1/settings/auto-claim", map[string]any{"enabled": true}, 200)
	return err
}

// load offers cfg.Rate commands per second to the workers until ctx ends;
// a tick finding every worker busy is dropped and counted.
func (s *soak) load(ctx context.Context) {
	work := make(chan string)
	var wg sync.WaitGroup
	for range s.cfg.Workers {
		wg.Go(func() {
			for kind := range work {
				s.op(ctx, kind)
			}
		})
	}
	var deck []string
	for _, k := range soakKinds {
		for range soakWeights[k] {
			deck = append(deck, k)
		}
	}
	interval := time.Duration(float64(time.Second) / s.cfg.Rate)
	next := time.Now()
	for ctx.Err() == nil {
		next = next.Add(interval)
		select {
		case <-ctx.Done():
		case <-time.After(time.Until(next)):
		}
		if ctx.Err() != nil {
			break
		}
		select {
		case work <- deck[mrand.IntN(len(deck))]:
		default:
			s.faults.missed.Add(1)
		}
	}
	close(work)
	wg.Wait()
}

// op runs one command of kind against a random tenant.
func (s *soak) op(ctx context.Context, kind string) {
	t := s.tenants[mrand.IntN(len(s.tenants))]
	admin := s.token(t.name, "soak-admin", "license-admin")
	c := &soakCmd{kind: kind, tenant: t.name, key: s.key(kind)}
	switch kind {
	case skSignin:
		// Half new users while the population lasts, the others (and
		// all later) users signing in again.
		t.mu.Lock()
		if t.nextUser < soakSigninPool && (len(t.signedIn) == 0 || mrand.IntN(2) == 0) {
			t.nextUser++
			c.user = fmt.Sprintf("s%06d", t.nextUser)
			t.signedIn = append(t.signedIn, c.user)
		} else {
			c.user = t.signedIn[mrand.IntN(len(t.signedIn))]
		}
		t.mu.Unlock()
		app := "teams"
		if mrand.IntN(3) == 0 {
			app = "crm"
		}
		r := s.command(ctx, c, "POST", "/v1/signins", s.token(t.name, "soak-idp", "ingest"),
			map[string]any{"id": c.key, "user_id": c.user, "app": app, "at": time.Now().UTC().Format(time.RFC3339)})
		c.outcome, _ = r.body["status"].(string)
	case skAssign:
		c.user, c.product = fmt.Sprintf("a%03d", mrand.IntN(soakPoolA)), "A"
		s.command(ctx, c, "POST", "/v1/products/A/assignments", admin, map[string]any{"user_id": c.user, "disabled_services": []string{}})
	case skUnassign:
		c.user, c.product = fmt.Sprintf("a%03d", mrand.IntN(soakPoolA)), "A"
		s.command(ctx, c, "DELETE", "/v1/products/A/assignments/"+c.user, admin, nil)
	case skPurchase:
		c.product = []string{"A", "P"}[mrand.IntN(2)]
		s.command(ctx, c, "POST", "/v1/products/"+c.product+"/licenses", admin, map[string]any{"add": 1})
	case skRemove:
		c.product = "A"
		s.command(ctx, c, "POST", "/v1/products/A/licenses", admin, map[string]any{"remove": 1})
	case skSubmit:
		// A requester is a directory user: while the population lasts,
		// register a new one (through either instance) and request at
		// once; later, a registered one requests again.
		t.mu.Lock()
		register := t.nextReq < soakRequesterPool
		if register {
			t.nextReq++
			c.user = fmt.Sprintf("r%06d", t.nextReq)
		} else if len(t.requesters) > 0 {
			c.user = t.requesters[mrand.IntN(len(t.requesters))]
		}
		t.mu.Unlock()
		if c.user == "" {
			return // every requester is still being registered
		}
		if register {
			reg := &soakCmd{kind: skRegister, tenant: t.name, key: s.key(skRegister), user: c.user}
			if s.command(ctx, reg, "PUT", "/v1/users/"+c.user, s.token(t.name, "soak-admin", "user-admin"),
				map[string]any{"email": c.user + "@" + t.name + ".example", "display_name": "Soak " + c.user}); !reg.ok() {
				return
			}
			t.mu.Lock()
			t.requesters = append(t.requesters, c.user)
			t.mu.Unlock()
		}
		r := s.command(ctx, c, "POST", "/v1/requests", s.token(t.name, c.user, "user"),
			map[string]any{"product_id": "E", "users": []string{}, "justification": "soak"})
		if c.request, _ = r.body["request_id"].(string); c.ok() && c.request != "" {
			t.mu.Lock()
			t.pending = append(t.pending, [2]string{c.request, c.user})
			t.mu.Unlock()
		}
	case skDecide:
		t.mu.Lock()
		if len(t.pending) > 0 {
			i := mrand.IntN(len(t.pending))
			c.request, c.user = t.pending[i][0], t.pending[i][1]
			t.pending = slices.Delete(t.pending, i, i+1)
		}
		t.mu.Unlock()
		if c.request == "" {
			return // nothing to decide yet
		}
		// The requester is the request's only user.
		body := map[string]any{"approve": []string{c.user}, "product_id": "E"}
		if mrand.IntN(4) == 0 {
			body = map[string]any{"reject": []string{c.user}, "message": "soak"}
		}
		s.command(ctx, c, "POST", "/v1/requests/"+c.request+"/decision", admin, body)
	}
}
