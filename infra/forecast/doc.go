// Package forecast runs the run-out forecast warning: a reactor that, on
// every tick, forecasts each product's run-out date from the read models
// (free seats, the users queued for it, its claims of the last 7 and 30
// days: what GET /v1/products/{id}/forecast answers) and, where
// domain.DecideForecastWarning would change the product's warning, runs
// the command that decides it again on the product aggregate and records
// PoolForecastWarned (notification pool.forecast to the tenant's global
// admins) or PoolForecastCleared (re-armed).
//
// Once: the warning stands on the product aggregate and every append
// carries the product's concurrency check, so several reactors (instances,
// restarts, a tick that runs before the read model has applied the last
// warning) record it once; the notifier's message ids make its mail once.
// Time comes from an injected clock.
package forecast
