package vault

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ReminderGrace is how long after its due time a reminder that was not
// queued (the scheduler was down) is still sent; later it is dropped: a
// reminder of yesterday's appointment helps nobody.
const ReminderGrace = 6 * time.Hour

// Reminder is a message a flow scheduled for a subject: an approved
// template sent at At, under Purpose. It is sealed under the subject key at
// t/<s>/<purpose>/<flow>/<template> (one per template and flow: scheduling
// again replaces it), so erasing the subject shreds it, and the purpose in
// the key lets a withdrawal cancel it without opening anything.
type Reminder struct {
	Subject  SubjectID
	Purpose  string
	Flow     string
	Template string
	At       time.Time
	// Until is when it is dropped unsent: the expiry of the field it was
	// computed from, or At plus ReminderGrace, whichever comes first.
	Until time.Time
	// Channel and To are where it goes: the channel's name and the
	// customer's id on it (personal data, held only here, sealed).
	Channel, To string
}

func prefixT(s SubjectID) []byte { return []byte("t/" + s + "/") }

func keyT(s SubjectID, purpose, flow, template string) []byte {
	return []byte("t/" + string(s) + "/" + purpose + "/" + flow + "/" + template)
}

// ErrReminderGone is returned by QueueReminder for a reminder that was
// cancelled, rescheduled or queued since it was read.
var ErrReminderGone = errors.New("vault: reminder cancelled or already queued")

func encodeReminder(r *Reminder) []byte {
	var e enc
	e.str(r.Purpose)
	e.str(r.Flow)
	e.str(r.Template)
	e.time(r.At)
	e.time(r.Until)
	e.str(r.Channel)
	e.str(r.To)
	return e.b
}

func decodeReminder(s SubjectID, b []byte) (Reminder, error) {
	d := dec{b: b}
	r := Reminder{Subject: s, Purpose: d.str(), Flow: d.str(), Template: d.str(), At: d.time(), Until: d.time(),
		Channel: d.str(), To: d.str()}
	if d.err != nil {
		return Reminder{}, ErrCorrupt
	}
	return r, nil
}

// applyReminders writes a turn's reminders and cancels those its STOP or
// withdrawals end. A cancelled reminder becomes a dead marker, which the
// sweep drops with every older version.
func applyReminders(txn kvTxn, s SubjectID, sk *subjectKey, c *Change, now time.Time) error {
	if c.Stop || len(c.Withdrawn) > 0 {
		var prefixes [][]byte
		if c.Stop {
			prefixes = append(prefixes, prefixT(s))
		}
		for _, p := range c.Withdrawn {
			prefixes = append(prefixes, []byte(string(prefixT(s))+p+"/"))
		}
		for _, p := range prefixes {
			if err := killLive(txn, p); err != nil {
				return err
			}
		}
	}
	for i := range c.Remind {
		r := &c.Remind[i]
		if r.Purpose == "" || r.Flow == "" || r.Template == "" ||
			strings.Contains(r.Purpose+r.Flow+r.Template, "/") {
			return errors.New("reminder without a purpose, flow or template name")
		}
		k := keyT(s, r.Purpose, r.Flow, r.Template)
		if !r.Until.After(now) {
			if err := killLive(txn, k); err != nil { // replaced by one too late to send
				return err
			}
			continue
		}
		val, err := sealValue(sk.aead, k, valHdr{expiry: r.Until.UnixNano()}, encodeReminder(r))
		if err != nil {
			return err
		}
		if err := txn.SetTTL(k, val, r.Until.Sub(now)+ttlMargin); err != nil {
			return err
		}
	}
	for _, r := range c.RemindCancel {
		if err := killLive(txn, keyT(s, r.Purpose, r.Flow, r.Template)); err != nil {
			return err
		}
	}
	return nil
}

// killLive replaces every live record under prefix with a dead marker.
func killLive(txn kvTxn, prefix []byte) error {
	return killMatching(txn, prefix, func(string, valHdr) bool { return true })
}

// killMatching replaces the live records under prefix that match (given
// the rest of the key and the header) with dead markers. A marker (not a
// delete) keeps the key live, so the sweep's DropPrefix later removes
// every old version from the files; a tombstone would hide the key from
// DropPrefix and leave the old versions until a compaction.
func killMatching(txn kvTxn, prefix []byte, match func(rest string, h valHdr) bool) error {
	var keys [][]byte
	err := txn.Scan(prefix, true, func(k []byte, item kvItem) error {
		return item.Value(func(b []byte) error {
			if h, ok := parseHdr(b); ok && h.flags&flagDead == 0 && match(string(k[len(prefix):]), h) {
				keys = append(keys, bytes.Clone(k))
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := txn.SetTTL(k, deadMarker(), ttlMargin); err != nil {
			return err
		}
	}
	return nil
}

// DueReminders returns up to max reminders due at now (At reached, Until
// not), oldest first. It opens every pending reminder with its subject's
// key; the scheduler holds nothing between calls.
func (v *Vault) DueReminders(now time.Time, max int) ([]Reminder, error) {
	var out []Reminder
	err := v.view(func(txn kvReader) error {
		type cand struct {
			s   SubjectID
			key []byte
			val []byte
		}
		var cs []cand
		err := txn.Scan([]byte("t/"), true, func(k []byte, item kvItem) error {
			return item.Value(func(b []byte) error {
				if h, ok := parseHdr(b); ok && !h.expired(now) && len(k) > 2+subjectLen {
					cs = append(cs, cand{SubjectID(k[2 : 2+subjectLen]), bytes.Clone(k), bytes.Clone(b)})
				}
				return nil
			})
		})
		if err != nil {
			return err
		}
		keys := map[SubjectID]*subjectKey{}
		for _, c := range cs {
			sk, ok := keys[c.s]
			if !ok {
				if sk, err = v.liveKey(txn, c.s, false, now); err != nil {
					return err
				}
				keys[c.s] = sk
			}
			if sk == nil {
				continue // erased: unreadable, the purge drops it
			}
			pt, err := openValue(sk.aead, c.key, c.val)
			if err != nil {
				return err
			}
			r, err := decodeReminder(c.s, pt)
			if err != nil {
				return err
			}
			if !r.At.After(now) {
				out = append(out, r)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("vault: due reminders: %w", err)
	}
	sortReminders(out)
	if max > 0 && len(out) > max {
		out = out[:max]
	}
	return out, nil
}

func sortReminders(rs []Reminder) {
	for i := 1; i < len(rs); i++ {
		for j := i; j > 0 && rs[j].At.Before(rs[j-1].At); j-- {
			rs[j], rs[j-1] = rs[j-1], rs[j]
		}
	}
}

// QueueReminder queues payload, the message of reminder r, in the outbox
// and cancels r, in one transaction: a crash leaves either the reminder or
// the queued message, never both and never neither. ErrReminderGone: r was
// cancelled, rescheduled or queued since DueReminders read it, and nothing
// was written.
func (v *Vault) QueueReminder(r Reminder, payload []byte) (seq uint64, err error) {
	seqs, err := v.CommitTurn(r.Subject, Change{Outbox: [][]byte{payload}, RemindSent: &r})
	if err != nil {
		return 0, err
	}
	return seqs[0], nil
}

// CancelReminder cancels r (its field expired, its consent is no longer
// granted): nothing is sent.
func (v *Vault) CancelReminder(r Reminder) error {
	return v.Commit(r.Subject, Change{RemindCancel: []Reminder{r}})
}

// checkReminder fails with ErrReminderGone unless r is still scheduled as
// read (same due time): the check and the queueing that follows are one
// transaction, so a STOP committed in between wins.
func checkReminder(txn kvTxn, sk *subjectKey, r *Reminder, now time.Time) error {
	k := keyT(r.Subject, r.Purpose, r.Flow, r.Template)
	item, err := txn.Get(k)
	if err != nil {
		return ErrReminderGone
	}
	return item.Value(func(b []byte) error {
		h, ok := parseHdr(b)
		if !ok || h.expired(now) {
			return ErrReminderGone
		}
		pt, err := openValue(sk.aead, k, b)
		if err != nil {
			return err
		}
		held, err := decodeReminder(r.Subject, pt)
		if err != nil {
			return err
		}
		if !held.At.Equal(r.At) {
			return ErrReminderGone
		}
		return nil
	})
}

// ConsentGranted reports whether the subject's latest unexpired consent
// decision for purpose in flow is a grant: what a message sent for that
// purpose outside a conversation (a reminder, a broadcast) needs.
func (v *Vault) ConsentGranted(s SubjectID, flow, purpose string, now time.Time) (bool, error) {
	granted := false
	var last uint64
	err := v.view(func(txn kvReader) error {
		sk, err := v.liveKey(txn, s, false, now)
		if err != nil || sk == nil {
			return err
		}
		return scanLive(txn, []byte(string(prefixC(s))+purpose+"/"), sk, now, func(pt []byte) error {
			c, err := decodeConsent(pt)
			if err != nil {
				return err
			}
			if c.Flow == flow && c.Purpose == purpose && c.Seq >= last {
				last, granted = c.Seq, c.Granted
			}
			return nil
		})
	})
	if err != nil {
		return false, fmt.Errorf("vault: consent of %s: %w", s, err)
	}
	return granted, nil
}
