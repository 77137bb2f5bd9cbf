// Package server assembles `parley serve`: it wires the channels (WhatsApp,
// the local web chat, the admin API) to the runtime engine and the vault, and
// owns the pieces between them — the flow registry with safe reloads, the
// per-subject ordered worker pool, the durable outbox sender, the
// integration caller (HTTPCaller, which gets each integration compiled from
// the conversation's own flow) with the delivery of erasure and stop notices
// to recipients, and metrics.
//
// It may import every engine package and every adapter; nothing imports it
// but cmd/parley and tests.
package server
