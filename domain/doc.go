// Package domain holds Seatflow's aggregates as deciders and the command
// service that runs them against an event store.
//
// Each aggregate is a pair of pure functions: decide(state, command, now)
// returns the events a command causes or an error, and evolve(state, event)
// folds one event into the state. A decision over several aggregates reads
// them through a view and returns each one's events. Nothing here reads the
// clock, makes IDs or does I/O; the Service gets those from its caller and
// reaches storage through the Store interface it declares, which infra
// implements.
//
// Where things are:
//   - one file per aggregate, with its state, evolve, commands, deciders and
//     the Service methods that run them: org.go, product.go, policy.go,
//     user.go, group.go, request.go;
//   - claims.go: the auto-claim rules, DecideClaims (a batch of sign-ins)
//     and DecideGrant (the head of a queue), over the org, a policy and its
//     products; claim.go and claimbatch.go run them;
//   - decider.go: the shapes deciders return; tx.go: the transaction loop
//     every other command runs through; cache.go: the cached states;
//     commands.go: how a repeated command is recognised; store.go: the
//     ports infra implements.
//
// Invariants kept here and proven by tests, including concurrent ones
// against real JetStream servers:
//  1. a product never has more licenses assigned than purchased;
//  2. a user holds at most one license of a product.
//
// Both hold because every append carries the aggregate's last position as
// its concurrency check, so a decision made on stale state never lands.
package domain
