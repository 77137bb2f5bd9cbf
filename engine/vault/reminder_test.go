package vault

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"
)

func dentalReminder(s SubjectID, at time.Time) Reminder {
	return Reminder{Subject: s, Purpose: "booking", Flow: "dental", Template: "appointment_reminder",
		At: at, Until: at.Add(ReminderGrace), Channel: "whatsapp", To: canaries[3]}
}

// TestReminderIsDueOnceAndQueuedWithItsMessage: a scheduled reminder is not
// due before its time; at its time it is due, and queueing it puts its
// message in the outbox and cancels it in one commit, so it is never due
// again and a second queueing (a scheduler that read it twice) writes
// nothing.
func TestReminderIsDueOnceAndQueuedWithItsMessage(t *testing.T) {
	c := newClock()
	v := openMem(t, c)
	s := v.SubjectID("whatsapp", canaries[3])
	r := dentalReminder(s, c.Now().Add(48*time.Hour))
	if err := v.Commit(s, Change{Remind: []Reminder{r}}); err != nil {
		t.Fatal(err)
	}
	if due, err := v.DueReminders(c.Now(), 10); err != nil || len(due) != 0 {
		t.Fatalf("DueReminders before its time = %+v, %v; want none", due, err)
	}
	c.Add(48 * time.Hour)
	due, err := v.DueReminders(c.Now(), 10)
	if err != nil || len(due) != 1 || due[0].To != canaries[3] || !due[0].At.Equal(r.At) || due[0].Subject != s {
		t.Fatalf("DueReminders at its time = %+v, %v; want the reminder", due, err)
	}
	if _, err := v.QueueReminder(due[0], []byte("template message")); err != nil {
		t.Fatal(err)
	}
	out, err := v.OutboxPending()
	if err != nil || len(out) != 1 || string(out[0].Payload) != "template message" {
		t.Fatalf("outbox = %+v, %v; want the reminder's message", out, err)
	}
	if _, err := v.QueueReminder(due[0], []byte("again")); !errors.Is(err, ErrReminderGone) {
		t.Fatalf("second QueueReminder = %v, want ErrReminderGone", err)
	}
	if due, _ := v.DueReminders(c.Now(), 10); len(due) != 0 {
		t.Fatalf("a queued reminder is still due: %+v", due)
	}
	if out, _ := v.OutboxPending(); len(out) != 1 {
		t.Fatalf("outbox holds %d entries, want 1", len(out))
	}
}

// TestRemindersCancelledByStopWithdrawalAndLateness: STOP cancels every
// reminder of the subject, a withdrawal those of its purpose only, and a
// reminder past its Until is never due.
func TestRemindersCancelledByStopWithdrawalAndLateness(t *testing.T) {
	c := newClock()
	v := openMem(t, c)
	s := v.SubjectID("whatsapp", canaries[3])
	at := c.Now().Add(time.Hour)
	booking := dentalReminder(s, at)
	news := dentalReminder(s, at)
	news.Purpose, news.Template = "newsletter", "monthly_issue"
	if err := v.Commit(s, Change{Remind: []Reminder{booking, news}}); err != nil {
		t.Fatal(err)
	}
	c.Add(time.Hour)
	templates := func() []string {
		t.Helper()
		due, err := v.DueReminders(c.Now(), 10)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, r := range due {
			names = append(names, r.Template)
		}
		slices.Sort(names)
		return names
	}
	if got := templates(); !slices.Equal(got, []string{"appointment_reminder", "monthly_issue"}) {
		t.Fatalf("due = %v", got)
	}
	if err := v.Commit(s, Change{Withdrawn: []string{"newsletter"}}); err != nil {
		t.Fatal(err)
	}
	if got := templates(); !slices.Equal(got, []string{"appointment_reminder"}) {
		t.Fatalf("after withdrawing newsletter, due = %v; want only the booking reminder", got)
	}
	if err := v.Commit(s, Change{Stop: true}); err != nil {
		t.Fatal(err)
	}
	if got := templates(); len(got) != 0 {
		t.Fatalf("after STOP, due = %v; want none", got)
	}
	if _, err := v.QueueReminder(booking, []byte("x")); !errors.Is(err, ErrReminderGone) {
		t.Fatalf("QueueReminder after STOP = %v, want ErrReminderGone", err)
	}

	late := dentalReminder(s, c.Now())
	if err := v.Commit(s, Change{Remind: []Reminder{late}}); err != nil {
		t.Fatal(err)
	}
	c.Add(ReminderGrace)
	if got := templates(); len(got) != 0 {
		t.Fatalf("a reminder past its grace is due: %v", got)
	}
}

// TestReminderUnreadableAfterStopErasureAndExpiry: an attacker holding the
// data directory and the master key reads the customer's id in a scheduled
// reminder (the control), and no longer after a sweep that follows STOP,
// after an erasure, or after the reminder's field expired.
func TestReminderUnreadableAfterStopErasureAndExpiry(t *testing.T) {
	for _, end := range []string{"stop", "erase", "expiry"} {
		t.Run(end, func(t *testing.T) {
			dir := t.TempDir()
			c := newClock()
			v := openDisk(t, dir, c)
			s := v.SubjectID("whatsapp", canaries[3])
			r := dentalReminder(s, c.Now().Add(72*time.Hour))
			r.Until = c.Now().Add(24 * time.Hour) // the field it was computed from expires first
			if err := v.Commit(s, Change{Remind: []Reminder{r}, Put: []FieldRecord{{Name: "name", Value: []byte(canaries[0]),
				Purpose: "booking", CollectedAt: c.Now(), ExpiresAt: c.Now().Add(365 * 24 * time.Hour)}}}); err != nil {
				t.Fatal(err)
			}
			if err := v.Close(); err != nil {
				t.Fatal(err)
			}
			if found := attackFinds(t, dir, canaries[3]); len(found) != 1 {
				t.Fatalf("control: the attacker does not read the scheduled reminder (found %v)", found)
			}
			v = openDisk(t, dir, c)
			switch end {
			case "stop":
				if err := v.Commit(s, Change{Stop: true}); err != nil {
					t.Fatal(err)
				}
			case "erase":
				if _, err := v.Erase(s, c.Now()); err != nil {
					t.Fatal(err)
				}
			case "expiry":
				c.Add(25 * time.Hour)
			}
			st, err := v.Sweep(c.Now())
			if err != nil {
				t.Fatal(err)
			}
			if end != "erase" && st.Reminders != 1 {
				t.Errorf("sweep dropped %d reminders, want 1", st.Reminders)
			}
			if err := v.Close(); err != nil {
				t.Fatal(err)
			}
			if found := attackFinds(t, dir, canaries[3]); len(found) != 0 {
				t.Errorf("after %s and a sweep the attacker still reads %v", end, found)
			}
		})
	}
}

// TestContactsFollowTheConsent: a contact recorded with a grant is listed
// for its purpose and flow while the latest decision is a grant; a
// withdrawal of another purpose leaves it, a decline recorded later hides
// it, and STOP drops it.
func TestContactsFollowTheConsent(t *testing.T) {
	c := newClock()
	v := openMem(t, c)
	grant := func(user string, granted bool, contact bool) SubjectID {
		t.Helper()
		s := v.SubjectID("whatsapp", user)
		ch := Change{Consents: []ConsentRecord{{Purpose: "newsletter", Granted: granted, At: c.Now(), Flow: "news"}}}
		if contact {
			ch.Contacts = []Contact{{Purpose: "newsletter", Flow: "news", Channel: "whatsapp", To: user,
				Granted: c.Now(), Until: c.Now().Add(365 * 24 * time.Hour)}}
		}
		if err := v.Commit(s, ch); err != nil {
			t.Fatal(err)
		}
		return s
	}
	a := grant("15550000001", true, true)
	b := grant("15550000002", true, true)
	grant("15550000003", false, false)
	tos := func() []string {
		t.Helper()
		cs, err := v.Contacts("news", "newsletter", c.Now())
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, ct := range cs {
			out = append(out, ct.To)
		}
		slices.Sort(out)
		return out
	}
	if got := tos(); !slices.Equal(got, []string{"15550000001", "15550000002"}) {
		t.Fatalf("contacts = %v, want the two who granted", got)
	}
	if cs, _ := v.Contacts("other", "newsletter", c.Now()); len(cs) != 0 {
		t.Fatalf("contacts of another flow: %v", cs)
	}
	if err := v.Commit(a, Change{Withdrawn: []string{"booking"}}); err != nil {
		t.Fatal(err)
	}
	c.Add(time.Minute)
	// A decline recorded later (without the turn's withdrawal) hides b.
	if err := v.Commit(b, Change{Consents: []ConsentRecord{{Purpose: "newsletter", Granted: false, At: c.Now(), Flow: "news"}}}); err != nil {
		t.Fatal(err)
	}
	if got := tos(); !slices.Equal(got, []string{"15550000001"}) {
		t.Fatalf("after b declined, contacts = %v", got)
	}
	if err := v.Commit(a, Change{Stop: true}); err != nil {
		t.Fatal(err)
	}
	if got := tos(); len(got) != 0 {
		t.Fatalf("after STOP, contacts = %v", got)
	}
}

// BenchmarkDueReminders1000: one scheduler pass over 1000 pending
// reminders, none due (every one is opened with its subject's key).
func BenchmarkDueReminders1000(b *testing.B) {
	c := newClock()
	v := openMem(b, c)
	for i := range 1000 {
		s := v.SubjectID("whatsapp", fmt.Sprintf("1555%07d", i))
		if err := v.Commit(s, Change{Remind: []Reminder{dentalReminder(s, c.Now().Add(time.Duration(i+1)*time.Hour))}}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if due, err := v.DueReminders(c.Now(), 500); err != nil || len(due) != 0 {
			b.Fatal(due, err)
		}
	}
}
