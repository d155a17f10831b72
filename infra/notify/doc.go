// Package notify turns events into e-mail notifications and delivers them.
//
// The Notifier is a watermill router on an explicitly created durable
// consumer of SEATFLOW_EVENTS (sf.evt.>): the event stream is the outbox.
// Each event maps, through a table of Rules keyed by event type, to zero or
// more notifications, one per recipient, published to
// sf.notify.<tenant>.email (stream SEATFLOW_NOTIFY) with
// Nats-Msg-Id = "<event id>:<kind>:<recipient user id>", so redelivery,
// restarts and a second notifier never publish one twice within the
// stream's deduplication window. Recipients' addresses come from the
// directory read model once it has applied the event.
//
// The Sender, off unless an SMTP server is configured, consumes
// SEATFLOW_NOTIFY through its own durable consumer and delivers each
// message with SMTP, acknowledging only after the server accepted it.
package notify
