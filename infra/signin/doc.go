// Package signin is Seatflow's inbound sign-in edge and auto-claim reactor.
//
// Upstream systems publish {id, user_id, app, at, email?, display_name?} to
// sf.signin.<tenant> (stream SEATFLOW_SIGNINS, Nats-Msg-Id = id). A watermill
// router consumes them through the durable consumer "seatflow-signins",
// created here explicitly (so it survives restarts and redeploys), on its own
// NATS connection (Router.Close closes it), with a tolerant unmarshaler (an
// unmarshal error would crash watermill-nats) and at most one unacknowledged
// message, so a retried message keeps its place in line.
//
// Each sign-in registers or updates its directory user when it names an
// email, then runs the claim command in-process with the sign-in id as its
// command id: a redelivered or duplicated sign-in claims once. Transient
// failures are retried with back-off in the handler and then redelivered;
// a message that can never succeed (malformed or truncated JSON, missing or
// invalid fields, an unknown tenant, a body over 1 MiB) is copied to
// sf.dlq.signin.<tenant> with the reason in the Seatflow-Error header and
// acknowledged, so it never blocks or slows the others. So is a message
// that makes the handler panic (internal_error) and one whose seemingly
// transient failures outlast Config.MaxDeliveries (retries_exhausted): a
// bug must not hold up every sign-in behind it.
//
// The Granter is the other half of auto-claim: a read model fed by the
// projection runner that notices seats appearing (licenses purchased or
// unassigned, products added to a policy, a policy or the org switch turned
// on, a user queued) and asks the domain to grant the heads of the affected
// policies' queues, with deterministic command ids so nothing is granted
// twice.
package signin
