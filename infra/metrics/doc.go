// Package metrics exposes Seatflow's Prometheus metrics at /metrics, using
// the official client. Gauges of state (license counts, projection lag, NATS
// connection state) are computed from the read models and the stream at
// scrape time, so they are never out of step with what the API answers;
// counters of activity (events appended, concurrency conflicts, HTTP
// requests) are counted where the activity happens.
package metrics
