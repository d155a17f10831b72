// Package memstore is an in-memory domain.Store for tests and tools that
// need no NATS.
//
// It keeps the same contract as the JetStream store (infra/natsjs), and
// passes the same conformance suite (domain/storetest):
//   - positions come from one global counter, starting at 1, so they
//     increase strictly across all aggregates like stream sequences;
//   - an append checks every write's Expected against its aggregate's last
//     position under one lock and stores all of its events or none;
//   - events are encoded on the way in and decoded with the registry on the
//     way out, so what it accepts and returns is exactly what would go over
//     the wire.
package memstore
