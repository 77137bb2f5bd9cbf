// Package studio is the authoring studio served by `parley serve` at
// /studio: an author picks a flow, edits its YAML with the lint results at
// their lines, chats with it as a test user on the real engine and vault,
// sees its graph with the current step highlighted and its data map, sees
// what the vault holds for the test user and when each field expires, moves
// the test user's clock forward (the sweep then really deletes what
// expired) and erases the test user. Saving writes the file only when it
// lints clean, and the flows reload.
//
// The page, its script and its styles are embedded; the page's CSP allows
// requests to its own origin only, so nothing leaves the machine.
//
// The package declares the two small interfaces it needs (Flows and
// TestUsers); cmd/parley wires them, through adapters/server, to the flow
// directory, the linter and the vault. It keeps the test users' clocks:
// each studio session has its own offset, passed to every call as now, so
// moving one test user's time moves nobody else's.
//
// Access: by default only loopback clients (the author's own machine) are
// served, and only under a loopback Host name (so a web page elsewhere
// cannot reach it through DNS rebinding). Config.Guard, when set, admits
// other clients instead, behind a check such as the admin token's role
// (parley serve --studio-remote).
package studio
