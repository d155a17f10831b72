// Package natstest runs real nats-servers inside tests: a single JetStream
// server (RunJetStream), an in-process cluster (RunCluster), client
// connections (Connect) and CheckFor (and Poll, its variant that returns
// the error), the poll-with-deadline helpers to use instead of sleeping
// while waiting for eventual consistency.
//
// Invariants it keeps: every server listens on loopback only, on ports the
// kernel or RunCluster picks at run time, and stores under t.TempDir();
// everything it starts is stopped by t.Cleanup, servers after the
// connections to them. Helpers call t.Helper() and fail the test at once
// when something cannot be started. Server logs are discarded unless
// SEATFLOW_NATS_LOG=1 is set, then they go to stderr.
package natstest
