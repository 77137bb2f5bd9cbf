package host

import (
	"context"
	"encoding/json"
	"time"

	"github.com/parleyhq/parley/engine/session"
)

// queued is an outbox entry on its way to the sender.
type queued struct {
	seq  uint64
	item outItem
}

// dispatch hands a subject's queued replies to its sending worker, in order.
func (h *Host) dispatch(subject string, queue []queued, recovered bool) {
	if len(queue) == 0 {
		return
	}
	h.outboxDepth.Add(int64(len(queue)))
	job := func() {
		for _, q := range queue {
			h.send(subject, q.seq, q.item, recovered)
			h.outboxDepth.Add(-1)
		}
	}
	// Block rather than drop: the entries are durable either way, but
	// waiting here applies back-pressure to the turn workers.
	if err := h.senders.Submit(h.ctx, subject, job); err != nil {
		h.outboxDepth.Add(-int64(len(queue)))
	}
}

// send delivers one outbox entry, retrying transient failures with the
// channel's backoff.
func (h *Host) send(subject string, seq uint64, it outItem, recovered bool) {
	m := h.metrics
	ctx := h.ctx
	b := h.channels[it.Ch]
	if b == nil {
		h.log.Error("outbox entry for a channel that is not served; it stays in the outbox", "subject", subject, "seq", seq, "adapter", it.Ch)
		return
	}
	ch := b.ch
	if recovered {
		// Committed before a crash and not acknowledged: it may have been
		// delivered already. An upper bound of duplicates, not a count.
		m.DuplicateSends.Inc()
	}
	for attempt := 1; ; attempt++ {
		now := h.cfg.Now()
		if !it.Free && (!ch.WindowOpen(time.Unix(0, it.InboundAt), now) || h.windowClosed(subject)) {
			// Free-form messages are not allowed outside the channel's
			// window. The channel's re-engagement (the flow's template), if
			// any, goes instead of the first such reply of the turn; the
			// rest are dropped.
			re, ok := ch.Reengage(it.Outbound, it.Flow)
			if !ok || !h.markTemplated(subject, it.InboundAt) {
				m.OutboxFailed.Inc()
				h.log.Warn("reply not sent: outside the 24-hour window", "subject", subject, "seq", seq)
				h.store.OutboxDone(ctx, seq)
				return
			}
			it.Outbound = re
			h.log.Info("outside the 24-hour window: sending the flow's template instead", "subject", subject, "seq", seq)
		}
		id, err := ch.Send(ctx, it.Outbound)
		if err == nil {
			m.OutboxSent.Inc()
			h.sent.Store(it.Ch+"\x00"+id, subject)
			h.acks <- seq
			return
		}
		if ctx.Err() != nil {
			return // shutting down: the entry stays queued
		}
		f := ch.Classify(it.Outbound, err, attempt, now)
		if f.CloseWindow && !it.Free {
			h.closeWindow(subject)
			continue // the next iteration sends the template or drops the reply
		}
		if !f.Retry {
			m.OutboxFailed.Inc()
			h.log.Error("reply failed permanently", "subject", subject, "seq", seq, "code", f.Code, "attempts", attempt)
			h.store.OutboxDone(ctx, seq)
			return
		}
		if f.Uncertain {
			m.DuplicateSends.Inc() // the first attempt may have been delivered
		}
		m.OutboxRetries.Inc()
		h.store.OutboxRetry(ctx, seq, attempt, now.Add(f.Delay))
		if !sleep(ctx, f.Delay) {
			return
		}
	}
}

// sleep waits d or until ctx is done; false when ctx ended it.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// markTemplated records that the re-engagement for the turn answering the
// message received at inboundAt is being sent; false if it already was.
func (h *Host) markTemplated(s string, inboundAt int64) bool {
	h.windowMu.Lock()
	defer h.windowMu.Unlock()
	if h.templated[s] == inboundAt {
		return false
	}
	h.templated[s] = inboundAt
	return true
}

func (h *Host) windowClosed(s string) bool {
	h.windowMu.Lock()
	defer h.windowMu.Unlock()
	_, closed := h.closed[s]
	return closed
}

func (h *Host) closeWindow(s string) {
	h.windowMu.Lock()
	h.closed[s] = struct{}{}
	h.windowMu.Unlock()
}

// ackLoop removes sent entries from the outbox, batching whatever has
// arrived meanwhile into one store write. An entry whose removal a crash
// prevents is sent again at the next start (and counted as a possible
// duplicate).
func (h *Host) ackLoop() {
	defer close(h.ackDone)
	batch := make([]uint64, 0, 256)
	for seq := range h.acks {
		batch = append(batch[:0], seq)
	fill:
		for len(batch) < cap(batch) {
			select {
			case s, ok := <-h.acks:
				if !ok {
					break fill
				}
				batch = append(batch, s)
			default:
				break fill
			}
		}
		// Not the host's context: acknowledgements still arriving while
		// shutting down are worth writing.
		if err := h.store.OutboxDoneMany(context.WithoutCancel(h.ctx), batch); err != nil {
			h.log.Error("outbox acknowledgement failed; entries will be sent again after a restart", "entries", len(batch), "err", err)
		}
	}
}

// recoverOutbox re-queues replies that were committed but not acknowledged.
// Any of them may already have reached the customer just before the crash,
// so each is counted as a possible duplicate when sent again.
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
			queue = append(queue, queued{seq: e.Seq, item: it})
		}
		h.dispatch(s, queue, true)
	}
	if len(pending) > 0 {
		h.log.Info("outbox recovered", "entries", len(pending))
	}
	return nil
}
