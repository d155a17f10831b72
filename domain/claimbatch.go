package domain

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/seatflow/seatflow/events"
)

// MaxClaimBatch bounds the sign-ins ClaimBatch decides together, so that
// one batch's events (at most three per sign-in) fit in one append.
const MaxClaimBatch = 250

// BatchOutcome is what one sign-in of a batch did: its outcome and the
// position of its last event (or of the state it was decided on), or why it
// can never succeed (Err, a *ValidationError).
type BatchOutcome struct {
	ClaimOutcome
	// HeldSince is ClaimDecision.HeldSince.
	HeldSince time.Time
	Position  uint64
	// Events are the events stored for this sign-in (one LicensesClaimed
	// may be shared with the other sign-ins it records).
	Events []events.Envelope
	Err    error
}

// ClaimBatch handles a batch of sign-ins of one tenant together (group
// commit): it decides them all with DecideClaims on the states the process
// holds (the org, the policies of the batch's apps and every product they
// ever listed), then appends the batch's events all or nothing, carrying
// the concurrency check of each aggregate written: in one atomic batch, or
// with Config.AppendInParts in parts that each write one aggregate (see
// there and SingleWritePrefix), each part's sign-ins decided on the states
// the parts before it left. On a conflict it catches up what it read and
// decides again, with jittered back-off, at most MaxAttempts times.
//
// Nothing is read from the store on the way unless an aggregate is not
// cached yet: cached states are kept current by the writes of this process,
// by Observe (the stream as the projection runner reads it) and, for the
// aggregates the batch writes, by the append's checks. A sign-in already
// decided (its id is the command id of events that stand) is not applied
// again. A sign-in that can never succeed gets its Err and causes nothing;
// the others are not held up by it. The error is for the whole batch:
// store errors (ErrUnavailable: the outcome is unknown, retry with the same
// sign-ins) or ErrConcurrency when the attempts ran out.
func (s *Service) ClaimBatch(ctx context.Context, tenant TenantID, in []SignIn, opts ClaimOptions) ([]BatchOutcome, error) {
	if err := checkTenant(tenant); err != nil {
		return nil, err
	}
	if len(in) > MaxClaimBatch {
		return nil, fmt.Errorf("domain: %d sign-ins in one batch, at most %d", len(in), MaxClaimBatch)
	}
	if len(in) == 0 {
		return nil, nil
	}
	b := &claimBatch{s: s, tenant: string(tenant), entries: map[events.Aggregate]*entry{}}
	defer b.unlock()
	if err := b.lockView(ctx, in); err != nil {
		return nil, err
	}
	if !s.cfg.AppendInParts {
		return b.claim(ctx, in, opts, false)
	}
	groups := b.groups(in)
	if len(groups) == 1 && len(groups[0]) == len(in) {
		// One group of every sign-in, in arrival order (groups keeps it):
		// the common batch of one app's policy, most often stored in one
		// part. nil stands for in itself.
		groups[0] = nil
	}
	var out []BatchOutcome
	for _, group := range groups {
		sub := in
		if group != nil {
			sub = make([]SignIn, len(group))
			for i, j := range group {
				sub[i] = in[j]
			}
		}
		for done := 0; done < len(sub); {
			part, err := b.claim(ctx, sub[done:], opts, true)
			if err != nil {
				return nil, err
			}
			if group == nil && done == 0 && len(part) == len(in) {
				return part, nil
			}
			if out == nil {
				out = make([]BatchOutcome, len(in))
			}
			for i, o := range part {
				j := done + i
				if group != nil {
					j = group[j]
				}
				out[j] = o
			}
			done += len(part)
		}
	}
	return out, nil
}

// groups splits a batch's sign-ins (indexes into in, arrival order kept
// within each group) into groups whose decisions cannot touch each other's
// aggregates: the sign-ins of apps whose policies share no product,
// directly or through other policies. Sign-ins of apps without a policy
// form a group of their own. Groups are in the order of their first
// sign-in. A batch naming at most one policy (the common case) is one
// group without the union.
func (b *claimBatch) groups(in []SignIn) [][]int {
	org := b.entries[orgAgg].state.(*Org)
	first := org.AppPolicies[in[0].App]
	if !slices.ContainsFunc(in[1:], func(s SignIn) bool { return org.AppPolicies[s.App] != first }) {
		all := make([]int, len(in))
		for i := range all {
			all[i] = i
		}
		return [][]int{all}
	}
	// Union-find over policies, joined by the products they ever listed.
	parent := map[PolicyID]PolicyID{}
	var find func(PolicyID) PolicyID
	find = func(p PolicyID) PolicyID {
		if q, ok := parent[p]; ok && q != p {
			r := find(q)
			parent[p] = r
			return r
		}
		parent[p] = p
		return p
	}
	owner := map[ProductID]PolicyID{}
	for _, s := range in {
		pid := org.AppPolicies[s.App]
		e := b.entries[events.Aggregate{Kind: events.KindPolicy, ID: string(pid)}]
		if pid == "" || e == nil {
			continue
		}
		root := find(pid)
		for _, id := range e.state.(*Policy).Listed {
			if other, ok := owner[id]; ok {
				if r := find(other); r != root {
					parent[r] = root
				}
			} else {
				owner[id] = pid
			}
		}
	}
	index := map[PolicyID]int{}
	var out [][]int
	for i, s := range in {
		key := PolicyID("")
		if pid := org.AppPolicies[s.App]; pid != "" {
			key = find(pid)
		}
		g, ok := index[key]
		if !ok {
			g = len(out)
			index[key] = g
			out = append(out, nil)
		}
		out[g] = append(out[g], i)
	}
	return out
}

// claim decides in and appends its events, returning the outcomes of the
// sign-ins it appended for: all of them, or with inParts those of the
// longest prefix whose events go to one aggregate (SingleWritePrefix),
// with a low-seat alert appended after its claims (splitAlerts). The
// caller then decides the rest again on the states the append left.
func (b *claimBatch) claim(ctx context.Context, in []SignIn, opts ClaimOptions, inParts bool) ([]BatchOutcome, error) {
	s := b.s
	for attempt := 1; ; attempt++ {
		now := s.cfg.Now()
		changes, decisions := DecideClaims(b.view(), in, opts, now)
		if !b.confirmed && slices.ContainsFunc(decisions, unconfirmedRefusal) {
			// A sign-in found auto-claim off or no policy for its app on
			// the states this process holds, which may trail a switch or
			// a policy another instance just stored: confirm against the
			// stream leader's head, as a command's refusal is, and decide
			// again (locking the policies and products a changed org now
			// names).
			b.confirmed = true
			if err := b.confirm(ctx, in); err != nil {
				return nil, err
			}
			continue
		}
		n := len(in)
		var alerts, counts []BatchChange
		if inParts {
			n = SingleWritePrefix(changes, len(in))
			changes = slices.DeleteFunc(changes, func(c BatchChange) bool { return c.SignIn >= n })
			changes, alerts = splitAlerts(changes)
			counts, changes = splitReservation(changes)
		}
		out := make([]BatchOutcome, n)
		base := b.maxPos()
		for i, d := range decisions[:n] {
			out[i] = BatchOutcome{ClaimOutcome: d.Outcome, HeldSince: d.HeldSince, Position: base, Err: d.Err}
		}
		if len(changes) == 0 {
			return out, nil
		}
		var reserved *reservation
		if len(counts) > 0 {
			// A capped policy's count goes first, alone, with the policy's
			// check: it reserves the claims' places under the cap, so no
			// other writer can count past it while they are stored.
			r, err := b.reserve(ctx, counts, in, now, out)
			switch {
			case errors.Is(err, ErrConcurrency):
				if err := b.retry(ctx, attempt, len(in), err); err != nil {
					return nil, err
				}
				continue
			case err != nil:
				return nil, err
			}
			reserved = r
		}
		writes, envs, owners := b.writes(changes, in, now)
		positions, err := s.store.Append(ctx, writes...)
		if errors.Is(err, ErrConcurrency) && reserved != nil {
			// The claims were not stored: give their places back before
			// deciding again. After any other error they may have been
			// (an acknowledgement lost), so the reservation stays: a
			// count too high only holds claims back, one too low would
			// let them past the cap.
			if rerr := b.release(ctx, *reserved, now); rerr != nil {
				for _, w := range writes {
					b.entries[w.Events[0].Aggregate].loaded = false
				}
				return nil, fmt.Errorf("claim batch of %d sign-ins: %w (and giving back the cap's reservation: %w)", len(in), err, rerr)
			}
		}
		if err == nil {
			b.stored(out, envs, owners, positions)
			if len(alerts) > 0 {
				// The claims stand whatever happens to their alerts: one
				// not stored is owed, and the next decision finding its
				// product low records it (Product.LowAlertDue).
				writes, envs, owners := b.writes(alerts, in, now)
				if positions, err := s.store.Append(ctx, writes...); err == nil {
					b.stored(out, envs, owners, positions)
				} else {
					for _, w := range writes {
						b.entries[w.Events[0].Aggregate].loaded = false
					}
				}
			}
			return out, nil
		}
		if !errors.Is(err, ErrConcurrency) {
			for _, w := range writes {
				b.entries[w.Events[0].Aggregate].loaded = false
			}
			return nil, fmt.Errorf("claim batch of %d sign-ins: %w", len(in), err)
		}
		if err := b.retry(ctx, attempt, len(in), err); err != nil {
			return nil, err
		}
	}
}

// retry is what a batch does after its attempt-th append met another
// writer (err): past MaxAttempts it gives up; otherwise it waits, catches
// up everything the batch read, in lock order (org, policies, products),
// and lets the batch decide again.
func (b *claimBatch) retry(ctx context.Context, attempt, n int, err error) error {
	s := b.s
	if attempt >= s.cfg.MaxAttempts {
		return fmt.Errorf("claim batch of %d sign-ins after %d attempts: %w", n, attempt, err)
	}
	if err := s.sleep(ctx, attempt); err != nil {
		return err
	}
	for _, agg := range b.order {
		if err := s.catchUp(ctx, b.tenant, agg, b.entries[agg], false); err != nil {
			return err
		}
	}
	return nil
}

// reservation is a capped policy's count stored ahead of its claims: n
// claims on day, by the event id.
type reservation struct {
	policy events.Aggregate
	id     string
	day    string
	n      int
}

// reserve appends counts (one PolicyClaimsCounted, see splitReservation)
// alone, with the policy's check, and applies it. The sign-ins it counts
// get its event in out.
func (b *claimBatch) reserve(ctx context.Context, counts []BatchChange, in []SignIn, now time.Time, out []BatchOutcome) (*reservation, error) {
	agg := counts[0].Agg
	before := b.entries[agg].state.(*Policy).Counts.Total
	writes, envs, owners := b.writes(counts, in, now)
	positions, err := b.s.store.Append(ctx, writes...)
	if err != nil {
		if !errors.Is(err, ErrConcurrency) {
			b.entries[agg].loaded = false
			return nil, fmt.Errorf("claim batch of %d sign-ins: %w", len(in), err)
		}
		return nil, err
	}
	b.stored(out, envs, owners, positions)
	c := envs[len(envs)-1].Data.(events.PolicyClaimsCounted)
	return &reservation{policy: agg, id: envs[len(envs)-1].ID, day: c.Day, n: c.Total - before}, nil
}

// release gives back a reservation whose claims were not stored: it
// appends the policy's counts less r.n, catching up and counting again
// when another writer stored the policy meanwhile.
func (b *claimBatch) release(ctx context.Context, r reservation, now time.Time) error {
	e := b.entries[r.policy]
	for attempt := 1; ; attempt++ {
		p := e.state.(*Policy)
		env := events.New(b.s.cfg.NewID(), b.tenant, r.policy, now, events.Meta{Actor: "auto-claim", CommandID: "release-" + r.id,
			CorrelationID: "release-" + r.id, CausationID: r.id}, ReleasedCounts(p.Counts, string(p.ID), r.day, r.n))
		positions, err := b.s.store.Append(ctx, Write{Expected: e.pos, Events: []events.Envelope{env}})
		if err == nil {
			env.Position = positions[0]
			e.apply(env)
			return nil
		}
		if !errors.Is(err, ErrConcurrency) || attempt >= b.s.cfg.MaxAttempts {
			e.loaded = false
			return err
		}
		if err := b.s.catchUp(ctx, b.tenant, r.policy, e, false); err != nil {
			return err
		}
	}
}

// ReleasedCounts is the PolicyClaimsCounted that gives back n claims
// counted on day from a policy whose counts are now c: Total less n, and
// Today less n if c still counts day (a new day's count had none of them).
// Neither goes below zero.
func ReleasedCounts(c ClaimCounts, policy, day string, n int) events.PolicyClaimsCounted {
	out := events.PolicyClaimsCounted{PolicyID: policy, Day: c.Day, Today: c.Today, Total: max(c.Total-n, 0)}
	if c.Day == day {
		out.Today = max(c.Today-n, 0)
	}
	return out
}

// splitReservation takes a capped policy's count out of changes, to be
// stored ahead of the claims it counts (claimBatch.reserve), when the
// policy's changes are that count alone (after lastCount) and other
// aggregates have changes: together they would be an atomic batch, which
// on a single server's file stream costs synchronous disk writes. Any
// other mix (a policy's queue or exhaustion with its count, two policies)
// stays as it is, one all-or-nothing append.
func splitReservation(changes []BatchChange) (counts, rest []BatchChange) {
	var (
		policy events.Aggregate
		found  bool
	)
	for _, c := range changes {
		if c.Agg.Kind != events.KindPolicy {
			continue
		}
		if _, ok := c.Data.(events.PolicyClaimsCounted); !ok || (found && policy != c.Agg) {
			return nil, changes
		}
		policy, found = c.Agg, true
	}
	if !found {
		return nil, changes
	}
	for _, c := range changes {
		if c.Agg == policy {
			counts = append(counts, c)
		} else {
			rest = append(rest, c)
		}
	}
	if len(rest) == 0 {
		return nil, changes
	}
	return lastCount(counts), rest
}

// stored applies envs, stored at positions, to the batch's states and
// gives each sign-in its events and position.
func (b *claimBatch) stored(out []BatchOutcome, envs []events.Envelope, owners [][]int, positions []uint64) {
	for i := range envs {
		envs[i].Position = positions[i]
		b.entries[envs[i].Aggregate].apply(envs[i])
		for _, j := range owners[i] {
			out[j].Position = positions[i]
			if len(out[j].Events) == 0 {
				// Most sign-ins have one event, shared with the others
				// of the batch: no slice of their own (an append to it
				// copies, its capacity being its length).
				out[j].Events = envs[i : i+1 : i+1]
			} else {
				out[j].Events = append(out[j].Events, envs[i])
			}
		}
	}
}

// splitAlerts takes the PoolLow alerts out of changes, to be appended
// after the other changes: with a claim on their product they would be
// several messages to one subject, and with a claim on another (a full
// product's owed alert) several aggregates, either way an atomic batch,
// which on a single server's file stream costs synchronous disk writes.
// An alert is a fact about the seats the claims left, so it may follow
// them; if it is not stored, the product still owes it
// (Product.LowAlertDue). Changes that are all alerts stay as they are.
func splitAlerts(changes []BatchChange) (main, alerts []BatchChange) {
	if !slices.ContainsFunc(changes, func(c BatchChange) bool { _, ok := c.Data.(events.PoolLow); return ok }) {
		return changes, nil
	}
	for _, c := range changes {
		if _, ok := c.Data.(events.PoolLow); ok {
			alerts = append(alerts, c)
		} else {
			main = append(main, c)
		}
	}
	if len(main) == 0 {
		return alerts, nil
	}
	return main, alerts
}

// SingleWritePrefix returns how many of a batch's n sign-ins, from the
// first, to append together so that one append writes as few aggregates
// as it can: the sign-ins up to (not including) the first whose changes
// add an aggregate to those of the first sign-in with changes. Sign-ins
// without changes never cut the prefix. changes are DecideClaims's, in
// sign-in order; with none, or all on the first one's aggregates, it is n.
// The decisions of a prefix do not depend on the sign-ins after it
// (DecideClaims decides in order), so the rest can be decided afresh once
// the prefix is stored.
func SingleWritePrefix(changes []BatchChange, n int) int {
	var first []events.Aggregate
	for _, c := range changes {
		switch {
		case c.SignIn == changes[0].SignIn:
			if !slices.Contains(first, c.Agg) {
				first = append(first, c.Agg)
			}
		case !slices.Contains(first, c.Agg):
			return c.SignIn
		}
	}
	return n
}

// claimBatch holds the locked entries of one ClaimBatch.
type claimBatch struct {
	s *Service
	// confirmed: the locked states were confirmed against the stream
	// leader's head once in this batch (see unconfirmedRefusal).
	confirmed bool
	tenant    string
	entries   map[events.Aggregate]*entry
	order     []events.Aggregate
}

// lock takes an aggregate's entry in the global lock order (callers lock
// org, then policies, then products, each sorted by id), loading it if it
// is not cached and folding in what Observe saw.
func (b *claimBatch) lock(ctx context.Context, agg events.Aggregate) error {
	if _, ok := b.entries[agg]; ok {
		return nil
	}
	e := b.s.entry(cacheKey{b.tenant, agg})
	e.mu.Lock()
	b.entries[agg] = e
	b.order = append(b.order, agg)
	if behind := b.s.drain(e); behind || !e.loaded {
		return b.s.catchUp(ctx, b.tenant, agg, e, false)
	}
	return nil
}

func (b *claimBatch) unlock() {
	for _, e := range b.entries {
		e.mu.Unlock()
	}
	b.entries, b.order = map[events.Aggregate]*entry{}, nil
}

// unconfirmedRefusal: the outcomes a stale org or policy can cause.
func unconfirmedRefusal(d ClaimDecision) bool {
	return d.Err == nil && (d.Outcome.Status == ClaimOff || d.Outcome.Status == ClaimNoPolicy)
}

// confirm catches every locked aggregate up from the leader's head; when
// the org then names policies or products the batch has not locked, it
// locks the view again from the start, in lock order.
func (b *claimBatch) confirm(ctx context.Context, in []SignIn) error {
	for _, agg := range b.order {
		if err := b.s.catchUp(ctx, b.tenant, agg, b.entries[agg], true); err != nil {
			return err
		}
	}
	org := b.entries[orgAgg].state.(*Org)
	complete := true
	for _, si := range in {
		pid := org.AppPolicies[si.App]
		if pid == "" {
			continue
		}
		pe, ok := b.entries[events.Aggregate{Kind: events.KindPolicy, ID: string(pid)}]
		if !ok {
			complete = false
			break
		}
		for _, id := range pe.state.(*Policy).Listed {
			if _, ok := b.entries[events.Aggregate{Kind: events.KindProduct, ID: string(id)}]; !ok {
				complete = false
			}
		}
	}
	if complete {
		return nil
	}
	b.unlock()
	if err := b.lockView(ctx, in); err != nil {
		return err
	}
	for _, agg := range b.order { // those cached before may trail too
		if err := b.s.catchUp(ctx, b.tenant, agg, b.entries[agg], true); err != nil {
			return err
		}
	}
	return nil
}

func (b *claimBatch) lockView(ctx context.Context, in []SignIn) error {
	if err := b.lock(ctx, orgAgg); err != nil {
		return err
	}
	org := b.entries[orgAgg].state.(*Org)
	var pids []string
	for _, s := range in {
		if pid := org.AppPolicies[s.App]; pid != "" && !slices.Contains(pids, string(pid)) {
			pids = append(pids, string(pid))
		}
	}
	slices.Sort(pids)
	var products []string
	for _, pid := range pids {
		agg := events.Aggregate{Kind: events.KindPolicy, ID: pid}
		if err := b.lock(ctx, agg); err != nil {
			return err
		}
		for _, id := range b.entries[agg].state.(*Policy).Listed {
			if !slices.Contains(products, string(id)) {
				products = append(products, string(id))
			}
		}
	}
	slices.Sort(products)
	for _, id := range products {
		if err := b.lock(ctx, events.Aggregate{Kind: events.KindProduct, ID: id}); err != nil {
			return err
		}
	}
	return nil
}

func (b *claimBatch) view() ClaimView {
	v := ClaimView{Policies: map[PolicyID]*Policy{}, Products: map[ProductID]*Product{}}
	for agg, e := range b.entries {
		switch st := e.state.(type) {
		case *Org:
			v.Org = st
		case *Policy:
			v.Policies[PolicyID(agg.ID)] = st
		case *Product:
			v.Products[ProductID(agg.ID)] = st
		}
	}
	v.Inactive = func(u UserID) bool { return b.s.isInactive(b.tenant, u) }
	v.Done = func(id string) bool {
		for _, e := range b.entries {
			if _, ok := e.commands[id]; ok {
				return true
			}
		}
		return false
	}
	return v
}

func (b *claimBatch) maxPos() uint64 {
	var p uint64
	for _, e := range b.entries {
		p = max(p, e.pos)
	}
	return p
}

// writes groups the batch's events by aggregate (each aggregate one write
// whose first event carries its check), keeping each aggregate's events in
// decision order. The claims on one product become one LicensesClaimed
// event, so that the common batch is one stored message. It returns the
// envelopes in append order and, for each, the sign-ins that caused it.
func (b *claimBatch) writes(changes []BatchChange, in []SignIn, now time.Time) ([]Write, []events.Envelope, [][]int) {
	byAgg := map[events.Aggregate][]BatchChange{}
	var aggs []events.Aggregate
	for _, c := range changes {
		if _, ok := byAgg[c.Agg]; !ok {
			aggs = append(aggs, c.Agg)
		}
		if byAgg[c.Agg] == nil {
			byAgg[c.Agg] = make([]BatchChange, 0, len(changes))
		}
		byAgg[c.Agg] = append(byAgg[c.Agg], c)
	}
	slices.SortFunc(aggs, func(a, b events.Aggregate) int { return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.ID, b.ID)) })
	var (
		writes []Write
		envs   []events.Envelope
		owners [][]int
	)
	for _, agg := range aggs {
		w := Write{Expected: b.entries[agg].pos}
		add := func(meta events.Meta, d events.Data, who []int) {
			env := events.New(b.s.cfg.NewID(), b.tenant, agg, now, meta, d)
			w.Events = append(w.Events, env)
			envs = append(envs, env)
			owners = append(owners, who)
		}
		cs := lastCount(byAgg[agg])
		var (
			merged claimsDraft
			rest   []BatchChange
		)
		for _, c := range cs {
			if lc, ok := c.Data.(events.LicenseClaimed); ok {
				merged.add(lc, c.SignIn, len(cs))
			} else {
				rest = append(rest, c)
			}
		}
		if len(merged.who) > 1 && !merged.mixed {
			first := in[merged.who[0]].ID
			add(events.Meta{Actor: "auto-claim", CommandID: "claims-" + first, CorrelationID: "claims-" + first, CausationID: first},
				merged.event, merged.who)
		} else {
			rest = cs
		}
		for _, c := range rest {
			s := in[c.SignIn]
			add(events.Meta{Actor: string(s.UserID), CommandID: s.ID, CorrelationID: s.ID}, c.Data, []int{c.SignIn})
		}
		writes = append(writes, w)
	}
	return writes, envs, owners
}

// claimsDraft gathers claims on one product under one policy into one
// event; mixed marks claims under different policies, which are not merged.
type claimsDraft struct {
	event events.LicensesClaimed
	who   []int
	mixed bool
}

func (d *claimsDraft) add(lc events.LicenseClaimed, signIn, capHint int) {
	if len(d.who) > 0 && (d.event.PolicyID != lc.PolicyID || d.event.App != lc.App) {
		d.mixed = true
	}
	d.event.ProductID, d.event.PolicyID, d.event.App = lc.ProductID, lc.PolicyID, lc.App
	if d.event.Claims == nil {
		d.event.Claims = make([]events.Claim, 0, capHint)
	}
	d.event.Claims = append(d.event.Claims, events.Claim{UserID: lc.UserID, DisabledServices: lc.DisabledServices,
		SigninID: lc.SigninID, ClaimedAt: lc.ClaimedAt})
	d.who = append(d.who, signIn)
}

// lastCount keeps only the last PolicyClaimsCounted of an aggregate's
// changes: each carries the policy's counts after its claim, so the last
// one records the whole batch's.
func lastCount(cs []BatchChange) []BatchChange {
	last := -1
	for i, c := range cs {
		if _, ok := c.Data.(events.PolicyClaimsCounted); ok {
			last = i
		}
	}
	if last < 0 {
		return cs
	}
	out := make([]BatchChange, 0, len(cs))
	for i, c := range cs {
		if _, ok := c.Data.(events.PolicyClaimsCounted); ok && i != last {
			continue
		}
		out = append(out, c)
	}
	return out
}
