package server

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/parleyhq/parley/adapters/admin"
	"github.com/parleyhq/parley/adapters/host"
	"github.com/parleyhq/parley/engine/runtime"
	"github.com/parleyhq/parley/engine/session"
)

// consoleBackend carries out the operator console's actions: the hand-off
// queue, transcripts, the team's replies and hand-backs, and the audit log
// read. Its errors never carry personal data.
type consoleBackend struct{ s *Server }

var _ admin.HandoffBackend = consoleBackend{}

func (b consoleBackend) Handoffs(ctx context.Context) ([]admin.HandoffInfo, error) {
	hs, err := b.s.store.Handoffs(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]admin.HandoffInfo, 0, len(hs))
	for _, h := range hs {
		out = append(out, handoffInfo(h))
	}
	return out, nil
}

func handoffInfo(h session.HandoffEntry) admin.HandoffInfo {
	return admin.HandoffInfo{Ref: string(h.Subject), Channel: h.Channel, Flow: h.Flow, Reason: h.Reason,
		Since: h.Since.UTC(), Until: h.Until.UTC()}
}

func (b consoleBackend) Handoff(ctx context.Context, ref string) (admin.HandoffDetail, error) {
	hs, err := b.s.store.Handoffs(ctx)
	if err != nil {
		return admin.HandoffDetail{}, err
	}
	i := slices.IndexFunc(hs, func(h session.HandoffEntry) bool { return string(h.Subject) == ref })
	if i < 0 {
		return admin.HandoffDetail{}, fmt.Errorf("%w: no hand-off under that reference", admin.ErrNotFound)
	}
	now := b.s.cfg.Now()
	d := admin.HandoffDetail{HandoffInfo: handoffInfo(hs[i])}
	if st, err := b.s.store.Load(ctx, ref, now); err != nil {
		return admin.HandoffDetail{}, err
	} else if st != nil {
		d.Language = st.Lang
	}
	if p, ok := b.s.flows.Get(d.Flow); ok {
		for j := 0; j < p.NumSteps(); j++ {
			d.Steps = append(d.Steps, p.StepAt(j).ID)
		}
	}
	lines, err := b.s.store.Transcript(ctx, ref, now)
	if err != nil {
		return admin.HandoffDetail{}, err
	}
	for _, l := range lines {
		d.Transcript = append(d.Transcript, admin.TranscriptLine{From: l.From, Text: l.Text, At: l.At})
	}
	return d, nil
}

func (b consoleBackend) staff(ctx context.Context, ref string, op runtime.StaffOp) error {
	_, err := b.s.host.Staff(ctx, ref, op)
	switch {
	case errors.Is(err, runtime.ErrNotHandedOff):
		return fmt.Errorf("%w", admin.ErrNotHandedOff)
	case errors.Is(err, runtime.ErrNoSuchStep):
		return fmt.Errorf("%w: no such step", admin.ErrInvalid)
	case errors.Is(err, host.ErrNoChannel):
		return fmt.Errorf("%w: the customer's channel is not served", admin.ErrInvalid)
	}
	return err
}

func (b consoleBackend) Reply(ctx context.Context, ref, text string) error {
	return b.staff(ctx, ref, runtime.StaffOp{Kind: runtime.StaffReply, Text: text})
}

func (b consoleBackend) Return(ctx context.Context, ref, step string) error {
	return b.staff(ctx, ref, runtime.StaffOp{Kind: runtime.StaffReturn, Step: step})
}

func (b consoleBackend) Close(ctx context.Context, ref string) error {
	return b.staff(ctx, ref, runtime.StaffOp{Kind: runtime.StaffClose})
}

func (b consoleBackend) AuditLog(ctx context.Context, q admin.AuditQuery) ([]admin.AuditRecord, error) {
	es, err := b.s.store.AuditEntries(ctx, session.AuditFilter{Subject: session.SubjectID(q.Subject), Since: q.Since})
	if err != nil {
		return nil, err
	}
	var out []admin.AuditRecord
	for _, e := range es {
		if !strings.HasPrefix(e.Action, q.Action) || !strings.HasPrefix(e.Actor, q.Actor) {
			continue
		}
		out = append(out, admin.AuditRecord{Seq: e.Seq, At: e.At.UTC(), Actor: e.Actor, Action: e.Action, Subject: e.Subject})
	}
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[len(out)-q.Limit:]
	}
	return out, nil
}

// ExpireHandoffs takes back every hand-off whose timeout has passed (the
// server does it every HandoffEvery; tests call it after moving the clock).
func (s *Server) ExpireHandoffs(ctx context.Context) (int, error) { return s.host.ExpireHandoffs(ctx) }
