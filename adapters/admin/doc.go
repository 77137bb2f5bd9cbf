// Package admin serves the admin API under /admin/v1: flow listing and
// reload, a metrics summary, data-subject requests (export, erase, rectify)
// and audit-chain verification, for operators and the DPO.
//
// Entry points: LoadTokens (or ParseTokens, ParseTokenList) builds the
// token set from the --admin-tokens file or the PARLEY_ADMIN_TOKENS value
// that cmd reads; Register mounts the routes with a Backend that the lead
// wires to the runtime engine, the vault and the audit log.
//
// Routes (relative to the router given to Register), with the roles that
// may call them:
//
//	GET  /admin/v1/flows             viewer operator dpo admin
//	GET  /admin/v1/metrics-summary   viewer operator dpo admin
//	POST /admin/v1/subjects/export   operator dpo
//	POST /admin/v1/subjects/erase    dpo
//	POST /admin/v1/subjects/rectify  dpo
//	GET  /admin/v1/audit/verify      dpo
//	POST /admin/v1/flows/reload      admin
//
// Guard puts the same check in front of another adapter's routes: the
// studio's API (/studio/api/…) from other machines takes ActionStudio,
// which only admin has.
//
// Reload belongs to a separate admin role rather than to dpo: changing what
// the bot collects and answering data-subject requests are different duties.
//
// Tokens: "Authorization: Bearer <token>". Tokens are kept only as SHA-256
// hashes and compared in constant time. 401 (with WWW-Authenticate: Bearer)
// for a missing or unknown token, 403 for a role without the action, 429
// (with Retry-After) while a client IP is locked out after repeated bad
// tokens; the lockout holds even for a good token.
//
// Audit: every request is audited through Backend.Audit, with the actor as
// "<role>:<token id>" (never the token), "anonymous" or "unknown", and the
// action as "<action>:<outcome>". Authorized actions write "<action>:requested"
// before acting and refuse with 503 if that fails (no action without a
// record), then the outcome. Refusals write one entry. While a client is
// locked out its requests are not audited one by one (that would let it
// flood the log); the lockout itself is ("auth:lockout").
//
// Responses never contain tokens, user ids, field values or backend error
// texts; logs carry action, actor, outcome and status only.
//
// This package imports only fiber and the standard library; it must not
// import the engine (the Backend interface is the seam) or other adapters.
package admin
