package natsjs_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/oklog/ulid/v2"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/events"
	"github.com/seatflow/seatflow/infra/natsjs"
	"github.com/seatflow/seatflow/infra/natstest"
	"github.com/seatflow/seatflow/infra/oracle"
)

// The race: a product with raceSeats licenses, raceUsers users each
// claiming twice (two sign-ins, two command IDs, on different services),
// spread over raceServices services that each have their own connection
// and store, so only JetStream's per-subject check keeps them apart.
const (
	raceTenant   = "race"
	raceProduct  = "p1"
	racePolicy   = "pol1"
	raceSeats    = 50
	raceUsers    = 100
	raceClaims   = 2 * raceUsers
	raceServices = 4
)

// TestClaimRace proves invariants 1 and 2 (a product never has more
// licenses assigned than purchased, at any stream position; a user holds
// at most one license of a product) under concurrent claims from several
// processes, on one server, on a 3-node cluster, and on a 3-node cluster
// whose event stream leader is shut down halfway.
func TestClaimRace(t *testing.T) {
	for _, tc := range []struct {
		name      string
		cluster   bool
		killAfter int // applied claims before the stream leader is shut down; 0: never
	}{
		{"single server", false, 0},
		{"cluster R3", true, 0},
		{"cluster R3 stream leader lost", true, raceSeats / 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !tc.cluster {
				runClaimRace(t, natstest.RunJetStream(t).ClientURL(), 1, nil, 0)
				return
			}
			c := natstest.RunCluster(t, 3)
			runClaimRace(t, c.URLs(), 3, c, tc.killAfter)
		})
	}
}

// countingStore counts the appends refused with ErrConcurrency.
type countingStore struct {
	domain.Store
	conflicts *atomic.Int64
}

func (c countingStore) Append(ctx context.Context, writes ...domain.Write) ([]uint64, error) {
	pos, err := c.Store.Append(ctx, writes...)
	if errors.Is(err, domain.ErrConcurrency) {
		c.conflicts.Add(1)
	}
	return pos, err
}

// claimOutcome is how one claim command ended.
type claimOutcome int

const (
	outcomeApplied  claimOutcome = iota + 1 // appended its event
	outcomeReplayed                         // found its event already stored (an earlier attempt landed)
	outcomeNoOp                             // the user already held a license: nothing to do
	outcomeNoSeat                           // no license left
)

type claimResult struct {
	user      domain.UserID
	commandID string
	outcome   claimOutcome
	attempts  int
	errs      []error // errors of the attempts before the last
}

func runClaimRace(t *testing.T, urls string, replicas int, c *natstest.Cluster, killAfter int) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	adminJS, svcs, conflicts := raceServicesOn(ctx, t, urls, replicas, c, raceServices, domain.Config{})
	meta := func() events.Meta { return events.Meta{Actor: "admin", CommandID: ulid.Make().String()} }
	if _, _, err := svcs[0].Product(ctx, raceTenant, raceProduct, meta(), domain.AddProduct{
		Name: "Race", Services: []string{"teams"}, Licenses: raceSeats, SelfService: events.SelfServiceBlocked,
	}); err != nil {
		t.Fatalf("add product: %v", err)
	}
	// Every service reads the product first (a command that changes
	// nothing), so all of them start from the same position and their
	// first appends collide.
	for i, svc := range svcs {
		if _, _, err := svc.Product(ctx, raceTenant, raceProduct, meta(), domain.SetSelfService{SelfService: events.SelfServiceBlocked}); err != nil {
			t.Fatalf("service %d reads the product: %v", i, err)
		}
	}

	var (
		wg        sync.WaitGroup
		start     = make(chan struct{})
		results   = make([]claimResult, raceClaims)
		succeeded atomic.Int64          // claims that appended their event
		reached   = make(chan struct{}) // closed when killAfter claims appended their event
		done      atomic.Int64          // claims finished
		killed    = make(chan int64, 1) // outstanding claims when the leader went down
	)
	applied := func() {
		if succeeded.Add(1) == int64(killAfter) {
			close(reached)
		}
	}
	for g := range raceClaims {
		// Claims g and g+raceUsers are the same user, on different services.
		user := domain.UserID(fmt.Sprintf("u%03d", g%raceUsers))
		svc := svcs[g*raceServices/raceClaims]
		wg.Go(func() {
			<-start
			results[g] = claimUntilDone(ctx, svc, user, applied, &done)
		})
	}
	if killAfter > 0 {
		go func() {
			select {
			case <-reached:
			case <-ctx.Done():
				return
			}
			leader := c.StreamLeader(natstest.Account, natsjs.StreamEvents)
			outstanding := int64(raceClaims) - done.Load()
			if leader != nil {
				c.Shutdown(leader)
			}
			killed <- outstanding
		}()
	}
	began := time.Now()
	close(start)
	wg.Wait()
	t.Logf("%d claims over %d services done in %s; %d appends refused by the concurrency check",
		raceClaims, raceServices, time.Since(began), conflicts.Load())
	if killAfter > 0 {
		select {
		case outstanding := <-killed:
			t.Logf("stream leader shut down with about %d claims outstanding", outstanding)
			if outstanding == 0 {
				t.Errorf("claims outstanding when the stream leader went down: got 0, want some")
			}
		case <-ctx.Done():
			t.Fatal("the stream leader was never shut down")
		}
		c.WaitOnStreamLeader(natstest.Account, natsjs.StreamEvents)
	}
	if t.Failed() {
		return
	}
	if conflicts.Load() == 0 {
		t.Errorf("conflicts: got 0, want some: the services never raced")
	}
	checkRace(t, ctx, adminJS, results)
}

// raceServicesOn makes sure the streams exist on urls (replicas each) and
// returns an admin connection's JetStream and n services, each with its own
// connection and store and cfg (its clock and ids filled in), so only
// JetStream's checks keep them apart; conflicts counts the appends they
// had refused by the concurrency check.
func raceServicesOn(ctx context.Context, t *testing.T, urls string, replicas int, c *natstest.Cluster, n int, cfg domain.Config) (jetstream.JetStream, []*domain.Service, *atomic.Int64) {
	t.Helper()
	_, adminJS := natstest.Connect(t, urls)
	if err := natsjs.EnsureStreams(ctx, adminJS, replicas); err != nil {
		t.Fatalf("ensure streams: %v", err)
	}
	if c != nil {
		c.WaitOnStreamLeader(natstest.Account, natsjs.StreamEvents)
	}
	reg := events.Default()
	conflicts := &atomic.Int64{}
	cfg.Now, cfg.NewID = time.Now, func() string { return ulid.Make().String() }
	svcs := make([]*domain.Service, n)
	for i := range svcs {
		_, js := natstest.Connect(t, urls)
		svc, err := domain.NewService(countingStore{Store: natsjs.NewStore(js, reg), conflicts: conflicts}, cfg)
		if err != nil {
			t.Fatal(err)
		}
		svcs[i] = svc
	}
	return adminJS, svcs, conflicts
}

// claimUntilDone runs one claim command, retrying it with the same command
// ID after any error that leaves its outcome open (conflicts that
// exhausted the service's attempts, timeouts and errors during a leader
// change), until it succeeds or finds no seat.
func claimUntilDone(ctx context.Context, svc *domain.Service, user domain.UserID, applied func(), done *atomic.Int64) claimResult {
	defer done.Add(1)
	r := claimResult{user: user, commandID: ulid.Make().String()}
	cmd := domain.ClaimLicense{UserID: user, PolicyID: racePolicy, App: "teams", SigninID: r.commandID, At: time.Now()}
	meta := events.Meta{Actor: string(user), CommandID: r.commandID}
	for ctx.Err() == nil {
		r.attempts++
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, res, err := svc.Product(actx, raceTenant, raceProduct, meta, cmd)
		cancel()
		switch {
		case err == nil && res.Replayed:
			r.outcome = outcomeReplayed
		case err == nil && len(res.Events) > 0:
			r.outcome = outcomeApplied
			applied()
		case err == nil:
			r.outcome = outcomeNoOp
		case errors.Is(err, domain.ErrNoLicensesAvailable):
			r.outcome = outcomeNoSeat
		default:
			r.errs = append(r.errs, err)
			time.Sleep(time.Duration(5+rand.IntN(20)) * time.Millisecond)
			continue
		}
		return r
	}
	r.errs = append(r.errs, ctx.Err())
	return r
}

// foldRace reads tenant's events straight from the stream, folds them with
// the oracle and reports every violation of invariants 1 and 2 at every
// position, 3, and 4 on the stream (the race's tenant is the only writer,
// so its events are the whole stream).
func foldRace(ctx context.Context, t *testing.T, js jetstream.JetStream, tenant string) ([]oracle.Message, *oracle.Fold) {
	t.Helper()
	// Right after a leader change the first requests may find no
	// responders: read again until one read succeeds.
	var msgs []oracle.Message
	natstest.CheckFor(t, 30*time.Second, 100*time.Millisecond, func() error {
		var err error
		msgs, err = oracle.Read(ctx, js, tenant)
		return err
	})
	f := oracle.FoldAll(msgs, true)
	for _, v := range f.Violations() {
		t.Errorf("%s", v)
	}
	return msgs, f
}

// checkRace reads the tenant's events straight from the stream and has
// the oracle check them against the invariants and the commands' outcomes.
func checkRace(t *testing.T, ctx context.Context, js jetstream.JetStream, results []claimResult) {
	t.Helper()
	msgs, f := foldRace(ctx, t, js, raceTenant)
	tn := f.Tenant(raceTenant)
	// The domain's own fold agrees with the oracle's.
	p := &domain.Product{}
	for _, m := range msgs {
		domain.EvolveProduct(p, m.Env)
	}
	if p.Assigned() != tn.Assigned(raceProduct) || p.Purchased != tn.Purchased[raceProduct] {
		t.Errorf("domain.EvolveProduct: %d of %d assigned, the oracle: %d of %d", p.Assigned(), p.Purchased, tn.Assigned(raceProduct), tn.Purchased[raceProduct])
	}
	if got := tn.ClaimCount(); got != raceSeats {
		t.Errorf("claims: got %d, want %d", got, raceSeats)
	}
	if got := len(tn.Claims); got != raceSeats {
		t.Errorf("distinct users with a claim: got %d, want %d", got, raceSeats)
	}

	// Every command that reported its claim stored is in the stream
	// exactly once, and no other command is.
	counts := map[claimOutcome]int{}
	retried := 0
	for _, r := range results {
		counts[r.outcome]++
		if len(r.errs) > 0 {
			retried++
		}
		c := oracle.Command{Tenant: raceTenant, ID: r.commandID}
		switch r.outcome {
		case outcomeApplied, outcomeReplayed:
			c.Acked, c.Want = true, []string{events.TypeLicenseClaimed}
		case outcomeNoOp:
			if n := tn.Claims[oracle.PolicyUser{Policy: racePolicy, User: string(r.user)}]; n != 1 {
				t.Errorf("claim %s of %s: reported the user already holding, but the user has %d claims", r.commandID, r.user, n)
			}
		case outcomeNoSeat:
		default:
			t.Errorf("claim %s of %s: never finished after %d attempts: %v", r.commandID, r.user, r.attempts, r.errs)
			continue
		}
		if err := f.Check(c); err != nil {
			t.Errorf("claim of %s (outcome %d): %v", r.user, r.outcome, err)
		}
	}
	if got := counts[outcomeApplied] + counts[outcomeReplayed]; got != tn.ClaimCount() {
		t.Errorf("claims reported stored: got %d, want %d (the claims in the stream)", got, tn.ClaimCount())
	}
	t.Logf("outcomes: %d applied, %d replayed, %d no-op, %d no seat; %d claims needed a retry",
		counts[outcomeApplied], counts[outcomeReplayed], counts[outcomeNoOp], counts[outcomeNoSeat], retried)
	if testing.Verbose() {
		seen := map[string]int{}
		for _, r := range results {
			for _, err := range r.errs {
				seen[err.Error()]++
			}
		}
		for msg, n := range seen {
			t.Logf("%d× retried after: %s", n, msg)
		}
	}
}
