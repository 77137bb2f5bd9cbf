// Package web serves the local web chat: a single embedded page at "/" that
// talks to a flow through a small JSON API, so authors and operators can try
// a flow in a browser without a WhatsApp number.
//
// Entry points: Register mounts the routes on a fiber.Router; ErrorHandler
// (or NewErrorHandler, which also logs) is the Fiber error handler the whole
// server should use, because Fiber's default one writes err.Error() to the
// client.
//
// Routes, relative to the router Register is given:
//
//	GET  /           the chat page (text/html, self-contained, no CDN)
//	GET  /api/flows  {"flows":[{"id","version","description","languages"}]}
//	POST /api/chat   {"flow","user","text","choice","lang"} →
//	                 {"messages":[{"kind","text","options":[{"id","title"}]}]}
//
// User ids: the browser invents a random id (kept in sessionStorage) and
// sends it as "user"; it must match ^[A-Za-z0-9_-]{1,64}$. The handler
// namespaces it before calling Chatter.Chat: Chat receives "web:<id>"
// (UserPrefix + id), so a web conversation can never collide with a
// WhatsApp user. Chatter implementations must not add another prefix.
//
// What a customer typed is personal data: it is passed on as a
// runtime.Answer and never appears in errors, responses or logs.
//
// This package imports engine/runtime for its types only; it must not import
// the vault, privacy, lint or badger packages.
package web
