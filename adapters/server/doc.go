// Package server is the thin HTTP wiring of `parley serve`: the Fiber app
// with health, readiness and metrics endpoints; the channels (WhatsApp, the
// local web chat) registered with the channel-neutral host (adapters/host),
// which runs the inbox, the turn workers, the outbox and recovery; the admin
// API with its backend; the flow registry with safe reloads; the retention
// sweeper; and the integration caller (HTTPCaller, which gets each
// integration compiled from the conversation's own flow) with the delivery
// of erasure and stop notices to recipients.
//
// Storage comes in through Backend, declared here and implemented by
// engine/session on the vault (cmd/parley wires it); the package never
// imports engine/vault or a storage backend. Nothing imports it but
// cmd/parley and tests.
package server
