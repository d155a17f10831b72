// Command seatflow runs Seatflow: `serve` starts the embedded NATS server,
// the projections and the HTTP API; `token` prints a bearer token; `rebuild`
// replays every projection; `bench` measures the service against raw
// JetStream on the same server; see usage for the rest.
package main
