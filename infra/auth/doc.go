// Package auth issues and verifies Seatflow's bearer tokens: HS256 JWTs
// signed with one shared secret, carrying the tenant, the user id (sub) and
// the roles of the caller.
//
// Invariants kept here:
//   - only HS256 is accepted; "none", RS256 and every other algorithm are
//     rejected before the signature is looked at;
//   - a verified token always has a valid tenant (events.ValidTenant), a
//     valid subject (events.ValidID), at least one role, only known roles,
//     iss "seatflow", an iat not in the future (beyond MaxClockSkew) and an
//     exp not yet passed;
//   - Issue refuses to sign claims that Verify would reject.
//
// The secret lives in <data-dir>/token-secret (LoadOrCreateSecret) unless the
// operator passes one, so `seatflow serve` and `seatflow token` agree on it.
package auth
