package host

import (
	"context"
	"encoding/json"
	"time"

	"github.com/parleyhq/parley/engine/session"
	"github.com/parleyhq/parley/engine/store"
)

// MaxReplyAge is how long the host keeps trying to send a reply the
// channel's window rules do not bound (a template): a reply older than this
// is no longer useful and is given up. Free-form replies are retried until
// the channel's window closes (WindowOpen), however many attempts that takes.
const MaxReplyAge = 24 * time.Hour

// storeRetry is how long a customer's sending pauses when the store cannot
// record a send (a failing disk) before it tries again.
const storeRetry = time.Second

// queued is an outbox entry on its way to the sender.
type queued struct {
	seq  uint64
	item outItem
	// status is the stored status: "" or session.OutboxQueued until a send starts.
	status  string
	attempt int // failed attempts so far
	// sentID is set once the channel accepted the entry: only its
	// acknowledgement is left (never a second send).
	sentID string
	// maybeSent marks a recovered entry whose send had started before the
	// restart: sending it again may deliver it twice.
	maybeSent bool
	// lease is the entry's claim on a shared store (shared.go).
	lease *store.Lease
	// storeErr: the last attempt stopped because the store failed a write
	// (not the channel).
	storeErr bool
}

// sendQueue is one customer's replies on their way out, in commit order.
// Only customers with replies queued, being sent or waiting for a retry have
// one; it is dropped with its last reply, so the host's memory follows the
// conversations being worked on, not every customer ever seen.
type sendQueue struct {
	items []queued
	// running: a drain is queued, running, or waiting for a retry timer.
	running bool
	// closed: the channel said the window closed; until the customer
	// writes, free-form replies are replaced or dropped.
	closed bool
	// templated is the inbound time whose re-engagement was sent.
	templated int64
	// retryAt is when a drain waiting for a retry timer resumes (zero
	// while a drain is queued or running).
	retryAt time.Time
}

// dispatch appends a subject's committed replies to its send queue and
// starts its drain if none runs. A customer waiting out a backoff holds no
// worker, so other customers are never delayed by it.
func (h *Host) dispatch(subject string, queue []queued) {
	if len(queue) == 0 {
		return
	}
	h.outboxDepth.Add(int64(len(queue)))
	h.sendMu.Lock()
	sq := h.sendQ[subject]
	if sq == nil {
		sq = &sendQueue{}
		h.sendQ[subject] = sq
	}
	sq.items = append(sq.items, queue...)
	start := !sq.running
	sq.running = true
	h.sendMu.Unlock()
	if start {
		h.startDrain(subject)
	}
}

// nothingToSend reports whether the subject has no reply waiting to be sent or
// being sent: a reply queued now is sent next.
func (h *Host) nothingToSend(subject string) bool {
	h.sendMu.Lock()
	defer h.sendMu.Unlock()
	sq := h.sendQ[subject]
	return sq == nil || len(sq.items) == 0
}

// startDrain queues the subject's drain on its sending worker. It blocks
// while the worker's queue is full (back-pressure on the turn workers) and
// gives up when the host stops: the entries are durable and sent at the
// next start.
func (h *Host) startDrain(subject string) {
	if err := h.senders.Submit(h.stopCtx, subject, func() { h.drain(subject) }); err != nil {
		h.forget(subject)
	}
}

// forget drops a subject's queue from memory (its entries stay in the
// durable outbox).
func (h *Host) forget(subject string) {
	h.sendMu.Lock()
	if sq := h.sendQ[subject]; sq != nil {
		h.outboxDepth.Add(-int64(len(sq.items)))
		delete(h.sendQ, subject)
		h.sendIdle.Broadcast()
	}
	h.sendMu.Unlock()
}

// drain sends the subject's queue in order until it is empty, a reply must
// wait for a retry (a timer restarts the drain) or the host stops.
func (h *Host) drain(subject string) {
	for {
		h.sendMu.Lock()
		sq := h.sendQ[subject]
		if sq == nil {
			h.sendMu.Unlock()
			return
		}
		if len(sq.items) == 0 {
			delete(h.sendQ, subject)
			h.sendIdle.Broadcast()
			h.sendMu.Unlock()
			return
		}
		sq.retryAt = time.Time{}
		q := sq.items[0]
		h.sendMu.Unlock()
		if h.stopCtx.Err() != nil {
			h.forget(subject)
			return
		}
		delay, done := h.sendHead(subject, sq, &q)
		h.sendMu.Lock()
		sq.items[0] = q
		if done {
			sq.items[0] = queued{}
			sq.items = sq.items[1:]
		} else {
			sq.retryAt = time.Now().Add(delay)
			h.sendIdle.Broadcast()
		}
		h.sendMu.Unlock()
		if done {
			h.outboxDepth.Add(-1)
			continue
		}
		if h.stopCtx.Err() != nil {
			h.forget(subject)
			return
		}
		time.AfterFunc(delay, func() { h.startDrain(subject) })
		return
	}
}

// sendHead delivers the subject's first queued reply and acknowledges it.
// done reports the reply finished with (sent, dropped or given up);
// otherwise it is tried again after delay.
func (h *Host) sendHead(subject string, sq *sendQueue, q *queued) (delay time.Duration, done bool) {
	m := h.metrics
	ctx := h.stopCtx
	it := &q.item
	b := h.channels[it.Ch]
	if b == nil {
		h.log.Error("outbox entry for a channel that is not served; it stays in the outbox", "subject", subject, "seq", q.seq, "adapter", it.Ch)
		return 0, true
	}
	ch := b.ch
	for q.sentID == "" {
		// On a shared store: still ours, before anything is decided or
		// recorded about it.
		if !h.stillHeld(ctx, q) {
			h.log.Warn("claim lost before the send; the reply is another instance's now", "subject", subject, "seq", q.seq)
			return 0, true
		}
		now := h.cfg.Now()
		if !it.Free && (!ch.WindowOpen(time.Unix(0, it.InboundAt), now) || h.windowClosed(sq)) {
			// Free-form messages are not allowed outside the channel's
			// window. The channel's re-engagement (the flow's template), if
			// any, goes instead of the first such reply of the turn; the
			// rest are dropped.
			re, ok := ch.Reengage(it.Outbound, it.Flow)
			if !ok || !h.markTemplated(subject, sq, q) {
				m.OutboxFailed.Inc()
				h.log.Warn("reply not sent: outside the 24-hour window", "subject", subject, "seq", q.seq)
				h.outboxDone(ctx, q)
				return 0, true
			}
			it.Outbound = re
			h.log.Info("outside the 24-hour window: sending the flow's template instead", "subject", subject, "seq", q.seq)
		}
		queuedAt := it.Queued
		if queuedAt == 0 { // queued by an older version: no later than its inbound message
			queuedAt = it.InboundAt
		}
		if it.Free && queuedAt != 0 && now.Sub(time.Unix(0, queuedAt)) > MaxReplyAge {
			m.OutboxFailed.Inc()
			h.log.Error("reply given up: not sent within its useful life", "subject", subject, "seq", q.seq, "attempts", q.attempt)
			h.outboxDone(ctx, q)
			return 0, true
		}
		if q.status == "" || q.status == session.OutboxQueued {
			// Recorded before the send: after a crash only entries marked
			// so may have reached the customer.
			if err := h.write(ackReq{ack: session.Ack{Seq: q.seq}, mark: true}); err != nil {
				h.storeFailed(err)
				h.log.Error("outbox send mark failed; retrying it before the send", "subject", subject, "seq", q.seq, "err", err)
				q.storeErr = true
				return storeRetry, false
			}
			q.status = session.OutboxSending
		}
		if q.maybeSent {
			m.DuplicateSends.Inc()
			q.maybeSent = false
		}
		id, err := ch.Send(ctx, it.Outbound)
		if err == nil {
			m.OutboxSent.Inc()
			q.sentID = id
			break
		}
		if ctx.Err() != nil {
			return 0, false // shutting down: the entry stays queued
		}
		q.attempt++
		f := ch.Classify(it.Outbound, err, q.attempt, now)
		if f.CloseWindow && !it.Free {
			h.closeWindow(sq)
			if q.lease != nil {
				h.closeWindowShared(context.WithoutCancel(ctx), subject)
			}
			continue // the next iteration sends the template or drops the reply
		}
		if !f.Retry {
			m.OutboxFailed.Inc()
			h.log.Error("reply failed permanently", "subject", subject, "seq", q.seq, "code", f.Code, "attempts", q.attempt)
			h.outboxDone(ctx, q)
			return 0, true
		}
		if f.Uncertain {
			m.DuplicateSends.Inc() // the failed attempt may have been delivered
		}
		m.OutboxRetries.Inc()
		h.store.OutboxRetry(ctx, q.seq, q.attempt, now.Add(f.Delay))
		return f.Delay, false
	}
	// Acknowledged before the customer's next reply is sent: a crash can
	// then repeat at most this reply, never an older one after a newer.
	var next uint64
	h.sendMu.Lock()
	if len(sq.items) > 1 && (sq.items[1].status == "" || sq.items[1].status == "queued") {
		next = sq.items[1].seq
	}
	h.sendMu.Unlock()
	if err := h.write(ackReq{ack: session.Ack{Seq: q.seq, Subject: subject, ChannelMsgID: statusKey(it.Ch, q.sentID), Next: next, Lease: q.lease}}); err != nil {
		h.storeFailed(err)
		h.log.Error("outbox acknowledgement failed; retrying it (the reply is not sent again)", "subject", subject, "seq", q.seq, "err", err)
		q.storeErr = true
		return storeRetry, false
	}
	h.storeOK()
	if next != 0 {
		h.sendMu.Lock()
		if len(sq.items) > 1 && sq.items[1].seq == next {
			sq.items[1].status = session.OutboxSending
		}
		h.sendMu.Unlock()
	}
	return 0, true
}

// waitSendsDue waits until every send queue is empty or waiting for a
// retry due after ctx's deadline (any retry when it has none), or until ctx
// is done: Stop lets the sends that can still finish in time finish.
func (h *Host) waitSendsDue(ctx context.Context) {
	deadline, _ := ctx.Deadline()
	stop := context.AfterFunc(ctx, func() {
		h.sendMu.Lock()
		h.sendIdle.Broadcast()
		h.sendMu.Unlock()
	})
	defer stop()
	h.sendMu.Lock()
	defer h.sendMu.Unlock()
	for ctx.Err() == nil {
		busy := false
		for _, sq := range h.sendQ {
			if sq.retryAt.IsZero() || (!deadline.IsZero() && sq.retryAt.Before(deadline)) {
				busy = true
				break
			}
		}
		if !busy {
			return
		}
		h.sendIdle.Wait()
	}
}

// statusKey is the id delivery statuses of a sent message are kept under.
func statusKey(channel, id string) string { return channel + "\x00" + id }

// markTemplated records that the re-engagement for the turn answering the
// message q replies to is being sent; false if it already was (on a shared
// store: by any instance).
func (h *Host) markTemplated(subject string, sq *sendQueue, q *queued) bool {
	inboundAt := q.item.InboundAt
	if q.lease != nil {
		first, err := h.shared.st.WindowTemplated(h.stopCtx, subject, inboundAt)
		if err != nil {
			h.storeFailed(err)
			h.log.Error("re-engagement not recorded; not sent twice", "subject", subject, "err", err)
		}
		return first && err == nil
	}
	h.sendMu.Lock()
	defer h.sendMu.Unlock()
	if sq.templated == inboundAt {
		return false
	}
	sq.templated = inboundAt
	return true
}

func (h *Host) windowClosed(sq *sendQueue) bool {
	h.sendMu.Lock()
	defer h.sendMu.Unlock()
	return sq.closed
}

func (h *Host) closeWindow(sq *sendQueue) {
	h.sendMu.Lock()
	sq.closed = true
	h.sendMu.Unlock()
}

// reopen forgets a closed window: the customer wrote.
func (h *Host) reopen(subject string) {
	h.sendMu.Lock()
	if sq := h.sendQ[subject]; sq != nil {
		sq.closed, sq.templated = false, 0
	}
	h.sendMu.Unlock()
}

// ackReq is one outbox write on its way to ackLoop: an acknowledgement, or
// (mark) the mark of an entry whose send starts now.
type ackReq struct {
	ack  session.Ack
	mark bool
	done chan error
}

// write hands r to ackLoop and waits until it is written.
func (h *Host) write(r ackReq) error {
	r.done = make(chan error, 1)
	h.acks <- r
	return <-r.done
}

// ackLoop writes acknowledgements and send marks, batching whatever has
// arrived meanwhile: one write of each kind for many customers' sends. (A
// customer has at most one request here at a time, so the order of the two
// writes does not matter.)
func (h *Host) ackLoop() {
	defer close(h.ackDone)
	batch := make([]ackReq, 0, 256)
	acks := make([]session.Ack, 0, 256)
	marks := make([]uint64, 0, 256)
	for r := range h.acks {
		batch = append(batch[:0], r)
	fill:
		for len(batch) < cap(batch) {
			select {
			case r, ok := <-h.acks:
				if !ok {
					break fill
				}
				batch = append(batch, r)
			default:
				break fill
			}
		}
		acks, marks = acks[:0], marks[:0]
		for _, r := range batch {
			if r.mark {
				marks = append(marks, r.ack.Seq)
			} else {
				acks = append(acks, r.ack)
			}
		}
		// Not the host's context: acknowledgements still arriving while
		// shutting down are worth writing.
		ctx := context.WithoutCancel(h.ctx)
		var markErr, ackErr error
		if len(marks) > 0 {
			markErr = h.store.OutboxSending(ctx, marks)
		}
		if len(acks) > 0 {
			ackErr = h.store.OutboxAck(ctx, acks)
		}
		for _, r := range batch {
			if r.mark {
				r.done <- markErr
			} else {
				r.done <- ackErr
			}
		}
	}
}

// recoverOutbox re-queues replies that were committed but not acknowledged.
// Those whose send had started may already have reached the customer just
// before the crash: each is counted as a possible duplicate when it is sent
// again (not when it is dropped instead, its window closed).
func (h *Host) recoverOutbox(ctx context.Context) error {
	pending, err := h.store.OutboxPending(ctx)
	if err != nil {
		return err
	}
	bySubject := map[string][]session.OutboxEntry{}
	var order []string
	for _, e := range pending {
		if _, ok := bySubject[e.Subject]; !ok {
			order = append(order, e.Subject)
		}
		bySubject[e.Subject] = append(bySubject[e.Subject], e)
	}
	for _, s := range order {
		es := bySubject[s]
		sortBySeq(es)
		queue := make([]queued, 0, len(es))
		for _, e := range es {
			var it outItem
			if err := json.Unmarshal(e.Payload, &it); err != nil {
				h.log.Error("outbox entry unreadable; dropped", "seq", e.Seq)
				h.store.OutboxDone(ctx, e.Seq)
				continue
			}
			if it.Ch == "" {
				it.Ch = h.first
			}
			// Its send had started when the status is no longer "queued":
			// it may have been delivered, and is counted when sent again.
			maybe := e.Status != "" && e.Status != "queued"
			queue = append(queue, queued{seq: e.Seq, item: it, status: e.Status, maybeSent: maybe})
		}
		h.dispatch(s, queue)
	}
	if len(pending) > 0 {
		h.log.Info("outbox recovered", "entries", len(pending))
	}
	return nil
}
