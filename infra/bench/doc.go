// Package bench measures Seatflow against raw JetStream on the same server
// in the same run (`seatflow bench`): the raw baselines (conditional
// appends to one subject with one writer, pipelined conditional appends
// over many subjects, ordered-consumer replay) and the statistics and table
// the command prints. Every scenario's writes must pass the invariant
// check (infra/oracle) before its figure is reported.
//
// The baselines write only to their own stream, SEATFLOW_BENCH (subjects
// sfbench.>), which they delete when done.
package bench
