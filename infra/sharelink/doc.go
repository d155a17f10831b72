// Package sharelink signs and verifies the links a shared license request's
// recipients answer through: an HS256 token binding tenant, request and
// share, valid until the share expires.
//
// Its keys are derived from the bearer-token keys with a fixed label, so a
// share link is never a valid bearer token and a bearer token never a valid
// share link; a link names its key by the bearer key's kid, so links follow
// key rotation: they keep working while the key that signed them is kept.
// Signing is deterministic (no issue time), so a notification built twice
// from the same event with the same current key carries the same link.
package sharelink
