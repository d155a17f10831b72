// Package revocation keeps the list of revoked bearer tokens in the JetStream
// key-value bucket SEATFLOW_TOKEN_REVOCATIONS, which every running instance
// watches, so a token revoked through one instance's NATS is refused by every
// instance within the watcher's delivery latency, without a restart.
//
// Keys and retention:
//   - jti.<jti>: one token, by its id;
//   - sub.<tenant>.<base64url(user)>.<unix nanos>: every token of a user
//     issued at or before that instant (by iat, in whole seconds).
//
// Every entry is written with a per-key TTL that ends when the tokens it
// revokes would have expired anyway (at most the maximum token lifetime), so
// the bucket never grows beyond the revocations of one maximum lifetime; the
// bucket is bounded in bytes and refuses new entries rather than dropping
// old ones (dropping one would un-revoke a token). An entry is never
// updated: revoking again adds an entry, so no watcher ever sees a
// revocation disappear early.
//
// A Set is the in-memory copy a verifier consults. Watch returns only once
// the bucket's current entries are loaded, so an instance never serves a
// token revoked before it started.
package revocation
