// Package diag holds what every check in Parley reports: positions, ranges,
// diagnostics with a stable rule ID and a suggestion, the rule table (the
// single source of IDs, slugs, severities and help text), did-you-mean
// suggestions, the renderers (text with the source line and a caret, JSON)
// and the secret patterns: MaskSecrets, which every renderer applies so
// that no diagnostic repeats a secret. Lint formats added later (SARIF,
// GitHub annotations) render the same Diagnostics and must mask the same
// way.
//
// It imports nothing but the standard library and no Parley package.
//
// Entry points: Diagnostics.Add, Diagnostics.Sort, Lookup, Rules, Suggest,
// WriteText, WriteJSON, MaskSecrets.
package diag
