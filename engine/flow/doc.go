// Package flow is the abstract syntax tree of the flow language: a Flow with
// its purposes, fields, integrations and steps, where every value carries
// the range it was written at so that later stages can report problems at
// the author's line and column.
//
// It imports only engine/diag; parsing lives in engine/load, checks in
// engine/validate, expressions in engine/compile.
//
// Entry points: Flow, Step, Field, Purpose, ParseRetention, File.OffsetPos.
package flow
