// Package httpapi is Seatflow's HTTP API: JSON under /v1, routed with
// net/http's method patterns, authenticated with bearer tokens from
// infra/auth (or, with Config.Console, the console's session cookie after an
// organisation sign-in), answering errors as application/problem+json.
//
// Invariants kept here:
//   - the tenant of every command and query is the token's tenant; no path,
//     query or body field can name another one;
//   - a session cookie is a credential only with Config.Console, yields the
//     same principal as a bearer token, and lets no write through without
//     the session's CSRF token (Seatflow-CSRF-Token) from this origin;
//     sign-out revokes it on every instance (session.go);
//   - a request is authenticated, authorised, and its path, headers and body
//     fully validated before any command runs, so a rejected request never
//     appends an event;
//   - every error is answered by one function (problemFor) with a stable
//     problem code; only 5xx answers are logged;
//   - commands answer with the aggregate's new state and its stream position
//     (body "position" and header Seatflow-Position); every GET accepts
//     ?after=<position> and waits for the read models to reach it; a
//     license-request command answers with the request read model's details
//     once it has applied the command, the one read shape of a request
//     (requests.go);
//   - a panic in a handler becomes a 500 problem, never a crashed process;
//   - the SCIM 2.0 service provider under /scim/v2 (scim.go) is the one
//     exception to problem+json: it answers application/scim+json and SCIM
//     error JSON, as identity providers expect; it takes only tokens with
//     role scim, and writes the same directory commands as /v1/users and
//     /v1/groups, each write waiting for the read models before answering
//     so the provider's next filter sees it;
//   - the web pages (/console, /shared/{token}) are static files embedded in
//     the binary, served with a strict Content-Security-Policy; they hold no
//     data and call the same API as any client, so they add no access path.
//
// The package declares the interfaces it consumes (Commands, ProductQueries,
// LicenseQueries, Progress); *domain.Service, the projections and the
// projection runner satisfy them.
package httpapi
