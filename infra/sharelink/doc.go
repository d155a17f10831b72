// Package sharelink signs and verifies the links a shared license request's
// recipients answer through: an HS256 token binding tenant, request and
// share, valid until the share expires.
//
// The key is derived from the bearer-token secret with a fixed label, so a
// share link is never a valid bearer token and a bearer token never a valid
// share link. Signing is deterministic (no issue time), so a notification
// built twice from the same event carries the same link.
package sharelink
