// Package check is the pipeline every command shares: it reads flow files
// and runs load, validate and compile on each, returning the compiled
// program when a flow has no errors plus every diagnostic found. `parley
// lint`, `parley chat` and `parley serve` all go through it, so a flow that
// lints clean is exactly a flow that runs; serve and chat do not import the
// rule catalogue (engine/lint) to get there.
//
// Entry points: Source, File, Files and Expand. It must not import runtime,
// vault or adapters.
package check
