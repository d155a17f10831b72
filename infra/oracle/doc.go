// Package oracle is the one judge of what Seatflow stored: it reads the
// event stream raw (Read: every message of SEATFLOW_EVENTS, or of some
// tenants, decoded with the events registry, with its subject, sequence
// and Nats-Msg-Id), folds it on its own terms (Fold: no domain state, no
// read model) and reports every violation, at the stream position where it
// happens, of the invariants ARCHITECTURE.md states:
//
//  1. a product never has more licenses assigned than purchased, at any
//     stream position;
//  2. a user holds at most one license of a product;
//  3. a user claims at most once under a policy;
//  4. an event that was acknowledged is never lost and never applied
//     twice: on the stream, every event ID is stored once, as the
//     message's Nats-Msg-Id, on its aggregate's subject, at increasing
//     sequences (without gaps when the whole stream is folded).
//
// and of the rules that keep the auto-claim queues and requests whole: a
// user waiting in a policy's queue claims under it only by its grant, is
// not queued twice, is not queued while holding a product of the policy,
// leaves the queue only from its head; a request is decided once.
//
// "Never lost" is the other half of command accounting (Fold.Check,
// Fold.CheckSignIn): every command a client saw acknowledged left exactly
// its events, every refused one none. "Never applied twice by a read
// model" is checked by comparing read models with the fold (Tenant's
// counts), which callers do over HTTP.
//
// The race tests, the auto-claim, scale-out and crash tests, and `seatflow
// bench` (with --soak) all judge their runs with it, so there is one fold
// to trust and to keep up with new event types. It does no I/O but Read's.
package oracle
