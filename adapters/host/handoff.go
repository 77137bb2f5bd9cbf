package host

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/parleyhq/parley/engine/runtime"
	"github.com/parleyhq/parley/engine/session"
)

// Puller is implemented by a channel that cannot push a message to its
// user (the web chat): what the team says waits in the conversation
// (State.Waiting) until the user's page collects it (Host.Collect).
type Puller interface {
	Pulls() bool
}

// ErrNoChannel: the conversation's channel is not served, so nothing can
// reach the customer.
var ErrNoChannel = errors.New("host: the conversation's channel is not served")

// address records, while a conversation is handed off, where the customer
// wrote from last: the team's replies go there (after a number change too).
// It is kept in the sealed state.
func address(st *runtime.State, channel, user string) {
	if h := st.Handoff; h != nil {
		h.Channel, h.To = channel, user
	}
}

// reasonKind is the metric label of a hand-off reason: "keyword", "step" or
// "integration" (a closed set, never a step id).
func reasonKind(reason string) string {
	kind, _, _ := strings.Cut(reason, ":")
	switch kind {
	case runtime.ReasonKeyword, "step", "integration":
		return kind
	}
	return "other"
}

// handoffEvents counts and logs the hand-offs a committed turn began or
// ended. The log line says which conversation (pseudonym), why and how; it
// never holds what anyone wrote.
func (h *Host) handoffEvents(subject, channel string, effects []runtime.Effect) {
	for _, e := range effects {
		switch e.Kind {
		case runtime.EffectHandoff:
			h.metrics.Handoffs.WithLabelValues(channel, reasonKind(e.Reason)).Inc()
			h.log.Info("conversation handed off to a person", "subject", subject, "channel", channel,
				"reason", e.Reason, "notify", e.Notify != "")
		case runtime.EffectHandoffEnd:
			h.metrics.HandoffEnds.WithLabelValues(e.Reason).Inc()
			h.log.Info("hand-off ended", "subject", subject, "how", e.Reason)
		}
	}
}

// Staff carries out a team member's action on subject's handed-off
// conversation (runtime.StepStaff) and delivers what it says through the
// customer's channel: queued in the outbox for a channel that pushes (for
// WhatsApp the outbox applies the 24-hour window, sending the flow's
// template instead once it has closed), kept for the page to collect for
// one that does not (the web chat). It returns what was said.
func (h *Host) Staff(ctx context.Context, subject string, op runtime.StaffOp) ([]runtime.Message, error) {
	now := h.cfg.Now()
	prev, err := h.store.Load(ctx, subject, now)
	if err != nil {
		return nil, err
	}
	if prev == nil || prev.Handoff == nil {
		return nil, runtime.ErrNotHandedOff
	}
	chName, to := prev.Handoff.Channel, prev.Handoff.To
	b := h.channels[chName]
	if b == nil || to == "" {
		return nil, fmt.Errorf("%w: %q", ErrNoChannel, chName)
	}
	pull := false
	if p, ok := b.ch.(Puller); ok {
		pull = p.Pulls()
	}
	var items []outItem
	var queue []queued
	turn, _, err := h.engine.HandleStaff(ctx, subject, op, func(st *runtime.State, t runtime.Turn, now time.Time) error {
		x := session.Extra{}
		items = items[:0]
		if pull {
			st.Waiting = append(st.Waiting, t.Out...)
		} else {
			for _, msg := range t.Out {
				for _, out := range b.ch.Render(to, st.Lang, msg) {
					oi := outItem{Ch: chName, Outbound: out, InboundAt: st.LastInbound.UnixNano(), Flow: st.Flow, Queued: now.UnixNano()}
					items, x.Outbox = append(items, oi), append(x.Outbox, encodeOutItem(oi))
				}
			}
		}
		seqs, err := h.store.SaveTurn(ctx, subject, st, t.Effects, now, x)
		if err != nil {
			h.storeFailed(err)
			return err
		}
		queue = make([]queued, len(seqs))
		for i, seq := range seqs {
			queue[i] = queued{seq: seq, item: items[i]}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	h.storeOK()
	h.dispatch(subject, queue)
	if op.Kind == runtime.StaffReply {
		h.metrics.StaffReplies.WithLabelValues(chName).Inc()
	}
	h.handoffEvents(subject, chName, turn.Effects)
	return turn.Out, nil
}

// Collect returns, and forgets, what the team said to a web chat visitor
// since their page last asked.
func (h *Host) Collect(ctx context.Context, channel, user string) ([]runtime.Message, error) {
	if _, ok := h.channels[channel]; !ok {
		return nil, fmt.Errorf("host: no channel %q", channel)
	}
	subject := h.store.Subject(channel, user)
	turn, _, err := h.engine.HandleStaff(ctx, subject, runtime.StaffOp{Kind: runtime.StaffCollect}, func(st *runtime.State, t runtime.Turn, now time.Time) error {
		if len(t.Out) == 0 {
			return nil // nothing was waiting: nothing to write
		}
		_, err := h.store.SaveTurn(ctx, subject, st, t.Effects, now, session.Extra{})
		return err
	})
	if errors.Is(err, runtime.ErrNotHandedOff) {
		return nil, nil // no conversation yet
	}
	return turn.Out, err
}

// ExpireHandoffs takes back from the team every hand-off whose timeout has
// passed: the customer is told, and the flow goes on at its
// on_handoff_timeout or ends. It returns how many it took back.
func (h *Host) ExpireHandoffs(ctx context.Context) (int, error) {
	hs, err := h.store.Handoffs(ctx)
	if err != nil {
		return 0, err
	}
	now := h.cfg.Now()
	n := 0
	for _, e := range hs {
		if now.Before(e.Until) {
			continue
		}
		_, err := h.Staff(ctx, string(e.Subject), runtime.StaffOp{Kind: runtime.StaffExpire})
		switch {
		case err == nil:
			n++
		case errors.Is(err, runtime.ErrNotDue):
		case errors.Is(err, runtime.ErrNotHandedOff):
			// The conversation expired (conversation_retention) or moved:
			// nobody can answer it, so it leaves the queue.
			if err := h.store.DropHandoff(ctx, string(e.Subject)); err != nil {
				h.log.Error("stale hand-off not dropped; retried at the next round", "subject", string(e.Subject), "err", err)
			}
		default:
			h.log.Error("hand-off timeout not applied; retried at the next round", "subject", string(e.Subject), "err", err)
		}
	}
	return n, nil
}
