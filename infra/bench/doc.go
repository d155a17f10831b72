// Package bench measures Seatflow against raw JetStream on the same server
// in the same run (`seatflow bench`): the raw baselines (conditional
// appends to one subject with one writer, pipelined conditional appends
// over many subjects, ordered-consumer replay), the statistics and table
// the command prints, and the invariant check that every scenario's writes
// must pass before its figure is reported.
//
// The baselines write only to their own stream, SEATFLOW_BENCH (subjects
// sfbench.>), which they delete when done.
package bench
