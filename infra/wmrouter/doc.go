// Package wmrouter builds the watermill routers of Seatflow's edges (the
// sign-in router and the notifier) in one place, so the watermill-nats traps
// of ARCHITECTURE.md are handled once:
//
//   - its consumers are not durable: the router consumes a durable consumer
//     created here explicitly with nats.go, never deleted;
//   - an unmarshal error crashes the process: callers pass an unmarshaler
//     that never fails;
//   - Router.Close closes the connection it was given: callers give it a
//     connection of its own;
//   - with the default MaxAckPending a nack reorders: one message is in
//     flight at a time, so a redelivered message stays ahead of later ones.
package wmrouter
