// Package reactors holds Seatflow's reactors: components that watch the
// read side and the clock and issue commands of their own, with no client
// asking. Each is started by serve and stops when its context ends.
//
//   - Granter grants queued users as seats appear. It is fed by the
//     projection runner like a read model and notices seats appearing
//     (licenses purchased, unassigned or reclaimed, products added to a
//     policy, a policy or the org switch turned on, a user queued, a cap
//     changed, a new UTC day for capped policies); Run asks the domain to
//     grant the heads of the affected policies' queues.
//   - Expiry runs the deadline of pending license requests: it warns a
//     request's users once before its deadline (RequestExpiryWarned) and
//     expires it at the deadline (RequestExpired).
//   - Reclaim reclaims unused licenses: for every license claimed under a
//     policy with reclaim_after_days, it warns its user reclaim_warn_days
//     before the license has been idle that long (LicenseReclaimWarned,
//     notification license.reclaim_warning) and reclaims it when it falls
//     due (LicenseReclaimed, license.reclaimed); the freed seat goes to the
//     policy's queue through the Granter.
//   - Forecast warns of products about to run out: on every tick it
//     forecasts each product's run-out date from the read models (what GET
//     /v1/products/{id}/forecast answers, see domain.NewForecastInput) and,
//     where domain.DecideForecastWarning would change the product's
//     warning, runs the command that decides it again on the product
//     aggregate, recording PoolForecastWarned (notification pool.forecast
//     to the tenant's global admins) or PoolForecastCleared (re-armed).
//
// Invariants they share:
//
//   - Once. Several instances run every reactor, restarts repeat work and
//     ticks overlap, yet nothing happens twice: every command has a
//     deterministic command ID (the granter's grants, "warn-<request id>"
//     and "expire-<request id>", the reclaim's ID derived from the license
//     and the sign-in it is based on), the aggregates record what was done
//     (a warning, an expiry, a reclaim, a standing forecast warning) and
//     their deciders do nothing for a command with nothing left to do, and
//     every append carries the aggregate's concurrency check.
//   - Time comes from an injected clock (the Now of each Config, serve's
//     one clock); the ticking reactors look at it every Interval, the
//     Granter at least every RolloverEvery.
//   - They never block the projection runner: the Granter's Apply only
//     notes which policies to look at; the ticking reactors read the read
//     models between ticks.
//
// What Reclaim does not close: a sign-in recorded between the reactor's
// read of the last-seen bucket (package lastseen) and its append (one
// round trip) is not seen by that reclaim. Closing it would take an event
// per sign-in of a warned user on the product aggregate, whose check would
// then order the two. A user who signed in after the warning otherwise
// keeps the license: the reactor reads the bucket right before each
// command, and the domain refuses a reclaim whose last sign-in is newer
// than the warning's.
package reactors
