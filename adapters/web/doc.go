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
//	POST /api/chat   {"flow","text","choice","lang"} →
//	                 {"messages":[{"kind","text","options":[{"id","title"}]}]}
//	POST /api/session  204, a new session cookie (the page's Restart)
//
// Visitors: the server identifies a visitor by a session cookie it issued
// (SessionCookie: a random id and its HMAC under Config.SessionKey,
// HttpOnly, SameSite=Strict, Secure over TLS), never by an id the client
// chooses; a request without a valid cookie gets a new visitor. The handler
// namespaces the id before calling Chatter.Chat: Chat receives "web:<id>"
// (UserPrefix + id), so a web conversation can never collide with a
// WhatsApp user. Chatter implementations must not add another prefix.
//
// What a customer typed is personal data: it is passed on as a
// runtime.Answer and never appears in errors, responses or logs.
//
// Channel is the web chat as a host channel (adapters/host): its turns run
// synchronously through host.Host.Chat and its replies are rendered into
// the page's format; it has nothing to push outside a request.
//
// This package imports engine/runtime for its types and adapters/host for
// the interface it implements; it must not import
// the vault, privacy, lint or badger packages.
package web
