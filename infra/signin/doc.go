// Package signin is Seatflow's inbound sign-in edge.
//
// Upstream systems publish {id, user_id, app, at, email?, display_name?} to
// sf.signin.<tenant> (stream SEATFLOW_SIGNINS, Nats-Msg-Id = id). The
// stream's subject transform stores each as sf.signin.<tenant>.<n>, n a
// hash of the tenant over natsjs.SigninPartitions partitions, so a tenant's
// sign-ins (and so each policy's queue) keep their arrival order within one
// partition.
//
// The Router consumes each partition through its own durable consumer,
// "seatflow-signins-<n>", with a pinned priority group: JetStream delivers
// a partition to one client at a time and moves the pin when that client
// stops asking (PinnedTTL). Running routers announce themselves in the
// key-value bucket SEATFLOW_SIGNIN_MEMBERS (entries expire unless renewed),
// and each takes every k-th partition of the k routers listed; a router
// that leaves gives its partitions up (unpinning them), one that vanishes
// drops out of the list within MemberTTL and its partitions are taken over
// once their pins lapse.
//
// A partition takes whatever arrived while its previous batch was being
// stored (up to BatchSize) and hands each tenant's sign-ins to the domain
// as one batch: decided together on the state the process holds, stored in
// one append with every written product's concurrency check (group
// commit), and acknowledged after the append, with one AckAll that the
// partition does not wait for; it confirms its last acknowledgement when it
// stops, before another instance takes the partition. The sign-in id is the claim's
// command id: a redelivered or duplicated sign-in claims once.
//
// HTTP POST /v1/signins goes the same way (Submitter): the instance it
// reaches publishes the sign-in on sf.signin.<tenant> with a Seatflow-Reply
// header naming a subject of the service's inbox, and the partition owning
// the tenant answers there once the claim is stored. So one process
// decides every sign-in of a tenant, in arrival order, and two instances
// never decide the same user's claims at once: each append carries the
// check of the products it writes, not of those the decision read, so two
// deciders could claim two products of one policy for one user
// (invariant 3).
//
// A message that can never succeed (malformed or truncated JSON, missing
// or invalid fields, a time outside the sane window, an unknown tenant, a
// body over 1 MiB, a panic it triggers) is copied at once to
// sf.dlq.signin.<tenant> with the reason in the Seatflow-Error header and
// acknowledged. A batch that fails otherwise is retried one sign-in at a
// time, so only the failing one waits, for a short bounded back-off, and is
// then dead-lettered (retries_exhausted); only its partition waits for it.
// An event store that cannot be reached is waited for, without
// dead-lettering.
//
// The other half of auto-claim, granting queued users as seats appear, is
// the Granter of package reactors.
package signin
