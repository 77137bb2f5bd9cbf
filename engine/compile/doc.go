// Package compile turns a checked flow.Flow into an immutable *Program: every
// if: condition and every {{ }} template compiled with expr against a typed
// environment of the declared fields, step targets resolved to indexes,
// option tables normalized for matching, field and purpose specs parsed, and
// the privacy notices precomputed with their hashes.
//
// A Program is shared by every conversation of its flow and never changes
// after Flow returns; the runtime reads it without locks.
//
// compile imports diag and flow (and expr); it must not import runtime,
// vault, privacy or adapters. Entry point: Flow.
package compile
