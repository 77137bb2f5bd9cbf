package host

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/parleyhq/parley/engine/session"
)

// Reminders keeps the reminders flows schedule (engine/session implements
// it on the vault). A store without it schedules none: turns' reminders
// are not recorded and nothing is sent.
type Reminders interface {
	DueReminders(ctx context.Context, now time.Time, max int) ([]session.DueReminder, error)
	// QueueReminder queues payload and cancels r in one commit, or fails
	// with session.ErrReminderGone, writing nothing.
	QueueReminder(ctx context.Context, r session.Reminder, payload []byte) (uint64, error)
	CancelReminder(ctx context.Context, r session.Reminder) error
}

// TemplateRenderer is a channel that can send an approved message template
// outside the customer's window (WhatsApp).
type TemplateRenderer interface {
	RenderTemplate(to, name, lang string, params []string) Outbound
}

// remindBatch bounds one pass of RunReminders.
const remindBatch = 500

// RunReminders queues the reminders due now: each becomes its template,
// filled with the fields held now, in the outbox, in the same commit that
// cancels it, and is sent like a reply. A reminder whose flow no longer
// declares its template, whose purpose needs a consent not granted now, or
// whose parameters are no longer all held is cancelled unsent. It holds
// nothing between passes: everything is read from the store, so a restart
// loses nothing, and a crash after the commit sends the message once (or,
// in the outbox's counted crash case, twice). It returns how many were
// queued and cancelled.
func (h *Host) RunReminders(ctx context.Context) (sent, cancelled int, err error) {
	rs, ok := h.store.(Reminders)
	if !ok {
		return 0, 0, nil
	}
	now := h.cfg.Now()
	due, err := rs.DueReminders(ctx, now, remindBatch)
	if err != nil {
		return 0, 0, err
	}
	for _, d := range due {
		b := h.channels[d.Channel]
		if b == nil {
			continue // a channel not served now: it waits (until its Until)
		}
		tr, ok := b.ch.(TemplateRenderer)
		params, send := h.reminderParams(d)
		if !ok || !send {
			if err := rs.CancelReminder(ctx, d.Reminder); err != nil {
				return sent, cancelled, err
			}
			cancelled++
			h.log.Info("reminder cancelled unsent", "subject", d.Subject.Hex(), "flow", d.Flow, "template", d.Template)
			continue
		}
		p, _ := h.engine.Program(d.Flow)
		tpl, _ := p.Template(d.Template)
		oi := outItem{Ch: d.Channel, Outbound: tr.RenderTemplate(d.To, tpl.Name, tpl.Language, params), Flow: d.Flow, Queued: now.UnixNano()}
		payload, err := json.Marshal(oi)
		if err != nil {
			return sent, cancelled, err
		}
		seq, err := rs.QueueReminder(ctx, d.Reminder, payload)
		if errors.Is(err, session.ErrReminderGone) {
			continue // STOP, erasure or a new schedule won meanwhile
		}
		if err != nil {
			return sent, cancelled, err
		}
		sent++
		h.metrics.Reminders.Inc()
		h.dispatch(d.Subject.Hex(), []queued{{seq: seq, item: oi}})
	}
	return sent, cancelled, nil
}

// reminderParams decides whether d may still go out and fills its
// template's parameters from the fields held now.
func (h *Host) reminderParams(d session.DueReminder) (params []string, send bool) {
	p, ok := h.engine.Program(d.Flow)
	if !ok {
		return nil, false
	}
	tpl, ok := p.Template(d.Template)
	if !ok || tpl.Purpose != d.Purpose {
		return nil, false
	}
	if tpl.PurposeIndex >= 0 && p.PurposeAt(tpl.PurposeIndex).NeedsConsent && !d.Granted {
		return nil, false
	}
	for _, name := range tpl.ParamNames {
		v, held := d.Fields[name]
		if !held {
			return nil, false
		}
		params = append(params, v)
	}
	return params, true
}
