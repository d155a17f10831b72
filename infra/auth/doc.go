// Package auth issues and verifies Seatflow's bearer tokens: HS256 JWTs
// carrying the tenant, the user id (sub) and the roles of the caller, signed
// with the current one of a set of keys (Keys) and verified with the key
// their "kid" header names, so the keys can be rotated without invalidating
// every token at once.
//
// Invariants kept here:
//   - only HS256 is accepted; "none", RS256 and every other algorithm are
//     rejected before the signature is looked at;
//   - a token without kid, or whose kid names no configured key, is
//     refused: tokens issued before keys had ids (and before jti, aud and a
//     maximum lifetime existed) no longer verify;
//   - a verified token always has a valid tenant (events.ValidTenant), a
//     valid subject (events.ValidID), at least one role, only known roles,
//     iss "seatflow", aud TokenAudience, a ULID jti, an iat not in the
//     future (beyond MaxClockSkew), an exp not yet passed, exp-iat no more
//     than the maximum ttl, and was not refused by the revocation check;
//   - Issue refuses to sign claims that Verify would reject.
//
// The same keys sign the console's sessions after an organisation sign-in
// (IssueSession, audience SessionAudience, with a CSRF token inside) and the
// short-lived state of a sign-in in progress (IssueLogin, audience
// LoginAudience). Each audience is accepted only where it belongs: a session
// is no bearer token and a bearer token no session. Sessions share the
// bearer tokens' checks, rotation and revocation (by jti or by user).
//
// Secrets have one form, hex (ParseSecret). They live in
// <data-dir>/token-secret (LoadOrCreateSecrets: one key per line, the
// current one first) unless the operator passes them, so `seatflow serve`
// and `seatflow token` agree on them.
package auth
