// Package lint is the rule catalogue of `parley lint`: the privacy, purpose,
// WhatsApp and flow rules that go beyond what every command checks
// (engine/check), the policy file .parley.yaml, and inline suppressions
// (# parley:ignore RULE-ID -- reason).
//
// Every rule's ID, slug, severity, summary, help and example live in the
// rule table of engine/diag; docs/rules.md is generated from it (go test
// ./engine/lint -run Docs -update). Entry points: Run for checked files,
// Flow for one checked file under a policy, ParsePolicy and FindPolicy.
//
// It imports diag, flow, check and schemas, and must not import runtime,
// vault, store or adapters.
package lint
