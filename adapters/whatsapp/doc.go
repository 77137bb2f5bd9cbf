// Package whatsapp connects Parley to the WhatsApp Business Cloud API.
//
// It holds the pieces `parley serve` assembles into a webhook and a sender,
// each usable and testable on its own:
//
//   - Receiving: [VerifyHandshake] answers the GET subscription handshake,
//     [VerifySignature] checks X-Hub-Signature-256, [Decode] turns a webhook
//     body into a [Batch] of [InboundMessage] and [Status] values, and
//     [ToInbound] maps a message onto [runtime.Inbound].
//   - Sending: [Render] turns a [runtime.Message] into Cloud API send bodies
//     ([SendRequest]), [RenderTemplate] builds a template send for use outside
//     the 24-hour window, and [Client] posts them to the Graph API and
//     classifies failures as [*APIError].
//   - Pacing: [Backoff] (exponential, full jitter, capped), [Pacer] (per
//     number throughput and per user spacing, driven by an injected clock) and
//     [WindowOpen] (the customer-service window).
//   - The channel: [Channel] implements host.Channel (render, send with
//     pacing, classify failures, the window rules) and serves the webhook,
//     handing each message to the channel-neutral host (adapters/host),
//     which stores, runs, commits, sends and recovers.
//
// The package imports engine/runtime for its message types and
// adapters/host for the interface it implements. It never touches storage,
// consent or flows; the host and the server wire those.
//
// # Security choices
//
// Signature. Meta signs every webhook POST with HMAC-SHA256 keyed by the app
// secret over the raw request body bytes. [VerifySignature] must be given
// exactly those bytes, before any JSON decoding: Meta escapes non-ASCII as
// \uXXXX and "/" as "\/", so a re-encoded body has different bytes and a
// different MAC. With Fiber use c.BodyRaw(), never c.Body(): Body()
// decompresses according to Content-Encoding, without a size bound, and on a
// decompression failure returns the error text as if it were the body. Meta
// does not compress webhooks, so the server must reject any request that
// carries a Content-Encoding header (415 or 401) instead of decoding it.
//
// Constant time. The header's hex digest is decoded and compared with
// hmac.Equal against the expected 32-byte MAC. A missing header, a header
// without the "sha256=" prefix, non-hex digits or a digest of the wrong length
// is rejected before any comparison; these checks depend only on the header,
// which the attacker already knows, never on the secret. The verify token of
// the GET handshake is compared with crypto/subtle as well. Several app
// secrets may be tried in turn during a rotation ([VerifySignatureAny]).
//
// Body limits the server must set. Meta's payloads can reach 3 MB. The server
// must cap the body before reading it (Fiber's BodyLimit, a little above
// [MaxBodyBytes]) and set read, write and idle timeouts; [Decode] refuses
// anything larger than MaxBodyBytes as a second line of defence. Verify
// first, decode second: an unsigned body is never parsed. Copy c.BodyRaw()
// before keeping it past the handler, because Fiber reuses its buffers.
//
// Answers. Bad signature: 401 with a short generic body. Signed but
// malformed JSON ([Decode] returns an error): 400. Well-formed but irrelevant
// (another object, another field, an unknown phone number id): 200, so Meta
// does not redeliver it for a week. Answer 200 only after the batch has been
// stored durably.
//
// Personal data. Message texts and captions are [runtime.Answer] values and
// sender identities are [Identity] values; both redact themselves in fmt and
// slog. Profile names are never decoded. Error strings built here contain
// Graph error codes, titles and trace ids, never request bodies, tokens,
// phone numbers or message texts.
package whatsapp
