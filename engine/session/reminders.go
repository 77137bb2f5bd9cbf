package session

import (
	"context"
	"strconv"
	"time"

	"github.com/parleyhq/parley/engine/vault"
)

// Reminder is a message a flow scheduled for a subject (see vault.Reminder).
type Reminder = vault.Reminder

// ErrReminderGone: the reminder was cancelled or queued meanwhile.
var ErrReminderGone = vault.ErrReminderGone

// DueReminder is a reminder due now, with what deciding and rendering it
// needs, read in the same pass.
type DueReminder struct {
	Reminder
	// Fields are the subject's unexpired field values, as text.
	Fields map[string]string
	// Granted reports whether the subject's latest consent decision for
	// the reminder's purpose, in its flow, is a grant.
	Granted bool
}

// DueReminders returns up to max reminders due at now, oldest first.
func (s *Store) DueReminders(_ context.Context, now time.Time, max int) ([]DueReminder, error) {
	rs, err := s.V.DueReminders(now, max)
	if err != nil {
		return nil, err
	}
	out := make([]DueReminder, 0, len(rs))
	for _, r := range rs {
		d := DueReminder{Reminder: r, Fields: map[string]string{}}
		_, fields, err := s.V.LoadSubject(r.Subject, now)
		if err != nil {
			return nil, err
		}
		for _, f := range fields {
			v, err := DecodeValue(f.Value)
			if err != nil {
				return nil, err
			}
			d.Fields[f.Name] = valueText(v)
		}
		if d.Granted, err = s.V.ConsentGranted(r.Subject, r.Flow, r.Purpose, now); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// QueueReminder queues payload, the message of r, and cancels r in one
// commit; ErrReminderGone when r was cancelled or queued meanwhile.
func (s *Store) QueueReminder(_ context.Context, r Reminder, payload []byte) (uint64, error) {
	return s.V.QueueReminder(r, payload)
}

// CancelReminder drops r unsent.
func (s *Store) CancelReminder(_ context.Context, r Reminder) error { return s.V.CancelReminder(r) }

func valueText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		if x {
			return "yes"
		}
		return "no"
	}
	return ""
}
