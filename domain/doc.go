// Package domain holds Seatflow's aggregates as deciders and the command
// service that runs them against an event store.
//
// Each aggregate is a pair of pure functions: decide(state, command, now)
// returns the events a command causes or an error, and evolve(state, event)
// folds one event into the state. Nothing here reads the clock, makes IDs or
// does I/O; the Service gets those from its caller and reaches storage
// through the Store interface it declares, which infra implements.
//
// Invariants kept here and proven by tests, including concurrent ones
// against real JetStream servers:
//  1. a product never has more licenses assigned than purchased;
//  2. a user holds at most one license of a product.
//
// Both hold because every append carries the aggregate's last position as
// its concurrency check, so a decision made on stale state never lands.
package domain
