// Package idphook turns identity providers' sign-in events into Seatflow
// sign-ins: Okta Event Hook deliveries (user.authentication.sso events) and
// Entra ID sign-in log records (the Microsoft Graph signIn resource, as a
// diagnostic setting exports it, as Graph lists it, or bare).
//
// What it keeps:
//   - an event becomes exactly the sign-in an upstream system would publish
//     on sf.signin.<tenant> ({id, user_id, app, at}), and is published there
//     (signin.Publisher) for the sign-in router to claim; its id is the
//     provider's event id behind a provider prefix ("okta-<uuid>",
//     "entra-<id>"), which is the message's Nats-Msg-Id and the claim's
//     command id, so a redelivered batch claims nothing twice;
//   - the app is the Seatflow app the organisation mapped the provider's
//     application to (IdentityAppsMapped on the org aggregate);
//   - the user is the directory user the provider provisioned over SCIM
//     with the event's login as userName (Okta's login, Entra ID's
//     userPrincipalName, which is what each provisions as userName), else
//     with the provider's user id as externalId, else the user whose email
//     is the login. Events never create directory users;
//   - events that are not a user's successful sign-in to an app, name an
//     unmapped application or an unknown user are ignored and counted, and
//     hold up no other event of the batch;
//   - a payload Seatflow cannot read is refused whole (a *MalformedError
//     naming the field), and nothing of it is published.
package idphook
