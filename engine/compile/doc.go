// Package compile turns a checked flow.Flow into an immutable *Program: every
// if: condition and every {{ }} template compiled with expr against a typed
// environment of the declared fields, step targets resolved to indexes,
// option tables normalized for matching, field and purpose specs parsed,
// integrations (address, secret name, bounded timeout, notice addresses) and
// channel settings compiled, and the privacy notices precomputed with their
// hashes.
//
// A Program is shared by every conversation of its flow and never changes
// after Flow returns; the runtime reads it without locks. It does not keep
// the syntax tree: nothing at run time reads the flow, and a name is
// resolved only inside its own program.
//
// compile imports diag and flow (and expr); it must not import runtime,
// vault, privacy or adapters. Entry point: Flow.
package compile
