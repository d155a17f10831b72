// Package events is Seatflow's wire contract: the event envelope, one Go type
// per event type and version, the registry that maps wire names to those
// types, and the upcasters that lift old versions to the current one.
//
// Every message on sf.evt.> is one JSON Envelope. A published type is never
// edited: a change to its data is a new version plus an Upcaster from the
// previous one, and the golden files in testdata/golden must keep decoding.
//
// The package imports only the standard library, so every other package
// (and any downstream consumer written in Go) can depend on it.
package events
