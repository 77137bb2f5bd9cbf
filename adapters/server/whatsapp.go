package server

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/parleyhq/parley/adapters/whatsapp"
	"github.com/parleyhq/parley/engine/compile"
	"github.com/parleyhq/parley/engine/runtime"
	"github.com/parleyhq/parley/engine/session"
	"github.com/parleyhq/parley/engine/vault"
)

// WhatsAppConfig configures the WhatsApp channel (from PARLEY_WHATSAPP_*).
type WhatsAppConfig struct {
	AppSecret     string
	AccessToken   string
	VerifyToken   string
	PhoneNumberID string
	// Flow is the flow id that answers new conversations.
	Flow       string
	GraphURL   string // default whatsapp.DefaultBaseURL
	APIVersion string // default whatsapp.DefaultAPIVersion
	// RatePerSecond is the messages-per-second ceiling for the business
	// number. Zero selects the default: 80 (Meta's standard throughput) when
	// GraphURL is Meta's own host, none for any other URL (a test double or a
	// proxy that paces itself). Negative: no ceiling.
	RatePerSecond float64
	// UserGap is the minimum spacing between two messages to one user
	// (default 0: replies of one turn go out back to back, in order).
	UserGap time.Duration
	// MaxAttempts bounds retries of one message (default 12).
	MaxAttempts int
	// RetryDelay decides whether and after how long a failed send is
	// retried; nil uses whatsapp.RetryDelay with full jitter (capped at
	// 60 s). Tests shorten the waits with it.
	RetryDelay func(err error, attempt int) (time.Duration, bool)
	// HTTP is the client used for the Graph API (default: 15 s timeout).
	HTTP *http.Client
	// Senders is the number of concurrent sending workers (default 32).
	Senders int
	// ReadReceipts marks inbound messages as read (default off).
	ReadReceipts bool
	// MaxAge is how old (by its WhatsApp timestamp, against the server's
	// clock at receipt) a message may be and still drive a turn (default
	// DefaultMaxAge). Older ones are acknowledged, deduplicated, counted in
	// parley_webhook_stale_total{reason="old"} and dropped.
	MaxAge time.Duration
}

// DefaultMaxAge is the default WhatsAppConfig.MaxAge: the length of the
// customer-service window, past which no free-form reply could go anyway.
const DefaultMaxAge = 24 * time.Hour

// MaxFuture is how far ahead of the server's clock a message timestamp may
// be (clock skew); further ahead counts as reason="future" and is dropped.
const MaxFuture = 5 * time.Minute

const channelWhatsApp = "whatsapp"

// inboxItem is what the inbox keeps of an inbound message until its turn is
// committed. It holds the message text and the sender's id, so the vault
// seals it under the subject's key.
type inboxItem struct {
	ID          string `json:"id"`
	From        string `json:"from"`
	Type        string `json:"type"`
	Text        string `json:"text,omitempty"`
	Choice      string `json:"choice,omitempty"`
	Title       string `json:"title,omitempty"`
	At          int64  `json:"at"`
	Unsupported bool   `json:"unsupported,omitempty"`
	Ignore      bool   `json:"ignore,omitempty"`
	// Stale is set (with nothing else but ID and At) for a message that was
	// too old or too far in the future at receipt: it is kept only so its
	// id is deduplicated, and never drives a turn, even after a restart.
	Stale bool `json:"stale,omitempty"`
	// NewFrom is the customer's new id on a user_changed_number notice.
	NewFrom string `json:"new_from,omitempty"`
}

// outItem is one queued send: the Cloud API request and when the customer
// last wrote (for the 24-hour window).
type outItem struct {
	Req       whatsapp.SendRequest `json:"req"`
	InboundAt int64                `json:"in"`
	// Flow is the flow that produced the reply; its outside_window
	// template replaces the reply once the window has closed.
	Flow string `json:"flow,omitempty"`
}

type waChannel struct {
	s       *Server
	cfg     WhatsAppConfig
	secret  []byte
	client  *whatsapp.Client
	pacer   *whatsapp.Pacer
	turns   *Pool
	senders *Pool

	ctx         context.Context
	inflight    sync.Map // message id -> struct{}: queued or being processed
	outboxDepth atomic.Int64
	windowMu    sync.Mutex
	closed      map[vault.SubjectID]struct{} // window closed (131047) until the customer writes
	templated   map[vault.SubjectID]int64    // inbound time a re-engagement template was sent for
	sent        sync.Map                     // wamid -> subject, for status callbacks
	stopOnce    sync.Once
	// acks carries sent outbox entries to ackLoop, which deletes them in
	// batches: one vault write for many sends instead of one each.
	acks    chan uint64
	ackDone chan struct{}
}

func newWhatsApp(s *Server, cfg WhatsAppConfig) (*waChannel, error) {
	if cfg.AppSecret == "" || cfg.PhoneNumberID == "" || cfg.AccessToken == "" || cfg.Flow == "" {
		return nil, errors.New("whatsapp: PARLEY_WHATSAPP_APP_SECRET, _ACCESS_TOKEN, _PHONE_NUMBER_ID and _FLOW are all required")
	}
	if _, ok := s.flows.Get(cfg.Flow); !ok {
		return nil, errors.New("whatsapp: PARLEY_WHATSAPP_FLOW names a flow that is not loaded: " + cfg.Flow)
	}
	if cfg.RatePerSecond == 0 {
		cfg.RatePerSecond = -1
		if u := strings.TrimRight(cfg.GraphURL, "/"); u == "" || u == whatsapp.DefaultBaseURL {
			cfg.RatePerSecond = 80
		}
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 12
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = DefaultMaxAge
	}
	if cfg.Senders <= 0 {
		cfg.Senders = 32
	}
	if cfg.RetryDelay == nil {
		cfg.RetryDelay = func(err error, attempt int) (time.Duration, bool) {
			return whatsapp.RetryDelay(err, attempt, rand.Float64)
		}
	}
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{
			MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: 90 * time.Second}}
	}
	w := &waChannel{
		s: s, cfg: cfg, secret: []byte(cfg.AppSecret),
		client: &whatsapp.Client{BaseURL: cfg.GraphURL, APIVersion: cfg.APIVersion, PhoneNumberID: cfg.PhoneNumberID,
			AccessToken: cfg.AccessToken, HTTP: cfg.HTTP},
		closed:    map[vault.SubjectID]struct{}{},
		templated: map[vault.SubjectID]int64{},
	}
	if cfg.RatePerSecond > 0 || cfg.UserGap > 0 {
		rate := cfg.RatePerSecond
		if rate <= 0 {
			rate = 1e9
		}
		w.pacer = whatsapp.NewPacer(rate, max(1, int(rate)), cfg.UserGap, s.cfg.Now)
	}
	return w, nil
}

func (w *waChannel) register(app *fiber.App) {
	app.Get("/webhook/whatsapp", w.handshake)
	app.Post("/webhook/whatsapp", w.webhook)
}

func (w *waChannel) handshake(c *fiber.Ctx) error {
	q, err := url.ParseQuery(string(c.Context().QueryArgs().QueryString()))
	if err != nil {
		return c.SendStatus(fiber.StatusBadRequest)
	}
	challenge, ok := whatsapp.VerifyHandshake(q, w.cfg.VerifyToken)
	if !ok || w.cfg.VerifyToken == "" {
		return c.SendStatus(fiber.StatusForbidden)
	}
	if !whatsapp.ValidChallenge(challenge) {
		// Meta's challenge is digits; anything else is never reflected.
		w.s.log.Warn("webhook handshake refused: hub.challenge is not 1 to 64 digits")
		return c.SendStatus(fiber.StatusBadRequest)
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextPlainCharsetUTF8)
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	return c.SendString(challenge)
}

func (w *waChannel) webhook(c *fiber.Ctx) error {
	m := w.s.metrics.Webhooks
	if len(c.Request().Header.Peek(fiber.HeaderContentEncoding)) > 0 {
		m.WithLabelValues("bad_request").Inc()
		return c.SendStatus(fiber.StatusUnsupportedMediaType)
	}
	body := c.BodyRaw()
	if !whatsapp.VerifySignature(w.secret, body, c.Get(whatsapp.SignatureHeader)) {
		m.WithLabelValues("bad_signature").Inc()
		return c.SendStatus(fiber.StatusUnauthorized)
	}
	batch, err := whatsapp.Decode(body)
	if err != nil {
		if errors.Is(err, whatsapp.ErrBodyTooLarge) {
			m.WithLabelValues("too_large").Inc()
			return c.SendStatus(fiber.StatusRequestEntityTooLarge)
		}
		m.WithLabelValues("bad_request").Inc()
		return c.SendStatus(fiber.StatusBadRequest)
	}
	now := w.s.cfg.Now()
	// One customer's messages are processed in timestamp order, whatever
	// the order of the array (Meta does not guarantee it); equal timestamps
	// keep their arrival order. Messages are stored and queued in this
	// order, so a rescan after a crash replays them in it too.
	msgs := batch.Messages
	sort.SliceStable(msgs, func(i, j int) bool { return msgs[i].Timestamp.Before(msgs[j].Timestamp) })
	for _, msg := range msgs {
		if reason := w.misrouted(msg); reason != "" {
			w.s.metrics.Misrouted.WithLabelValues(reason).Inc()
			w.s.log.Warn("webhook message for no business number of ours dropped", "reason", reason, "id", msg.ID)
			continue
		}
		key := msg.From.Key()
		if key == "" {
			continue
		}
		subject := w.s.vault.SubjectID(channelWhatsApp, key)
		item := toItem(msg, key, now)
		stale := staleReason(msg.Timestamp, now, w.cfg.MaxAge)
		if stale != "" {
			// Kept as an id only (no sender, no text), so a redelivery is a
			// duplicate, and never run. Acknowledged with the rest.
			item = inboxItem{ID: msg.ID, At: item.At, Stale: true}
		}
		payload, _ := json.Marshal(item)
		dup, err := w.s.vault.InboxPut(msg.ID, subject, payload, now)
		if err != nil {
			// Not stored: answer 500 so Meta redelivers the batch; messages
			// already stored are deduplicated then.
			w.s.log.Error("inbox write failed", "err", err)
			m.WithLabelValues("error").Inc()
			return c.SendStatus(fiber.StatusInternalServerError)
		}
		if dup {
			m.WithLabelValues("duplicate").Inc()
			continue
		}
		if stale != "" {
			w.s.metrics.Stale.WithLabelValues(stale).Inc()
			w.s.log.Warn("webhook message outside the accepted time range dropped", "reason", stale, "id", msg.ID, "subject", subject)
		}
		if item.NewFrom != "" {
			// A number change must be done before any later message of the
			// delivery (which may come from the new number) is queued.
			w.enqueueWait(subject, item)
			continue
		}
		w.enqueue(subject, item)
	}
	for _, st := range batch.Statuses {
		w.status(st)
	}
	m.WithLabelValues("ok").Inc()
	return c.SendStatus(fiber.StatusOK)
}

// misrouted returns why a message is not for the configured business number
// ("missing" or "foreign" phone_number_id), or "" when it is.
func (w *waChannel) misrouted(msg whatsapp.InboundMessage) string {
	switch msg.PhoneNumberID {
	case w.cfg.PhoneNumberID:
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

func toItem(msg whatsapp.InboundMessage, from string, now time.Time) inboxItem {
	at := msg.Timestamp
	if at.IsZero() || at.After(now) {
		at = now
	}
	it := inboxItem{ID: msg.ID, From: from, Type: msg.Type, Text: string(msg.Text), Choice: msg.Choice, Title: msg.Title,
		At: at.UnixNano(), NewFrom: msg.NewWaID}
	if _, ok := whatsapp.ToInbound(msg); !ok {
		it.Unsupported = msg.NeedsUnsupportedReply()
		it.Ignore = !it.Unsupported
	}
	return it
}

// enqueue hands a stored message to the subject's worker. If the queue stays
// full the message simply waits in the durable inbox for the next rescan.
func (w *waChannel) enqueue(subject vault.SubjectID, it inboxItem) {
	w.submit(subject, it, nil)
}

// enqueueWait is enqueue that waits (at most 5 s) until the message has
// been processed: the subject's earlier messages first, in queue order.
func (w *waChannel) enqueueWait(subject vault.SubjectID, it inboxItem) {
	done := make(chan struct{})
	if !w.submit(subject, it, done) {
		return
	}
	t := time.NewTimer(5 * time.Second)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	case <-w.ctx.Done():
	}
}

func (w *waChannel) submit(subject vault.SubjectID, it inboxItem, done chan struct{}) bool {
	if _, busy := w.inflight.LoadOrStore(it.ID, time.Time{}); busy {
		return false
	}
	ctx, cancel := context.WithTimeout(w.ctx, 5*time.Second)
	defer cancel()
	err := w.turns.Submit(ctx, string(subject), func() {
		if done != nil {
			defer close(done)
		}
		w.process(subject, it)
	})
	if err != nil {
		w.inflight.Delete(it.ID)
		return false
	}
	return true
}

// process runs one inbound message through the engine and commits the new
// state, the rendered replies and the inbox mark in one transaction.
func (w *waChannel) process(subject vault.SubjectID, it inboxItem) {
	committed := false
	defer func() {
		if committed {
			w.inflight.Store(it.ID, time.Now())
		} else {
			w.inflight.Delete(it.ID)
		}
	}()
	ctx := w.ctx
	t0 := time.Now()
	switch {
	case it.Stale:
		// Judged at receipt: dropped, only its id is marked processed.
		if err := w.s.vault.InboxDone(it.ID); err != nil {
			w.s.log.Error("stale message not marked done; it stays in the inbox", "subject", subject, "err", err)
			return
		}
		committed = true
		return
	case it.NewFrom != "":
		committed = w.changeNumber(subject, it)
		return
	}
	w.windowMu.Lock()
	delete(w.closed, subject) // the customer wrote: the window is open again
	delete(w.templated, subject)
	w.windowMu.Unlock()
	if w.cfg.ReadReceipts && !it.Ignore {
		go w.client.MarkRead(ctx, it.ID)
	}

	// render fills items (sent from memory) and payloads (their stored form).
	var items []outItem
	var payloads [][]byte
	render := func(msgs []runtime.Message, lang, flowID string) {
		items, payloads = items[:0], payloads[:0]
		for _, m := range msgs {
			for _, req := range whatsapp.Render(it.From, lang, m) {
				oi := outItem{Req: req, InboundAt: it.At, Flow: flowID}
				b, _ := json.Marshal(oi)
				items, payloads = append(items, oi), append(payloads, b)
			}
		}
	}
	var seqs []uint64
	var err error
	if it.Unsupported || it.Ignore {
		if it.Unsupported {
			lang := ""
			if st, _ := w.s.store.Load(ctx, subject.Hex(), w.s.cfg.Now()); st != nil {
				lang = st.Lang
			}
			render([]runtime.Message{{Kind: runtime.KindSay, Text: whatsapp.UnsupportedReply(lang)}}, lang, w.cfg.Flow)
		}
		seqs, err = w.s.vault.CommitTurn(subject, vault.Change{Outbox: payloads, InboxDone: it.ID})
	} else {
		in := runtime.Inbound{ID: it.ID, Text: runtime.Answer(it.Text), Choice: it.Choice}
		_, _, err = w.s.engine.HandleWith(ctx, subject.Hex(), w.cfg.Flow, in,
			func(st *runtime.State, t runtime.Turn, now time.Time) error {
				st.LastInbound = time.Unix(0, it.At)
				render(t.Out, st.Lang, st.Flow)
				var err error
				seqs, err = w.s.store.SaveTurn(ctx, subject.Hex(), st, t.Effects, now,
					session.Extra{Outbox: payloads, InboxDone: it.ID})
				return err
			})
		if err == nil {
			w.s.metrics.Turns.WithLabelValues(channelWhatsApp).Inc()
			w.s.metrics.TurnSeconds.Observe(time.Since(t0).Seconds())
		}
	}
	if err != nil {
		// The message stays in the inbox and is retried at the next rescan.
		w.s.log.Error("turn failed; the message stays in the inbox", "subject", subject, "err", err)
		return
	}
	committed = true
	queue := make([]queued, len(seqs))
	for i, seq := range seqs {
		queue[i] = queued{seq: seq, item: items[i]}
	}
	w.dispatch(subject, queue, false)
}

// changeNumber handles a user_changed_number notice from the old id: the
// conversation, fields and consents move to the new id's subject
// (vault.Move), and the old subject is erased. When the new id already has
// data nothing is merged and the old subject is only erased. It reports
// whether the notice is done with.
func (w *waChannel) changeNumber(old vault.SubjectID, it inboxItem) bool {
	to := w.s.vault.SubjectID(channelWhatsApp, it.NewFrom)
	if to == old {
		return w.s.vault.InboxDone(it.ID) == nil
	}
	res, err := w.s.vault.Move(old, to, w.s.cfg.Now())
	if err != nil {
		w.s.log.Error("number change failed; the notice stays in the inbox", "subject", old, "err", err)
		return false
	}
	w.windowMu.Lock()
	delete(w.closed, old)
	delete(w.templated, old)
	w.windowMu.Unlock()
	w.s.metrics.NumberChanges.WithLabelValues(res.Outcome).Inc()
	w.s.log.Info("customer changed number", "subject", old, "to", to, "outcome", res.Outcome,
		"fields", res.Fields, "consents", res.Consents)
	return true
}

// queued is an outbox entry on its way to the sender.
type queued struct {
	seq  uint64
	item outItem
}

// dispatch hands a subject's queued replies to its sending worker, in order.
func (w *waChannel) dispatch(subject vault.SubjectID, queue []queued, recovered bool) {
	if len(queue) == 0 {
		return
	}
	w.outboxDepth.Add(int64(len(queue)))
	job := func() {
		for _, q := range queue {
			w.send(subject, q.seq, q.item, recovered)
			w.outboxDepth.Add(-1)
		}
	}
	// Block rather than drop: the entries are durable either way, but
	// waiting here applies back-pressure to the turn workers.
	if err := w.senders.Submit(w.ctx, string(subject), job); err != nil {
		w.outboxDepth.Add(-int64(len(queue)))
	}
}

// send delivers one outbox entry, retrying transient failures with backoff.
func (w *waChannel) send(subject vault.SubjectID, seq uint64, it outItem, recovered bool) {
	m := w.s.metrics
	if recovered {
		// Committed before a crash and not acknowledged: it may have been
		// delivered already. An upper bound of duplicates, not a count.
		m.DuplicateSends.Inc()
	}
	for attempt := 1; ; attempt++ {
		now := w.s.cfg.Now()
		if it.Req.Type != "template" && (!whatsapp.WindowOpen(time.Unix(0, it.InboundAt), now) || w.windowClosed(subject)) {
			// Free-form messages are not allowed outside the customer-service
			// window. The flow's outside_window template, if it has one, goes
			// instead of the first such reply of the turn; the rest are dropped.
			tpl := w.outsideWindowTemplate(it.Flow)
			if tpl == nil || !w.markTemplated(subject, it.InboundAt) {
				m.OutboxFailed.Inc()
				w.s.log.Warn("reply not sent: outside the 24-hour window", "subject", subject, "seq", seq)
				w.s.vault.OutboxDone(seq)
				return
			}
			it.Req = whatsapp.RenderTemplate(it.Req.To+it.Req.Recipient, tpl.Name, tpl.Language, nil)
			w.s.log.Info("outside the 24-hour window: sending the flow's template instead", "subject", subject, "seq", seq)
		}
		if at := w.reserve(it.Req, now); at.After(now) {
			if !w.sleep(at.Sub(now)) {
				return // shutting down: the entry stays queued
			}
		}
		wamid, err := w.client.Send(w.ctx, it.Req)
		if err == nil {
			m.OutboxSent.Inc()
			w.sent.Store(wamid, subject)
			w.acks <- seq
			return
		}
		var apiErr *whatsapp.APIError
		errors.As(err, &apiErr)
		if apiErr != nil && apiErr.OutsideWindow() && it.Req.Type != "template" {
			w.closeWindow(subject)
			continue // the next iteration sends the template or drops the reply
		}
		if w.ctx.Err() != nil {
			return
		}
		delay, retry := w.cfg.RetryDelay(err, attempt)
		if !retry || attempt >= w.cfg.MaxAttempts {
			m.OutboxFailed.Inc()
			code := 0
			if apiErr != nil {
				code = apiErr.Code
			}
			w.s.log.Error("reply failed permanently", "subject", subject, "seq", seq, "code", code, "attempts", attempt)
			w.s.vault.OutboxDone(seq)
			return
		}
		if apiErr != nil && apiErr.Uncertain() {
			m.DuplicateSends.Inc() // the first attempt may have been delivered
		}
		w.hold(apiErr, it.Req, now.Add(delay))
		m.OutboxRetries.Inc()
		w.s.vault.OutboxUpdate(seq, vault.OutboxUpdate{Status: "retrying", Attempts: attempt, NextAttempt: now.Add(delay)})
		if !w.sleep(delay) {
			return
		}
	}
}

// reserve books the next send slot for the recipient; zero when unpaced.
func (w *waChannel) reserve(req whatsapp.SendRequest, now time.Time) time.Time {
	if w.pacer == nil {
		return time.Time{}
	}
	return w.pacer.Reserve(w.cfg.PhoneNumberID, req.To+req.Recipient)
}

// hold pauses the recipient (131056) or the whole number (throttled) until
// the retry time, so other sends do not hit the same limit meanwhile.
func (w *waChannel) hold(apiErr *whatsapp.APIError, req whatsapp.SendRequest, until time.Time) {
	if w.pacer == nil || apiErr == nil {
		return
	}
	switch {
	case apiErr.PairRateLimited():
		w.pacer.HoldUser(w.cfg.PhoneNumberID, req.To+req.Recipient, until)
	case apiErr.HTTPStatus == http.StatusTooManyRequests || apiErr.Code == 130429:
		w.pacer.HoldNumber(w.cfg.PhoneNumberID, until)
	}
}

func (w *waChannel) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-w.ctx.Done():
		return false
	}
}

// outsideWindowTemplate returns the flow's re-engagement template, if any.
func (w *waChannel) outsideWindowTemplate(flowID string) *compile.WhatsAppTemplate {
	p, ok := w.s.flows.Get(flowID)
	if !ok {
		return nil
	}
	if t, ok := p.OutsideWindowTemplate(); ok {
		return &t
	}
	return nil
}

// markTemplated records that the template for the turn answering the
// message received at inboundAt is being sent; false if it already was.
func (w *waChannel) markTemplated(s vault.SubjectID, inboundAt int64) bool {
	w.windowMu.Lock()
	defer w.windowMu.Unlock()
	if w.templated[s] == inboundAt {
		return false
	}
	w.templated[s] = inboundAt
	return true
}

func (w *waChannel) windowClosed(s vault.SubjectID) bool {
	w.windowMu.Lock()
	defer w.windowMu.Unlock()
	_, closed := w.closed[s]
	return closed
}

func (w *waChannel) closeWindow(s vault.SubjectID) {
	w.windowMu.Lock()
	w.closed[s] = struct{}{}
	w.windowMu.Unlock()
}

// status handles a delivery callback. Unknown message ids are ignored.
func (w *waChannel) status(st whatsapp.Status) {
	v, known := w.sent.Load(st.ID)
	if !known {
		w.s.metrics.Statuses.WithLabelValues("unknown").Inc()
		return
	}
	label := st.Status
	switch label {
	case "sent", "delivered", "read", "failed":
	default:
		label = "other"
	}
	w.s.metrics.Statuses.WithLabelValues(label).Inc()
	switch st.Status {
	case "read":
		w.sent.Delete(st.ID)
	case "failed":
		w.sent.Delete(st.ID)
		for _, e := range st.Errors {
			if e.Code == 131047 {
				w.closeWindow(v.(vault.SubjectID))
			}
		}
	}
}

// start recovers work left by a previous run, then starts the workers.
func (w *waChannel) start(ctx context.Context) error {
	w.ctx = ctx
	w.acks = make(chan uint64, 4096)
	w.ackDone = make(chan struct{})
	go w.ackLoop()
	w.turns = NewPool(w.s.cfg.Workers, w.s.cfg.QueueDepth)
	w.senders = NewPool(w.cfg.Senders, w.s.cfg.QueueDepth)
	// The panic value is not logged: it could quote a message or a value.
	w.turns.OnPanic = func(any) { w.s.log.Error("a turn panicked; the message stays in the inbox for the next rescan") }
	w.senders.OnPanic = func(any) { w.s.log.Error("a send panicked; the reply stays in the outbox for the next start") }
	if err := w.recoverOutbox(); err != nil {
		return err
	}
	if err := w.rescanInbox(); err != nil {
		return err
	}
	go every(ctx, 30*time.Second, func() {
		if err := w.rescanInbox(); err != nil {
			w.s.log.Error("inbox rescan failed", "err", err)
		}
	})
	return nil
}

// ackLoop removes sent entries from the outbox, batching whatever has
// arrived meanwhile into one vault write. An entry whose removal a crash
// prevents is sent again at the next start (and counted as a possible
// duplicate).
func (w *waChannel) ackLoop() {
	defer close(w.ackDone)
	batch := make([]uint64, 0, 256)
	for seq := range w.acks {
		batch = append(batch[:0], seq)
	fill:
		for len(batch) < cap(batch) {
			select {
			case s, ok := <-w.acks:
				if !ok {
					break fill
				}
				batch = append(batch, s)
			default:
				break fill
			}
		}
		if err := w.s.vault.OutboxDoneMany(batch); err != nil {
			w.s.log.Error("outbox acknowledgement failed; entries will be sent again after a restart", "entries", len(batch), "err", err)
		}
	}
}

// recoverOutbox re-queues replies that were committed but not acknowledged.
// Any of them may already have reached the customer just before the crash,
// so each is counted as a possible duplicate when sent again.
func (w *waChannel) recoverOutbox() error {
	pending, err := w.s.vault.OutboxPending()
	if err != nil {
		return err
	}
	bySubject := map[vault.SubjectID][]vault.OutboxEntry{}
	var order []vault.SubjectID
	for _, e := range pending {
		if _, ok := bySubject[e.Subject]; !ok {
			order = append(order, e.Subject)
		}
		bySubject[e.Subject] = append(bySubject[e.Subject], e)
	}
	for _, s := range order {
		es := bySubject[s]
		sort.Slice(es, func(i, j int) bool { return es[i].Seq < es[j].Seq })
		queue := make([]queued, 0, len(es))
		for _, e := range es {
			var it outItem
			if err := json.Unmarshal(e.Payload, &it); err != nil {
				w.s.log.Error("outbox entry unreadable; dropped", "seq", e.Seq)
				w.s.vault.OutboxDone(e.Seq)
				continue
			}
			queue = append(queue, queued{seq: e.Seq, item: it})
		}
		w.dispatch(s, queue, true)
	}
	if len(pending) > 0 {
		w.s.log.Info("outbox recovered", "entries", len(pending))
	}
	return nil
}

// rescanInbox queues every stored message that is not being processed.
func (w *waChannel) rescanInbox() error {
	cutoff := time.Now().Add(-5 * time.Minute)
	w.inflight.Range(func(k, v any) bool {
		if t := v.(time.Time); !t.IsZero() && t.Before(cutoff) {
			w.inflight.Delete(k)
		}
		return true
	})
	pending, err := w.s.vault.InboxPending()
	if err != nil {
		return err
	}
	for _, e := range pending {
		var it inboxItem
		if err := json.Unmarshal(e.Payload, &it); err != nil {
			w.s.log.Error("inbox entry unreadable; dropped", "seq", e.Seq)
			w.s.vault.InboxDone(e.MsgID)
			continue
		}
		w.enqueue(e.Subject, it)
	}
	return nil
}

// stop finishes queued turns, then waits for the senders until ctx is done.
func (w *waChannel) stop(ctx context.Context) error {
	var err error
	w.stopOnce.Do(func() {
		if w.turns == nil {
			return
		}
		w.turns.Close()
		done := make(chan struct{})
		go func() {
			w.senders.Close()
			close(w.acks)
			<-w.ackDone
			close(done)
		}()
		select {
		case <-done:
		case <-ctx.Done():
			err = errors.New("whatsapp: outbox not flushed before the shutdown deadline; it is kept for the next start")
		}
	})
	return err
}
