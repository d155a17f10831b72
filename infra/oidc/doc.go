// Package oidc signs people in to the console through their organisation's
// OpenID Connect provider (Entra ID, Okta, Keycloak, ...): the authorization
// code flow with PKCE (S256) and a nonce, with github.com/coreos/go-oidc/v3
// verifying the ID token (issuer, audience, expiry, signature from the
// provider's published keys) and golang.org/x/oauth2 redeeming the code.
//
// What the verified claims mean to Seatflow is a pure function, Mapping's
// Principal: the tenant (fixed, or from a claim), the user id (from a
// claim, by default sub; an e-mail address is looked up in the tenant's
// directory) and the roles (every signed-in person is a user; a claim such
// as groups or roles adds admin roles through a table). It refuses rather
// than guesses: no tenant, an invalid user id or a malformed claim is
// auth.ErrUnmapped.
//
// The provider's discovery document is fetched on first use and kept, so
// Seatflow starts while the provider is unreachable and the console sign-in
// works once it answers. The package keeps no session state: the sign-in in
// progress travels as an auth.LoginState, the session as an auth session
// (infra/httpapi sets both as cookies).
package oidc
