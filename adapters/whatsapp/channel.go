package whatsapp

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"sort"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/parleyhq/parley/adapters/host"
	"github.com/parleyhq/parley/engine/runtime"
)

// ChannelName is the WhatsApp channel's name in the host: subjects are
// derived from it and inbox and outbox entries carry it.
const ChannelName = "whatsapp"

// DefaultMaxAge is the default ChannelConfig.MaxAge: the length of the
// customer-service window, past which no free-form reply could go anyway.
const DefaultMaxAge = 24 * time.Hour

// MaxFuture is how far ahead of the server's clock a message timestamp may
// be (clock skew); further ahead counts as reason="future" and is dropped.
const MaxFuture = 5 * time.Minute

// ChannelConfig configures the WhatsApp channel of the host.
type ChannelConfig struct {
	AppSecret     string
	VerifyToken   string
	PhoneNumberID string
	// Client posts to the Graph API. Required.
	Client *Client
	// Pacer paces sends (nil: unpaced).
	Pacer *Pacer
	// MaxAttempts bounds attempts of one message (default 0: no bound; the
	// host retries a reply while the customer's window is open).
	MaxAttempts int
	// RetryDelay decides whether and after how long a failed send is
	// retried (required; RetryDelay with jitter in production).
	RetryDelay func(err error, attempt int) (time.Duration, bool)
	// MaxAge is how old a message may be and still drive a turn (default
	// DefaultMaxAge).
	MaxAge time.Duration
	// ReadReceipts marks inbound messages as read when their turn starts.
	ReadReceipts bool
	// Template returns a flow's outside_window template, if it has one.
	Template func(flow string) (name, lang string, ok bool)
}

// Channel is the Cloud API channel: it verifies and decodes webhooks into
// host.Accept calls, and renders, sends and classifies replies for the
// host under WhatsApp's window and pacing rules.
type Channel struct {
	cfg    ChannelConfig
	secret []byte
	h      *host.Host
}

var (
	_ host.Channel            = (*Channel)(nil)
	_ host.ReadMarker         = (*Channel)(nil)
	_ host.UnsupportedReplier = (*Channel)(nil)
)

// NewChannel returns the channel; Register attaches it to a host and an app.
func NewChannel(cfg ChannelConfig) *Channel {
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = DefaultMaxAge
	}
	return &Channel{cfg: cfg, secret: []byte(cfg.AppSecret)}
}

// Register registers the channel with h (answering new conversations with
// flow) and its webhook routes on app.
func (c *Channel) Register(app *fiber.App, h *host.Host, flow string) {
	c.h = h
	h.Register(c, flow)
	app.Get("/webhook/whatsapp", c.handshake)
	app.Post("/webhook/whatsapp", c.webhook)
}

// Name implements host.Channel.
func (c *Channel) Name() string { return ChannelName }

// Render implements host.Channel with Render.
func (c *Channel) Render(to, lang string, m runtime.Message) []host.Outbound {
	reqs := Render(to, lang, m)
	out := make([]host.Outbound, len(reqs))
	for i, r := range reqs {
		b, _ := encodeJSON(r) // the bytes the Graph API receives
		out[i] = host.Outbound{To: to, Req: b, Free: r.Type == "template"}
	}
	return out
}

// recipient is the user an outbox entry goes to (entries queued before
// Outbound.To existed name it only in the request).
func recipient(out host.Outbound) string {
	if out.To != "" {
		return out.To
	}
	var req SendRequest
	json.Unmarshal(out.Req, &req)
	return req.To + req.Recipient
}

// Send implements host.Channel: it waits for the recipient's pacing slot,
// then posts the request.
func (c *Channel) Send(ctx context.Context, out host.Outbound) (string, error) {
	if c.cfg.Pacer != nil {
		now := c.h.Now()
		if at := c.cfg.Pacer.Reserve(c.cfg.PhoneNumberID, recipient(out)); at.After(now) {
			t := time.NewTimer(at.Sub(now))
			defer t.Stop()
			select {
			case <-t.C:
			case <-ctx.Done():
				return "", ctx.Err()
			}
		}
	}
	return c.cfg.Client.SendJSON(ctx, out.Req)
}

// Classify implements host.Channel: 131047 closes the window of a free-form
// reply; otherwise RetryDelay and MaxAttempts decide, and a retry pauses the
// recipient (131056) or the whole number (throttled) meanwhile.
func (c *Channel) Classify(out host.Outbound, err error, attempt int, now time.Time) host.SendFailure {
	var apiErr *APIError
	errors.As(err, &apiErr)
	if apiErr != nil && apiErr.OutsideWindow() && !out.Free {
		return host.SendFailure{CloseWindow: true, Code: apiErr.Code}
	}
	f := host.SendFailure{}
	if apiErr != nil {
		f.Code = apiErr.Code
	}
	delay, retry := c.cfg.RetryDelay(err, attempt)
	if !retry || (c.cfg.MaxAttempts > 0 && attempt >= c.cfg.MaxAttempts) {
		return f
	}
	f.Retry, f.Delay = true, delay
	f.Uncertain = apiErr != nil && apiErr.Uncertain()
	if c.cfg.Pacer != nil && apiErr != nil {
		until := now.Add(delay)
		switch {
		case apiErr.PairRateLimited():
			c.cfg.Pacer.HoldUser(c.cfg.PhoneNumberID, recipient(out), until)
		case apiErr.Throttled():
			c.cfg.Pacer.HoldNumber(c.cfg.PhoneNumberID, until)
		}
	}
	return f
}

// WindowOpen implements host.Channel: the 24-hour customer-service window.
func (c *Channel) WindowOpen(lastInbound, now time.Time) bool { return WindowOpen(lastInbound, now) }

// TemplateOutbound is the send of an approved template without parameters
// to user to (a breach notification queued by the CLI).
func TemplateOutbound(to, name, lang string) host.Outbound {
	b, _ := encodeJSON(RenderTemplate(to, name, lang, nil))
	return host.Outbound{To: to, Req: b, Free: true}
}

// Reengage implements host.Channel: the flow's outside_window template.
func (c *Channel) Reengage(out host.Outbound, flow string) (host.Outbound, bool) {
	if c.cfg.Template == nil {
		return host.Outbound{}, false
	}
	name, lang, ok := c.cfg.Template(flow)
	if !ok {
		return host.Outbound{}, false
	}
	return TemplateOutbound(recipient(out), name, lang), true
}

// MarkRead implements host.ReadMarker when ReadReceipts is on.
func (c *Channel) MarkRead(ctx context.Context, msgID string) {
	if c.cfg.ReadReceipts {
		c.cfg.Client.MarkRead(ctx, msgID)
	}
}

// UnsupportedReply implements host.UnsupportedReplier.
func (c *Channel) UnsupportedReply(lang string) string { return UnsupportedReply(lang) }

func (c *Channel) handshake(ctx *fiber.Ctx) error {
	q, err := url.ParseQuery(string(ctx.Context().QueryArgs().QueryString()))
	if err != nil {
		return ctx.SendStatus(fiber.StatusBadRequest)
	}
	challenge, ok := VerifyHandshake(q, c.cfg.VerifyToken)
	if !ok || c.cfg.VerifyToken == "" {
		return ctx.SendStatus(fiber.StatusForbidden)
	}
	if !ValidChallenge(challenge) {
		// Meta's challenge is digits; anything else is never reflected.
		c.h.Logger().Warn("webhook handshake refused: hub.challenge is not 1 to 64 digits")
		return ctx.SendStatus(fiber.StatusBadRequest)
	}
	ctx.Set(fiber.HeaderContentType, fiber.MIMETextPlainCharsetUTF8)
	ctx.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	return ctx.SendString(challenge)
}

func (c *Channel) webhook(ctx *fiber.Ctx) error {
	mt := c.h.Metrics()
	m := mt.Webhooks
	log := c.h.Logger()
	if len(ctx.Request().Header.Peek(fiber.HeaderContentEncoding)) > 0 {
		m.WithLabelValues("bad_request").Inc()
		return ctx.SendStatus(fiber.StatusUnsupportedMediaType)
	}
	body := ctx.BodyRaw()
	if !VerifySignature(c.secret, body, ctx.Get(SignatureHeader)) {
		m.WithLabelValues("bad_signature").Inc()
		return ctx.SendStatus(fiber.StatusUnauthorized)
	}
	batch, err := Decode(body)
	if err != nil {
		if errors.Is(err, ErrBodyTooLarge) {
			m.WithLabelValues("too_large").Inc()
			return ctx.SendStatus(fiber.StatusRequestEntityTooLarge)
		}
		m.WithLabelValues("bad_request").Inc()
		return ctx.SendStatus(fiber.StatusBadRequest)
	}
	now := c.h.Now()
	// One customer's messages are processed in timestamp order, whatever
	// the order of the array (Meta does not guarantee it); equal timestamps
	// keep their arrival order. Messages are stored and queued in this
	// order, so a rescan after a crash replays them in it too.
	msgs := batch.Messages
	sort.SliceStable(msgs, func(i, j int) bool { return msgs[i].Timestamp.Before(msgs[j].Timestamp) })
	// All messages of the request are stored with one group commit and
	// acknowledged together.
	in := make([]host.Inbound, 0, len(msgs))
	stales := make([]string, 0, len(msgs))
	for _, msg := range msgs {
		if reason := c.misrouted(msg); reason != "" {
			mt.Misrouted.WithLabelValues(reason).Inc()
			log.Warn("webhook message for no business number of ours dropped", "reason", reason, "id", msg.ID)
			continue
		}
		key := msg.From.Key()
		if key == "" {
			continue
		}
		item := toMessage(msg, key, now)
		stale := staleReason(msg.Timestamp, now, c.cfg.MaxAge)
		if stale != "" {
			// Kept as an id only (no sender, no text), so a redelivery is a
			// duplicate, and never run. Acknowledged with the rest.
			item = host.Message{ID: msg.ID, At: item.At, Stale: true}
		}
		in = append(in, host.Inbound{User: key, Msg: item})
		stales = append(stales, stale)
	}
	dups, err := c.h.AcceptBatch(ctx.UserContext(), ChannelName, in)
	if err != nil {
		// Not all stored: answer 500 so Meta redelivers the batch; messages
		// already stored are deduplicated then.
		log.Error("inbox write failed", "err", err)
		m.WithLabelValues("error").Inc()
		return ctx.SendStatus(fiber.StatusInternalServerError)
	}
	for i, dup := range dups {
		if dup {
			m.WithLabelValues("duplicate").Inc()
			continue
		}
		if stale := stales[i]; stale != "" {
			mt.Stale.WithLabelValues(stale).Inc()
			log.Warn("webhook message outside the accepted time range dropped", "reason", stale, "id", in[i].Msg.ID,
				"subject", c.h.SubjectRef(ChannelName, in[i].User))
		}
	}
	for _, st := range batch.Statuses {
		ds := host.DeliveryStatus{ID: st.ID, Status: st.Status}
		for _, e := range st.Errors {
			ds.CloseWindow = ds.CloseWindow || e.Code == 131047
		}
		c.reportErrors("status", st.Errors)
		c.h.Status(ChannelName, ds)
	}
	c.reportErrors("value", batch.Errors)
	m.WithLabelValues("ok").Inc()
	return ctx.SendStatus(fiber.StatusOK)
}

// reportErrors logs and counts errors Meta reported in a webhook: their
// codes only (details can quote a message).
func (c *Channel) reportErrors(where string, errs []ErrorDetail) {
	for _, e := range errs {
		code := strconv.Itoa(e.Code)
		c.h.Metrics().ChannelErrors.WithLabelValues(where, code).Inc()
		c.h.Logger().Warn("WhatsApp reported an error in a webhook", "where", where, "code", e.Code)
	}
}

// misrouted returns why a message is not for the configured business number
// ("missing" or "foreign" phone_number_id), or "" when it is.
func (c *Channel) misrouted(msg InboundMessage) string {
	switch msg.PhoneNumberID {
	case c.cfg.PhoneNumberID:
		return ""
	case "":
		return "missing"
	}
	return "foreign"
}

// staleReason returns "old" for a message timestamped more than maxAge
// before now, "future" for one more than MaxFuture after it, else "". A
// message without a timestamp is taken as received now.
func staleReason(at, now time.Time, maxAge time.Duration) string {
	switch {
	case at.IsZero():
		return ""
	case now.Sub(at) > maxAge:
		return "old"
	case at.Sub(now) > MaxFuture:
		return "future"
	}
	return ""
}

func toMessage(msg InboundMessage, from string, now time.Time) host.Message {
	at := msg.Timestamp
	if at.IsZero() || at.After(now) {
		at = now
	}
	it := host.Message{ID: msg.ID, From: from, Type: msg.Type, Text: string(msg.Text), Choice: msg.Choice, Title: msg.Title,
		At: at.UnixNano(), NewFrom: msg.NewWaID, Campaign: msg.Campaign}
	if msg.Type == TypeButton && it.Text == "" {
		// A template's quick reply answers no question of the flow: its
		// label reads as typed (as in ToInbound), so a "Stop promotions"
		// button that a flow lists among its stop keywords works as STOP.
		it.Text = msg.Title
	}
	if _, ok := ToInbound(msg); !ok {
		it.Unsupported = msg.NeedsUnsupportedReply()
		it.Ignore = !it.Unsupported
	}
	return it
}

// RenderTemplate implements host.TemplateRenderer: an approved template
// with its body parameters, which WhatsApp delivers outside the window.
func (c *Channel) RenderTemplate(to, name, lang string, params []string) host.Outbound {
	b, _ := encodeJSON(RenderTemplate(to, name, lang, params))
	return host.Outbound{To: to, Req: b, Free: true}
}

var _ host.TemplateRenderer = (*Channel)(nil)
