// Package expiry runs the deadline of pending license requests: a
// scheduler that warns a request's users once before its deadline and
// expires it at the deadline.
//
// Every command it issues has a deterministic command ID ("warn-<request
// id>", "expire-<request id>"), and the request aggregate records the
// warning (RequestExpiryWarned) and the expiry, so several schedulers,
// restarts and overlapping ticks never warn or expire twice.
package expiry
