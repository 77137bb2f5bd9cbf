// Package host is the channel-neutral host of `parley serve`: inbound
// messages go into a durable inbox, per-conversation ordered workers run
// each through the engine (runtime.Engine.HandleWith), the new state, fields,
// consents, the rendered replies and the inbox mark are committed at once,
// and senders deliver the replies with retries and the channel's pacing
// before acknowledging them. At start it recovers what a crash left: replies
// committed but not acknowledged, then messages stored but not processed.
//
// Nothing is kept in memory per customer beyond the conversations being
// worked on: a customer's send queue lives while they have replies on the
// way, and delivery statuses are kept by the store. Each customer's reply is
// acknowledged before their next is sent, retries wait on timers (one
// customer's backoff never holds a worker), failing storage makes
// [Host.Ready] fail, and [Host.Stop] ends within its context.
//
// On a store several processes serve at once (engine/session on
// PostgreSQL: [SharedStore]), nothing is recovered or rescanned from
// memory: each process claims a conversation's next message or reply with
// a lease, renews it while working, and acks it in the commit, so a
// conversation is worked on by one process at a time and a dead process's
// work is taken over when its leases expire (shared.go).
//
// A channel (WhatsApp, the web chat, a test double) implements [Channel] in
// its own package and is registered with [Host.Register]; it decodes its own
// requests and hands messages to [Host.Accept], or runs a synchronous turn
// with [Host.Chat]. Storage comes in through the interfaces declared in
// store.go, implemented by engine/session.
//
// It may import engine/runtime, engine/session and engine/store (leases);
// never a channel package, the vault, or a storage backend
// (engine/layers_test.go checks it).
package host
