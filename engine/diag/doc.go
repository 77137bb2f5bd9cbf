// Package diag holds what every check in Parley reports: positions, ranges,
// diagnostics with a stable rule ID and a suggestion, the rule table (the
// single source of IDs, slugs, severities and help text), did-you-mean
// suggestions, the renderers (text with the source line and a caret, with
// or without colour; a JSON report; SARIF 2.1.0; GitHub workflow commands)
// and the secret patterns: MaskSecrets, which every renderer applies so
// that no diagnostic repeats a secret.
//
// It imports nothing but the standard library and no Parley package.
//
// Entry points: Diagnostics.Add, Diagnostics.Sort, Lookup, Rules, Suggest,
// WriteText, WriteColorText, WriteJSON, WriteSARIF, WriteGitHub, MaskSecrets.
package diag
