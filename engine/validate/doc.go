// Package validate checks the meaning of a loaded flow: references between
// steps, fields, purposes and integrations; the shape of each step;
// translations; privacy rules (https, purpose limitation, special
// categories, secrets); and the step graph (unreachable steps, loops that
// never wait for the customer, flows without an end).
//
// Checks run as an ordered list of named stages. Every stage tolerates a
// partly built flow (load builds what it can even from a broken file), so
// one run reports as much as possible. Expression syntax and types are not
// checked here: engine/compile does that.
//
// validate imports diag and flow only. Entry point: Flow.
package validate
