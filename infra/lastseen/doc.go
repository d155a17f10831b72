// Package lastseen keeps the last time each user signed in to each app, per
// tenant, in the JetStream key-value bucket SEATFLOW_LASTSEEN (key
// <tenant>.<app>.<user>, app and user base32-encoded; value the time in RFC
// 3339), without an event per sign-in. The sign-in handler records the
// sign-ins of licensed users before it acknowledges them; the reclaim
// reactor reads the bucket right before it warns or reclaims, so a user who
// signed in is seen by every instance. The bucket keeps one value per key
// and has a byte limit, so it never starves the event stream.
package lastseen
