// Package projector feeds Seatflow's read models from the event stream.
//
// One Runner reads SEATFLOW_EVENTS through an ordered consumer (no acks,
// redelivered from the last sequence it saw after any hiccup), decodes
// what has arrived in parallel and applies every event to every read model
// strictly in stream order, each read model on a goroutine of its own,
// advancing its position once every read model has applied a chunk (a
// checkpoint is taken only while no chunk is in flight). It records the stream
// sequence it has applied and never applies a sequence twice (invariant 4 of
// ARCHITECTURE.md on the read side). WaitFor gives callers read-your-writes:
// it returns once a given stream position has been applied.
package projector
