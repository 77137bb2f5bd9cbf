package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/parleyhq/parley/engine/runtime"
	"github.com/parleyhq/parley/engine/session"
	"github.com/parleyhq/parley/engine/store"
)

// Config assembles a host.
type Config struct {
	// Store keeps conversations, the inbox and the outbox. Required.
	Store Store
	// Engine runs turns; its Store must be the same conversations as Store.
	// Required.
	Engine *runtime.Engine
	// Metrics receives the host's counters (NewMetrics when nil).
	Metrics *Metrics
	Logger  *slog.Logger
	// Now is the clock (tests move it by hand); time.Now when nil.
	Now func() time.Time
	// Workers and QueueDepth size the per-subject turn pool; Senders is the
	// number of sending workers (defaults 64, 256 and 32).
	Workers, QueueDepth, Senders int
	// RescanEvery is how often the inbox is searched for messages no worker
	// holds (default 30 s).
	RescanEvery time.Duration
	// RemindEvery is how often due reminders are queued (default 30 s).
	RemindEvery time.Duration
	// CanWrite, when set, is asked before an inbound message is stored: an
	// error (the disk is nearly full) refuses it, so the channel's sender
	// redelivers it later, and makes Ready fail.
	CanWrite func() error
	// Owner names this process in the leases it takes on a shared store
	// (diagnostics only; default host name/pid).
	Owner string
	// Lease is how long a claim on a shared store lasts without renewal
	// (renewed every third of it while the work runs): how long the work
	// of a process that died waits before another takes it over (default
	// 30 s). ClaimEvery is how often a shared store is asked for work
	// besides when this process stores a message or finishes some
	// (default 250 ms).
	Lease, ClaimEvery time.Duration
}

// unreadyAfterFailure is how long Ready fails after a store write failed.
const unreadyAfterFailure = 10 * time.Second

// Host runs conversations for its channels: inbox → per-conversation
// ordered workers → engine turn → one commit → sender with retry and
// pacing → acknowledgement, and recovers all of it after a crash.
type Host struct {
	cfg      Config
	log      *slog.Logger
	store    Store
	engine   *runtime.Engine
	metrics  *Metrics
	channels map[string]*bound
	first    string // the first channel registered (see inboxItem.Ch)

	ctx         context.Context
	turns       *Pool
	senders     *Pool
	inflight    sync.Map // channel+message id -> time.Time: queued or being processed
	outboxDepth atomic.Int64
	// sendMu guards sendQ: the send queues of the customers with replies
	// on their way (and nobody else).
	sendMu   sync.Mutex
	sendQ    map[string]*sendQueue
	sendIdle *sync.Cond // on sendMu: a queue emptied or began waiting for a retry
	stopOnce sync.Once
	// stopCtx ends when Stop gives up waiting: sends, and turn workers
	// waiting for a sending worker, stop then.
	stopCtx    context.Context
	stopCancel context.CancelFunc
	// acks carries sent outbox entries to ackLoop, which deletes them in
	// batches: one store write for many sends instead of one each.
	acks    chan ackReq
	ackDone chan struct{}
	bg      chan struct{} // closed when the rescan loop has stopped
	quit    chan struct{} // closed by Stop: no more rescans
	// failedAt is when a store write last failed (UnixNano; 0: none since
	// the last success).
	failedAt atomic.Int64
	// shared is set when several processes serve the store (shared.go).
	shared *shared
}

// bound is a registered channel and the flow that answers its new
// conversations.
type bound struct {
	ch   Channel
	flow string
}

// New builds a host. Nothing runs until Start.
func New(cfg Config) (*Host, error) {
	if cfg.Store == nil || cfg.Engine == nil {
		return nil, errors.New("host: Store and Engine are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics()
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 64
	}
	if cfg.QueueDepth <= 0 {
		cfg.QueueDepth = 256
	}
	if cfg.Senders <= 0 {
		cfg.Senders = 32
	}
	if cfg.RescanEvery <= 0 {
		cfg.RescanEvery = 30 * time.Second
	}
	if cfg.RemindEvery <= 0 {
		cfg.RemindEvery = 30 * time.Second
	}
	if cfg.Lease <= 0 {
		cfg.Lease = defaultLease
	}
	if cfg.ClaimEvery <= 0 {
		cfg.ClaimEvery = defaultClaimEvery
	}
	if cfg.Owner == "" {
		cfg.Owner = defaultOwner()
	}
	h := &Host{
		cfg: cfg, log: cfg.Logger, store: cfg.Store, engine: cfg.Engine, metrics: cfg.Metrics,
		channels: map[string]*bound{}, sendQ: map[string]*sendQueue{},
	}
	h.sendIdle = sync.NewCond(&h.sendMu)
	if ss, ok := sharedStore(cfg.Store); ok {
		h.shared = &shared{st: ss, owner: cfg.Owner}
	}
	return h, nil
}

// Register adds a channel whose new conversations run flow. It panics on an
// empty or duplicate name, or after Start: a programmer error, found at
// start-up.
func (h *Host) Register(ch Channel, flow string) {
	name := ch.Name()
	if name == "" {
		panic("host: a channel needs a name")
	}
	if _, dup := h.channels[name]; dup {
		panic("host: channel " + name + " registered twice")
	}
	if h.turns != nil {
		panic("host: channel " + name + " registered after Start")
	}
	if h.first == "" {
		h.first = name
	}
	h.channels[name] = &bound{ch: ch, flow: flow}
}

// Metrics returns the host's metrics.
func (h *Host) Metrics() *Metrics { return h.metrics }

// Logger returns the host's logger, for its channels.
func (h *Host) Logger() *slog.Logger { return h.log }

// Now returns the host's clock reading.
func (h *Host) Now() time.Time { return h.cfg.Now() }

// OutboxDepth is the number of replies queued for sending.
func (h *Host) OutboxDepth() int64 { return h.outboxDepth.Load() }

// Message is an inbound message as the inbox keeps it until its turn is
// committed. It holds the message text and the sender's id, so the store
// seals it under the subject's key. The JSON form is the one record codec
// of the inbox, whatever the channel.
type Message struct {
	// Ch is the channel; empty in entries stored before channels were
	// recorded, which belong to the first channel registered.
	Ch          string `json:"ch,omitempty"`
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
	// NewFrom is the customer's new id on a number change notice.
	NewFrom string `json:"new_from,omitempty"`
	// Campaign is the ad a conversation started from ("ad:<ad id>"), when
	// the channel reports one: never the ad's text or the click id.
	Campaign string `json:"campaign,omitempty"`
}

// outItem is one queued send: the channel's request and when the customer
// last wrote (for the channel's window).
type outItem struct {
	Ch string `json:"ch,omitempty"`
	Outbound
	InboundAt int64 `json:"in"`
	// Flow is the flow that produced the reply (its re-engagement replaces
	// the reply once the window has closed).
	Flow string `json:"flow,omitempty"`
	// Queued is when the reply was committed (UnixNano): a reply the
	// window does not bound is given up MaxReplyAge later.
	Queued int64 `json:"q,omitempty"`
}

// encodeOutItem is json.Marshal(oi) without reflection and without a
// second pass over the channel's request, which the channel encoded
// itself: a turn stores one per reply. Decoded with json.Unmarshal; a
// value it does not write by hand (a request that is not valid JSON, a
// string that is not UTF-8) goes through json.Marshal as before.
func encodeOutItem(oi outItem) []byte {
	if !json.Valid(oi.Req) || !utf8.ValidString(oi.Ch) || !utf8.ValidString(oi.To) || !utf8.ValidString(oi.Flow) {
		b, _ := json.Marshal(oi)
		return b
	}
	b := make([]byte, 0, len(oi.Req)+len(oi.Ch)+len(oi.To)+len(oi.Flow)+96)
	b = append(b, '{')
	if oi.Ch != "" {
		b = appendJSONString(append(b, `"ch":`...), oi.Ch)
		b = append(b, ',')
	}
	if oi.To != "" {
		b = appendJSONString(append(b, `"to":`...), oi.To)
		b = append(b, ',')
	}
	b = append(append(b, `"req":`...), oi.Req...)
	if oi.Free {
		b = append(b, `,"free":true`...)
	}
	b = strconv.AppendInt(append(b, `,"in":`...), oi.InboundAt, 10)
	if oi.Flow != "" {
		b = appendJSONString(append(b, `,"flow":`...), oi.Flow)
	}
	if oi.Queued != 0 {
		b = strconv.AppendInt(append(b, `,"q":`...), oi.Queued, 10)
	}
	return append(b, '}')
}

// appendJSONString appends s, valid UTF-8, as a JSON string.
func appendJSONString(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == '\t':
			b = append(b, '\\', 't')
		case c == '\b':
			b = append(b, '\\', 'b')
		case c == '\f':
			b = append(b, '\\', 'f')
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// OutboxPayload is the stored form of a send queued outside a turn (a
// breach notification): out goes on channel ch, queued at queued. The host
// delivers such entries like replies: paced, acknowledged, resumed after a
// restart; a Free one is given up MaxReplyAge after it was queued.
func OutboxPayload(ch string, out Outbound, queued time.Time) []byte {
	return encodeOutItem(outItem{Ch: ch, Outbound: out, Queued: queued.UnixNano()})
}

// Accept stores an inbound message from user on channel in the durable
// inbox and queues its turn. dup reports a message id seen before (nothing
// is done). An error means the message was not stored: the channel should
// make its sender deliver it again. A number change (m.NewFrom) is processed
// before Accept returns, so a later message from the new id finds the moved
// conversation.
func (h *Host) Accept(ctx context.Context, channel, user string, m Message) (dup bool, err error) {
	dups, err := h.AcceptBatch(ctx, channel, []Inbound{{User: user, Msg: m}})
	if err != nil {
		return false, err
	}
	return dups[0], nil
}

// Inbound is one message of AcceptBatch and its sender's id on the channel.
type Inbound struct {
	User string
	Msg  Message
}

// AcceptBatch is Accept for the messages of one request, with one group
// commit: they are stored, made durable together, then queued in the order
// given, so a channel acknowledges the request once, when all of it is
// durable. dups[i] reports in[i] seen before (or earlier in the request). A
// number change ends a group: it is processed before the messages after it
// are stored. An error means some messages may not be stored: the channel
// should make its sender deliver the request again (the stored ones are
// duplicates then).
func (h *Host) AcceptBatch(ctx context.Context, channel string, in []Inbound) (dups []bool, err error) {
	if _, ok := h.channels[channel]; !ok {
		return nil, fmt.Errorf("host: no channel %q", channel)
	}
	if h.cfg.CanWrite != nil {
		if err := h.cfg.CanWrite(); err != nil {
			h.storeFailed(err)
			return nil, fmt.Errorf("host: message not stored: %w", err)
		}
	}
	dups = make([]bool, 0, len(in))
	for lo := 0; lo < len(in); {
		hi := lo
		for hi < len(in) && in[hi].Msg.NewFrom == "" {
			hi++
		}
		hi = min(hi+1, len(in)) // the number change closes its group
		d, err := h.acceptGroup(ctx, channel, in[lo:hi])
		if err != nil {
			return nil, err
		}
		dups = append(dups, d...)
		lo = hi
	}
	return dups, nil
}

// acceptGroup stores in (no number change but maybe the last) with one
// group commit and queues the new messages in order.
func (h *Host) acceptGroup(ctx context.Context, channel string, in []Inbound) ([]bool, error) {
	items := make([]session.InboxItem, len(in))
	subjects := make([]string, len(in))
	for i := range in {
		m := &in[i].Msg
		m.Ch = channel
		subjects[i] = h.store.Subject(channel, in[i].User)
		payload, _ := json.Marshal(m)
		items[i] = session.InboxItem{MsgID: m.ID, Subject: subjects[i], Payload: payload}
	}
	dups, err := h.store.InboxPutBatch(ctx, items, h.cfg.Now())
	if err != nil {
		h.storeFailed(err)
		return nil, err
	}
	h.storeOK()
	for i, dup := range dups {
		if dup {
			continue
		}
		m := in[i].Msg
		if h.shared != nil {
			// Whichever process claims the conversation runs the turn. A
			// number change is waited for, as below: a message from the
			// new id accepted next must find the moved conversation.
			if m.NewFrom != "" {
				h.waitSettled(ctx, m.ID)
			} else {
				kick(h.shared.inKick)
			}
			continue
		}
		if m.NewFrom != "" {
			h.enqueueWait(subjects[i], m)
		} else {
			h.enqueue(subjects[i], m)
		}
	}
	return dups, nil
}

// SubjectRef returns the pseudonymous subject of a channel user, for logs.
func (h *Host) SubjectRef(channel, user string) string { return h.store.Subject(channel, user) }

// enqueue hands a stored message to the subject's worker. If the queue stays
// full the message simply waits in the durable inbox for the next rescan.
func (h *Host) enqueue(subject string, m Message) { h.submit(subject, m, nil) }

// enqueueWait is enqueue that waits (at most 5 s) until the message has
// been processed: the subject's earlier messages first, in queue order.
func (h *Host) enqueueWait(subject string, m Message) {
	done := make(chan struct{})
	if !h.submit(subject, m, done) {
		return
	}
	t := time.NewTimer(5 * time.Second)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	case <-h.stopCtx.Done():
	}
}

func inflightKey(m Message) string { return m.Ch + "\x00" + m.ID }

func (h *Host) submit(subject string, m Message, done chan struct{}) bool {
	key := inflightKey(m)
	if _, busy := h.inflight.LoadOrStore(key, time.Time{}); busy {
		return false
	}
	ctx, cancel := context.WithTimeout(h.stopCtx, 5*time.Second)
	defer cancel()
	err := h.turns.Submit(ctx, subject, func() {
		if done != nil {
			defer close(done)
		}
		h.process(subject, m, nil)
	})
	if err != nil {
		h.inflight.Delete(key)
		return false
	}
	return true
}

// process runs one inbound message through the engine and commits the new
// state, the rendered replies and the inbox mark in one transaction, and
// reports whether it did. lease is the message's claim on a shared store
// (acked in that transaction), nil otherwise.
func (h *Host) process(subject string, m Message, lease *store.Lease) (committed bool) {
	if lease == nil {
		defer func() {
			if committed {
				h.inflight.Store(inflightKey(m), time.Now())
			} else {
				h.inflight.Delete(inflightKey(m))
			}
		}()
	}
	b := h.channels[m.Ch]
	if b == nil {
		h.log.Error("inbox entry for a channel that is not served; it stays in the inbox", "subject", subject, "adapter", m.Ch)
		return false
	}
	ctx := h.ctx
	t0 := time.Now()
	switch {
	case m.Stale:
		// Judged at receipt: dropped, only its id is marked processed.
		if err := h.inboxDone(ctx, subject, m.ID, lease); err != nil {
			h.log.Error("stale message not marked done; it stays in the inbox", "subject", subject, "err", err)
			return false
		}
		return true
	case m.NewFrom != "":
		return h.changeNumber(ctx, subject, m, lease)
	}
	h.reopen(subject) // the customer wrote: the window is open again
	if rm, ok := b.ch.(ReadMarker); ok && !m.Ignore {
		go rm.MarkRead(ctx, m.ID)
	}

	// render fills items (sent from memory) and payloads (their stored form).
	var items []outItem
	var payloads [][]byte
	queuedAt := h.cfg.Now().UnixNano()
	render := func(msgs []runtime.Message, lang, flowID string) {
		items, payloads = items[:0], payloads[:0]
		for _, msg := range msgs {
			for _, out := range b.ch.Render(m.From, lang, msg) {
				oi := outItem{Ch: m.Ch, Outbound: out, InboundAt: m.At, Flow: flowID, Queued: queuedAt}
				items, payloads = append(items, oi), append(payloads, encodeOutItem(oi))
			}
		}
	}
	// The first reply's send starts right after the commit when nothing of
	// the subject's is waiting to be sent: it is committed as being sent,
	// instead of being marked so by a write of its own before the send.
	sending := h.shared == nil && h.nothingToSend(subject)
	var seqs []uint64
	var err error
	if m.Unsupported || m.Ignore {
		if ur, ok := b.ch.(UnsupportedReplier); ok && m.Unsupported {
			lang := ""
			if st, _ := h.store.Load(ctx, subject, h.cfg.Now()); st != nil {
				lang = st.Lang
			}
			render([]runtime.Message{{Kind: runtime.KindSay, Text: ur.UnsupportedReply(lang)}}, lang, b.flow)
		}
		seqs, err = h.store.Commit(ctx, subject, session.Extra{Outbox: payloads, OutboxSending: sending, InboxDone: m.ID, Lease: lease})
		if err != nil {
			h.storeFailed(err)
		}
	} else {
		in := runtime.Inbound{ID: m.ID, Text: runtime.Answer(m.Text), Choice: m.Choice, Campaign: m.Campaign}
		var turn runtime.Turn
		turn, _, err = h.engine.HandleWith(ctx, subject, b.flow, in,
			func(st *runtime.State, t runtime.Turn, now time.Time) error {
				st.LastInbound = time.Unix(0, m.At)
				address(st, m.Ch, m.From)
				render(t.Out, st.Lang, st.Flow)
				var err error
				seqs, err = h.store.SaveTurn(ctx, subject, st, t.Effects, now,
					session.Extra{Outbox: payloads, OutboxSending: sending, InboxDone: m.ID, Channel: m.Ch, User: m.From, Lease: lease})
				if err != nil {
					h.storeFailed(err) // a storage fault, not a flow's error
				}
				return err
			})
		if err == nil {
			h.metrics.Turns.WithLabelValues(m.Ch).Inc()
			h.metrics.TurnSeconds.Observe(time.Since(t0).Seconds())
			h.handoffEvents(subject, m.Ch, turn.Effects)
		}
	}
	if err != nil {
		// The message stays in the inbox and is retried at the next rescan.
		h.log.Error("turn failed; the message stays in the inbox", "subject", subject, "err", err)
		return false
	}
	h.storeOK()
	if h.shared != nil {
		kick(h.shared.outKick) // whichever process claims them sends them
		return true
	}
	queue := make([]queued, len(seqs))
	for i, seq := range seqs {
		queue[i] = queued{seq: seq, item: items[i]}
	}
	if sending && len(queue) > 0 {
		queue[0].status = session.OutboxSending
	}
	h.dispatch(subject, queue)
	return true
}

// inboxDone marks a message processed without a turn (and acks its claim).
func (h *Host) inboxDone(ctx context.Context, subject, msgID string, lease *store.Lease) error {
	if lease == nil {
		return h.store.InboxDone(ctx, msgID)
	}
	_, err := h.store.Commit(ctx, subject, session.Extra{InboxDone: msgID, Lease: lease})
	return err
}

// changeNumber handles a number change notice from the old id: the
// conversation, fields and consents move to the new id's subject, and the
// old subject is erased. When the new id already has data nothing is merged
// and the old subject is only erased. It reports whether the notice is done
// with.
func (h *Host) changeNumber(ctx context.Context, old string, m Message, lease *store.Lease) bool {
	res, err := h.store.Move(ctx, old, m.Ch, m.NewFrom, h.cfg.Now())
	if err != nil {
		h.log.Error("number change failed; the notice stays in the inbox", "subject", old, "err", err)
		return false
	}
	if res.To == old {
		return h.inboxDone(ctx, old, m.ID, lease) == nil
	}
	h.metrics.NumberChanges.WithLabelValues(res.Outcome).Inc()
	h.log.Info("customer changed number", "subject", old, "to", res.To, "outcome", res.Outcome,
		"fields", res.Fields, "consents", res.Consents, "reminders", res.Reminders, "contacts", res.Contacts)
	return true
}

// Chat runs one turn synchronously for a channel that answers in the same
// request (the web chat): nothing goes through the inbox or the outbox, the
// replies are returned. flowID is used for a new conversation.
func (h *Host) Chat(ctx context.Context, channel, flowID, user string, in runtime.Inbound) ([]runtime.Message, error) {
	if _, ok := h.channels[channel]; !ok {
		return nil, fmt.Errorf("host: no channel %q", channel)
	}
	subject := h.store.Subject(channel, user)
	t0 := time.Now()
	var out []runtime.Message
	turn, _, err := h.engine.HandleWith(ctx, subject, flowID, in, func(st *runtime.State, t runtime.Turn, now time.Time) error {
		address(st, channel, user)
		// What the team said since the page last asked goes first.
		out = append(st.Waiting, t.Out...)
		st.Waiting = nil
		_, err := h.store.SaveTurn(ctx, subject, st, t.Effects, now, session.Extra{})
		return err
	})
	if err != nil {
		return nil, err
	}
	h.metrics.Turns.WithLabelValues(channel).Inc()
	h.metrics.TurnSeconds.Observe(time.Since(t0).Seconds())
	h.handoffEvents(subject, channel, turn.Effects)
	return out, nil
}

// Status handles a channel's delivery report. The message's status is kept
// in the store (sent → delivered → read, or failed; never regressing) for
// the status map's lifetime; ids the host did not send, or has forgotten,
// count as unknown. A failure saying the customer's window has closed
// closes it for their replies still queued and is logged.
func (h *Host) Status(channel string, st DeliveryStatus) {
	label := st.Status
	switch label {
	case "sent", "delivered", "read", "failed":
	default:
		label = "other"
	}
	ctx := context.Background()
	if h.ctx != nil {
		ctx = context.WithoutCancel(h.ctx)
	}
	u, known, err := h.store.DeliveryStatus(ctx, statusKey(channel, st.ID), label)
	if err != nil {
		h.storeFailed(err)
		h.log.Error("delivery status not recorded", "err", err)
	}
	if !known {
		h.metrics.Statuses.WithLabelValues("unknown").Inc()
		return
	}
	h.metrics.Statuses.WithLabelValues(label).Inc()
	if st.Status == "failed" && st.CloseWindow && u.Status == "failed" {
		h.metrics.WindowClosed.Inc()
		h.log.Warn("delivery failed: the customer's window has closed; their queued replies wait for them to write", "subject", u.Subject)
		if h.shared != nil {
			h.closeWindowShared(ctx, u.Subject)
		}
		h.sendMu.Lock()
		if sq := h.sendQ[u.Subject]; sq != nil {
			sq.closed = true
		}
		h.sendMu.Unlock()
	}
}

// Ready reports whether the host can take work: an error while the disk
// guard (Config.CanWrite) refuses writes, or for a short while after a
// store write failed. It recovers by itself once writes succeed again.
func (h *Host) Ready() error {
	if h.cfg.CanWrite != nil {
		if err := h.cfg.CanWrite(); err != nil {
			return err
		}
	}
	if at := h.failedAt.Load(); at != 0 && time.Since(time.Unix(0, at)) < unreadyAfterFailure {
		return errors.New("host: the store failed a write")
	}
	return nil
}

// storeFailed and storeOK track the store's health for Ready.
func (h *Host) storeFailed(error) { h.failedAt.Store(time.Now().UnixNano()) }
func (h *Host) storeOK() {
	if h.failedAt.Load() != 0 {
		h.failedAt.Store(0)
	}
}

// Start recovers work left by a previous run (unacknowledged replies, then
// unprocessed messages) and starts the workers.
func (h *Host) Start(ctx context.Context) error {
	h.ctx = ctx
	h.stopCtx, h.stopCancel = context.WithCancel(ctx)
	h.acks = make(chan ackReq, 4096)
	h.ackDone = make(chan struct{})
	go h.ackLoop()
	h.turns = NewPool(h.cfg.Workers, h.cfg.QueueDepth)
	h.senders = NewPool(h.cfg.Senders, h.cfg.QueueDepth)
	// The panic value is not logged: it could quote a message or a value.
	h.turns.OnPanic = func(any) { h.log.Error("a turn panicked; the message stays in the inbox for the next rescan") }
	h.senders.OnPanic = func(any) { h.log.Error("a send panicked; the reply stays in the outbox for the next start") }
	if h.shared != nil {
		return h.startShared(ctx)
	}
	if err := h.recoverOutbox(ctx); err != nil {
		return err
	}
	if err := h.rescanInbox(ctx); err != nil {
		return err
	}
	h.bg, h.quit = make(chan struct{}), make(chan struct{})
	if _, ok := h.store.(Reminders); ok {
		go h.every(ctx, h.cfg.RemindEvery, func() {
			if _, _, err := h.RunReminders(ctx); err != nil {
				h.log.Error("reminder pass failed; due reminders stay scheduled", "err", err)
			}
		})
	}
	go func() {
		defer close(h.bg)
		h.every(ctx, h.cfg.RescanEvery, func() {
			if err := h.rescanInbox(ctx); err != nil {
				h.log.Error("inbox rescan failed", "err", err)
			}
		})
	}()
	return nil
}

// every runs fn every d until ctx is done or the host stops.
func (h *Host) every(ctx context.Context, d time.Duration, fn func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.quit:
			return
		case <-t.C:
			fn()
		}
	}
}

// rescanInbox queues every stored message that is not being processed.
func (h *Host) rescanInbox(ctx context.Context) error {
	// Messages committed before this scan started are not in it: their
	// marks are forgotten after it, so memory holds only the messages being
	// worked on (and those committed during the scan, until the next).
	snapshot := time.Now()
	defer h.inflight.Range(func(k, v any) bool {
		if t := v.(time.Time); !t.IsZero() && t.Before(snapshot) {
			h.inflight.Delete(k)
		}
		return true
	})
	pending, err := h.store.InboxPending(ctx)
	if err != nil {
		h.storeFailed(err)
		return err
	}
	for _, e := range pending {
		var m Message
		if err := json.Unmarshal(e.Payload, &m); err != nil {
			h.log.Error("inbox entry unreadable; dropped", "seq", e.Seq)
			h.store.InboxDone(ctx, e.MsgID)
			continue
		}
		if m.Ch == "" {
			m.Ch = h.first
		}
		if h.quitting() {
			return nil // Stop is closing the workers
		}
		h.enqueue(e.Subject, m)
	}
	return nil
}

func (h *Host) quitting() bool {
	return h.quit != nil && closed(h.quit) // nil: the rescan at Start
}

// Stop finishes queued turns, then waits for the senders, all until ctx is
// done, always: whatever is not sent by then stays in the durable outbox
// (and the inbox) for the next start. Turn workers waiting for a sending
// worker and sends still running give up at the deadline.
func (h *Host) Stop(ctx context.Context) error {
	var err error
	h.stopOnce.Do(func() {
		if h.turns == nil {
			return
		}
		stopAtDeadline := context.AfterFunc(ctx, h.stopCancel)
		defer stopAtDeadline()
		done := make(chan struct{})
		go func() {
			defer close(done)
			// The rescan must not submit to the workers once they are
			// closed.
			if h.quit != nil {
				close(h.quit)
				if h.shared == nil {
					<-h.bg
				}
			}
			h.turns.Close()
			if h.shared != nil {
				// Shared: the turns' replies, and each conversation's next
				// reply once the one before is acknowledged, are claimed
				// and sent before the outbox loop stops.
				h.drainOutbox(ctx)
				close(h.shared.quitOut)
				<-h.bg
			}
			h.waitSendsDue(ctx)
			h.senders.Close()
			h.stopCancel() // retry timers still pending restart nothing
			close(h.acks)
			<-h.ackDone
		}()
		select {
		case <-done:
		case <-ctx.Done():
			err = errors.New("host: outbox not flushed before the shutdown deadline; it is kept for the next start")
		}
	})
	return err
}

// Wait returns once the background rescan has stopped (after the Start
// context is done).
func (h *Host) Wait() {
	if h.bg != nil {
		<-h.bg
	}
}

// sortBySeq orders a subject's recovered entries as they were committed.
func sortBySeq(es []session.OutboxEntry) {
	sort.Slice(es, func(i, j int) bool { return es[i].Seq < es[j].Seq })
}
