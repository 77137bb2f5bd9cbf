// Package flowtest runs flow tests: conversations written in YAML next to a
// flow (booking_test.yaml beside booking.yaml) with the replies the bot must
// send, the fields and consents the store must hold afterwards, and time
// travel (after: 31d) on a manual clock.
//
// The tests run through Sim, the same turn the terminal simulator (parley
// chat) runs: Load, runtime.Step, Save on a runtime.Store. The store comes
// from the caller (cmd/parley wires the encrypted vault in a temporary
// directory; this package's own tests use runtime.MemStore), so the package
// needs no storage of its own.
//
// Results are data (Result, CaseResult); failures are diagnostics that point
// into the test file, rendered by engine/diag like lint findings.
package flowtest
