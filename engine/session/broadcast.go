package session

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/parleyhq/parley/engine/vault"
)

// Contact is where a subject who granted a purpose can be reached for it.
type Contact = vault.Contact

// DefaultBroadcastRate is how many broadcast messages go out per second
// unless told otherwise: well under WhatsApp's default throughput of 80
// messages per second per number, so replies to ongoing conversations
// still have room.
const DefaultBroadcastRate = 20

// Broadcast describes one broadcast of a flow's template.
type Broadcast struct {
	Flow, Template, Purpose string
	// Params are the fields filling the template's {{1}}, {{2}}…: a
	// subject who no longer holds one of them is skipped.
	Params []string
	// Only, when not nil, narrows the audience to these subjects; it
	// never adds anyone without a current consent.
	Only map[string]bool
	// Rate is messages per second (DefaultBroadcastRate when 0).
	Rate float64
	// DryRun counts the audience and samples it, sending nothing.
	DryRun bool
	// Actor is who asked, for the audit log ("cli", "admin:operator").
	Actor string
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Started, when set, is called once the broadcast is claimed for this
	// run (not for a dry run): a caller that runs it in the background
	// answers after it (see ErrBroadcastRunning for a refused start).
	Started func(BroadcastResult)
}

// ErrBroadcastRunning: the template's broadcast is being run elsewhere (by
// another request, or another process on a shared store); the error says
// when it can be resumed if that process died.
var ErrBroadcastRunning = vault.ErrBroadcastRunning

// BroadcastResult is what a broadcast did.
type BroadcastResult struct {
	ID      string
	Resumed bool
	// Audience is the number of subjects with a current consent (narrowed
	// by Only) when the broadcast started or resumed.
	Audience int
	// Sample holds up to 5 pseudonymous references of the audience.
	Sample []string
	// Sent counts messages the channel accepted in this run; Already those
	// sent by an earlier, interrupted run; Resent those whose send had
	// started when that run was interrupted and were sent again (the
	// counted crash case: each may have been delivered twice).
	Sent, Already, Resent int
	// Skipped counts subjects whose consent was withdrawn meanwhile or who
	// no longer hold a parameter; Failed sends the channel refused.
	Skipped, Failed int
}

// BroadcastSend sends the template to one contact with its parameters.
type BroadcastSend func(ctx context.Context, c Contact, params []string) error

// Broadcast sends b's template to every subject whose latest consent for
// its purpose is a grant and who can be reached for it, at b.Rate. Before
// each send the subject's consent and contact are read again, so a STOP
// or withdrawal committed meanwhile takes effect before the next message.
// Progress is recorded durably per subject: after a crash, running the same
// broadcast again skips those sent and sends again only the one whose send
// had started (counted in Resent). One run at a time: a start while another
// run holds the broadcast fails with ErrBroadcastRunning, and a run whose
// lease passed and was taken over stops before its next send
// (vault.ErrBroadcastTaken). Start, end and dry runs are audited with the
// audience size.
func (s *Store) Broadcast(ctx context.Context, b Broadcast, send BroadcastSend) (BroadcastResult, error) {
	now := b.Now
	if now == nil {
		now = time.Now
	}
	var res BroadcastResult
	all, err := s.V.Contacts(b.Flow, b.Purpose, now())
	if err != nil {
		return res, err
	}
	var audience []Contact
	for _, c := range all {
		if b.Only == nil || b.Only[c.Subject.Hex()] {
			audience = append(audience, c)
		}
	}
	res.Audience = len(audience)
	for _, c := range audience {
		if len(res.Sample) == 5 {
			break
		}
		res.Sample = append(res.Sample, Ref(c.Subject.Hex()))
	}
	detail := map[string]string{"flow": b.Flow, "template": b.Template, "purpose": b.Purpose, "audience": strconv.Itoa(res.Audience)}
	if b.Only != nil {
		detail["narrowed_to"] = strconv.Itoa(len(b.Only))
	}
	if b.DryRun {
		return res, s.V.Audit(b.Actor, "broadcast.dry_run", "", detail)
	}
	run, resumed, err := s.V.BroadcastStart(b.Flow, b.Template, now())
	if err != nil {
		return res, err
	}
	res.ID, res.Resumed = run.ID, resumed
	finished := false
	defer func() {
		if !finished { // stopped early: the next start resumes it at once
			s.V.BroadcastRelease(run, now())
		}
	}()
	if b.Started != nil {
		b.Started(res)
	}
	marks, err := s.V.BroadcastMarks(run)
	if err != nil {
		return res, err
	}
	detail["broadcast"] = run.ID
	detail["resumed"] = strconv.FormatBool(resumed)
	if err := s.V.Audit(b.Actor, "broadcast.start", "", detail); err != nil {
		return res, err
	}
	rate := b.Rate
	if rate <= 0 {
		rate = DefaultBroadcastRate
	}
	gap := time.Duration(float64(time.Second) / rate)
	var next time.Time
	for _, c := range audience {
		switch marks[c.Subject] {
		case vault.BroadcastSent, vault.BroadcastFailed:
			res.Already++
			continue
		}
		resend := marks[c.Subject] == vault.BroadcastSending
		if wait := time.Until(next); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return res, ctx.Err()
			case <-t.C:
			}
		}
		next = time.Now().Add(gap)
		// Read again: a STOP or withdrawal since the audience was read wins.
		cur, ok, err := s.V.Contact(c.Subject, b.Flow, b.Purpose, now())
		if err != nil {
			return res, err
		}
		params, held, err := s.params(cur.Subject, b.Params, now())
		if err != nil {
			return res, err
		}
		if !ok || !held {
			res.Skipped++
			continue
		}
		if err := s.V.BroadcastMark(run, c.Subject, vault.BroadcastSending, now()); err != nil {
			return res, err
		}
		state := vault.BroadcastSent
		if err := send(ctx, cur, params); err != nil {
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
			state = vault.BroadcastFailed
			res.Failed++
		} else if resend {
			res.Resent++
		} else {
			res.Sent++
		}
		if err := s.V.BroadcastMark(run, c.Subject, state, now()); err != nil {
			return res, err
		}
	}
	if err := s.V.BroadcastFinish(run, now()); err != nil {
		return res, err
	}
	finished = true
	done := map[string]string{"broadcast": run.ID, "flow": b.Flow, "template": b.Template, "audience": strconv.Itoa(res.Audience),
		"sent": strconv.Itoa(res.Sent + res.Resent), "skipped": strconv.Itoa(res.Skipped), "failed": strconv.Itoa(res.Failed)}
	return res, s.V.Audit(b.Actor, "broadcast.done", "", done)
}

// params reads the named fields of subject as text; held is false when one
// is not held.
func (s *Store) params(subject vault.SubjectID, names []string, now time.Time) (params []string, held bool, err error) {
	if len(names) == 0 {
		return nil, true, nil
	}
	_, fields, err := s.V.LoadSubject(subject, now)
	if err != nil {
		return nil, false, err
	}
	byName := map[string]string{}
	for _, f := range fields {
		v, err := DecodeValue(f.Value)
		if err != nil {
			return nil, false, err
		}
		byName[f.Name] = valueText(v)
	}
	for _, n := range names {
		v, ok := byName[n]
		if !ok {
			return nil, false, nil
		}
		params = append(params, v)
	}
	return params, true, nil
}

// Ref is the short pseudonymous reference of a subject that dry runs and
// reports print: enough to tell subjects apart, nothing to reach them by.
func Ref(subject string) string {
	if len(subject) > 12 {
		return fmt.Sprintf("s:%s", subject[:12])
	}
	return "s:" + subject
}
